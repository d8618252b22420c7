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
    return (f"{name} has shape {got}, but {variable} has shape {want}: a gradient has the shape of what it "
            "differentiates.")


def _bias_hint(got: np.ndarray, grad_Z: np.ndarray) -> str:
    n, m = grad_Z.shape
    if got.shape == (n, m):
        return ("grad_b still has one row per example: b was copied into every row, and a copy gate adds "
                "the gradients of its copies.")
    if got.shape == (n,) and n != m:
        return ("grad_b has one entry per example, but b has one per column of Z: add up over the rows "
                "(axis 0), not along each row.")
    if got.shape == ():
        return (f"grad_b is one number: it was summed over every axis, but b has one entry per column of Z, "
                f"shape ({m},). Sum over the rows only (axis 0).")
    if got.shape in ((1, m), (m, 1)):
        return f"grad_b has shape {got.shape}, but b has shape ({m},): sum over axis 0 without keeping the axis."
    return f"grad_b has shape {got.shape}, but b has shape ({m},)."


@practice("05.layer_gradients")
def layer_gradients(X: Any, W: Any, grad_Z: Any, grad_X: Any, grad_W: Any, grad_b: Any) -> Verdict:
    """Are ``grad_X``, ``grad_W``, ``grad_b`` the gradients of ``Z = X W + b`` for upstream ``grad_Z``?"""
    try:
        X, W, grad_Z = (np.asarray(a, dtype=float) for a in (X, W, grad_Z))
    except (TypeError, ValueError):
        X = W = grad_Z = None
    if X is None or not (close(X, _X) and close(W, _W) and close(grad_Z, _G)):
        return Verdict(False, "X_p, W_p or grad_Z is not the array this cell gives: run the cell as it is, "
                              "changing only the three lines that hold a ...")
    right = {"grad_X": grad_Z @ W.T, "grad_W": X.T @ grad_Z, "grad_b": grad_Z.sum(axis=0)}
    answers = {"grad_X": grad_X, "grad_W": grad_W, "grad_b": grad_b}
    variables = {"grad_X": ("X", X.shape), "grad_W": ("W", W.shape), "grad_b": ("b", right["grad_b"].shape)}
    for name, answer in answers.items():
        if hasattr(answer, "data") and hasattr(answer, "backward"):
            return Verdict(False, f"{name} is a Tensor: write it as a numpy expression on the arrays of this cell.")
        try:
            got = None if answer is None else np.asarray(answer, dtype=float)
        except (TypeError, ValueError):
            got = None
        if got is None:
            return Verdict(False, f"{name} is not an array of numbers.")
        want = right[name]
        variable, shape = variables[name]
        if got.shape != shape:
            hint = _bias_hint(got, grad_Z) if name == "grad_b" else _shape_hint(name, got.shape, shape, variable)
            return Verdict(False, hint)
        if close(got, want):
            continue
        if not np.all(np.isfinite(got)):
            return Verdict(False, f"{name} contains nan or inf: build it from X_p, W_p and grad_Z only.")
        return Verdict(False, _numbers_hint(name, got, want, X, W, grad_Z))
    return Verdict(True, "all three gradients are right: grad_X and grad_W are matrix products with one "
                         "transposed factor, and grad_b sums the upstream gradient over the batch.")


def _numbers_hint(name: str, got: np.ndarray, want: np.ndarray, X: np.ndarray, W: np.ndarray,
                  grad_Z: np.ndarray) -> str:
    """The hint for an answer of the right shape and the wrong numbers: the slip it matches, if any."""
    n = len(grad_Z)
    if got.ndim == 2 and got.shape[0] == got.shape[1] and close(got.T, want):
        return (f"{name} is the transpose of the right answer: right shape, so only the numbers give it away. "
                "Swap the order of the two factors (and transpose both).")
    if close(got * n, want):
        return (f"{name} is N times too small: the rows' contributions add up (the copy gate adds), and "
                "nothing in this layer averages them.")
    if name == "grad_X" and close(got, grad_Z):
        return ("grad_X is grad_Z passed on unchanged: Z = X W multiplies X by W, so the upstream gradient "
                "has to go back through W.")
    if name == "grad_X" and close(got, grad_Z @ W):
        return ("grad_X uses W as it is: the upstream gradient goes back through W the other way round. "
                "With a square W the shapes cannot warn you.")
    if name == "grad_W" and (close(got, X.T @ (X @ W)) or close(got, X.T @ (X @ W + _B))):
        return "grad_W uses the layer's output instead of the upstream gradient grad_Z."
    if name == "grad_b" and any(close(got, row) for row in grad_Z):
        return ("grad_b holds one example's gradient only: b was copied into every row, so the gradients "
                "of all the rows add up.")
    return (f"{name} has the right shape but wrong numbers. Write one entry as a sum over paths and compare it "
            "with your formula.")


# The arrays the lesson's cell gives (a square W, so that a missing transpose keeps the shapes right).
_X = np.array([[1.0, 2.0, 0.0], [-1.0, 0.0, 3.0]])
_W = np.array([[2.0, -1.0, 0.0], [1.0, 3.0, -2.0], [0.0, 1.0, 1.0]])
_B = np.array([0.5, -1.0, 2.0])
_G = np.array([[1.0, 0.0, -2.0], [3.0, -1.0, 1.0]])

SAMPLES = {
    "05.layer_gradients": (
        [(_X, _W, _G, _G @ _W.T, _X.T @ _G, _G.sum(axis=0)),
         (_X, _W, _G, np.einsum("nm,dm->nd", _G, _W), np.einsum("nd,nm->dm", _X, _G), _G[0] + _G[1]),
         (_X.tolist(), _W, _G, (_G @ _W.T).tolist(), (_X.T @ _G).tolist(), list(_G.sum(axis=0)))],
        [(_X, _W, _G, _G @ _W, _X.T @ _G, _G.sum(axis=0)),  # W not transposed
         (_X, _W, _G, _G @ _W.T, _G.T @ _X, _G.sum(axis=0)),  # grad_W transposed
         (_X, _W, _G, _G @ _W.T, _X.T @ (_X @ _W), _G.sum(axis=0)),  # the output instead of the upstream
         (_X, _W, _G, _G @ _W.T, _X.T @ (_X @ _W + _B), _G.sum(axis=0)),  # the same, bias included
         (_X, _W, _G, _G @ _W.T, _X.T @ _G / 2, _G.sum(axis=0)),  # grad_W averaged over the batch
         (_X, _W, _G, _G @ _W.T, _X.T @ _G, _G),  # no sum over the batch
         (_X, _W, _G, _G @ _W.T, _X.T @ _G, _G.sum(axis=1)),  # summed along the rows
         (_X, _W, _G, _G @ _W.T, _X.T @ _G, _G.mean(axis=0)),  # a mean instead of a sum
         (_X, _W, _G, _G @ _W.T, _X.T @ _G, _G.sum(axis=0, keepdims=True)),  # the axis kept
         (_X, _W, _G, _G @ _W.T, _X.T @ _G, _G.sum()),  # summed over everything
         (_X, _W, _G, _G @ _W.T, _X.T @ _G, _G[0]),  # one row only
         (_X, _W, _G, _G, _X.T @ _G, _G.sum(axis=0)),  # the upstream passed on unchanged
         (_X, _W, _G, np.full((2, 3), np.nan), _X.T @ _G, _G.sum(axis=0)),  # nan
         (_X, _W, _G, None, _X.T @ _G, _G.sum(axis=0)),  # None
         (_X, _W, _G, "grad_Z @ W_p.T", _X.T @ _G, _G.sum(axis=0)),  # text
         (_X, _W, _G, _X, _X.T @ _G, _G.sum(axis=0)),  # not a gradient at all
         (0 * _X, 0 * _W, 0 * _G, 0 * _X, 0 * _W, 0 * _B)],  # the cell's arrays replaced by zeros
    ),
}
