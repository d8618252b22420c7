"""The scalar engine: ``Value``, reverse mode on single numbers (lesson 04).

Each operation builds its output node and records, right there, the local derivative of the output
with respect to each input: the edge derivatives of lessons 01-02. ``backward()`` then runs the
reverse sweep of lesson 02 on the recorded graph:

    input.grad += (local derivative) * output.grad      for every edge, outputs before inputs.

The local derivatives live in one table, ``LOCAL_DERIVATIVES``, keyed by operation. The rules are
written with plain arithmetic, so they work on floats (an ordinary backward pass) and on ``Value``
nodes (``grad(..., create_graph=True)``, which records the backward pass itself as a graph, so that
it can be differentiated again: Hessian-vector products, gradient penalties).

The interface is micrograd's: ``Value(x)``, ``.data``, ``.grad``, arithmetic with numbers on either
side, ``.relu() .tanh() .exp() .log() .sigmoid()`` and ``.backward()``. Unlike micrograd the
topological sort is iterative (a chain of a million nodes is fine), and gradients behave as in
PyTorch: leaves accumulate across ``backward()`` calls, intermediate nodes are recomputed.

Arithmetic follows IEEE floats, as numpy and PyTorch do, where Python's ``math`` would raise: a
result too large for a float is inf (``Value(1000.0).exp()``, ``Value(10.0) ** 400``), 0 to a
negative power is inf (so the derivative of x ** 0.5 at 0 is inf), and nan propagates (``relu``
of nan is nan). Two deliberate exceptions stop at the operation that went wrong, where PyTorch
returns inf or nan: division by zero raises ``ZeroDivisionError`` and the log of a number <= 0
raises ``ValueError``.
"""
from __future__ import annotations

import math
import numbers
from operator import attrgetter
from collections.abc import Callable, Sequence
from typing import Any

from .graph import dependency_order, paused_gc

_inputs_of = attrgetter("_prev")


def _as_float(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"Value needs a real number, got {x!r} of type {type(x).__name__}")
    return float(x)


def _number(x: Any) -> float:
    return x.data if isinstance(x, Value) else x


def _power(a: Any, k: float) -> Any:
    """``a ** k`` on a float or a Value, with the IEEE result (inf) where Python's float power raises."""
    try:
        return a ** k
    except (ZeroDivisionError, OverflowError):  # 0.0 ** -0.5, 10.0 ** 400
        odd = float(k).is_integer() and k % 2 == 1
        return math.copysign(math.inf, a) if odd else math.inf


#: d(out)/d(input) for each input, from the output and the inputs (floats or Values alike).
LOCAL_DERIVATIVES: dict[str, Callable[..., tuple]] = {
    "+": lambda out, a, b: (1.0, 1.0),
    "-": lambda out, a, b: (1.0, -1.0),
    "*": lambda out, a, b: (b, a),
    "/": lambda out, a, b: (1.0 / b, -out / b),
    "neg": lambda out, a: (-1.0,),
    "**": lambda out, a, k: (k * _power(a, k - 1) if k != 0 else 0.0,),  # a ** 0 is constant, even at a = 0
    "exp": lambda out, a: (out,),
    "log": lambda out, a: (1.0 / a,),
    "tanh": lambda out, a: (1.0 - out * out,),
    "sigmoid": lambda out, a: (out * (1.0 - out),),
    "relu": lambda out, a: (0.0 if _number(a) <= 0.0 else 1.0,),  # nan passes, as in PyTorch
}


class Value:
    """A scalar in a computational graph: its ``data`` and, after ``backward()``, its ``grad``."""

    __slots__ = ("data", "grad", "_prev", "_op", "_k", "label", "_fn", "_ctx", "__weakref__")
    _is_node = True
    requires_grad = True

    def __init__(self, data: float, _children: tuple = (), _op: str = "", label: str = ""):
        self.data = data if data.__class__ is float else _as_float(data)
        self.grad = 0.0
        self._prev = _children
        self._op = _op
        self.label = label
        self._fn = None

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={_number(self.grad):.6g})"

    # --- operations (their derivatives are in LOCAL_DERIVATIVES) -------------------------------

    def __add__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), "+")

    def __mul__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), "*")

    def __sub__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data - other.data, (self, other), "-")

    def __truediv__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        if other.data == 0.0:
            raise ZeroDivisionError("Value division by zero")
        return Value(self.data / other.data, (self, other), "/")

    def __pow__(self, k: float) -> Value:
        if isinstance(k, Value) or isinstance(k, bool) or not isinstance(k, numbers.Real):
            raise TypeError(f"Value ** k needs a number k (int or float), got {type(k).__name__}")
        if self.data < 0.0 and not float(k).is_integer():
            raise ValueError(f"{self.data} ** {k} is not a real number")
        out = Value(_power(self.data, k), (self,), "**")
        out._k = k
        return out

    def __neg__(self) -> Value:
        return Value(-self.data, (self,), "neg")

    def __radd__(self, other: float) -> Value:
        return self + other

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __rsub__(self, other: float) -> Value:
        return Value(other) - self

    def __rtruediv__(self, other: float) -> Value:
        return Value(other) / self

    def relu(self) -> Value:
        return Value(0.0 if self.data <= 0.0 else self.data, (self,), "relu")

    def tanh(self) -> Value:
        return Value(math.tanh(self.data), (self,), "tanh")

    def exp(self) -> Value:
        try:
            y = math.exp(self.data)
        except OverflowError:  # past x = 709.78 e ** x is beyond the largest float
            y = math.inf
        return Value(y, (self,), "exp")

    def log(self) -> Value:
        """ln(x); raises ``ValueError`` for x <= 0 (PyTorch gives -inf or nan), see the module docstring."""
        if self.data <= 0.0:
            raise ValueError(f"log of a non-positive number ({self.data})")
        return Value(math.log(self.data), (self,), "log")

    def sigmoid(self) -> Value:
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return Value(s, (self,), "sigmoid")

    # --- reverse mode ---------------------------------------------------------------------------

    def backward(self) -> None:
        """Add d(self)/d(leaf) to ``grad`` of every leaf; intermediate nodes get this call's value."""
        with paused_gc():
            topo = dependency_order(self, _inputs_of)
            grads = _reverse_sweep(self, topo, 1.0, False)
            for node in topo:
                if node._prev:
                    node.grad = grads.get(node, 0.0)
                else:
                    node.grad += grads.get(node, 0.0)

    # --- the modular API (``Function.apply`` builds such nodes) ---------------------------------

    @classmethod
    def _from_function(cls, out: Any, fn: type, ctx: Any, parents: tuple) -> Value:
        node = cls(out, parents, fn.__name__)
        node._fn = fn
        node._ctx = ctx
        return node


def _local_derivatives(node: Value, create_graph: bool) -> tuple:
    """The node's LOCAL_DERIVATIVES: on its Value inputs (recorded) or on their numbers."""
    rule = LOCAL_DERIVATIVES[node._op]
    prev = node._prev
    if create_graph:
        return rule(node, *prev, node._k) if node._op == "**" else rule(node, *prev)
    if len(prev) == 2:
        return rule(node.data, prev[0].data, prev[1].data)
    if node._op == "**":
        return rule(node.data, prev[0].data, node._k)
    return rule(node.data, prev[0].data)


def _reverse_sweep(root: Value, topo: list, seed: Any, create_graph: bool) -> dict[Value, Any]:
    """d(root)/d(node) for every node of ``topo`` reached from ``root``, outputs before inputs."""
    grads = {root: seed}
    get = grads.get
    for node in reversed(topo):
        prev = node._prev
        if not prev:
            continue
        g = get(node)
        if g is None:
            continue
        if node._fn is None:
            local = _local_derivatives(node, create_graph)
        else:
            local = _function_local(node, g)
            g = 1.0
        for child, d in zip(prev, local):
            old = get(child)
            grads[child] = d * g if old is None else old + d * g
    return grads


def _function_local(node: Value, g: float) -> tuple:
    """The gradients a Function's backward returns, one per parent (already multiplied by g)."""
    out = node._fn.backward(node._ctx, g)
    if not isinstance(out, tuple):
        out = (out,)
    grads = []
    for slot in node._ctx.grad_slots:
        if slot >= len(out) or out[slot] is None:
            raise RuntimeError(f"{node._fn.__name__}.backward returned no gradient for input {slot}")
        grads.append(_as_float(out[slot]))
    return tuple(grads)


def grad(output: Value, inputs: Sequence[Value], create_graph: bool = False) -> list:
    """d(output)/d(input) for each input, without touching any ``.grad``.

    With ``create_graph=True`` the gradients are ``Value`` nodes computed by a recorded graph, so
    they can be differentiated again (second derivatives, Hessian-vector products).
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad needs a Value output, got {type(output).__name__}")
    with paused_gc():
        topo = dependency_order(output, _inputs_of)
        if create_graph and any(n._fn is not None for n in topo):
            raise NotImplementedError("create_graph=True does not go through custom Function nodes")
        grads = _reverse_sweep(output, topo, Value(1.0) if create_graph else 1.0, create_graph)
    zero = (lambda: Value(0.0)) if create_graph else (lambda: 0.0)
    return [grads.get(x, zero()) for x in inputs]
