"""Lesson 03: numerical gradients, relative errors, and the gradient check built on them."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backprop_lib.gradcheck import GradcheckResult, check_gradient, numerical_gradient, numerical_vjp, rel_error

finite = st.floats(-1e3, 1e3, allow_nan=False)


# --- numerical_gradient ---------------------------------------------------------------------------


def test_central_differences_are_exact_on_quadratics():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    b = rng.standard_normal(4)
    x = rng.standard_normal(4)
    grad = numerical_gradient(lambda t: t @ A @ t + b @ t, x)
    np.testing.assert_allclose(grad, (A + A.T) @ x + b, rtol=0, atol=1e-8)


def test_scalar_input_gives_a_float():
    d = numerical_gradient(lambda t: 3 * t * t - t, 2.0)
    assert type(d) is float
    assert d == pytest.approx(11.0, abs=1e-8)


@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 3, 4), (1, 1)])
def test_gradient_has_the_shape_of_x(shape):
    x = np.arange(np.prod(shape), dtype=float).reshape(shape)
    grad = numerical_gradient(lambda t: np.sum(t**2), x)
    assert grad.shape == shape
    np.testing.assert_allclose(grad, 2 * x, atol=1e-7)


def test_x_is_never_modified_and_f_sees_float64():
    x = np.array([[1, 2], [3, 4]], dtype=np.float32)
    before = x.copy()
    seen = []

    def f(t):
        seen.append(t.dtype)
        return float(np.sum(np.sin(t)))

    grad = numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)
    assert set(seen) == {np.dtype(np.float64)}
    assert grad.dtype == np.float64
    np.testing.assert_allclose(grad, np.cos(before.astype(np.float64)), rtol=1e-9)


def test_integer_input_is_differentiated_as_float():
    grad = numerical_gradient(lambda t: np.sum(t**3), [1, 2])
    np.testing.assert_allclose(grad, [3.0, 12.0], rtol=1e-9)


@pytest.mark.parametrize("h", [0.0, -1e-5])
def test_step_must_be_positive(h):
    with pytest.raises(ValueError, match="h must be positive"):
        numerical_gradient(lambda t: t, 1.0, h=h)


def test_central_error_is_second_order_one_sided_first_order():
    exact = math.e

    def errors(h):
        one_sided = (math.exp(1 + h) - math.exp(1)) / h
        central = numerical_gradient(math.exp, 1.0, h=h)
        return abs(one_sided - exact), abs(central - exact)

    one_sided, central = errors(1e-4)
    assert central < one_sided / 1000
    assert one_sided == pytest.approx(exact * 1e-4 / 2, rel=1e-3)  # truncation error h f''/2
    # halving h halves the one-sided error and quarters the central one
    (o1, c1), (o2, c2) = errors(1e-2), errors(5e-3)
    assert o1 / o2 == pytest.approx(2, rel=0.02)
    assert c1 / c2 == pytest.approx(4, rel=0.02)


def test_numerical_vjp_is_the_jacobian_transpose_times_upstream():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((3, 4))
    x, u = rng.standard_normal(4), rng.standard_normal(3)
    vjp = numerical_vjp(lambda t: A @ t, x, u)
    assert vjp.shape == x.shape
    np.testing.assert_allclose(vjp, A.T @ u, atol=1e-9)
    with pytest.raises(ValueError, match=r"shape \(3,\) but upstream has shape \(2,\)"):
        numerical_vjp(lambda t: A @ t, x, u[:2])


# --- rel_error --------------------------------------------------------------------------------------


def test_rel_error_worked_values():
    assert rel_error(1.0, 3.0) == 0.5
    assert rel_error([1.0, 2.0], [1.0, -2.0]) == 1.0
    assert rel_error(0.0, 0.0) == 0.0
    assert rel_error(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
    assert rel_error(0.0, 1e-300) == 1.0
    assert rel_error([], []) == 0.0


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, 5, elements=finite), arrays(np.float64, 5, elements=finite))
def test_rel_error_is_symmetric_bounded_and_zero_on_equal(a, b):
    assert rel_error(a, b) == rel_error(b, a)
    assert 0.0 <= rel_error(a, b) <= 1.0
    assert rel_error(a, a) == 0.0


def test_rel_error_rejects_different_shapes():
    with pytest.raises(ValueError, match=r"\(2,\) vs \(3,\)"):
        rel_error(np.ones(2), np.ones(3))


# --- check_gradient ---------------------------------------------------------------------------------


def f_cubes(t):
    return float(np.sum(t**3))


def test_check_gradient_passes_a_correct_gradient():
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
    result = check_gradient(f_cubes, x, 3 * x**2)
    assert isinstance(result, GradcheckResult)
    assert result.ok and result.max_rel_error < 1e-8
    assert "gradcheck ok" in str(result)


def test_check_gradient_reports_the_worst_index_and_both_values():
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
    wrong = 3 * x**2
    wrong[1, 2] = -3.0  # sign error in one entry: the true value is 3
    result = check_gradient(f_cubes, x, wrong)
    assert not result.ok
    assert result.worst_index == (1, 2)
    assert result.analytic == -3.0
    assert result.numeric == pytest.approx(3.0, rel=1e-8)
    assert result.max_rel_error == pytest.approx(1.0)
    text = str(result)
    assert "MISMATCH" in text and "(1, 2)" in text and "analytic -3" in text and "numeric 3" in text


def test_check_gradient_scalar_and_tolerance():
    result = check_gradient(math.exp, 1.0, math.e * (1 + 1e-5), tol=1e-6)
    assert not result.ok and result.worst_index == ()
    assert check_gradient(math.exp, 1.0, math.e * (1 + 1e-5), tol=1e-4).ok


def test_check_gradient_rejects_a_gradient_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(3,\), x has shape \(2,\)"):
        check_gradient(f_cubes, np.ones(2), np.ones(3))


def test_numerical_gradient_of_a_transposed_array():
    W = np.arange(6.0).reshape(3, 2).T  # not C-contiguous: a flat view of it would be a copy
    grad = numerical_gradient(lambda w: float(np.sum(w * w)), W)
    assert np.allclose(grad, 2 * W)
