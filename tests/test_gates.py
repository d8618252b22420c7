"""Lesson 03: flat gates, their gradient patterns, and the sigmoid neuron written by hand."""
import warnings

import numpy as np
import pytest

from backprop_lib import gates
from backprop_lib.gradcheck import check_gradient, numerical_gradient, rel_error

# --- the four gate patterns ---------------------------------------------------------------------


def test_add_distributes_the_upstream_gradient_unchanged():
    out, cache = gates.add_forward(3.0, -4.0)
    assert out == -1.0
    assert gates.add_backward(2.5, cache) == (2.5, 2.5)


def test_copy_sums_the_gradients_coming_back():
    copies, cache = gates.copy_forward(7.0, 3)
    assert copies == (7.0, 7.0, 7.0)
    assert gates.copy_backward([1.0, -2.0, 4.5], cache) == 3.5
    grads = [np.array([1.0, 2.0]), np.array([10.0, 20.0])]
    np.testing.assert_array_equal(gates.copy_backward(grads, 2), [11.0, 22.0])


def test_mul_swaps_its_inputs():
    out, cache = gates.mul_forward(3.0, -4.0)
    assert out == -12.0
    assert gates.mul_backward(2.0, cache) == (-8.0, 6.0)  # dx = y * dout, dy = x * dout


def test_max_routes_the_whole_gradient_to_the_winner():
    out, cache = gates.max_forward(3.0, 5.0)
    assert out == 5.0
    assert gates.max_backward(2.0, cache) == (0.0, 2.0)
    out, cache = gates.max_forward(5.0, 3.0)
    assert gates.max_backward(2.0, cache) == (2.0, 0.0)


def test_max_tie_goes_to_x():
    out, cache = gates.max_forward(4.0, 4.0)
    assert out == 4.0
    assert gates.max_backward(2.0, cache) == (2.0, 0.0)


def test_gates_work_elementwise_on_arrays():
    x, y = np.array([1.0, 5.0, 2.0]), np.array([3.0, -1.0, 2.0])
    dout = np.array([10.0, 20.0, 30.0])
    out, cache = gates.max_forward(x, y)
    np.testing.assert_array_equal(out, [3.0, 5.0, 2.0])
    dx, dy = gates.max_backward(dout, cache)
    np.testing.assert_array_equal(dx, [0.0, 20.0, 30.0])
    np.testing.assert_array_equal(dy, [10.0, 0.0, 0.0])
    _, cache = gates.mul_forward(x, y)
    dx, dy = gates.mul_backward(dout, cache)
    np.testing.assert_array_equal(dx, y * dout)
    np.testing.assert_array_equal(dy, x * dout)


@pytest.mark.parametrize("name", ["add", "mul", "max"])
def test_binary_gate_backward_passes_a_gradient_check(name):
    forward, backward = getattr(gates, f"{name}_forward"), getattr(gates, f"{name}_backward")
    rng = np.random.default_rng(3)
    x, y, dout = rng.standard_normal((3, 5))
    _, cache = forward(x, y)
    dx, dy = backward(dout, cache)
    assert rel_error(dx, numerical_gradient(lambda t: np.sum(forward(t, y)[0] * dout), x)) < 1e-8
    assert rel_error(dy, numerical_gradient(lambda t: np.sum(forward(x, t)[0] * dout), y)) < 1e-8


def test_sigmoid_backward_passes_a_gradient_check():
    rng = np.random.default_rng(4)
    x, dout = rng.standard_normal((2, 6)) * 3
    _, cache = gates.sigmoid_forward(x)
    dx = gates.sigmoid_backward(dout, cache)
    assert rel_error(dx, numerical_gradient(lambda t: np.sum(gates.sigmoid(t) * dout), x)) < 1e-8


# --- lesson 03: f = (x + y) * z --------------------------------------------------------------------


def test_lesson03_add_then_multiply():
    x, y, z = -2.0, 5.0, -4.0
    q, add_cache = gates.add_forward(x, y)
    f, mul_cache = gates.mul_forward(q, z)
    assert (q, f) == (3.0, -12.0)
    dq, dz = gates.mul_backward(1.0, mul_cache)
    dx, dy = gates.add_backward(dq, add_cache)
    assert (dz, dq, dx, dy) == (3.0, -4.0, -4.0, -4.0)


# --- lesson 03: the sigmoid neuron ----------------------------------------------------------------

W, X = [2.0, -3.0, -3.0], [-1.0, -2.0]


def test_sigmoid_neuron_forward_gate_by_gate():
    s0, _ = gates.mul_forward(W[0], X[0])
    s1, _ = gates.mul_forward(W[1], X[1])
    s2, _ = gates.add_forward(s0, s1)
    s3, _ = gates.add_forward(s2, W[2])
    assert s3 == 1.0
    L, _ = gates.sigmoid_forward(s3)
    assert round(L, 3) == 0.731


def test_sigmoid_neuron_numbers_to_three_places():
    L, dw, dx = gates.sigmoid_neuron(W, X)
    assert round(L, 3) == 0.731
    assert [round(d, 3) for d in dw] == [-0.197, -0.393, 0.197]
    assert [round(d, 3) for d in dx] == [0.393, -0.590]
    s = 1 / (1 + np.exp(-1.0))
    assert dw[2] == pytest.approx(s * (1 - s), rel=1e-15)  # grad_s3 = L (1 - L), passed on by the adds


def test_sigmoid_neuron_passes_a_gradient_check():
    rng = np.random.default_rng(5)
    for w, x in [(W, X), (rng.standard_normal(3), rng.standard_normal(2))]:
        _, dw, dx = gates.sigmoid_neuron(w, x)
        assert check_gradient(lambda t: gates.sigmoid_neuron(t, x)[0], w, dw, tol=1e-8).ok
        assert check_gradient(lambda t: gates.sigmoid_neuron(w, t)[0], x, dx, tol=1e-8).ok


def test_sigmoid_neuron_rejects_wrong_lengths():
    with pytest.raises(ValueError, match="3 weights and 2 inputs, got 2 and 2"):
        gates.sigmoid_neuron([1.0, 2.0], [1.0, 2.0])


# --- sigmoid ----------------------------------------------------------------------------------------


def test_sigmoid_is_stable_for_large_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gates.sigmoid(1000.0) == 1.0
        assert gates.sigmoid(-1000.0) == 0.0
        assert gates.sigmoid(-700.0) > 0.0
        out = gates.sigmoid(np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0]))
    np.testing.assert_allclose(out, [0.0, 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-1.0)), 1.0], rtol=1e-15)


def test_sigmoid_symmetry_and_scalar_type():
    x = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(gates.sigmoid(x) + gates.sigmoid(-x), 1.0, rtol=1e-15)
    assert type(gates.sigmoid(0)) is float
    assert gates.sigmoid(np.float32(2.0)) == pytest.approx(1 / (1 + np.exp(-2.0)))
