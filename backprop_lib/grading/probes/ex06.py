"""Probes of exercise 06: backpropagation through a neural network.

The network is batch-first: for X of shape (N, D), Z1 = X @ W1 + b1, A1 = act(Z1),
scores = A1 @ W2 + b2. ``forward`` is the notebook's given ``mlp_forward``; the backward probe
rebuilds its cache {"X", "Z1", "A1", "activation"} from the case's inputs, so that each question
calls one function of the student's, not the ones it builds on. The lesson's worked example,
``sigmoid_net_gradients``, takes one example as a row with the same layout: x (D,), W1 (D, H), b1 (H,),
W2 (H, C), b2 (C,), a1 = sigmoid(x @ W1 + b1), y_hat = sigmoid(a1 @ W2 + b2).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ... import datasets
from . import Probe

KEYS = ("W1", "b1", "W2", "b2")
NO_ENGINE = ("backprop_lib.tensor.Tensor.backward", "backprop_lib.gradcheck.numerical_gradient")
NET_ARGS = ("x", "W1", "b1", "W2", "b2", "y")
Inputs = Mapping[str, Any]


# --- the network's forward pass, exactly as the notebook gives it ------------------------------------------


def sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))  # never overflows, for either sign of z
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0), "sigmoid": sigmoid, "tanh": np.tanh}


def forward(params: Mapping[str, np.ndarray], X: np.ndarray, activation: str = "relu"
            ) -> tuple[np.ndarray, dict[str, Any]]:
    Z1 = X @ params["W1"] + params["b1"]
    A1 = ACTIVATIONS[activation](Z1)
    return A1 @ params["W2"] + params["b2"], {"X": X, "Z1": Z1, "A1": A1, "activation": activation}


def network_cache(inputs: Inputs) -> dict[str, Any]:
    """The cache ``forward`` returns for the case's params, X and activation."""
    return forward(inputs["params"], inputs["X"], inputs["activation"])[1]


# --- the data sets ``train`` is run on: a case names one and its seed ---------------------------------------

DATA = {
    "spirals": lambda seed: datasets.spirals(n_per_class=100, n_classes=3, noise=0.2, seed=seed),
    "moons": lambda seed: datasets.moons(n=200, noise=0.1, seed=seed),
}


@functools.lru_cache(maxsize=16)
def dataset(name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A case's data set, made once: the grader's checks of one answer all need it."""
    return DATA[name](seed)


# --- the verdict on trained parameters: public, so a student release judges its visible case alike ---------

NEAR = 0.03  # a held-out accuracy this close below the target gets advice on what moves it


def _accuracy(params: Mapping[str, Any], X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(forward(params, X)[0], axis=1) == y))


def shape_problem(params: Mapping[str, Any], inputs: Inputs) -> str | None:
    """Why the trained parameters do not fit the case's data set, or None."""
    X, y = dataset(inputs["dataset"], inputs["seed"])
    D, C = X.shape[1], int(y.max()) + 1
    W1, b1, W2, b2 = (np.shape(params[k]) for k in KEYS)
    if len(W1) == len(W2) == 2 and W1[0] == D and W2[1] == C and b1 == (W1[1],) == (W2[0],) and b2 == (C,):
        return None
    return f"the trained parameters have the shapes W1 {W1}, b1 {b1}, W2 {W2}, b2 {b2} for D={D} and C={C}"


def diverged(params: Mapping[str, Any]) -> bool:
    return not all(np.all(np.isfinite(np.asarray(params[k], dtype=float))) for k in KEYS)


def held_out_verdict(params: Any, inputs: Inputs, target: float) -> str | None:
    """Trained parameters judged on held-out points of the case's data set: ``inputs`` name the data
    set (``dataset``), the seed it was trained on (``seed``) and the held-out draw's (``held_out``).
    None when ``target`` accuracy is reached there, else what is wrong and what usually helps."""
    if not isinstance(params, dict) or set(KEYS) - set(params):
        return "train must return the params dict with the keys 'W1', 'b1', 'W2', 'b2'"
    problem = shape_problem(params, inputs)
    if problem:
        return problem
    if diverged(params):
        return "the trained parameters contain nan or inf"
    held_out = _accuracy(params, *dataset(inputs["dataset"], inputs["held_out"]))
    if held_out >= target:
        return None
    training = _accuracy(params, *dataset(inputs["dataset"], inputs["seed"]))
    verdict = (f"accuracy {held_out:.3f} on held-out points, below the target {target:g} "
               f"(on the training points: {training:.3f})")
    if training >= target + NEAR and held_out < training - 2 * NEAR:
        return verdict + (": the network fits its training points but not the data set; a smaller, smoother "
                          "network (fewer hidden units, fewer steps) generalises better")
    if held_out >= target - NEAR:
        return verdict + (": close; train for more steps or with more hidden units, so that a fresh draw of "
                          "the data is not decided by a few points near the boundaries")
    return verdict + ": train for more steps, with more hidden units or a larger learning rate (check train_step first)"


# --- plumbing ------------------------------------------------------------------------------------------------


def _copy(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, dtype=float) for k, v in arrays.items()}


def _grads_of(result: Any, what: str) -> dict[str, np.ndarray]:
    """The four arrays of a params or gradients dict (a missing key raises KeyError, a known mistake)."""
    if not isinstance(result, Mapping):
        raise TypeError(f"{what} must be a dict with the keys 'W1', 'b1', 'W2', 'b2', not a {type(result).__name__}")
    return {k: np.asarray(result[k], dtype=float) for k in KEYS}


def _described(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


# --- the probes ----------------------------------------------------------------------------------------------


def backward_gradients(ns: Mapping[str, Any], inputs: Inputs) -> dict[str, np.ndarray]:
    """mlp_backward(params, cache, grad_out) on copies, the cache rebuilt by the given forward pass."""
    cache = {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in network_cache(inputs).items()}
    return _grads_of(ns["mlp_backward"](_copy(inputs["params"]), cache, np.array(inputs["grad_out"])),
                     "what mlp_backward returns")


def sgd_update(ns: Mapping[str, Any], inputs: Inputs) -> dict[str, Any]:
    """sgd_step's new params, and whether the params passed in were left as they were."""
    params, before = _copy(inputs["params"]), _copy(inputs["params"])
    new = ns["sgd_step"](params, _copy(inputs["grads"]), inputs["lr"])
    unchanged = set(params) == set(before) and all(np.array_equal(params[k], before[k]) for k in before)
    return {"params": {str(k): np.asarray(v, dtype=float) for k, v in new.items()}, "params unchanged": unchanged}


def training_step(ns: Mapping[str, Any], inputs: Inputs) -> dict[str, Any]:
    """train_step's new params and loss."""
    result = ns["train_step"](_copy(inputs["params"]), np.array(inputs["X"]), np.array(inputs["y"]),
                              inputs["lr"], activation=inputs["activation"])
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"train_step must return the pair (new_params, loss), not {_described(result)}")
    new, loss = result
    loss = np.asarray(loss, dtype=float)
    if loss.size != 1:
        raise TypeError(f"the loss train_step returns must be one number, not an array of shape {loss.shape}")
    return {"params": _grads_of(new, "the new_params train_step returns"), "loss": float(loss.reshape(()))}


def trained_parameters(ns: Mapping[str, Any], inputs: Inputs) -> dict[str, np.ndarray]:
    """The trained parameters; the grader rebuilds the data and measures the accuracy itself."""
    X, y = dataset(inputs["dataset"], inputs["seed"])
    return _grads_of(ns["train"](X.copy(), y.copy()), "what train returns")


def sigmoid_net_gradients(ns: Mapping[str, Any], inputs: Inputs) -> dict[str, np.ndarray]:
    """sigmoid_net_gradients(x, W1, b1, W2, b2, y) on float copies of the case's arrays (x a row)."""
    return _grads_of(ns["sigmoid_net_gradients"](*(np.array(inputs[k], dtype=float) for k in NET_ARGS)),
                     "what sigmoid_net_gradients returns")


PROBES = {
    "06.mlp_backward": Probe(("mlp_backward",), backward_gradients, forbidden=NO_ENGINE),
    "06.sgd_step": Probe(("sgd_step",), sgd_update, forbidden=("backprop_lib.optim.Optimizer.step",)),
    "06.train_step": Probe(("train_step",), training_step, forbidden=NO_ENGINE),
    "06.train": Probe(("train",), trained_parameters, forbidden=NO_ENGINE + ("backprop_lib.nn.train",)),
    "06.sigmoid_net_gradients": Probe(("sigmoid_net_gradients",), sigmoid_net_gradients, forbidden=NO_ENGINE),
}
