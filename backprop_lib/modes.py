"""Modes of differentiation, what they cost, and second derivatives (lesson 07).

Forward mode carries a tangent beside every value (dual numbers): one sweep gives a
Jacobian-vector product J v. Reverse mode (the ``Tensor`` engine) carries an upstream gradient back
from the output: one sweep gives a vector-Jacobian product J^T u. A full m x n Jacobian takes n
forward sweeps (one per column) or m reverse sweeps (one per row): forward mode wins when inputs
are few, reverse mode when outputs are few, as for a scalar loss.

A function written with operators and the methods ``.exp() .log() .tanh() .sigmoid() .relu()
.sum() .mean() .T .reshape()`` and indexing runs unchanged on a ``Dual`` (forward mode), on a
``Tensor`` (reverse mode) and, where it is scalar, on a ``Value``; on a ``Dual`` it may also
return a list of entries, which are stacked. ``.sin()`` and ``.cos()`` exist on ``Dual``
only. ``f`` may use numpy arrays as constants on either side of any operator.

Hessian-vector products H v come two ways, without ever forming H, and each function takes the
function first, then x, then v:

- ``hvp(f, x, v)``, reverse over reverse: ``f`` is the scalar function itself; its backward pass
  is recorded as a graph (``engine.grad(..., create_graph=True)``) and differentiated once more,
  H v = grad(grad f . v).
- ``hvp_from_grad(grad_f, x, v)``, forward over reverse: ``grad_f`` is a gradient already written
  as a program (a backward pass by hand); one forward sweep of dual numbers through it gives
  H v as the tangent. This is the exercise's ``hvp(grad_f, x, v)``.
- ``hvp_numerical(grad_f, x, v, h)``: central differences of that gradient, the check of both.

The cost and memory side of the lesson (chain of Jacobians, checkpointing, backpropagation through
time) lives in ``backprop_lib.checkpoint``.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine
from .engine import Value
from .tensor import Tensor, _check_matmul_shapes

Point = float | np.ndarray


# --- dual numbers: forward mode ---------------------------------------------------------------------


def _make(value: Any, tangent: Any) -> Dual:
    """A Dual without validation; a tangent that a constant's broadcasting outgrew is broadcast too."""
    d = object.__new__(Dual)
    if np.ndim(value) == 0:  # scalars stay Python floats, whatever numpy returned
        d.value, d.tangent = float(value), float(tangent)
        return d
    if np.shape(tangent) != np.shape(value):
        tangent = np.broadcast_to(tangent, np.shape(value)).copy()
    d.value, d.tangent = value, tangent
    return d


def _real(x: Any, what: str) -> Point:
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{what} needs real numbers, got an array of dtype {x.dtype}")
        return x.astype(np.float64, copy=False)
    if isinstance(x, numbers.Real):
        return float(x)
    raise TypeError(f"{what} needs a number, a numpy array or a Dual, got {type(x).__name__}")


def _operand(other: Any, op: str) -> tuple[Point, Point | None]:
    """(value, tangent) of an operand; a constant has tangent None (zero, and no work spent on it)."""
    if isinstance(other, Dual):
        return other.value, other.tangent
    return _real(other, f"Dual {op}"), None


def _matmul(a: Any, b: Any) -> Any:
    _check_matmul_shapes(np.shape(a), np.shape(b))
    return a @ b


def _check_divisor(b: Any) -> None:
    if np.any(np.asarray(b) == 0):
        raise ZeroDivisionError("Dual division by zero")


class Dual:
    """A dual number value + tangent * eps with eps^2 = 0: a value and its derivative along one direction.

    ``value`` and ``tangent`` are floats or numpy arrays of the same shape. Every operation applies
    the chain rule to the tangent as it computes the value, so after ``y = f(Dual(x, v))``,
    ``y.tangent`` is J v, the directional derivative of f at x along v (one forward sweep).
    """

    __slots__ = ("value", "tangent")
    __array_ufunc__ = None  # ndarray (op) Dual hands over to Dual's reflected operator

    def __init__(self, value: Any, tangent: Any = None):
        self.value = _as_point(value, "Dual value")
        if tangent is None:
            self.tangent = 0.0 if np.ndim(self.value) == 0 else np.zeros(np.shape(self.value))
        else:
            self.tangent = _as_point(tangent, "Dual tangent")
            _check_like(self.tangent, self.value, "Dual tangent", "value")

    def __repr__(self) -> str:
        return f"Dual(value={self.value!r}, tangent={self.tangent!r})"

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return np.ndim(self.value)

    @property
    def size(self) -> int:
        return int(np.size(self.value))

    # --- arithmetic: d(a op b) = (d op / da) da + (d op / db) db; a constant has db = 0 ----------

    def __add__(self, other: Any) -> Dual:
        b, bt = _operand(other, "+")
        return _make(self.value + b, self.tangent if bt is None else self.tangent + bt)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Dual:
        b, bt = _operand(other, "-")
        return _make(self.value - b, self.tangent if bt is None else self.tangent - bt)

    def __rsub__(self, other: Any) -> Dual:
        return _make(_real(other, "Dual -") - self.value, -self.tangent)

    def __mul__(self, other: Any) -> Dual:
        b, bt = _operand(other, "*")
        t = self.tangent * b if bt is None else self.tangent * b + self.value * bt
        return _make(self.value * b, t)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Dual:
        b, bt = _operand(other, "/")
        _check_divisor(b)
        out = self.value / b
        t = self.tangent / b if bt is None else (self.tangent - out * bt) / b
        return _make(out, t)

    def __rtruediv__(self, other: Any) -> Dual:
        _check_divisor(self.value)
        out = _real(other, "Dual /") / self.value
        return _make(out, -out * self.tangent / self.value)

    def __pow__(self, k: Any) -> Dual:
        if isinstance(k, (Dual, bool)) or not isinstance(k, numbers.Real):
            raise TypeError(f"Dual ** k needs a number k, got {type(k).__name__}")
        a = self.value
        if k == 0:  # the general rule would compute 0 * a ** -1, undefined at a = 0
            return _make(np.ones(np.shape(a)), np.zeros(np.shape(a)))
        if not float(k).is_integer() and np.any(np.asarray(a) < 0):
            raise ValueError(f"a negative number ** {k} is not a real number")
        if k < 1 and np.any(np.asarray(a) == 0):
            raise ValueError(f"x ** {k} or its derivative is infinite at x = 0")
        return _make(np.power(a, k), k * np.power(a, k - 1) * self.tangent)

    def __neg__(self) -> Dual:
        return _make(-self.value, -self.tangent)

    def __pos__(self) -> Dual:
        return self

    def __matmul__(self, other: Any) -> Dual:
        b, bt = _operand(other, "@")
        out = _matmul(self.value, b)
        t = self.tangent @ b if bt is None else self.tangent @ b + self.value @ bt
        return _make(out, t)

    def __rmatmul__(self, other: Any) -> Dual:
        a = _real(other, "Dual @")
        return _make(_matmul(a, self.value), a @ self.tangent)

    # --- elementwise functions: tangent = f'(value) * tangent ---------------------------------------

    def exp(self) -> Dual:
        y = np.exp(self.value)
        return _make(y, y * self.tangent)

    def log(self) -> Dual:
        if np.any(np.asarray(self.value) <= 0):
            raise ValueError(f"log of a non-positive number (smallest value {np.min(self.value)})")
        return _make(np.log(self.value), self.tangent / self.value)

    def tanh(self) -> Dual:
        y = np.tanh(self.value)
        return _make(y, (1.0 - y * y) * self.tangent)

    def sigmoid(self) -> Dual:
        e = np.exp(-np.abs(self.value))  # never overflows, whatever the sign
        s = np.where(np.asarray(self.value) >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return _make(s, s * (1.0 - s) * self.tangent)

    def relu(self) -> Dual:
        off = np.asarray(self.value) <= 0  # derivative 0 at the kink; nan passes, as in the Tensor engine
        return _make(np.where(off, 0.0, self.value), np.where(off, 0.0, self.tangent))

    def sin(self) -> Dual:
        return _make(np.sin(self.value), np.cos(self.value) * self.tangent)

    def cos(self) -> Dual:
        return _make(np.cos(self.value), -np.sin(self.value) * self.tangent)

    # --- reductions and shape: linear maps, so the tangent goes through the same map ----------------

    def sum(self, axis: Any = None, keepdims: bool = False) -> Dual:
        return _make(np.sum(self.value, axis=axis, keepdims=keepdims),
                     np.sum(self.tangent, axis=axis, keepdims=keepdims))

    def mean(self, axis: Any = None, keepdims: bool = False) -> Dual:
        return _make(np.mean(self.value, axis=axis, keepdims=keepdims),
                     np.mean(self.tangent, axis=axis, keepdims=keepdims))

    @property
    def T(self) -> Dual:
        return _make(np.transpose(self.value), np.transpose(self.tangent))

    def __getitem__(self, index: Any) -> Dual:
        """An entry or a slice (``p[0]``, ``x, y = p``): picking entries is linear, so the tangent is
        picked the same way."""
        if self.ndim == 0:
            raise TypeError("a scalar Dual has no entries to index")
        return _make(self.value[index], self.tangent[index])

    def reshape(self, *shape: Any) -> Dual:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        try:
            return _make(np.reshape(self.value, shape), np.reshape(self.tangent, shape))
        except ValueError:
            raise ValueError(f"cannot reshape a Dual of shape {self.shape} ({self.size} elements) "
                             f"to {tuple(shape)}") from None


# --- one sweep: JVP and VJP ---------------------------------------------------------------------------


def _as_point(x: Any, what: str = "x") -> Point:
    """A float, or a float64 array (a copy, so the caller's array is never touched)."""
    if isinstance(x, (Dual, Tensor, Value)):
        raise TypeError(f"{what} must be a number or an array of numbers, got a {type(x).__name__}")
    arr = np.array(x, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


def _plain(y: Any) -> Point:
    return float(y) if np.ndim(y) == 0 else np.asarray(y, dtype=np.float64)


def _check_like(v: Point, x: Point, v_name: str, x_name: str) -> None:
    if np.shape(v) != np.shape(x):
        raise ValueError(f"{v_name} has shape {np.shape(v)} but {x_name} has shape {np.shape(x)}: they must match")


def _value_and_tangent(out: Any) -> tuple[Point, Point]:
    if isinstance(out, Dual):
        return _plain(out.value), _plain(out.tangent)
    if isinstance(out, (numbers.Real, np.ndarray)):  # f ignored x: a constant, zero derivative
        return _plain(out), _plain(np.zeros(np.shape(out)))
    if isinstance(out, (list, tuple)) and out:  # entries written one by one: [g0, g1]
        pairs = [_value_and_tangent(entry) for entry in out]
        shapes = sorted({np.shape(v) for v, _ in pairs})
        if len(shapes) > 1:
            raise ValueError(f"f returned a list of entries of different shapes {shapes}: they cannot be stacked")
        return _plain(np.array([v for v, _ in pairs])), _plain(np.array([t for _, t in pairs]))
    raise TypeError(f"f returned a {type(out).__name__} for a Dual input: write f with operators and "
                    f"methods (x.exp(), x @ W, ...), not with numpy functions or other engines")


def jvp(f: Callable, x: Any, v: Any) -> tuple[Point, Point]:
    """(f(x), J v) from one forward sweep on dual numbers.

    ``x`` is a number or an array of any shape and ``v`` has the same shape; J v has the shape of
    f(x). Floats come back for scalars, float64 arrays otherwise.
    """
    x, v = _as_point(x), _as_point(v, "v")
    _check_like(v, x, "v", "x")
    return _value_and_tangent(f(Dual(x, v)))


def _record(f: Callable, x: Point) -> tuple[Tensor, Tensor | None, np.ndarray]:
    """Run f on a fresh leaf at x: (leaf, output node or None if f ignored x, output values)."""
    leaf = Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    out = f(leaf)
    if isinstance(out, Tensor):
        return leaf, (out if out.requires_grad else None), out.data
    if isinstance(out, (numbers.Real, np.ndarray)):
        return leaf, None, np.asarray(out, dtype=np.float64)
    raise TypeError(f"f returned a {type(out).__name__} for a Tensor input: write f with operators and "
                    f"methods (x.exp(), x @ W, ...), not with numpy functions or other engines")


def vjp(f: Callable, x: Any, u: Any) -> tuple[Point, Point]:
    """(f(x), J^T u) from one reverse sweep of the Tensor engine.

    ``u`` has the shape of f(x); J^T u has the shape of ``x``. Tensors inside f that require a
    gradient (parameters) receive theirs too, as in any backward call.
    """
    x = _as_point(x)
    leaf, out, y = _record(f, x)
    u = _as_point(u, "u")
    _check_like(u, y, "u", "f(x)")
    if out is not None:
        out.backward(grad=u)
    g = leaf.grad if leaf.grad is not None else np.zeros(np.shape(x))
    return _plain(y), _plain(g)


def grad(f: Callable, x: Any) -> Point:
    """df/dx of a scalar function by one reverse sweep (the Tensor engine); the shape of ``x``."""
    x = _as_point(x)
    leaf, out, y = _record(f, x)
    if y.size != 1:
        raise ValueError(f"grad needs f to return a single number, got an output of shape {y.shape}: "
                         f"use vjp or jacobian_reverse for vector outputs")
    if out is not None:
        out.backward()
    return _plain(leaf.grad if leaf.grad is not None else np.zeros(np.shape(x)))


# --- full Jacobians: n forward sweeps, m reverse sweeps, or 2n evaluations -----------------------------


def _basis(x: Point, j: int) -> Point:
    e = np.zeros(np.size(x))
    e[j] = 1.0
    return _plain(e.reshape(np.shape(x)))


def _columns(x: Any, column: Callable[[Point, Point], Point]) -> np.ndarray:
    x = _as_point(x)
    if np.size(x) == 0:
        raise ValueError("x is empty: a Jacobian needs at least one input")
    cols = [np.reshape(column(x, _basis(x, j)), -1) for j in range(np.size(x))]
    return np.stack(cols, axis=1)


def jacobian_forward(f: Callable, x: Any) -> np.ndarray:
    """The Jacobian (m, n) of f at x, column j = J e_j from one forward sweep: n sweeps in all.

    n = x.size and m = f(x).size: inputs and outputs of any shape are flattened (C order).
    """
    return _columns(x, lambda x0, e: jvp(f, x0, e)[1])


def jacobian_reverse(f: Callable, x: Any) -> np.ndarray:
    """The Jacobian (m, n) of f at x, row i = e_i^T J from one reverse sweep: m sweeps in all.

    One forward pass records the graph; each row is one backward call on it with upstream e_i.
    """
    x = _as_point(x)
    if np.size(x) == 0:
        raise ValueError("x is empty: a Jacobian needs at least one input")
    leaf, out, y = _record(f, x)
    jac = np.zeros((y.size, leaf.size))
    if out is None:
        return jac
    for i in range(y.size):
        leaf.grad = None  # each sweep would otherwise add to the previous row
        out.backward(grad=_basis(y, i))
        if leaf.grad is not None:
            jac[i] = leaf.grad.reshape(-1)
    return jac


def _evaluate(f: Callable, x: Point) -> np.ndarray:
    """f(x) as plain numbers, for f written for Dual (its tangent is simply not used)."""
    return np.asarray(_value_and_tangent(f(Dual(x)))[0])


def jacobian_numerical(f: Callable, x: Any, h: float = 1e-5) -> np.ndarray:
    """The Jacobian (m, n) by central differences: column j = (f(x + h e_j) - f(x - h e_j)) / 2h.

    The vector-output version of ``gradcheck.numerical_gradient``: 2n evaluations, error O(h^2).
    """
    if h <= 0:
        raise ValueError(f"h must be positive, got {h}")
    return _columns(x, lambda x0, e: (_evaluate(f, x0 + h * e) - _evaluate(f, x0 - h * e)) / (2 * h))


# --- second derivatives: reverse over reverse, forward over reverse -----------------------------------------


def _vector(x: Any, name: str) -> np.ndarray:
    arr = np.array(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a flat sequence of numbers, got shape {arr.shape}")
    return arr


def hvp(f: Callable[[list[Value]], Value], x: Sequence[float], v: Sequence[float]) -> np.ndarray:
    """H v, the Hessian of scalar f at x times v, without forming H: H v = grad_x (grad_x f . v).

    Reverse over reverse. ``f`` is the function itself (not its gradient: for that, see
    ``hvp_from_grad``); it takes a list of ``Value`` (one per entry of x) and returns a ``Value``.
    The first gradient is recorded as a graph (``create_graph=True``) so that the dot product
    with v can be differentiated once more. ``x`` and ``v`` are flat, of the same length n; the
    result has shape (n,).
    """
    x, v = _vector(x, "x"), _vector(v, "v")
    _check_like(v, x, "v", "x")
    xs = [Value(float(xi)) for xi in x]
    out = f(xs)
    if isinstance(out, numbers.Real):
        return np.zeros(len(x))
    if not isinstance(out, Value):
        raise TypeError(f"hvp needs f to return a Value, got {type(out).__name__}")
    first = engine.grad(out, xs, create_graph=True)
    g_dot_v = sum((g * float(vi) for g, vi in zip(first, v)), Value(0.0))
    return np.array(engine.grad(g_dot_v, xs), dtype=np.float64)


def hvp_from_grad(grad_f: Callable, x: Any, v: Any) -> Point:
    """H v by forward over reverse: one forward sweep of dual numbers through the gradient.

    ``grad_f`` is the gradient of a scalar function, written as a program of operators and
    methods (a backward pass by hand), so that it runs on ``Dual``. Fed x + v eps, it returns
    grad f(x) + (H v) eps: the tangent of the gradient along v is H v. The same argument order
    as ``hvp`` (the function, then x, then v), but here the function is the gradient, as in the
    exercise's ``hvp(grad_f, x, v)``. ``v`` has the shape of ``x``, and so has the result.
    """
    x, v = _as_point(x), _as_point(v, "v")
    _check_like(v, x, "v", "x")
    _, tangent = _value_and_tangent(grad_f(Dual(x, v)))
    _check_like(tangent, x, "grad_f(x)", "x")
    return tangent


def hvp_numerical(grad_f: Callable, x: Any, v: Any, h: float = 1e-5) -> np.ndarray:
    """H v by central differences of the gradient: (grad_f(x + h v) - grad_f(x - h v)) / 2h.

    ``grad_f`` maps a float64 array of x's shape to the gradient there (same shape), as in
    ``hvp_from_grad``.
    """
    if h <= 0:
        raise ValueError(f"h must be positive, got {h}")
    x, v = np.array(x, dtype=np.float64), np.array(v, dtype=np.float64)
    _check_like(v, x, "v", "x")
    plus, minus = np.asarray(grad_f(x + h * v)), np.asarray(grad_f(x - h * v))
    _check_like(plus, x, "grad_f(x)", "x")
    return (plus - minus) / (2 * h)


def hessian(f: Callable[[list[Value]], Value], x: Sequence[float]) -> np.ndarray:
    """The Hessian (n, n) of scalar f at x, column j = H e_j by ``hvp``: n reverse-over-reverse sweeps."""
    x = _vector(x, "x")
    if len(x) == 0:
        raise ValueError("x is empty: a Hessian needs at least one input")
    return np.stack([hvp(f, x, np.eye(len(x))[j]) for j in range(len(x))], axis=1)
