"""Probes of exercise 07: modes, cost and memory.

The test functions are built here from plain inputs (a name and its constant arrays) and written
with operators and the methods ``.sin() .exp() .tanh()``, so the same code runs on the student's
``Dual``, on the library's ``Tensor`` and, through ``_call``, on plain numpy arrays. A probe that
must see HOW the student evaluated a function (on dual numbers, or on an engine's traced numbers)
records the kinds of the arguments the function was called with, and raises ``NotForwardMode`` or
``NotReverseMode`` when the answer did not use the mode the question asks for; one that hands the
answer an array or a list checks it afterwards and raises ``InputChanged`` when the answer wrote
into it.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import Probe

# --- the test functions: one code path for Dual, Tensor and numpy arrays ---------------------------------


def _call(z: Any, name: str) -> Any:
    """z.name() on an engine's number (Dual, Tensor), np.name(z) on plain numbers and arrays."""
    method = getattr(z, name, None)
    return method() if callable(method) else getattr(np, name)(z)


def _sin(z: Any) -> Any:
    return _call(z, "sin")


def _exp(z: Any) -> Any:
    return _call(z, "exp")


def _tanh(z: Any) -> Any:
    return _call(z, "tanh")


def as_array(inputs: Mapping[str, Any], key: str) -> np.ndarray:
    return np.array(inputs[key], dtype=float)  # a copy: the student's code may write into it


# name -> builder(inputs) -> f. "Jacobian" functions use only what Tensor has (no sin).
FUNCTIONS: dict[str, Callable[[Mapping[str, Any]], Callable]] = {
    "waves": lambda p: lambda x: _sin(x) * _exp(x * 0.5),
    "rational": lambda p: lambda x: (x * x * x - 2.0 * x) / (1.0 + x * x),
    "mixed": lambda p: lambda x: _tanh(x) * x - 3.0 / (2.0 + _exp(-x)),
    "gated": lambda p: (lambda A, B: lambda x: _tanh(A @ x) * (B @ x))(as_array(p, "A"), as_array(p, "B")),
    "ratio": lambda p: (lambda A, B: lambda x: _exp(A @ x) / (1.0 + (B @ x) * (B @ x)))(as_array(p, "A"),
                                                                                         as_array(p, "B")),
    "two_layer": lambda p: (lambda A, B: lambda x: B @ _tanh(A @ x) - 1.0)(as_array(p, "A"), as_array(p, "B")),
    "square": lambda p: (lambda A, B: lambda x: A @ (x * x) - (B @ x) * 0.5 + 1.0)(as_array(p, "A"),
                                                                                    as_array(p, "B")),
}


def _rosenbrock_grad(S0: np.ndarray, S1: np.ndarray) -> Callable:
    """Gradient of sum_i 100 (x_(i+1) - x_i^2)^2 + (1 - x_i)^2, with x_i = (S0 x)_i, x_(i+1) = (S1 x)_i."""
    def grad(x):
        p, q = S0 @ x, S1 @ x
        u, w = q - p * p, 1.0 - p
        return S1.T @ (u * 200.0) - S0.T @ (u * p * 400.0 + w * 2.0)
    return grad


def _net_grad(X: np.ndarray, y: np.ndarray) -> Callable:
    """Gradient of 0.5 ||tanh(X w) - y||^2, written as its reverse sweep: X^T ((t - y) (1 - t^2))."""
    def grad(w):
        t = _tanh(X @ w)
        return X.T @ ((t - y) * (1.0 - t * t))
    return grad


# name -> builder(inputs) -> the gradient of a scalar function (a map R^n -> R^n).
GRADIENTS: dict[str, Callable[[Mapping[str, Any]], Callable]] = {
    # of 0.5 x^T S x + 0.25 sum x^4 + b^T x: the constant b keeps grad_f(v) from equalling H v
    "quartic": lambda p: (lambda S, b: lambda x: S @ x + x * x * x + b)(as_array(p, "S"), as_array(p, "b")),
    "tiny_net": lambda p: _net_grad(as_array(p, "X"), as_array(p, "y")),
    "rosenbrock": lambda p: _rosenbrock_grad(np.eye(len(p["x"]))[:-1], np.eye(len(p["x"]))[1:]),
    "waves": lambda p: (lambda c: lambda x: _exp(x) * c + _sin(x))(as_array(p, "c")),
}


def gradient_function(inputs: Mapping[str, Any]) -> Callable:
    """The case's gradient grad_f, built from its name and constants."""
    return GRADIENTS[inputs["f"]](inputs)


# --- how the answer evaluated a function ------------------------------------------------------------------


class NotForwardMode(Exception):
    """The answer never ran the function on dual numbers."""


class NotReverseMode(Exception):
    """The answer ran the function on dual numbers, or never on an engine's numbers."""


class InputChanged(Exception):
    """The answer wrote into an array or a list it was given."""


def _unchanged(name: str, before: Any, after: Any) -> None:
    """Raise ``InputChanged`` when the argument ``name`` no longer holds what it held before the call
    (up to rounding: an answer that steps x forth and back in place ends where it began)."""
    if isinstance(before, list):
        same = after == before
    else:
        same = np.shape(after) == np.shape(before) and bool(np.allclose(after, before, rtol=1e-12, atol=1e-15))
    if not same:
        raise InputChanged(f"the answer changed its argument {name} in place")


def _kind(z: Any) -> str:
    if hasattr(z, "tangent"):
        return "dual"
    if isinstance(z, (np.ndarray, numbers.Real)):
        return "plain"
    return "traced"


def _recording(fn: Callable) -> tuple[Callable, list[str]]:
    """``fn`` that notes the kind of every argument it is called with."""
    kinds: list[str] = []

    def recorded(z):
        kinds.append(_kind(z))
        return fn(z)

    return recorded, kinds


# --- plain results ----------------------------------------------------------------------------------------


def listed(a: Any) -> Any:
    """A float array as nested lists (a float for a 0-d array): plain data whichever way it is judged."""
    return np.asarray(a, dtype=float).tolist()


def value_and_tangent(value: Any, tangent: Any, what: str) -> dict[str, Any]:
    """Plain value and tangent; a tangent may be a scalar 0 beside an array value (a constant)."""
    value, tangent = np.asarray(value, dtype=float), np.asarray(tangent, dtype=float)
    try:
        tangent = np.broadcast_to(tangent, value.shape).copy()
    except ValueError:
        raise ValueError(f"{what}: the tangent has shape {tangent.shape} but the value has shape "
                         f"{value.shape}") from None
    return {"value": listed(value), "tangent": listed(tangent)}


def _plain_pair(result: Any, what: str) -> dict[str, Any]:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"{what} must return the pair (f(x), J v), got a {type(result).__name__}")
    return value_and_tangent(result[0], result[1], what)


def _point(inputs: Mapping[str, Any], key: str) -> Any:
    """The input ``key`` as the student receives it: a float, or a fresh float array."""
    return float(inputs[key]) if np.ndim(inputs[key]) == 0 else as_array(inputs, key)


# --- class Dual -------------------------------------------------------------------------------------------

# What each key of the Dual question computes, from x = Dual(a, at), y = Dual(b, bt) and a constant c.
OPERATIONS: dict[str, dict[str, Callable]] = {
    "sum and difference rules": {
        "x + y": lambda x, y, c: x + y, "x - y": lambda x, y, c: x - y, "x + c": lambda x, y, c: x + c,
        "c + x": lambda x, y, c: c + x, "x - c": lambda x, y, c: x - c, "c - x": lambda x, y, c: c - x,
        "-x": lambda x, y, c: -x},
    "product and quotient rules": {
        "x * y": lambda x, y, c: x * y, "x * c": lambda x, y, c: x * c, "c * x": lambda x, y, c: c * x,
        "x / y": lambda x, y, c: x / y, "x / c": lambda x, y, c: x / c, "c / x": lambda x, y, c: c / x},
    "sin, exp and tanh": {
        "x.sin()": lambda x, y, c: x.sin(), "x.exp()": lambda x, y, c: x.exp(),
        "x.tanh()": lambda x, y, c: x.tanh()},
}


def dual_operations(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Value and tangent of each operation of the case's group, on the student's Dual."""
    D = ns["Dual"]
    out = {}
    for key, op in OPERATIONS[inputs["group"]].items():
        x, y = D(_point(inputs, "a"), _point(inputs, "at")), D(_point(inputs, "b"), _point(inputs, "bt"))
        r = op(x, y, _point(inputs, "c"))
        if not (hasattr(r, "value") and hasattr(r, "tangent")):
            raise TypeError(f"{key} returned a {type(r).__name__}, not a Dual")
        out[key] = value_and_tangent(r.value, r.tangent, key)
    return out


# --- the other probes ---------------------------------------------------------------------------------------


def jvp_pair(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """jvp(f, x, v) as {"value": f(x), "tangent": J v}."""
    f = FUNCTIONS[inputs["f"]](inputs)
    return _plain_pair(ns["jvp"](f, _point(inputs, "x"), _point(inputs, "v")), "jvp")


def forward_jacobian(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> list:
    """jacobian_forward(f, x), which must have run f on dual numbers."""
    f, kinds = _recording(FUNCTIONS[inputs["f"]](inputs))
    J = listed(ns["jacobian_forward"](f, as_array(inputs, "x")))
    if "dual" not in kinds:
        raise NotForwardMode("jacobian_forward never ran f on dual numbers")
    return J


def reverse_jacobian(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> list:
    """jacobian_reverse(f, x), which must have run f on a Tensor and never on dual numbers."""
    f, kinds = _recording(FUNCTIONS[inputs["f"]](inputs))
    J = listed(ns["jacobian_reverse"](f, as_array(inputs, "x")))
    if "dual" in kinds:
        raise NotReverseMode("jacobian_reverse ran f on dual numbers")
    if "traced" not in kinds:
        raise NotReverseMode("jacobian_reverse never ran f on a Tensor")
    return J


def numerical_hvp(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> list:
    """hvp_numerical(grad_f, x, v), with the case's h when it has one; x and v must come back as given."""
    grad_f, x, v, h = gradient_function(inputs), as_array(inputs, "x"), as_array(inputs, "v"), inputs["h"]
    answer = listed(ns["hvp_numerical"](grad_f, x, v) if h is None else ns["hvp_numerical"](grad_f, x, v, h))
    _unchanged("x", as_array(inputs, "x"), x)
    _unchanged("v", as_array(inputs, "v"), v)
    return answer


def forward_hvp(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> list:
    """hvp(grad_f, x, v), which must have run grad_f on dual numbers."""
    grad_f, kinds = _recording(gradient_function(inputs))
    answer = listed(ns["hvp"](grad_f, as_array(inputs, "x"), as_array(inputs, "v")))
    if "dual" not in kinds:
        raise NotForwardMode("hvp never ran grad_f on dual numbers")
    return answer


def chain_costs(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, float]:
    """chain_cost(sizes, order) for both orders, and with the default order; sizes must come back as given."""
    cost, given = ns["chain_cost"], [int(s) for s in inputs["sizes"]]
    out = {}
    for key, args in (("reverse", ("reverse",)), ("forward", ("forward",)), ("default", ())):
        sizes = list(given)
        out[key] = float(cost(sizes, *args))
        _unchanged("sizes", given, sizes)
    return out


PROBES = {
    "07.Dual": Probe(("Dual",), dual_operations, forbidden=("backprop_lib.modes.Dual.__init__",)),
    "07.jvp": Probe(("jvp",), jvp_pair, forbidden=("backprop_lib.modes.jvp", "backprop_lib.modes.Dual.__init__")),
    "07.jacobian_forward": Probe(
        ("jacobian_forward",), forward_jacobian,
        forbidden=("backprop_lib.modes.jacobian_forward", "backprop_lib.modes.jacobian_reverse",
                   "backprop_lib.modes.jacobian_numerical", "backprop_lib.modes.jvp",
                   "backprop_lib.modes.Dual.__init__")),
    "07.jacobian_reverse": Probe(
        ("jacobian_reverse",), reverse_jacobian,
        forbidden=("backprop_lib.modes.jacobian_reverse", "backprop_lib.modes.vjp",
                   "backprop_lib.modes.jacobian_forward", "backprop_lib.modes.jacobian_numerical")),
    "07.hvp_numerical": Probe(
        ("hvp_numerical",), numerical_hvp,
        forbidden=("backprop_lib.modes.hvp_numerical", "backprop_lib.modes.hvp", "backprop_lib.modes.hessian",
                   "backprop_lib.gradcheck.numerical_gradient")),
    "07.hvp": Probe(
        ("hvp",), forward_hvp,
        forbidden=("backprop_lib.modes.hvp", "backprop_lib.modes.hvp_numerical", "backprop_lib.modes.hessian",
                   "backprop_lib.modes.jvp", "backprop_lib.modes.Dual.__init__")),
    "07.chain_cost": Probe(("chain_cost",), chain_costs,
                           forbidden=("backprop_lib.checkpoint.chain_cost", "backprop_lib.checkpoint.multiply_chain")),
}
