"""Lesson 04: the PyTorch-style ``Function`` with a context, on ``Value`` and on ``Tensor``."""
import math

import numpy as np
import pytest

from backprop_lib import Context, Function, Tensor, Value
from backprop_lib.graph import dependency_order
from backprop_lib.gradcheck import numerical_gradient, rel_error


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return grad_output * b, grad_output * a


class Sigmoid(Function):
    """One node for the whole sigmoid; backward uses the saved output: s (1 - s)."""

    @staticmethod
    def forward(ctx, x):
        s = 1 / (1 + np.exp(-x))
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_output):
        (s,) = ctx.saved_tensors
        return grad_output * s * (1 - s)


def composed_sigmoid(x):
    return 1 / (1 + (-x).exp())


def node_count(root) -> int:
    return len(dependency_order(root, lambda n: n._prev))


# --- on Value -----------------------------------------------------------------------------------


def test_user_mul_on_value_matches_the_builtin():
    x, y = Value(3.0), Value(-4.0)
    z = Mul.apply(x, y)
    assert isinstance(z, Value) and z.data == -12.0
    (z * z).backward()
    x2, y2 = Value(3.0), Value(-4.0)
    w = x2 * y2
    (w * w).backward()
    assert (x.grad, y.grad) == (x2.grad, y2.grad) == (96.0, -72.0)


def test_user_mul_with_a_number_argument():
    x = Value(3.0)
    z = Mul.apply(x, 2.5)
    z.backward()
    assert z.data == 7.5 and x.grad == 2.5


def test_custom_sigmoid_on_value_matches_builtin_and_composed():
    for t in [-2.0, 0.0, 0.7]:
        custom, builtin, composed = Value(t), Value(t), Value(t)
        s = Sigmoid.apply(custom)
        s.backward()
        builtin.sigmoid().backward()
        composed_sigmoid(composed).backward()
        assert s.data == pytest.approx(builtin.sigmoid().data, rel=1e-15)
        assert custom.grad == pytest.approx(builtin.grad, rel=1e-14)
        assert custom.grad == pytest.approx(composed.grad, rel=1e-14)
        assert rel_error(custom.grad, numerical_gradient(lambda u: Sigmoid.apply(Value(u)).data, t)) < 1e-8


def test_custom_sigmoid_is_one_node_where_the_composition_needs_many():
    x = Value(0.3)
    assert node_count(Sigmoid.apply(x)) == 2  # x and the sigmoid node
    assert node_count(composed_sigmoid(x)) == 7  # x, neg, exp, 1, +, 1, /


def test_function_node_composes_with_builtin_ops_and_fan_out():
    x = Value(0.5)
    y = Sigmoid.apply(x) * x + Sigmoid.apply(x * x)
    y.backward()
    s = 1 / (1 + math.exp(-0.5))
    s2 = 1 / (1 + math.exp(-0.25))
    expected = s * (1 - s) * 0.5 + s + s2 * (1 - s2) * 2 * 0.5
    assert x.grad == pytest.approx(expected, rel=1e-14)


# --- on Tensor ----------------------------------------------------------------------------------


def test_user_mul_on_tensor_matches_the_builtin():
    rng = np.random.default_rng(0)
    a, b, up = rng.standard_normal((3, 2, 3))
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    z = Mul.apply(x, y)
    assert isinstance(z, Tensor)
    z.backward(up)
    x2, y2 = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    (x2 * y2).backward(up)
    np.testing.assert_array_equal(z.data, a * b)
    np.testing.assert_array_equal(x.grad, x2.grad)
    np.testing.assert_array_equal(y.grad, y2.grad)


def test_custom_sigmoid_on_tensor_matches_builtin_and_passes_gradient_check():
    rng = np.random.default_rng(1)
    a, up = rng.standard_normal((2, 4, 3))
    x, x2 = Tensor(a, requires_grad=True), Tensor(a, requires_grad=True)
    Sigmoid.apply(x).backward(up)
    x2.sigmoid().backward(up)
    np.testing.assert_allclose(x.grad, x2.grad, rtol=1e-13)
    numeric = numerical_gradient(lambda t: np.sum(Sigmoid.apply(Tensor(t)).data * up), a)
    assert rel_error(x.grad, numeric) < 1e-8


def test_function_broadcasting_is_undone_by_the_engine():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    Mul.apply(x, b).sum().backward()
    np.testing.assert_array_equal(b.grad, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(x.grad, [[1.0, 2.0, 3.0]] * 2)


# --- the context ------------------------------------------------------------------------------


class Spy(Function):
    """Records its context so the tests can look at it."""

    last: Context | None = None

    @staticmethod
    def forward(ctx, a, b, scale=1.0):
        Spy.last = ctx
        ctx.scale = scale
        return a * b * scale

    @staticmethod
    def backward(ctx, g):
        return tuple(g * ctx.scale if need else None for need in ctx.needs_input_grad)


def test_needs_input_grad_on_tensors_and_constants():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    Spy.apply(x, c)
    assert Spy.last.needs_input_grad == (True, False)
    Spy.apply(c, x)
    assert Spy.last.needs_input_grad == (False, True)
    Spy.apply(x, 2.0)
    assert Spy.last.needs_input_grad == (True, False)
    Spy.apply(Value(1.0), Value(2.0))  # a Value always takes part in the graph
    assert Spy.last.needs_input_grad == (True, True)


def test_options_reach_forward_and_are_not_differentiated():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Spy.apply(x, 3.0, scale=2.0)
    assert Spy.last.scale == 2.0
    np.testing.assert_array_equal(y.data, [6.0, 12.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_no_input_needing_a_gradient_gives_a_constant_with_no_graph():
    c = Tensor([3.0, 4.0])
    y = Spy.apply(c, c)
    assert not y.requires_grad and y._ctx is None and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_saved_tensors_default_and_after_saving():
    ctx = Context()
    assert ctx.saved_tensors == ()
    a, b = np.ones(2), 3.0
    ctx.save_for_backward(a, b)
    assert ctx.saved_tensors[0] is a and ctx.saved_tensors[1] == 3.0


def test_saved_tensors_are_the_raw_inputs():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Tensor([3.0, 4.0], requires_grad=True)
    z = Mul.apply(x, y)
    saved = z._ctx.saved_tensors
    assert saved[0] is x.data and saved[1] is y.data


# --- errors -----------------------------------------------------------------------------------


def test_mixing_value_and_tensor_raises():
    with pytest.raises(TypeError, match="cannot mix Value and Tensor"):
        Mul.apply(Value(1.0), Tensor([1.0], requires_grad=True))


def test_apply_needs_a_node_input():
    with pytest.raises(TypeError, match="at least one Value or Tensor"):
        Mul.apply(1.0, 2.0)


def test_base_class_forward_and_backward_must_be_defined():
    class Empty(Function):
        pass

    with pytest.raises(NotImplementedError, match="forward"):
        Empty.apply(Value(1.0))
    with pytest.raises(NotImplementedError, match="backward"):
        Function.backward(Context(), 1.0)


class TooFew(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def backward(ctx, g):
        return g  # one gradient for two inputs


def test_too_few_gradients_on_value_raises_naming_the_input():
    z = TooFew.apply(Value(2.0), Value(3.0))
    with pytest.raises(RuntimeError, match="TooFew.backward returned no gradient for input 1"):
        z.backward()


def test_too_few_gradients_on_tensor_raises_naming_the_input():
    z = TooFew.apply(Tensor([2.0], requires_grad=True), Tensor([3.0], requires_grad=True))
    with pytest.raises(RuntimeError, match="TooFew.backward returned no gradient for input 1"):
        z.sum().backward()


def test_none_for_an_input_that_needs_no_gradient_is_fine():
    x = Tensor([2.0], requires_grad=True)
    TooFew.apply(x, Tensor([3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0])


class WrongShape(Function):
    @staticmethod
    def forward(ctx, a):
        return a.sum()

    @staticmethod
    def backward(ctx, g):
        return np.ones((3, 2))


def test_wrong_gradient_shape_names_both_shapes():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"WrongShape.*shape \(3, 2\) for input 0, whose shape is \(2, 3\)"):
        WrongShape.apply(x).backward()


def test_non_number_gradient_on_value_raises():
    class ArrayGrad(Function):
        @staticmethod
        def forward(ctx, a):
            return 2 * a

        @staticmethod
        def backward(ctx, g):
            return np.array([g, g])

    with pytest.raises(TypeError, match="real number"):
        ArrayGrad.apply(Value(1.0)).backward()


def test_create_graph_does_not_go_through_functions():
    from backprop_lib.engine import grad

    x = Value(1.0)
    with pytest.raises(NotImplementedError, match="custom Function"):
        grad(Sigmoid.apply(x), [x], create_graph=True)
    assert grad(Sigmoid.apply(x), [x])[0] == pytest.approx(math.exp(-1) / (1 + math.exp(-1)) ** 2)
