"""Probes of exercise 05: vectors, matrices and vector-Jacobian products.

Each probe passes fresh float copies of the case's arrays to the student's function and returns
the result as nested lists of floats, so that the shape survives as plain data. Where an answer
is often written by changing its arguments in place (``grad_y[x <= 0] = 0``), the probe also
says whether the arguments came back as they went in.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import Probe


def fresh_array(inputs: Mapping[str, Any], key: str) -> np.ndarray:
    """A fresh float copy, so an answer that writes into its arguments cannot change the case."""
    return np.array(inputs[key], dtype=float)


def plain_array(result: Any) -> Any:
    """A float array as nested lists (a 0-d array as a float): plain data that keeps its shape."""
    return np.asarray(result, dtype=float).tolist()


def unpack(result: Any, what: str, count: int) -> tuple:
    """The ``count`` arrays that ``what`` returned, or a TypeError saying what it returned instead."""
    if not isinstance(result, (tuple, list)) or len(result) != count:
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else f"a {type(result).__name__}"
        raise TypeError(f"{what} must return a tuple of {count} arrays, got {got}")
    return tuple(result)


UNCHANGED = "arguments unchanged"


def with_arguments(ns: Mapping[str, Any], inputs: Mapping[str, Any], name: str, result: str,
                   keys: tuple[str, ...], *rest: Any) -> dict[str, Any]:
    """``name(arrays..., *rest)`` under ``result``, and whether the arrays came back as they went in."""
    arrays = [fresh_array(inputs, key) for key in keys]
    value = plain_array(ns[name](*arrays, *rest))
    unchanged = all(np.array_equal(a, fresh_array(inputs, key)) for a, key in zip(arrays, keys))
    return {result: value, UNCHANGED: unchanged}


def relu_vjp(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    return with_arguments(ns, inputs, "relu_vjp", "dL/dx", ("x", "grad_y"))


def matmul_vjp(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    result = ns["matmul_vjp"](fresh_array(inputs, "X"), fresh_array(inputs, "W"), fresh_array(inputs, "grad_Y"))
    grad_X, grad_W = unpack(result, "matmul_vjp", 2)
    return {"grad_X": plain_array(grad_X), "grad_W": plain_array(grad_W)}


def unbroadcast(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    return with_arguments(ns, inputs, "unbroadcast", "summed", ("grad",), tuple(inputs["shape"]))


def sigmoid_vjp(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    return with_arguments(ns, inputs, "sigmoid_vjp", "dL/dx", ("x", "grad_y"))


def linear_vjp(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    result = ns["linear_vjp"](*(fresh_array(inputs, key) for key in ("x", "W", "b", "grad_out")))
    dx, dW, db = unpack(result, "linear_vjp", 3)
    return {"dx": plain_array(dx), "dW": plain_array(dW), "db": plain_array(db)}


PROBES = {
    "05.relu_vjp": Probe(("relu_vjp",), relu_vjp, forbidden=("backprop_lib.tensor.ReLU.backward",)),
    "05.matmul_vjp": Probe(("matmul_vjp",), matmul_vjp, forbidden=("backprop_lib.tensor.MatMul.backward",)),
    "05.unbroadcast": Probe(("unbroadcast",), unbroadcast, forbidden=("backprop_lib.tensor.unbroadcast",)),
    "05.sigmoid_vjp": Probe(("sigmoid_vjp",), sigmoid_vjp, forbidden=("backprop_lib.tensor.Sigmoid.backward",)),
    "05.linear_vjp": Probe(("linear_vjp",), linear_vjp,
                           forbidden=("backprop_lib.tensor.MatMul.backward", "backprop_lib.tensor.Add.backward",
                                      "backprop_lib.tensor.unbroadcast")),
}
