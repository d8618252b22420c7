"""Lesson 04: the scalar engine ``Value``: local derivatives, accumulation, order, higher order."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_lib import Value
from backprop_lib.engine import LOCAL_DERIVATIVES, grad
from backprop_lib.gradcheck import numerical_gradient, rel_error

HYP = settings(max_examples=30, deadline=None)
reals = st.floats(-3.0, 3.0, allow_nan=False)
positive = st.floats(0.1, 3.0)
away_from_zero = st.one_of(st.floats(-3.0, -0.1), st.floats(0.1, 3.0))


def gradients_match(f, *xs, tol=1e-6):
    """Engine gradient of scalar ``f`` at ``xs`` versus central differences, one input at a time."""
    leaves = [Value(x) for x in xs]
    f(*leaves).backward()
    for i, leaf in enumerate(leaves):
        numeric = numerical_gradient(lambda t: f(*map(Value, xs[:i]), Value(t), *map(Value, xs[i + 1 :])).data, xs[i])
        if abs(leaf.grad - numeric) > tol * max(1.0, abs(leaf.grad) + abs(numeric)):
            return False
    return True


# --- every operation against central differences ----------------------------------------------


@HYP
@given(reals, reals)
def test_add_sub_mul_gradients(x, y):
    assert gradients_match(lambda a, b: a + b, x, y)
    assert gradients_match(lambda a, b: a - b, x, y)
    assert gradients_match(lambda a, b: a * b, x, y)


@HYP
@given(reals, away_from_zero)
def test_div_gradients(x, y):
    assert gradients_match(lambda a, b: a / b, x, y)


@HYP
@given(reals)
def test_unary_gradients(x):
    assert gradients_match(lambda a: -a, x)
    assert gradients_match(lambda a: a.exp(), x)
    assert gradients_match(lambda a: a.tanh(), x)
    assert gradients_match(lambda a: a.sigmoid(), x)


@HYP
@given(positive)
def test_log_gradient(x):
    assert gradients_match(lambda a: a.log(), x)


@HYP
@given(away_from_zero)
def test_relu_gradient_away_from_the_kink(x):
    assert gradients_match(lambda a: a.relu(), x)


def test_relu_derivative_at_zero_is_zero():
    x = Value(0.0)
    x.relu().backward()
    assert x.grad == 0.0


@HYP
@given(positive, st.floats(-2.5, 2.5))
def test_pow_gradient_with_a_real_exponent(x, k):
    assert gradients_match(lambda a: a**k, x)


@HYP
@given(reals, st.integers(0, 4))
def test_pow_gradient_with_an_integer_exponent_any_sign_of_base(x, k):
    assert gradients_match(lambda a: a**k, x)


@HYP
@given(reals, away_from_zero)
def test_reflected_operators(c, x):
    assert (c + Value(x)).data == c + x
    assert (c - Value(x)).data == c - x
    assert (c * Value(x)).data == c * x
    assert (c / Value(x)).data == c / x
    assert gradients_match(lambda a: c + a, x)
    assert gradients_match(lambda a: c - a, x)
    assert gradients_match(lambda a: c * a, x)
    assert gradients_match(lambda a: c / a, x)


def test_every_local_derivative_rule_is_checked_above():
    checked = {"+", "-", "*", "/", "neg", "**", "exp", "log", "tanh", "sigmoid", "relu"}
    assert set(LOCAL_DERIVATIVES) == checked


def test_forward_values_of_every_operation():
    x, y = Value(1.5), Value(-2.0)
    assert (x + y).data == -0.5 and (x - y).data == 3.5 and (x * y).data == -3.0 and (x / y).data == -0.75
    assert (-x).data == -1.5 and (x**2).data == 2.25 and (y**3).data == -8.0
    assert x.exp().data == math.exp(1.5) and x.log().data == math.log(1.5) and x.tanh().data == math.tanh(1.5)
    assert x.relu().data == 1.5 and y.relu().data == 0.0
    assert y.sigmoid().data == pytest.approx(1 / (1 + math.exp(2.0)), rel=1e-15)


def test_sigmoid_is_stable_far_out():
    assert Value(1000.0).sigmoid().data == 1.0
    assert Value(-1000.0).sigmoid().data == 0.0
    v = Value(-800.0)
    v.sigmoid().backward()
    assert v.grad == 0.0


# --- accumulation ----------------------------------------------------------------------------------


def test_fan_out_accumulates():
    a = Value(3.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0
    assert b.grad == 2.0


def test_a_value_used_in_two_products():
    x = Value(3.0)
    y = x * x * x
    y.backward()
    assert x.grad == 27.0


def test_backward_twice_doubles_leaves_but_not_intermediates():
    x, w = Value(2.0), Value(-3.0)
    h = x * w
    out = h.tanh() + h
    out.backward()
    first = (x.grad, w.grad, h.grad)
    out.backward()
    assert (x.grad, w.grad) == (2 * first[0], 2 * first[1])
    assert h.grad == first[2]  # an intermediate node holds this call's gradient, not a running sum


def test_grads_start_at_zero_and_can_be_reset():
    x = Value(2.0)
    assert x.grad == 0.0
    (x * 3).backward()
    assert x.grad == 3.0
    x.grad = 0.0
    (x * 3).backward()
    assert x.grad == 3.0


def test_backward_of_a_leaf_is_one():
    x = Value(5.0)
    x.backward()
    assert x.grad == 1.0


def test_a_million_node_chain():
    x, c = Value(1.0), Value(1.0000001)
    y = x
    for _ in range(1_000_000):
        y = y * c
    y.backward()
    assert x.grad == pytest.approx(1.0000001**1_000_000, rel=1e-9)
    assert c.grad == pytest.approx(1_000_000 * 1.0000001**999_999, rel=1e-9)


# --- the micrograd README example ------------------------------------------------------------------


def test_micrograd_readme_example():
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    assert round(g.data, 4) == 24.7041
    g.backward()
    assert round(a.grad, 4) == 138.8338
    assert round(b.grad, 4) == 645.5773


# --- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["a", None, True, 1 + 2j, [1.0]])
def test_value_needs_a_real_number(bad):
    with pytest.raises(TypeError, match="real number"):
        Value(bad)


def test_value_accepts_numpy_and_int_and_stores_float():
    assert type(Value(np.float32(1.5)).data) is float
    assert type(Value(3).data) is float and Value(3).data == 3.0


def test_power_needs_a_number_exponent():
    with pytest.raises(TypeError, match=r"\*\* k needs a number"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(TypeError):
        Value(2.0) ** "3"


def test_power_of_a_negative_base_to_a_fraction_is_not_real():
    with pytest.raises(ValueError, match="not a real number"):
        Value(-8.0) ** 0.5


@pytest.mark.parametrize("x", [0.0, -1.0])
def test_log_of_a_non_positive_number(x):
    with pytest.raises(ValueError, match="non-positive"):
        Value(x).log()


def test_division_by_zero():
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / Value(0.0)
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / 0
    with pytest.raises(ZeroDivisionError):
        1.0 / Value(0.0)


def test_repr_shows_data_and_grad():
    x = Value(2.0)
    (x * 3).backward()
    assert repr(x) == "Value(data=2, grad=3)"


# --- engine.grad: gradients without touching .grad, and gradients of gradients ----------------------


def test_grad_leaves_dot_grad_alone_and_gives_zero_for_unused_inputs():
    x, y, unused = Value(2.0), Value(5.0), Value(1.0)
    gx, gy, gu = grad(x * y + x, [x, y, unused])
    assert (gx, gy, gu) == (6.0, 2.0, 0.0)
    assert x.grad == y.grad == 0.0


@pytest.mark.parametrize(
    "f, second, x",
    [
        (lambda v: v**3, lambda t: 6 * t, 1.7),
        (lambda v: v.tanh(), lambda t: -2 * math.tanh(t) * (1 - math.tanh(t) ** 2), 0.5),
        (lambda v: v.exp(), math.exp, -0.3),
        (lambda v: v.log(), lambda t: -1 / t**2, 1.3),
        (lambda v: v.sigmoid(), lambda t: (s := 1 / (1 + math.exp(-t))) * (1 - s) * (1 - 2 * s), 0.8),
        (lambda v: 1 / v, lambda t: 2 / t**3, 1.9),
        (lambda v: v * v.exp() - v, lambda t: (t + 2) * math.exp(t), 0.4),
    ],
)
def test_second_derivatives_with_create_graph(f, second, x):
    v = Value(x)
    (first,) = grad(f(v), [v], create_graph=True)
    assert isinstance(first, Value)
    (d2,) = grad(first, [v])
    assert d2 == pytest.approx(second(x), rel=1e-12)
    numeric = numerical_gradient(lambda t: _first(f, t), x)
    assert rel_error(d2, numeric) < 1e-6


def _first(f, t):
    v = Value(t)
    return grad(f(v), [v])[0]


def test_mixed_second_derivative_and_third_derivative():
    x, y = Value(1.5), Value(-2.0)
    (gx,) = grad(x * x * y, [x], create_graph=True)  # 2 x y
    assert grad(gx, [x, y]) == [2 * -2.0, 2 * 1.5]
    (g1,) = grad(x**4, [x], create_graph=True)
    (g2,) = grad(g1, [x], create_graph=True)
    (g3,) = grad(g2, [x])
    assert (g1.data, g2.data, g3) == (4 * 1.5**3, 12 * 1.5**2, 24 * 1.5)


def test_create_graph_gives_a_zero_value_for_unused_inputs():
    x, unused = Value(2.0), Value(1.0)
    _, gu = grad(x * x, [x, unused], create_graph=True)
    assert isinstance(gu, Value) and gu.data == 0.0


def test_grad_needs_a_value():
    with pytest.raises(TypeError, match="Value output"):
        grad(3.0, [])
