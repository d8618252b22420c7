"""Lesson 07: forward mode on dual numbers, reverse mode as VJPs, full Jacobians both ways, and
Hessian-vector products by reverse over reverse and by forward over reverse."""
import inspect
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from backprop_lib import Tensor, Value
from backprop_lib.gradcheck import numerical_gradient
from backprop_lib.modes import (
    Dual,
    grad,
    hessian,
    hvp,
    hvp_from_grad,
    hvp_numerical,
    jacobian_forward,
    jacobian_numerical,
    jacobian_reverse,
    jvp,
    vjp,
)

safe = st.floats(-2.0, 2.0, allow_nan=False)
positive = st.floats(0.1, 3.0, allow_nan=False)


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


# --- dual numbers: one rule per operation --------------------------------------------------------------


ANALYTIC = [
    ("x + 3", lambda x: x + 3.0, lambda x: 1.0),
    ("3 - x", lambda x: 3.0 - x, lambda x: -1.0),
    ("x * x", lambda x: x * x, lambda x: 2 * x),
    ("5 / x", lambda x: 5.0 / x, lambda x: -5 / x**2),
    ("x / 4", lambda x: x / 4.0, lambda x: 0.25),
    ("x ** 3", lambda x: x**3, lambda x: 3 * x**2),
    ("x ** 0.5", lambda x: x**0.5, lambda x: 0.5 / math.sqrt(x)),
    ("-x", lambda x: -x, lambda x: -1.0),
    ("exp", lambda x: x.exp(), math.exp),
    ("log", lambda x: x.log(), lambda x: 1 / x),
    ("tanh", lambda x: x.tanh(), lambda x: 1 - math.tanh(x) ** 2),
    ("sigmoid", lambda x: x.sigmoid(), lambda x: sigmoid(x) * (1 - sigmoid(x))),
    ("relu", lambda x: x.relu(), lambda x: 1.0 if x > 0 else 0.0),
    ("sin", lambda x: x.sin(), math.cos),
    ("cos", lambda x: x.cos(), lambda x: -math.sin(x)),
]


@pytest.mark.parametrize("name, f, df", ANALYTIC, ids=[a[0] for a in ANALYTIC])
@pytest.mark.parametrize("x", [0.7, 1.9])
def test_each_dual_rule_gives_the_analytic_derivative(name, f, df, x):
    y = f(Dual(x, 1.0))
    assert y.tangent == pytest.approx(df(x), rel=1e-12, abs=1e-15)
    assert type(y.value) is float and type(y.tangent) is float


def test_lesson_01_graph_in_forward_mode_one_input_per_sweep():
    def e(a, b):
        return (a + b) * (b + 1)

    from_a = e(Dual(2.0, 1.0), Dual(1.0, 0.0))
    from_b = e(Dual(2.0, 0.0), Dual(1.0, 1.0))
    assert (from_a.value, from_a.tangent) == (6.0, 2.0)
    assert (from_b.value, from_b.tangent) == (6.0, 5.0)


def test_tangent_is_the_directional_derivative_of_two_inputs():
    # f(a, b) = a b / (a + b); moving along (1, 2) gives df = f_a + 2 f_b
    a, b = 2.0, 3.0
    y = Dual(a, 1.0) * Dual(b, 2.0) / (Dual(a, 1.0) + Dual(b, 2.0))
    f_a, f_b = b**2 / (a + b) ** 2, a**2 / (a + b) ** 2
    assert y.value == pytest.approx(1.2)
    assert y.tangent == pytest.approx(f_a + 2 * f_b, rel=1e-14)


def composite(x):
    return (x * 2.0 + 1.0).tanh() * x.exp() - x**2 / 3.0 + 1.0 / (x + 3.0) + x.sigmoid() * x.relu()


@settings(max_examples=40, deadline=None)
@given(x=safe.filter(lambda x: abs(x) > 1e-3))  # relu has a kink at 0
def test_dual_matches_central_differences(x):
    y = composite(Dual(x, 1.0))
    numeric = numerical_gradient(lambda t: composite(Dual(t)).value, x)
    assert abs(y.tangent - numeric) <= 1e-6 * max(1.0, abs(numeric))


@settings(max_examples=30, deadline=None)
@given(x=positive)
@example(x=2.5629462567464394)  # near a stationary point: the derivative is -6.2e-06
def test_log_sin_cos_match_central_differences(x):
    def f(t):
        return (t.log() * t.sin() + t.cos() ** 2) / (t + 1.0)

    numeric = numerical_gradient(lambda t: f(Dual(t)).value, x)
    # central differences are good to about 1e-10 absolute: relative to the derivative only where it is
    # not close to 0 (there the relative error of the estimate itself grows without bound)
    assert abs(f(Dual(x, 1.0)).tangent - numeric) <= 1e-7 * max(1.0, abs(numeric))


@settings(max_examples=30, deadline=None)
@given(x=safe)
def test_one_function_runs_on_dual_tensor_and_value(x):
    forward = composite(Dual(x, 1.0))
    t = Tensor(np.array(x), requires_grad=True)
    out_t = composite(t)
    out_t.backward()
    v = Value(x)
    out_v = composite(v)
    out_v.backward()
    assert forward.value == pytest.approx(float(out_t.data), rel=1e-12, abs=1e-12)
    assert forward.value == pytest.approx(out_v.data, rel=1e-12, abs=1e-12)
    assert forward.tangent == pytest.approx(float(t.grad), rel=1e-10, abs=1e-12)
    assert forward.tangent == pytest.approx(v.grad, rel=1e-10, abs=1e-12)


# --- dual numbers on arrays ------------------------------------------------------------------------------


def test_ndarray_on_the_left_defers_to_dual():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    d = Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    for y in (A @ d, A * d, A + d, A - d, A / d):
        assert isinstance(y, Dual)
    np.testing.assert_array_equal((A @ d).value, [5.0, 11.0])
    np.testing.assert_array_equal((A @ d).tangent, [1.0, 3.0])
    np.testing.assert_array_equal((d @ A).tangent, [1.0, 2.0])
    np.testing.assert_array_equal((A - d).tangent, [[-1.0, 0.0], [-1.0, 0.0]])


def test_matmul_of_two_duals_follows_the_product_rule():
    rng = np.random.default_rng(1)
    A, dA, B, dB = (rng.standard_normal((3, 3)) for _ in range(4))
    y = Dual(A, dA) @ Dual(B, dB)
    np.testing.assert_allclose(y.value, A @ B)
    np.testing.assert_allclose(y.tangent, dA @ B + A @ dB)


def test_a_constant_broadcast_against_a_scalar_dual_broadcasts_the_tangent():
    y = Dual(2.0, 1.0) + np.array([1.0, 2.0, 3.0])
    assert y.shape == (3,)
    np.testing.assert_array_equal(y.tangent, [1.0, 1.0, 1.0])


def test_reductions_and_shapes_act_on_the_tangent_too():
    d = Dual(np.arange(6.0).reshape(2, 3), np.ones((2, 3)))
    assert d.T.shape == (3, 2)
    assert d.reshape(3, 2).tangent.shape == (3, 2)
    assert d.reshape((6,)).shape == (6,)
    np.testing.assert_array_equal(d.sum(axis=0).tangent, [2.0, 2.0, 2.0])
    assert d.sum().value == 15.0 and d.sum().tangent == 6.0
    assert d.mean().tangent == 1.0
    assert d.mean(axis=1, keepdims=True).shape == (2, 1)


def test_relu_derivative_is_zero_at_the_kink_like_the_tensor_engine():
    y = Dual(np.array([-1.0, 0.0, 2.0]), np.ones(3)).relu()
    np.testing.assert_array_equal(y.value, [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(y.tangent, [0.0, 0.0, 1.0])


def test_sigmoid_does_not_overflow_far_from_zero():
    y = Dual(np.array([-800.0, 800.0]), np.ones(2)).sigmoid()
    np.testing.assert_array_equal(y.value, [0.0, 1.0])
    np.testing.assert_array_equal(y.tangent, [0.0, 0.0])


# --- JVP, VJP and full Jacobians --------------------------------------------------------------------------


def mlp(seed, n, hidden, m):
    """A random two-layer function R^n -> R^m written once for Dual and Tensor alike."""
    rng = np.random.default_rng(seed)
    W1, b1 = rng.standard_normal((hidden, n)), rng.standard_normal(hidden)
    W2, b2 = rng.standard_normal((m, hidden)), rng.standard_normal(m)
    return lambda x: W2 @ (W1 @ x + b1).tanh() + (x * x).sum() * b2


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 5), m=st.integers(1, 5))
def test_jacobians_forward_reverse_and_numerical_agree(seed, n, m):
    f = mlp(seed, n, 4, m)
    x = np.random.default_rng(seed + 1).standard_normal(n)
    J_fwd, J_rev = jacobian_forward(f, x), jacobian_reverse(f, x)
    assert J_fwd.shape == J_rev.shape == (m, n)
    np.testing.assert_allclose(J_fwd, J_rev, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(J_fwd, jacobian_numerical(f, x), rtol=1e-6, atol=1e-8)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_jvp_is_J_v_and_vjp_is_J_transpose_u(seed):
    rng = np.random.default_rng(seed)
    f = mlp(seed, 3, 5, 2)
    x, v, u = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(2)
    J = jacobian_numerical(f, x)
    y_fwd, Jv = jvp(f, x, v)
    y_rev, JTu = vjp(f, x, u)
    np.testing.assert_allclose(y_fwd, y_rev, rtol=1e-14)
    np.testing.assert_allclose(Jv, J @ v, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(JTu, J.T @ u, rtol=1e-6, atol=1e-8)


def test_matrix_inputs_and_outputs_are_flattened_in_c_order():
    X = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]])

    def f(x):
        return (x.T @ x).tanh()  # (2, 3) -> (3, 3)

    J = jacobian_reverse(f, X)
    assert J.shape == (9, 6)
    np.testing.assert_allclose(jacobian_forward(f, X), J, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(jacobian_numerical(f, X), J, rtol=1e-6, atol=1e-9)


def test_forward_sweeps_count_inputs_reverse_sweeps_record_once():
    calls = {Dual: 0, Tensor: 0}
    base = mlp(0, 6, 4, 1)

    def f(x):
        calls[type(x)] += 1
        return base(x)

    x = np.linspace(-1, 1, 6)
    J_fwd, J_rev = jacobian_forward(f, x), jacobian_reverse(f, x)
    assert calls == {Dual: 6, Tensor: 1}
    np.testing.assert_allclose(J_fwd, J_rev, rtol=1e-12, atol=1e-14)


def test_scalar_input_and_output_give_floats():
    y, dy = jvp(lambda x: x.exp() * x, 1.0, 2.0)
    assert type(y) is float and type(dy) is float
    assert dy == pytest.approx(2 * 2 * math.e)
    y, g = vjp(lambda x: x.exp() * x, 1.0, 1.0)
    assert (y, g) == pytest.approx((math.e, 2 * math.e))
    assert jacobian_forward(lambda x: x.exp(), 0.0).tolist() == [[1.0]]


def test_grad_of_a_scalar_function_is_one_reverse_row():
    f = mlp(3, 4, 3, 1)
    x = np.array([0.5, -1.0, 0.25, 2.0])
    g = grad(lambda t: f(t).sum(), x)
    assert g.shape == (4,)
    np.testing.assert_allclose(g, jacobian_reverse(f, x)[0], rtol=1e-14)


def test_a_function_that_ignores_x_has_zero_derivatives():
    W = np.ones((2, 3))
    const = lambda x: W @ np.ones(3)  # noqa: E731
    assert jacobian_forward(const, np.zeros(3)).tolist() == [[0.0] * 3] * 2
    assert jacobian_reverse(const, np.zeros(3)).tolist() == [[0.0] * 3] * 2
    np.testing.assert_array_equal(vjp(const, np.zeros(3), np.ones(2))[1], np.zeros(3))


def test_x_is_not_modified():
    x = np.array([1.0, 2.0])
    jacobian_numerical(lambda t: t * t, x)
    jvp(lambda t: t * t, x, np.ones(2))
    np.testing.assert_array_equal(x, [1.0, 2.0])


# --- Hessian-vector products ---------------------------------------------------------------------------


def f_hess(x):
    """x0^2 x1 + exp(x0 x1) + tanh(x1), written with Value (and Tensor) operations."""
    return x[0] ** 2 * x[1] + (x[0] * x[1]).exp() + x[1].tanh()


def hessian_by_hand(x0, x1):
    e = math.exp(x0 * x1)
    t = math.tanh(x1)
    h00 = 2 * x1 + x1**2 * e
    h01 = 2 * x0 + e + x0 * x1 * e
    h11 = x0**2 * e - 2 * t * (1 - t * t)
    return np.array([[h00, h01], [h01, h11]])


def test_hvp_at_a_worked_point():
    x, v = [0.3, 0.5], [1.0, 2.0]
    H = hessian_by_hand(*x)
    np.testing.assert_allclose(hvp(f_hess, x, v), H @ v, rtol=1e-13)
    np.testing.assert_allclose(hessian(f_hess, x), H, rtol=1e-13)


@settings(max_examples=25, deadline=None)
@given(x0=safe, x1=safe, v0=safe, v1=safe)
def test_hvp_matches_finite_differences_of_gradients(x0, x1, v0, v1):
    x, v = [x0, x1], [v0, v1]
    exact = hvp(f_hess, x, v)
    numeric = hvp_numerical(lambda t: grad(f_hess, t), x, v)
    np.testing.assert_allclose(exact, numeric, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(exact, hessian_by_hand(x0, x1) @ v, rtol=1e-10, atol=1e-12)


def test_hvp_of_a_quadratic_is_the_symmetric_part_times_v():
    A = np.array([[1.0, 2.0, 0.0], [4.0, -1.0, 3.0], [0.0, 1.0, 2.0]])

    def q(x):  # x^T A x
        return sum((x[i] * x[j] * A[i, j] for i in range(3) for j in range(3)), Value(0.0))

    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_array_equal(hvp(q, [0.3, -0.7, 1.1], v), (A + A.T) @ v)


E0, E1 = np.array([1.0, 0.0]), np.array([0.0, 1.0])


def grad_f_hess(x):
    """The gradient of f_hess written out by hand, on an array or on a Dual of one."""
    d = x if isinstance(x, Dual) else Dual(x)
    x0, x1 = (d * E0).sum(), (d * E1).sum()
    e, t = (x0 * x1).exp(), x1.tanh()
    g = (2 * x0 * x1 + x1 * e) * E0 + (x0 ** 2 + x0 * e + (1 - t * t)) * E1
    return g if isinstance(x, Dual) else g.value


def test_forward_over_reverse_agrees_with_reverse_over_reverse_and_the_hand_hessian():
    x, v = [0.3, 0.5], [1.0, 2.0]
    H = hessian_by_hand(*x)
    np.testing.assert_allclose(grad_f_hess(np.array(x)), grad(f_hess, x), rtol=1e-14)
    np.testing.assert_allclose(hvp_from_grad(grad_f_hess, x, v), H @ v, rtol=1e-13)
    np.testing.assert_allclose(hvp_from_grad(grad_f_hess, x, v), hvp(f_hess, x, v), rtol=1e-13)
    np.testing.assert_allclose(hvp_numerical(grad_f_hess, x, v), H @ v, rtol=1e-8)


def test_forward_over_reverse_on_the_gradient_of_a_small_network_loss():
    # L(w) = 1/2 ||tanh(X w) - y||^2 has the gradient X^T ((t - y) * (1 - t^2)), t = tanh(X w):
    # a backward pass by hand, written with operators so that it runs on dual numbers
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((6, 4)), rng.standard_normal(6)

    def net_grad(w):
        t = (X @ w).tanh() if isinstance(w, Dual) else np.tanh(X @ w)
        return X.T @ ((t - y) * (1.0 - t * t))

    def loss(w):
        return 0.5 * (((X @ w).tanh() - y) ** 2).sum()

    w, v = rng.standard_normal(4), rng.standard_normal(4)
    exact = hvp_from_grad(net_grad, w, v)
    assert exact.shape == (4,)
    np.testing.assert_allclose(exact, hvp_numerical(net_grad, w, v), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(exact, jacobian_reverse(lambda t: t, w) @ jacobian_forward(net_grad, w) @ v,
                               rtol=1e-12)
    np.testing.assert_allclose(net_grad(w), grad(loss, w), rtol=1e-12)


def test_a_gradient_written_entry_by_entry_runs_on_dual_numbers():
    def rosenbrock_grad(p):  # the gradient of (1 - x)^2 + 100 (y - x^2)^2, one entry per line
        x, y = p
        return [-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)]

    np.testing.assert_array_equal(hvp_from_grad(rosenbrock_grad, [-1.0, 2.0], [1.0, 0.5]), [602.0, 500.0])
    value, tangent = jvp(lambda p: [p[0] * p[2], p[1:].sum()], [1.0, 2.0, 3.0], [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(value, [3.0, 5.0])
    np.testing.assert_array_equal(tangent, [4.0, 1.0])  # d(p0 p2) = p2 dp0 + p0 dp2; d(p1 + p2) = dp1 + dp2
    with pytest.raises(TypeError, match="scalar Dual has no entries"):
        Dual(1.0)[0]
    with pytest.raises(ValueError, match="different shapes"):
        jvp(lambda p: [p[0:2], p[0]], np.ones(3), np.ones(3))


def test_every_hvp_takes_the_function_then_x_then_v():
    # the exercise's hvp(grad_f, x, v) and the library's: same order, and the name says which function
    assert list(inspect.signature(hvp).parameters) == ["f", "x", "v"]
    assert list(inspect.signature(hvp_from_grad).parameters) == ["grad_f", "x", "v"]
    assert list(inspect.signature(hvp_numerical).parameters) == ["grad_f", "x", "v", "h"]


def test_hvp_from_grad_refuses_a_direction_of_another_shape_and_a_gradient_of_another_shape():
    with pytest.raises(ValueError, match=r"v has shape \(3,\) but x has shape \(2,\)"):
        hvp_from_grad(lambda x: x, [1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"grad_f\(x\) has shape \(\) but x has shape \(2,\)"):
        hvp_from_grad(lambda x: x.sum(), [1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValueError, match=r"grad_f\(x\) has shape \(1,\) but x has shape \(2,\)"):
        hvp_numerical(lambda x: x[:1], [1.0, 2.0], [1.0, 0.0])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_hessian_is_symmetric(seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((3, 4))

    def f(x):
        hidden = [sum((x[i] * float(W[i, j]) for i in range(3)), Value(0.0)).tanh() for j in range(4)]
        return sum((h * h * float(c) for h, c in zip(hidden, W[0])), Value(0.0)) + (x[0] * x[2]).sigmoid()

    H = hessian(f, rng.standard_normal(3))
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-14)


# --- bad input --------------------------------------------------------------------------------------------


def test_shape_mismatches_name_both_shapes():
    f = mlp(0, 3, 2, 2)
    with pytest.raises(ValueError, match=r"v has shape \(2,\) but x has shape \(3,\)"):
        jvp(f, np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"u has shape \(3,\) but f\(x\) has shape \(2,\)"):
        vjp(f, np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"tangent has shape \(3,\) but value has shape \(2,\)"):
        Dual(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(2,\)"):
        Dual(np.zeros((2, 3))) @ np.zeros(2)
    with pytest.raises(ValueError, match=r"v has shape \(3,\) but x has shape \(2,\)"):
        hvp(f_hess, [1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*to \(4,\)"):
        Dual(np.zeros((2, 3))).reshape(4)


def test_other_bad_input_is_refused_with_a_reason():
    with pytest.raises(TypeError, match="Tensor"):
        Dual(1.0) + Tensor(1.0)
    with pytest.raises(TypeError, match="number k"):
        Dual(2.0) ** Dual(2.0)
    with pytest.raises(ValueError, match="non-positive"):
        Dual(np.array([1.0, 0.0])).log()
    with pytest.raises(ZeroDivisionError):
        Dual(1.0) / Dual(0.0)
    with pytest.raises(ZeroDivisionError):
        1.0 / Dual(0.0)
    with pytest.raises(ValueError, match="not a real number"):
        Dual(-1.0) ** 0.5
    with pytest.raises(ValueError, match="single number.*shape \\(2,\\)"):
        grad(lambda x: x * 2.0, np.ones(2))
    with pytest.raises(ValueError, match="empty"):
        jacobian_forward(lambda x: x, np.zeros(0))
    with pytest.raises(ValueError, match="h must be positive"):
        jacobian_numerical(lambda x: x, 1.0, h=0.0)
    with pytest.raises(TypeError, match="returned a Tensor for a Dual input"):
        jvp(lambda x: Tensor(1.0), 1.0, 1.0)
    with pytest.raises(ValueError, match="flat sequence"):
        hvp(f_hess, [[1.0, 2.0]], [[1.0, 2.0]])


def test_handing_in_hvp_from_grad_as_the_exercise_s_hvp_earns_nothing():
    from backprop_lib.grading import check

    report = check("07.hvp", {"hvp": hvp_from_grad})
    assert report.result.status == "uses reference" and "Dual.__init__" in report.result.feedback
