"""Probes of exercise 08: backpropagation through the layers of modern networks.

Each probe passes fresh float copies of the case's arrays (and its stride, padding, window size or
eps) to the student's function and returns the gradients as nested lists of floats, named by what
they are (``dx``, ``dw``, ...), so that each one can earn its share of the points.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import Probe
from .ex05 import fresh_array, plain_array, unpack

Inputs = Mapping[str, Any]

# Working out a gradient with the library's engine, or numerically, is not writing the backward pass.
NO_ENGINE = ("backprop_lib.tensor.Tensor.backward", "backprop_lib.engine.Value.backward",
             "backprop_lib.modes.Dual.__init__", "backprop_lib.gradcheck.numerical_gradient")


def named_gradients(ns: Inputs, inputs: Inputs, name: str, arrays: tuple[str, ...], names: tuple[str, ...],
                    *rest: Any) -> dict[str, Any]:
    """``name(arrays..., *rest)``, which returns one gradient per entry of ``names``, as a dict of them."""
    result = ns[name](*(fresh_array(inputs, key) for key in arrays), *rest)
    if len(names) == 1:
        return {names[0]: plain_array(result)}
    return {key: plain_array(value) for key, value in zip(names, unpack(result, name, len(names)))}


def softmax_vjp(ns: Inputs, inputs: Inputs) -> dict[str, Any]:
    return named_gradients(ns, inputs, "softmax_vjp", ("p", "g"), ("dx",))


def conv2d_backward(ns: Inputs, inputs: Inputs) -> dict[str, Any]:
    return named_gradients(ns, inputs, "conv2d_backward", ("x", "w", "grad_out"), ("dx", "dw", "db"),
                           int(inputs["stride"]), int(inputs["padding"]))


def max_pool_backward(ns: Inputs, inputs: Inputs) -> dict[str, Any]:
    return named_gradients(ns, inputs, "max_pool_backward", ("x", "grad_out"), ("dx",),
                           int(inputs["size"]), int(inputs["stride"]))


def layer_norm_backward(ns: Inputs, inputs: Inputs) -> dict[str, Any]:
    return named_gradients(ns, inputs, "layer_norm_backward", ("x", "gamma", "grad_out"), ("dx", "dgamma", "dbeta"),
                           float(inputs["eps"]))


def attention_backward(ns: Inputs, inputs: Inputs) -> dict[str, Any]:
    return named_gradients(ns, inputs, "attention_backward", ("Q", "K", "V", "grad_out"), ("dQ", "dK", "dV"))


PROBES = {
    "08.softmax_vjp": Probe(("softmax_vjp",), softmax_vjp,
                            forbidden=("backprop_lib.layers.SoftmaxFunction.backward",
                                       "backprop_lib.layers.LogSumExpFunction.backward", *NO_ENGINE)),
    "08.conv2d_backward": Probe(("conv2d_backward",), conv2d_backward,
                                forbidden=("backprop_lib.layers.Im2ColFunction.backward", "backprop_lib.layers.col2im",
                                           "backprop_lib.layers._col2im", "backprop_lib.layers._add_windows",
                                           *NO_ENGINE)),
    "08.max_pool_backward": Probe(("max_pool_backward",), max_pool_backward,
                                  forbidden=("backprop_lib.layers.MaxPool2dFunction.backward",
                                             "backprop_lib.layers._add_windows", "backprop_lib.layers.col2im",
                                             *NO_ENGINE)),
    "08.layer_norm_backward": Probe(("layer_norm_backward",), layer_norm_backward,
                                    forbidden=("backprop_lib.layers.LayerNormFunction.backward",
                                               "backprop_lib.layers.BatchNormFunction.backward",
                                               "backprop_lib.layers._normalization_backward", *NO_ENGINE)),
    "08.attention_backward": Probe(("attention_backward",), attention_backward,
                                   forbidden=("backprop_lib.layers.SoftmaxFunction.backward", *NO_ENGINE)),
}
