"""The library at its edges: 0-d gradients, nan and inf, empty reductions, axis tuples, indices in
tuples, scalar dtypes, in-place changes under a recorded graph, and shapes that matmul refuses."""
import math
import re

import numpy as np
import pytest

from backprop_lib import Tensor, Value, cross_entropy, unbroadcast
from backprop_lib.engine import grad
from backprop_lib.gradcheck import numerical_gradient, rel_error
from backprop_lib.modes import Dual
from backprop_lib.optim import SGD, Adam, RMSprop


def assert_grad_fits(t):
    """``.grad`` is an ndarray (never a numpy scalar) of ``.data``'s shape and dtype."""
    assert type(t.grad) is np.ndarray
    assert t.grad.shape == t.data.shape and t.grad.dtype == t.data.dtype


def check_vjp(f, x, seed=0, tol=1e-7):
    """Backward of ``f`` at ``x`` against central differences of sum(f(x) * upstream)."""
    leaf = Tensor(x.copy(), requires_grad=True)
    out = f(leaf)
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(upstream)
    numeric = numerical_gradient(lambda t: np.sum(f(Tensor(t)).data * upstream), x)
    assert_grad_fits(leaf)
    assert rel_error(leaf.grad, numeric) < tol


# --- .grad is an array of the data's shape, 0-d included --------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_0d_leaf_times_a_vector_gets_a_0d_array_gradient(dtype):
    t = Tensor(np.array(2.0, dtype), requires_grad=True)
    (t * Tensor(np.array([1.0, 2.0, 3.0], dtype))).sum().backward()
    assert_grad_fits(t)
    assert t.grad == 6.0
    t.grad[...] = 0
    assert t.grad == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_0d_leaf_keeps_an_array_gradient_over_two_backward_calls(dtype):
    t = Tensor(np.array(2.0, dtype), requires_grad=True)
    (t * 3).backward()
    (t * 3).backward()
    assert_grad_fits(t)
    assert t.grad == 6.0
    t.grad[...] = 0


def test_a_0d_value_used_twice_gives_array_gradients_to_leaf_and_intermediate():
    t = Tensor(2.0, requires_grad=True)
    y = t * 3
    (y * y + t).backward()
    assert_grad_fits(t)
    assert_grad_fits(y)
    assert (t.grad, y.grad) == (37.0, 12.0)


def test_unbroadcast_to_a_0d_shape_gives_a_0d_array():
    out = unbroadcast(np.ones((2, 3)), ())
    assert type(out) is np.ndarray and out.shape == () and out == 6.0


# --- nan and inf, as numpy and PyTorch have them ---------------------------------------------------


def test_relu_of_nan_is_nan_in_value_tensor_and_dual_and_passes_its_gradient():
    v = Value(math.nan)
    out = v.relu()
    out.backward()
    assert math.isnan(out.data) and v.grad == 1.0
    t = Tensor([math.nan, -1.0, 0.0, 2.0], requires_grad=True)
    y = t.relu()
    y.backward(np.ones(4))
    np.testing.assert_array_equal(y.data, [math.nan, 0.0, 0.0, 2.0])
    np.testing.assert_array_equal(t.grad, [1.0, 0.0, 0.0, 1.0])
    d = Dual(np.array([math.nan, -1.0, 0.0, 2.0]), np.ones(4)).relu()
    np.testing.assert_array_equal(d.value, y.data)
    np.testing.assert_array_equal(d.tangent, t.grad)


def test_relu_of_a_negative_zero_is_zero_with_zero_gradient():
    v = Value(-0.0)
    out = v.relu()
    out.backward()
    assert out.data == 0.0 and v.grad == 0.0


@pytest.mark.parametrize("k, expected", [(0.5, math.inf), (0.25, math.inf), (1.0, 1.0), (2.0, 0.0)])
def test_derivative_of_a_power_at_zero_is_inf_where_it_is_infinite(k, expected):
    x = Value(0.0)
    (x**k).backward()
    assert x.grad == expected


def test_zero_to_a_negative_power_is_inf_with_the_sign_of_ieee_pow():
    assert (Value(0.0) ** -1).data == math.inf
    assert (Value(-0.0) ** -1).data == -math.inf
    assert (Value(-0.0) ** -2).data == math.inf
    assert (Value(0.0) ** -0.5).data == math.inf


def test_second_derivative_of_a_power_at_zero_is_inf():
    x = Value(0.0)
    (first,) = grad(x**1.5, [x], create_graph=True)
    assert first.data == 0.0
    assert grad(first, [x]) == [math.inf]


def test_exp_past_the_float_range_is_inf_and_so_is_its_gradient():
    x = Value(1000.0)
    y = x.exp()
    y.backward()
    assert y.data == math.inf and x.grad == math.inf
    assert Value(-1000.0).exp().data == 0.0


@pytest.mark.parametrize("base, k, expected", [(10.0, 400, math.inf), (-10.0, 401, -math.inf), (-10.0, 400, math.inf),
                                               (1e-10, -400, math.inf), (10.0, -400, 0.0)])
def test_a_power_past_the_float_range_is_inf_as_in_numpy(base, k, expected):
    assert (Value(base) ** k).data == expected


def test_power_overflow_in_the_derivative_gives_inf():
    x = Value(10.0)
    (x**400).backward()
    assert x.grad == math.inf


@pytest.mark.parametrize("x, s, t", [(1000.0, 1.0, 1.0), (-1000.0, 0.0, -1.0), (math.inf, 1.0, 1.0), (-math.inf, 0.0, -1.0)])
def test_tanh_and_sigmoid_saturate_without_overflow(x, s, t):
    assert Value(x).sigmoid().data == s and Value(x).tanh().data == t
    v = Value(x)
    v.sigmoid().backward()
    assert v.grad == 0.0


def test_products_and_sums_past_the_float_range_are_inf():
    assert (Value(1e200) * Value(1e200)).data == math.inf
    assert (Value(1e308) + Value(1e308)).data == math.inf


def test_nan_propagates_through_every_scalar_op():
    for f in (Value.exp, Value.tanh, Value.sigmoid, Value.relu, Value.log, lambda v: v**2, lambda v: v * 2):
        assert math.isnan(f(Value(math.nan)).data)


# --- empty tensors in reductions -----------------------------------------------------------------------


@pytest.mark.parametrize("keepdims", [False, True])
def test_max_along_a_nonempty_axis_of_an_empty_tensor_is_empty(keepdims):
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    y = x.max(axis=1, keepdims=keepdims)
    assert y.shape == ((0, 1) if keepdims else (0,))
    y.sum().backward()
    assert_grad_fits(x)


@pytest.mark.parametrize("axis", [0, None, (0, 1), -2])
def test_max_over_a_zero_length_axis_raises_naming_max_and_the_shape(axis):
    with pytest.raises(ValueError, match=r"max over axis=.* of a tensor of shape \(0, 3\): axis 0 is empty"):
        Tensor(np.zeros((0, 3))).max(axis=axis)


@pytest.mark.parametrize("shape, axis", [((2, 0), -1), ((2, 0), 0), ((0, 4), -1), ((0, 4), 0)])
def test_log_softmax_of_an_empty_tensor_is_empty_and_backward_works(shape, axis):
    x = Tensor(np.zeros(shape), requires_grad=True)
    y = x.log_softmax(axis=axis)
    assert y.shape == shape
    y.backward(np.zeros(shape))
    assert_grad_fits(x)


def test_log_softmax_still_refuses_an_axis_that_does_not_exist():
    with pytest.raises(ValueError, match="axis 2"):
        Tensor(np.zeros((2, 0))).log_softmax(axis=2)


def test_cross_entropy_with_no_classes_raises_naming_the_shape():
    with pytest.raises(ValueError, match=r"at least one class, got logits of shape \(2, 0\)"):
        cross_entropy(Tensor(np.zeros((2, 0)), requires_grad=True), [0, 0])


# --- max over several axes -----------------------------------------------------------------------------


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [(0, 1), (0, 2), (1, 2), (-1, 0), (0, 1, 2), (1,), ()])
def test_max_over_an_axis_tuple_matches_numpy_and_gradient_checks(axis, keepdims):
    x = np.random.default_rng(3).standard_normal((3, 4, 2))
    y = Tensor(x).max(axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(y.data, x.max(axis=axis, keepdims=keepdims))
    check_vjp(lambda t: t.max(axis=axis, keepdims=keepdims), x)


def test_max_over_an_axis_tuple_sends_a_tie_to_the_first_entry_in_row_major_order():
    x = Tensor([[[1.0, 7.0], [7.0, 0.0]], [[7.0, 2.0], [3.0, 7.0]]], requires_grad=True)
    x.max(axis=(1, 2)).backward(np.array([10.0, 20.0]))
    np.testing.assert_array_equal(x.grad, [[[0.0, 10.0], [0.0, 0.0]], [[20.0, 0.0], [0.0, 0.0]]])
    z = Tensor([[5.0, 1.0], [5.0, 5.0]], requires_grad=True)
    z.max(axis=(1, 0)).backward()  # the order the axes are named in does not matter
    np.testing.assert_array_equal(z.grad, [[1.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("axis", [2, -3, (0, 0), (1, -1)])
def test_max_refuses_axes_that_are_out_of_range_or_repeated(axis):
    with pytest.raises(ValueError, match="does not name distinct axes of a tensor with 2 dimensions"):
        Tensor(np.ones((2, 3))).max(axis=axis)


def test_max_accepts_a_numpy_integer_axis():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(Tensor(x).max(axis=np.int64(1)).data, [2.0, 5.0])


# --- indexing with Tensors inside a tuple -----------------------------------------------------------------


def test_a_tensor_index_inside_a_tuple_selects_and_accumulates_repeated_indices():
    x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    y = x[:, Tensor([0, 0, 2])]
    np.testing.assert_array_equal(y.data, x.data[:, [0, 0, 2]])
    y.backward(np.ones((3, 3)))
    np.testing.assert_array_equal(x.grad, [[2.0, 0.0, 1.0, 0.0]] * 3)


def test_two_tensor_indices_in_a_tuple_pick_pairs():
    x = np.random.default_rng(0).standard_normal((3, 4))
    rows, cols = Tensor([0, 1, 1, 0]), Tensor([3, 3, 0, 3])
    check_vjp(lambda t: t[rows, cols], x)
    check_vjp(lambda t: t[1:, Tensor([2, 2])], x)


# --- a scalar never changes a tensor's dtype -----------------------------------------------------------------

SCALAR_OPS = {
    "+": lambda t, s: t + s, "r+": lambda t, s: s + t,
    "-": lambda t, s: t - s, "r-": lambda t, s: s - t,
    "*": lambda t, s: t * s, "r*": lambda t, s: s * t,
    "/": lambda t, s: t / s, "r/": lambda t, s: s / t,
    "**": lambda t, s: t**s,
}
SCALARS = [2.0, 2, np.float64(2.0), np.int64(2), np.float32(2.0), np.float16(2.0), np.uint8(2)]


@pytest.mark.parametrize("scalar", SCALARS, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("op", sorted(SCALAR_OPS))
def test_a_python_or_numpy_scalar_keeps_a_float32_tensor_float32(op, scalar):
    x = Tensor(np.array([1.0, 2.0, 4.0], np.float32), requires_grad=True)
    y = SCALAR_OPS[op](x, scalar)
    assert y.dtype == np.float32
    y.sum().backward()
    assert_grad_fits(x)
    expected = SCALAR_OPS[op](np.array([1.0, 2.0, 4.0]), float(scalar))
    np.testing.assert_allclose(y.data, expected, rtol=1e-6)


def test_a_float64_array_still_promotes_a_float32_tensor_as_numpy_does():
    y = Tensor(np.ones(3, np.float32)) * np.array([1.0, 2.0, 3.0])
    assert y.dtype == np.float64


# --- a parameter changed in place after the forward pass ------------------------------------------------------


def linear_loss(W, b):
    x = Tensor(np.arange(6.0).reshape(2, 3))
    return (x @ W + b).relu().sum()


def params():
    rng = np.random.default_rng(5)
    return (Tensor(rng.standard_normal((3, 2)), requires_grad=True, label="weight"),
            Tensor(rng.standard_normal(2) + 5, requires_grad=True, label="bias"))


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1), lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: Adam(ps), lambda ps: RMSprop(ps)])
def test_backward_through_a_saved_parameter_after_a_step_raises_naming_it(make):
    W, b = params()
    loss = linear_loss(W, b)
    loss.backward()
    make([W, b]).step()
    with pytest.raises(RuntimeError, match=r"backward through MatMul: its input 1, the tensor 'weight' of shape "
                                           r"\(3, 2\), was changed in place after the forward pass saved it"):
        loss.backward()


def test_every_step_gives_each_parameter_it_moves_a_newer_version():
    W, b = params()
    opt = SGD([W, b], lr=0.1)
    linear_loss(W, b).backward()
    assert (W._version, b._version) == (0, 0)
    opt.step()
    first = (W._version, b._version)
    opt.step()
    assert W._version > max(first) and b._version > W._version
    b.grad = None
    before = b._version
    opt.step()
    assert b._version == before and W._version > before


def test_a_fresh_forward_pass_after_a_step_backpropagates_normally():
    W, b = params()
    opt = SGD([W, b], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        linear_loss(W, b).backward()
        opt.step()
    assert W.grad.shape == (3, 2)


def test_a_parameter_whose_array_no_op_saved_may_change_as_in_pytorch():
    # b is only added (Add saves nothing) and W only goes through exp (which saves its output)
    W, b = params()
    loss = (W.exp().sum(axis=0) + b).sum()
    loss.backward()
    SGD([W, b], lr=0.1).step()
    loss.backward()
    np.testing.assert_array_equal(b.grad, [2.0, 2.0])


def test_writes_to_data_by_user_code_are_not_tracked():
    # documented: a gradient check may perturb .data in place between backward calls
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    w.data[0] += 1.0
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0 + 4.0, 8.0])
    assert w._version == 0


def test_a_gradient_check_that_perturbs_data_in_place_still_works():
    rng = np.random.default_rng(2)
    W = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x = Tensor(rng.standard_normal((4, 3)))

    def loss():
        return ((x @ W).tanh() ** 2).sum()

    loss().backward()
    numeric = np.zeros_like(W.data)
    for i in np.ndindex(W.shape):
        old = W.data[i]
        W.data[i] = old + 1e-5
        plus = loss().item()
        W.data[i] = old - 1e-5
        minus = loss().item()
        W.data[i] = old
        numeric[i] = (plus - minus) / 2e-5
    assert rel_error(W.grad, numeric) < 1e-7


# --- matmul shapes that do not fit -----------------------------------------------------------------------------


@pytest.mark.parametrize("a, b", [((2, 3, 4), (3, 4, 5)), ((2, 1, 3, 4), (3, 3, 4, 5)), ((4, 2, 3), (2, 3, 3, 5))])
def test_batched_matmul_whose_batch_axes_do_not_broadcast_names_matmul_and_both_shapes(a, b):
    message = re.escape(f"matmul of shapes {a} and {b}: batch dimensions {a[:-2]} and {b[:-2]} do not broadcast")
    with pytest.raises(ValueError, match=message):
        Tensor(np.zeros(a)) @ Tensor(np.zeros(b))
    with pytest.raises(ValueError, match=message):
        Dual(np.zeros(a)) @ np.zeros(b)


def test_batched_matmul_with_mismatched_inner_dimensions_names_them():
    with pytest.raises(ValueError, match=r"matmul of shapes \(2, 3, 4\) and \(2, 5, 6\): inner dimensions 4 and 5 differ"):
        Tensor(np.zeros((2, 3, 4))) @ Tensor(np.zeros((2, 5, 6)))


def test_batched_matmul_whose_batch_axes_broadcast_still_works():
    a, b = np.ones((2, 1, 3, 4)), np.ones((3, 4, 5))
    assert (Tensor(a) @ Tensor(b)).shape == (2, 3, 3, 5)
