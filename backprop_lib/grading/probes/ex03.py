"""Probes of exercise 03: flat backpropagation, gate by gate."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..plain import is_real
from . import Probe

Inputs = Mapping[str, Any]


def weights(t: np.ndarray) -> np.ndarray:
    return np.linspace(-1.0, 1.5, t.size).reshape(t.shape)


# Functions of an array the tests differentiate, by name (names cross processes); each returns a float.
FUNCTIONS: dict[str, Callable[[np.ndarray], float]] = {
    "sum of cubes": lambda t: float(np.sum(t ** 3)),
    "weighted sines": lambda t: float(np.sum(weights(t) * np.sin(t))),
    "log-sum-exp": lambda t: float(np.log(np.sum(np.exp(t)))),
    "sigmoid neuron": lambda t: 1.0 / (1.0 + float(np.exp(-np.sum(weights(t) * t)))),
}


def listed(value: Any) -> Any:
    """An array as nested lists of floats (a number as a float): shapes survive the trip exactly."""
    return np.asarray(value, dtype=float).tolist()


def sigmoid_neuron_on(ns: Mapping[str, Any], inputs: Inputs) -> dict:
    w, x = inputs["w"], inputs["x"]
    if inputs["arrays"]:
        w, x = np.array(w, dtype=float), np.array(x, dtype=float)
    else:
        w, x = list(w), list(x)
    L, dw, dx = ns["sigmoid_neuron"](w, x)
    return {"L": float(L), "dw": [float(v) for v in dw], "dx": [float(v) for v in dx]}


def circuit_backward_on(ns: Mapping[str, Any], inputs: Inputs) -> dict:
    f, dx, dy, dz = ns["circuit_backward"](inputs["x"], inputs["y"], inputs["z"])
    return {"f": float(f), "dx": float(dx), "dy": float(dy), "dz": float(dz)}


def _gate(name: str, ns: Mapping[str, Any], inputs: Inputs) -> dict:
    args = [inputs[k] if is_real(inputs[k]) else np.array(inputs[k], dtype=float) for k in ("dout", "x", "y")]
    dx, dy = ns[name](*args)
    return {"dx": listed(dx), "dy": listed(dy)}


def mul_backward_on(ns: Mapping[str, Any], inputs: Inputs) -> dict:
    return _gate("mul_backward", ns, inputs)


def max_backward_on(ns: Mapping[str, Any], inputs: Inputs) -> dict:
    return _gate("max_backward", ns, inputs)


def numerical_gradient_on(ns: Mapping[str, Any], inputs: Inputs) -> dict:
    f, x = FUNCTIONS[inputs["f"]], np.array(inputs["x"], dtype=float)
    before = x.copy()
    if inputs["h"] is None:
        grad = ns["numerical_gradient"](f, x)
    else:
        grad = ns["numerical_gradient"](f, x, inputs["h"])
    return {"grad": listed(grad), "x unchanged": bool(np.array_equal(x, before))}


def rel_error_on(ns: Mapping[str, Any], inputs: Inputs) -> float:
    a, b = (inputs[k] if is_real(inputs[k]) else np.array(inputs[k], dtype=float) for k in ("a", "b"))
    return float(ns["rel_error"](a, b))


PROBES = {
    "03.sigmoid_neuron": Probe(("sigmoid_neuron",), sigmoid_neuron_on,
                               forbidden=("backprop_lib.gates.sigmoid_neuron", "backprop_lib.gates.sigmoid_backward",
                                          "backprop_lib.graph.Graph.reverse_mode",
                                          "backprop_lib.engine.Value.backward")),
    "03.circuit_backward": Probe(("circuit_backward",), circuit_backward_on,
                                 forbidden=("backprop_lib.gates.mul_backward", "backprop_lib.gates.add_backward",
                                            "backprop_lib.graph.Graph.reverse_mode",
                                            "backprop_lib.engine.Value.backward")),
    "03.mul_backward": Probe(("mul_backward",), mul_backward_on, forbidden=("backprop_lib.gates.mul_backward",)),
    "03.max_backward": Probe(("max_backward",), max_backward_on, forbidden=("backprop_lib.gates.max_backward",)),
    "03.numerical_gradient": Probe(("numerical_gradient",), numerical_gradient_on,
                                   forbidden=("backprop_lib.gradcheck.numerical_gradient",)),
    "03.rel_error": Probe(("rel_error",), rel_error_on, forbidden=("backprop_lib.gradcheck.rel_error",)),
}
