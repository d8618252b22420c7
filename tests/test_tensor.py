"""Lesson 05: ``Tensor``, one vector-Jacobian product per op, each beside its gradient check."""
import sys
import warnings
import weakref

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import BroadcastableShapes, mutually_broadcastable_shapes

from backprop_lib import Function, Tensor, cross_entropy, mse, unbroadcast
from backprop_lib import tensor as tensor_module
from backprop_lib.tensor import tensor
from backprop_lib.gradcheck import numerical_gradient, rel_error
from backprop_lib.tensor import MatMul

# Each Function of the tensor module has gradient checks below; a new one must be added here too.
GRADCHECKED = {
    "Add", "Sub", "Mul", "Div", "Neg", "Pow", "MatMul", "Sum", "Mean", "Max", "ReLU", "Sigmoid", "Tanh",
    "Exp", "Log", "Reshape", "Transpose", "GetItem", "LogSoftmax", "CrossEntropy", "MSE",
}


def test_every_tensor_function_is_gradient_checked():
    functions = {
        name for name, obj in vars(tensor_module).items()
        if isinstance(obj, type) and issubclass(obj, Function) and obj is not Function
    }
    assert functions == GRADCHECKED


def gradcheck(f, *arrays, seed=0, tol=1e-7):
    """Backward of ``f`` against central differences of sum(f(...) * upstream), for every input.

    ``f`` takes Tensors and returns a Tensor; ``arrays`` are float64 inputs.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = f(*leaves)
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(upstream)
    for i, leaf in enumerate(leaves):

        def projected(t, i=i):
            args = [Tensor(t) if j == i else Tensor(arrays[j]) for j in range(len(arrays))]
            return np.sum(f(*args).data * upstream)

        assert leaf.grad.shape == leaf.data.shape
        numeric = numerical_gradient(projected, arrays[i])
        assert rel_error(leaf.grad, numeric) < tol, f"input {i}: {leaf.grad} vs {numeric}"
    return leaves


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def positive(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


# --- elementwise arithmetic, with broadcasting -------------------------------------------------------

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3), (3,)), ((4, 1), (1, 3)), ((2, 1, 3), ()), ((), (2,))])
def test_binary_ops_gradcheck_with_broadcasting(name, shapes):
    a = randn(*shapes[0], seed=1)
    b = positive(*shapes[1], seed=2)
    gradcheck(BINARY[name], a, b)


@pytest.mark.parametrize("name", BINARY)
def test_binary_ops_with_numbers_and_arrays_on_either_side(name):
    op = BINARY[name]
    a = positive(2, 3)
    gradcheck(lambda x: op(x, 1.5), a)
    gradcheck(lambda x: op(1.5, x), a)
    gradcheck(lambda x: op(positive(3, seed=4), x), a)  # ndarray (op) Tensor uses the reflected operator
    out = op(positive(3, seed=4), Tensor(a))
    assert isinstance(out, Tensor)


def test_neg_gradcheck():
    gradcheck(lambda x: -x, randn(3, 2))


@pytest.mark.parametrize("k", [2, 3, 0.5, -1.5, 1])
def test_pow_gradcheck(k):
    gradcheck(lambda x: x**k, positive(2, 3))


def test_pow_zero_has_zero_gradient_even_at_zero():
    x = Tensor([0.0, 2.0], requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


def test_pow_needs_a_number_exponent():
    with pytest.raises(TypeError, match="needs a number"):
        Tensor([1.0]) ** Tensor([2.0])


def assert_matches_central_differences(analytic, numeric):
    """Each entry to 1e-7 relative, or to 1e-9 of the largest entry's size: central differences keep
    fewer digits of an entry far smaller than the rest (the rounding of f, divided by 2h, is the same
    for every entry). A gradient summed over the wrong axes, or not at all, is off in its first digit."""
    scale = max(1.0, float(np.max(np.abs(numeric), initial=0.0)))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-9 * scale)


@settings(max_examples=40, deadline=None)
@given(mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), st.sampled_from(list(BINARY)))
@example(BroadcastableShapes(input_shapes=((3,), (3, 3)), result_shape=(3, 3)), "div")  # an entry of -1.2e-4
def test_broadcasting_is_undone_in_every_gradient(shapes, name):
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    a, b = rng.standard_normal(sa), rng.uniform(0.5, 2.0, sb)
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = BINARY[name](x, y)
    assert out.shape == out_shape
    upstream = rng.standard_normal(out_shape)
    out.backward(upstream)
    assert x.grad.shape == x.data.shape and y.grad.shape == y.data.shape
    numeric_a = numerical_gradient(lambda t: np.sum(BINARY[name](Tensor(t), Tensor(b)).data * upstream), a)
    numeric_b = numerical_gradient(lambda t: np.sum(BINARY[name](Tensor(a), Tensor(t)).data * upstream), b)
    assert_matches_central_differences(x.grad, numeric_a)
    assert_matches_central_differences(y.grad, numeric_b)


# --- unbroadcast ------------------------------------------------------------------------------------


def test_unbroadcast_sums_over_the_broadcast_axes():
    g = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(unbroadcast(g, (3,)), [3.0, 5.0, 7.0])
    np.testing.assert_array_equal(unbroadcast(g, (2, 1)), [[3.0], [12.0]])
    np.testing.assert_array_equal(unbroadcast(g, (1, 3)), [[3.0, 5.0, 7.0]])
    assert unbroadcast(g, ()) == 15.0
    assert unbroadcast(g, (2, 3)) is g


def test_unbroadcast_rejects_shapes_that_could_not_broadcast():
    with pytest.raises(ValueError, match=r"shape \(2, 3\) does not fit an input of shape \(2,\)"):
        unbroadcast(np.ones((2, 3)), (2,))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        unbroadcast(np.ones(3), (2, 3))


# --- matrix multiply ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sa, sb",
    [
        ((2, 3), (3, 4)),  # matrix @ matrix
        ((3,), (3, 4)),  # vector @ matrix
        ((2, 3), (3,)),  # matrix @ vector
        ((3,), (3,)),  # dot product
        ((5, 2, 3), (5, 3, 4)),  # batched
        ((5, 2, 3), (3, 4)),  # batched @ shared matrix
        ((3,), (5, 3, 4)),  # vector @ batch
        ((5, 2, 3), (3,)),  # batch @ vector
        ((2, 1, 2, 3), (4, 3, 2)),  # batch axes broadcast against each other
    ],
)
def test_matmul_gradcheck(sa, sb):
    a, b = gradcheck(lambda x, y: x @ y, randn(*sa, seed=1), randn(*sb, seed=2))
    assert a.grad.shape == sa and b.grad.shape == sb


def test_matmul_of_incompatible_shapes_names_both():
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(2, 4\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"\(\) and \(3,\)"):
        Tensor(2.0) @ Tensor(np.ones(3))


# --- lesson 05 numbers ----------------------------------------------------------------------------


def test_relu_derivative_at_zero_is_zero():
    x = Tensor([0.0, -0.0, 1e-300], requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


def test_lesson05_relu_vjp():
    x = Tensor([1.0, -2.0, 3.0, -1.0], requires_grad=True)
    y = x.relu()
    np.testing.assert_array_equal(y.data, [1.0, 0.0, 3.0, 0.0])
    y.backward(np.array([4.0, -1.0, 5.0, 9.0]))
    np.testing.assert_array_equal(x.grad, [4.0, 0.0, 5.0, 0.0])


def test_lesson05_matmul_vjp():
    X = Tensor([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]], requires_grad=True)
    W = Tensor([[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]], requires_grad=True)
    Y = X @ W
    np.testing.assert_array_equal(Y.data, [[-1.0, -1.0, 2.0, 6.0], [5.0, 2.0, 11.0, 7.0]])
    dY = np.array([[2.0, 3.0, -3.0, 9.0], [-8.0, 1.0, 4.0, 6.0]])
    Y.backward(dY)
    assert X.grad[0, 0] == 3 * 2 + 2 * 3 + 1 * (-3) + (-1) * 9 == 0.0
    assert X.grad[1, 2] == -30.0
    np.testing.assert_array_equal(X.grad, dY @ W.data.T)
    np.testing.assert_array_equal(W.grad, X.data.T @ dY)
    assert X.grad.shape == (2, 3) and W.grad.shape == (3, 4)


# --- reductions -------------------------------------------------------------------------------------

AXES = [None, 0, 1, -1, (0, 2), (-1, 0)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES)
def test_sum_gradcheck(axis, keepdims):
    (x,) = gradcheck(lambda t: t.sum(axis=axis, keepdims=keepdims), randn(2, 3, 4))
    assert x.data.sum(axis=axis, keepdims=keepdims).shape == x.sum(axis=axis, keepdims=keepdims).shape


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES)
def test_mean_gradcheck(axis, keepdims):
    x = randn(2, 3, 4)
    gradcheck(lambda t: t.mean(axis=axis, keepdims=keepdims), x)
    np.testing.assert_allclose(Tensor(x).mean(axis=axis, keepdims=keepdims).data, x.mean(axis=axis, keepdims=keepdims))


def test_sum_and_mean_of_a_scalar_tensor():
    gradcheck(lambda t: t.sum(), np.array(2.0))
    gradcheck(lambda t: t.mean(), np.array(2.0))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_max_gradcheck(axis, keepdims):
    x = randn(3, 4, 2)
    (t,) = gradcheck(lambda u: u.max(axis=axis, keepdims=keepdims), x)
    np.testing.assert_array_equal(Tensor(x).max(axis=axis, keepdims=keepdims).data, x.max(axis=axis, keepdims=keepdims))


def test_max_sends_the_gradient_to_the_winner_first_on_ties():
    x = Tensor([[1.0, 5.0, 5.0], [7.0, 2.0, 7.0]], requires_grad=True)
    x.max(axis=1).backward(np.array([10.0, 20.0]))
    np.testing.assert_array_equal(x.grad, [[0.0, 10.0, 0.0], [20.0, 0.0, 0.0]])
    y = Tensor([3.0, 9.0, 9.0], requires_grad=True)
    y.max().backward()
    np.testing.assert_array_equal(y.grad, [0.0, 1.0, 0.0])


def test_max_errors():
    with pytest.raises(ValueError, match="empty"):
        Tensor(np.zeros((0, 3))).max()
    with pytest.raises(ValueError, match="axis"):
        Tensor(np.ones((2, 3))).max(axis=(0, 2))
    with pytest.raises(ValueError, match="axis"):
        Tensor(np.ones((2, 3))).max(axis=(1, 1))
    assert Tensor(np.arange(6.0).reshape(2, 3)).max(axis=(0, 1)).data == 5.0


# --- elementwise functions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, f, x",
    [
        ("relu", lambda t: t.relu(), np.array([[1.0, -2.0, 0.3], [-0.1, 2.5, -3.0]])),
        ("sigmoid", lambda t: t.sigmoid(), randn(2, 3) * 3),
        ("tanh", lambda t: t.tanh(), randn(2, 3)),
        ("exp", lambda t: t.exp(), randn(2, 3)),
        ("log", lambda t: t.log(), positive(2, 3)),
    ],
)
def test_elementwise_gradcheck(name, f, x):
    gradcheck(f, x)


def test_elementwise_forward_values():
    x = np.array([-1.0, 0.0, 2.0])
    t = Tensor(x)
    np.testing.assert_array_equal(t.relu().data, [0.0, 0.0, 2.0])
    np.testing.assert_allclose(t.sigmoid().data, 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_array_equal(t.tanh().data, np.tanh(x))
    np.testing.assert_array_equal(t.exp().data, np.exp(x))
    np.testing.assert_array_equal(Tensor([1.0, 2.0]).log().data, np.log([1.0, 2.0]))


def test_sigmoid_is_stable_far_out():
    x = Tensor([-1000.0, 1000.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = x.sigmoid()
        s.sum().backward()
    np.testing.assert_array_equal(s.data, [0.0, 1.0])
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


# --- shape operations and indexing ------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 2), (-1,), (3, -1, 2), ((4, 3),)])
def test_reshape_gradcheck(shape):
    gradcheck(lambda t: t.reshape(*shape), randn(2, 3, 2))


def test_reshape_to_the_wrong_size_names_both():
    with pytest.raises(ValueError, match=r"shape \(2, 3\) \(6 elements\) to \(4,\)"):
        Tensor(np.ones((2, 3))).reshape(4)


@pytest.mark.parametrize(
    "f",
    [
        lambda t: t.T,
        lambda t: t.transpose(),
        lambda t: t.transpose(1, 2, 0),
        lambda t: t.transpose((2, 0, 1)),
        lambda t: t.transpose(-1, 0, 1),
        lambda t: t.transpose(0, -1, -2),
    ],
)
def test_transpose_gradcheck(f):
    x = randn(2, 3, 4)
    gradcheck(f, x)


def test_transpose_with_negative_axes_matches_numpy():
    x = randn(2, 3)
    t = Tensor(x, requires_grad=True)
    y = t.transpose(-1, 0)
    np.testing.assert_array_equal(y.data, x.T)
    y.backward(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(t.grad, np.arange(6.0).reshape(3, 2).T)


@pytest.mark.parametrize(
    "index",
    [
        1,
        -1,
        slice(1, 3),
        (slice(None), 2),
        (Ellipsis, 0),
        (None, 1),
        (slice(None, None, -1), slice(0, 3, 2)),
        [0, 2, 0, 0],  # repeated rows add up their gradients
        ([0, 1, 1], [3, 3, 0]),
        (slice(None), [1, 1]),
    ],
)
def test_getitem_gradcheck(index):
    gradcheck(lambda t: t[index], randn(3, 4))


def test_repeated_fancy_indices_add_up():
    x = Tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[[0, 2, 0, 0]].backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad, [8.0, 0.0, 2.0])


def test_boolean_mask_and_tensor_index():
    data = np.array([1.0, -2.0, 3.0, -4.0])
    x = Tensor(data, requires_grad=True)
    x[data > 0].sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0, 0.0])
    y = Tensor(data, requires_grad=True)
    picked = y[Tensor([3, 3, 1])]
    np.testing.assert_array_equal(picked.data, [-4.0, -4.0, -2.0])
    picked.sum().backward()
    np.testing.assert_array_equal(y.grad, [0.0, 1.0, 0.0, 2.0])


# --- softmax and losses -----------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_log_softmax_gradcheck(axis):
    x = randn(3, 4, 2) * 3
    gradcheck(lambda t: t.log_softmax(axis=axis), x)
    out = Tensor(x).log_softmax(axis=axis).data
    np.testing.assert_allclose(np.exp(out).sum(axis=axis), 1.0, rtol=1e-14)


def test_log_softmax_is_stable_for_large_logits():
    out = Tensor([[1000.0, 0.0, -1000.0]]).log_softmax().data
    np.testing.assert_allclose(out, [[0.0, -1000.0, -2000.0]], rtol=1e-15)


def test_cross_entropy_gradcheck_and_value():
    logits = randn(5, 3) * 2
    targets = np.array([0, 2, 1, 2, 0])
    gradcheck(lambda t: cross_entropy(t, targets), logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    expected = np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(5), targets])
    assert cross_entropy(Tensor(logits), targets).item() == pytest.approx(expected, rel=1e-14)
    via_log_softmax = -Tensor(logits).log_softmax()[np.arange(5), targets].mean()
    assert cross_entropy(Tensor(logits), targets).item() == pytest.approx(via_log_softmax.item(), rel=1e-14)


def test_cross_entropy_of_uniform_logits_is_log_c():
    x = Tensor(np.zeros((4, 5)), requires_grad=True)
    loss = cross_entropy(x, Tensor([0, 1, 2, 3]))
    assert loss.item() == pytest.approx(np.log(5), rel=1e-15)
    loss.backward()
    np.testing.assert_allclose(x.grad.sum(axis=1), 0.0, atol=1e-16)  # softmax - onehot sums to 0


@pytest.mark.parametrize(
    "logits, targets, message",
    [
        (np.zeros((2, 3)), [0, 3], r"0\.\.2, got 0\.\.3"),
        (np.zeros((2, 3)), [-1, 0], r"0\.\.2, got -1\.\.0"),
        (np.zeros((2, 3)), [0.5, 1], "whole numbers"),
        (np.zeros((2, 3)), [0, 1, 2], r"targets of shape \(2,\)"),
        (np.zeros(3), [0], r"logits of shape \(N, C\), got \(3,\)"),
    ],
)
def test_cross_entropy_rejects_bad_targets(logits, targets, message):
    with pytest.raises(ValueError, match=message):
        cross_entropy(Tensor(logits, requires_grad=True), targets)


def test_mse_gradcheck_on_prediction_and_target():
    p, t = randn(4, 3, seed=1), randn(4, 3, seed=2)
    gradcheck(lambda a, b: mse(a, b), p, t)
    assert mse(Tensor(p), t).item() == pytest.approx(np.mean((p - t) ** 2), rel=1e-15)


def test_mse_rejects_different_shapes():
    with pytest.raises(ValueError, match=r"prediction has shape \(4,\) but target has shape \(4, 1\)"):
        mse(Tensor(np.ones(4), requires_grad=True), np.ones((4, 1)))


# --- the engine: accumulation, dtypes, constants -----------------------------------------------------


def test_fan_out_accumulates():
    a = Tensor([1.0, -2.0], requires_grad=True)
    b = a + a
    c = b * a  # a used three times
    c.sum().backward()
    np.testing.assert_array_equal(a.grad, 4 * a.data)


def test_backward_twice_doubles_leaves_but_not_intermediates():
    x = Tensor(randn(3), requires_grad=True)
    h = x * 2.0
    out = (h * h).sum()
    out.backward()
    first_x, first_h = x.grad.copy(), h.grad.copy()
    out.backward()
    np.testing.assert_array_equal(x.grad, 2 * first_x)
    np.testing.assert_array_equal(h.grad, first_h)


# --- what the graph keeps: only what backward needs (lesson 07) ---------------------------------------


def test_an_intermediate_tensor_that_nothing_holds_is_freed_with_its_array():
    x = Tensor(randn(3), requires_grad=True)
    h = x * 2.0
    y = (h + 1.0).sum()  # Add saves nothing: h's array is not needed by backward
    dropped, array = weakref.ref(h), weakref.ref(h.data)
    del h
    assert dropped() is None and array() is None
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


def test_a_layer_keeps_its_output_and_not_its_pre_activations():
    x, W = Tensor(randn(4, 3)), Tensor(randn(3, 3), requires_grad=True)
    b = Tensor(randn(3), requires_grad=True)
    xW = x @ W
    z = xW + b
    out = z.tanh()  # tanh's backward reads its output; neither x W nor x W + b is read by any rule
    gone = [weakref.ref(xW.data), weakref.ref(z.data)]
    del xW, z
    assert [ref() for ref in gone] == [None, None]
    out.sum().backward()
    np.testing.assert_allclose(b.grad, (1 - out.data ** 2).sum(axis=0), rtol=1e-14)


def test_held_intermediates_get_their_gradient_and_dropped_ones_cost_nothing():
    x = Tensor(randn(3), requires_grad=True)
    h = x.tanh()
    out = (h * 3.0).exp().sum()
    out.backward()
    np.testing.assert_allclose(h.grad, 3 * np.exp(3 * h.data), rtol=1e-14)
    assert out.grad == 1.0
    middle = out._prev[0]  # (h * 3).exp(), dropped: a stand-in of its shape, with no values left
    assert middle.shape == (3,) and np.isnan(middle.data).all() and middle.grad is None
    assert middle._prev[0]._prev[0] is h and h._prev[0] is x and middle._fn.__name__ == "Exp"


def test_the_stand_in_for_a_dropped_tensor_is_one_object_for_all_its_consumers():
    x = Tensor(randn(2), requires_grad=True)
    shared = x * 2.0
    out = (shared * shared + shared).sum()
    del shared
    product, total = out._prev[0]._prev
    assert product._prev[0] is product._prev[1] is total


def test_a_leaf_gradient_is_its_own_array():
    x = Tensor(randn(2, 3), requires_grad=True)
    y = x + 0.0
    y.backward(np.ones((2, 3)))
    assert x.grad is not y.grad and not np.shares_memory(x.grad, y.grad)
    z = Tensor(randn(2, 3), requires_grad=True)
    z.T.sum().backward()
    assert z.grad.flags.writeable and z.grad.base is None
    w = Tensor([1.0, 2.0], requires_grad=True)
    upstream = np.array([3.0, 4.0])
    w.backward(upstream)
    upstream[0] = 99.0  # the caller's array stays the caller's
    np.testing.assert_array_equal(w.grad, [3.0, 4.0])


def test_deep_chain_of_ten_thousand_nodes():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 1.0001**10_000, rtol=1e-10)


ONE_INPUT_OPS = [
    lambda t: t + 1.5,
    lambda t: 2 - t,
    lambda t: t * 3,
    lambda t: t / 3,
    lambda t: 3 / t,
    lambda t: -t,
    lambda t: t**2,
    lambda t: t**0.5,
    lambda t: t @ np.ones((3, 2), np.float32),
    lambda t: t.sum(axis=0),
    lambda t: t.mean(axis=1, keepdims=True),
    lambda t: t.max(axis=1),
    lambda t: t.relu(),
    lambda t: t.sigmoid(),
    lambda t: t.tanh(),
    lambda t: t.exp(),
    lambda t: t.log(),
    lambda t: t.reshape(-1),
    lambda t: t.T,
    lambda t: t[[0, 0, 1]],
    lambda t: t.log_softmax(),
    lambda t: cross_entropy(t, [0, 2]),
    lambda t: mse(t, np.zeros((2, 3), np.float32)),
]


@pytest.mark.parametrize("op", ONE_INPUT_OPS)
def test_every_op_survives_a_second_backward_unchanged(op):
    # a backward that overwrote what forward saved would give a different second gradient
    x = Tensor(positive(2, 3), requires_grad=True)
    y = op(x)
    upstream = randn(*y.shape, seed=3)
    y.backward(upstream)
    first = x.grad.copy()
    y.backward(upstream)
    np.testing.assert_array_equal(x.grad, 2 * first)


@pytest.mark.parametrize("op", ONE_INPUT_OPS)
def test_float32_stays_float32_in_data_and_grad(op):
    x = Tensor(positive(2, 3).astype(np.float32), requires_grad=True)
    y = op(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == (2, 3)


def test_float32_leaf_gets_a_float32_grad_even_through_a_float64_constant():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    y = x * np.array([1.0, 2.0, 3.0])  # numpy promotes the product to float64
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])


def test_integer_and_boolean_data_become_float64():
    assert Tensor([1, 2]).dtype == np.float64
    assert Tensor([True, False]).dtype == np.float64
    assert Tensor(np.float32(1.0)).dtype == np.float32


def test_inputs_without_requires_grad_get_no_grad_and_no_work(monkeypatch):
    returned = []
    original = MatMul.backward

    def spy(ctx, g):
        out = original(ctx, g)
        returned.append(out)
        return out

    monkeypatch.setattr(MatMul, "backward", staticmethod(spy))
    x = Tensor(randn(4, 3))  # data: no gradient wanted
    W = Tensor(randn(3, 2), requires_grad=True)
    y = x @ W
    assert y._ctx.needs_input_grad == (False, True)
    y.sum().backward()
    assert x.grad is None
    assert W.grad.shape == (3, 2)
    (ga, gb), = returned
    assert ga is None and gb is not None


def test_an_op_on_constants_only_is_a_constant():
    y = Tensor([1.0, 2.0]) * 3
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


# --- errors and conveniences -------------------------------------------------------------------------


def test_backward_on_a_non_scalar_needs_a_gradient():
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"single-element tensor.*shape \(2, 3\)"):
        y.backward()


def test_backward_with_a_gradient_of_the_wrong_shape_names_both():
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"gradient of shape \(3, 2\) given for a tensor of shape \(2, 3\)"):
        y.backward(np.ones((3, 2)))


@pytest.mark.parametrize("bad", [["a", "b"], "abc", [1 + 2j], [object()]])
def test_tensor_needs_real_numbers(bad):
    with pytest.raises(TypeError, match="real numbers"):
        Tensor(bad)


def test_tensor_shares_numpy_data_tensor_copies_it():
    a = np.ones(3)
    assert Tensor(a).data is a
    b = tensor(a, requires_grad=True)
    assert b.data is not a and b.requires_grad
    np.testing.assert_array_equal(b.data, a)


def test_the_package_attribute_tensor_is_the_module():
    assert tensor_module is sys.modules["backprop_lib.tensor"]


def test_conveniences():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert (x.shape, x.ndim, x.size, len(x)) == ((2, 3), 2, 6, 2)
    assert x.numpy() is x.data
    assert x.is_leaf and not (x * 2).is_leaf
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    assert Tensor([[2.5]]).item() == 2.5
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        x.item()
    assert repr(Tensor([1.0, 2.0], requires_grad=True)) == "Tensor([1., 2.], requires_grad=True)"
    assert repr(Tensor([0.5])) == "Tensor([0.5])"


def test_cross_entropy_targets_cannot_require_a_gradient():
    logits = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(TypeError, match="targets are class indices"):
        cross_entropy(logits, Tensor([0.0, 2.0], requires_grad=True))


def test_relu_backward_gives_positive_zero_where_the_input_was_negative():
    x = Tensor([1.0, -2.0], requires_grad=True)
    x.relu().backward(np.array([-3.0, -4.0]))
    assert np.signbit(x.grad).tolist() == [True, False]  # -3 passes through; the blocked entry is +0.0
