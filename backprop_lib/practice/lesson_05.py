"""Lesson 05's self-check: the three gradients of a layer ``Z = X W + b`` on given arrays.

The reader writes ``grad_X``, ``grad_W`` and ``grad_b`` from the upstream ``grad_Z``; the check
names the first one that is wrong and the likely slip (a transpose, a missing or misplaced sum),
never the expected numbers.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import Verdict, close, practice


def _shape_hint(name: str, got: tuple, want: tuple, variable: str) -> str:
    if got == want[::-1]:
        return (f"{name} has shape {got}, but {variable} has shape {want}: a gradient has the shape of what it "
                f"differentiates. One factor is transposed, or the two factors are in the wrong order.")
    return f"{name} has shape {got}, but {variable} has shape {want}: a gradient has the shape of what it differentiates."


def _bias_hint(got: np.ndarray, grad_Z: np.ndarray) -> str:
    n, m = grad_Z.shape
    if got.shape == (n, m):
        return ("grad_b still has one row per example: b was copied into every row, and a copy gate adds "
                "the gradients of its copies.")
    if got.shape == (n,) and n != m:
        return ("grad_b has one entry per example, but b has one per column of Z: add up over the rows "
                "(axis 0), not along each row.")
    if got.shape in ((1, m), (m, 1)):
        return f"grad_b has shape {got.shape}, but b has shape ({m},): sum over axis 0 without keeping the axis."
    return f"grad_b has shape {got.shape}, but b has shape ({m},)."


@practice("05.layer_gradients")
def layer_gradients(X: Any, W: Any, grad_Z: Any, grad_X: Any, grad_W: Any, grad_b: Any) -> Verdict:
    """Are ``grad_X``, ``grad_W``, ``grad_b`` the gradients of ``Z = X W + b`` for upstream ``grad_Z``?"""
    X, W, grad_Z = (np.asarray(a, dtype=float) for a in (X, W, grad_Z))
    right = {"grad_X": grad_Z @ W.T, "grad_W": X.T @ grad_Z, "grad_b": grad_Z.sum(axis=0)}
    answers = {"grad_X": grad_X, "grad_W": grad_W, "grad_b": grad_b}
    variables = {"grad_X": ("X", X.shape), "grad_W": ("W", W.shape), "grad_b": ("b", right["grad_b"].shape)}
    for name, answer in answers.items():
        try:
            got = np.asarray(answer, dtype=float)
        except (TypeError, ValueError):
            return Verdict(False, f"{name} is not an array of numbers.")
        want = right[name]
        variable, shape = variables[name]
        if got.shape != shape:
            hint = _bias_hint(got, grad_Z) if name == "grad_b" else _shape_hint(name, got.shape, shape, variable)
            return Verdict(False, hint)
        if close(got, want):
            continue
        if got.ndim == 2 and got.shape[0] == got.shape[1] and close(got.T, want):
            return Verdict(False, f"{name} is the transpose of the right answer: right shape, so only the "
                                  "numbers give it away. Swap the order of the two factors (and transpose both).")
        if name == "grad_X" and W.shape[0] == W.shape[1] and close(got, grad_Z @ W):
            return Verdict(False, "grad_X uses W as it is: the upstream gradient goes back through W the other way "
                                  "round. With a square W the shapes cannot warn you.")
        if name == "grad_W" and close(got, X.T @ (X @ W)):
            return Verdict(False, "grad_W uses the layer's output instead of the upstream gradient grad_Z.")
        if name == "grad_b" and close(got * len(grad_Z), want):
            return Verdict(False, "grad_b is N times too small: the copies' gradients are added, not averaged.")
        return Verdict(False, f"{name} has the right shape but wrong numbers. Write one entry as a sum over paths "
                              "and compare it with your formula.")
    return Verdict(True, "all three gradients are right: grad_X and grad_W are matrix products with one "
                         "transposed factor, and grad_b sums the upstream gradient over the batch.")


# The arrays the lesson's cell gives (a square W, so that a missing transpose keeps the shapes right).
_X = np.array([[1.0, 2.0, 0.0], [-1.0, 0.0, 3.0]])
_W = np.array([[2.0, -1.0, 0.0], [1.0, 3.0, -2.0], [0.0, 1.0, 1.0]])
_G = np.array([[1.0, 0.0, -2.0], [3.0, -1.0, 1.0]])

SAMPLES = {
    "05.layer_gradients": (
        [(_X, _W, _G, _G @ _W.T, _X.T @ _G, _G.sum(axis=0)),
         (_X, _W, _G, np.einsum("nm,dm->nd", _G, _W), np.einsum("nd,nm->dm", _X, _G), _G[0] + _G[1]),
         (_X[:, :2], _W[:2, :], _G, _G @ _W[:2, :].T, _X[:, :2].T @ _G, _G.sum(axis=0))],
        [(_X, _W, _G, _G @ _W, _X.T @ _G, _G.sum(axis=0)),  # W not transposed
         (_X, _W, _G, _G @ _W.T, _G.T @ _X, _G.sum(axis=0)),  # grad_W transposed
         (_X, _W, _G, _G @ _W.T, _X.T @ (_X @ _W), _G.sum(axis=0)),  # the output instead of the upstream
         (_X, _W, _G, _G @ _W.T, _X.T @ _G, _G),  # no sum over the batch
         (_X, _W, _G, _G @ _W.T, _X.T @ _G, _G.sum(axis=1)),  # summed along the rows
         (_X, _W, _G, _G @ _W.T, _X.T @ _G, _G.mean(axis=0)),  # a mean instead of a sum
         (_X, _W, _G, _G @ _W.T, _X.T @ _G, _G.sum(axis=0, keepdims=True)),  # the axis kept
         (_X[:, :2], _W[:2, :], _G, _G @ _W[:2, :].T, _G.T @ _X[:, :2], _G.sum(axis=0)),  # (M, D), not (D, M)
         (_X, _W, _G, _X, _X.T @ _G, _G.sum(axis=0))],  # not a gradient at all
    ),
}
