"""Lesson 06's self-check: the gradient of the mean softmax cross-entropy with respect to the logits.

The reader writes ``cross_entropy_grad(logits, y)``; the check calls it on its own batches (one with
logits in the hundreds, where a softmax without the log-sum-exp shift overflows) and names the
first slip it recognises, never the expected numbers.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import Verdict, close, practice


def _reference(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    probs[np.arange(len(y)), y] -= 1.0
    return probs / len(y)


def _cases() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(6)
    small = rng.normal(size=(5, 3)), np.array([0, 2, 1, 1, 0])
    wide = 2.0 * rng.normal(size=(4, 6)), np.array([5, 0, 3, 3])
    large = 300.0 + 50.0 * rng.normal(size=(3, 4)), np.array([1, 3, 0])  # exp(300) is finite, exp(800) is not
    large[0][1, 2] = 900.0
    return [small, wide, large]


def _diagnose(got: np.ndarray, logits: np.ndarray, y: np.ndarray, want: np.ndarray) -> str:
    n = len(y)
    if close(got, want * n):
        return "the gradient is N times too large: the loss is the mean over the N rows, so divide by N."
    if close(got, -want):
        return "the sign is flipped: it is the probabilities minus the one-hot targets, not the other way round."
    onehot = np.eye(logits.shape[1])[y]
    probs_rows = want * n + onehot
    if close(got, probs_rows / n) or close(got, probs_rows):
        return ("these are the probabilities alone: the loss is -log p of the right class, so its derivative "
                "also has a term from the right class's logit (the one-hot part).")
    if close(got, (probs_rows - 1.0) / n) or close(got, probs_rows - 1.0):
        return "1 is subtracted from every entry; only the entry of each row's right class loses 1."
    if np.allclose(got.sum(axis=1), 0.0, atol=1e-8):
        return ("each row sums to zero as it should, but the numbers are off: check that the softmax "
                "normalises along each row (axis=1), not down the columns.")
    return ("wrong numbers. Each row should be that row's softmax probabilities minus its one-hot target, "
            "divided by N; each row then sums to zero.")


@practice("06.cross_entropy_grad")
def cross_entropy_grad(grad_fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Verdict:
    """Does ``grad_fn(logits, y)`` return dL/dlogits of the mean cross-entropy of softmax(logits)?"""
    if not callable(grad_fn):
        return Verdict(False, "pass the function itself, cross_entropy_grad, without calling it.")
    for i, (logits, y) in enumerate(_cases()):
        with np.errstate(all="ignore"):
            out = grad_fn(logits.copy(), y.copy())
        if out is Ellipsis:
            raise NotImplementedError  # the body still holds its ...
        try:
            got = np.asarray(out, dtype=float)
        except (TypeError, ValueError):
            return Verdict(False, "the function must return an array of numbers, one per logit.")
        if got.shape != logits.shape:
            return Verdict(False, f"for logits of shape {logits.shape} the function returned shape {got.shape}: "
                                  "the gradient has the shape of the logits.")
        want = _reference(logits, y)
        if close(got, want, rtol=1e-6, atol=1e-12):
            continue
        if i == 2 and not np.all(np.isfinite(got)):
            return Verdict(False, "right for ordinary logits, but nan or inf for logits in the hundreds: exp "
                                  "overflows. Subtract each row's largest logit before exponentiating.")
        return Verdict(False, _diagnose(got, logits, y, want))
    return Verdict(True, "right, and stable for large logits: (softmax - one-hot) / N, row by row.")


def _stable(logits, y):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True) - np.eye(logits.shape[1])[y]) / len(y)


def _naive(logits, y):
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True) - np.eye(logits.shape[1])[y]) / len(y)


def _by_log_sum_exp(logits, y):
    lse = logits.max(axis=1, keepdims=True) + np.log(np.exp(logits - logits.max(axis=1, keepdims=True))
                                                     .sum(axis=1, keepdims=True))
    return (np.exp(logits - lse) - np.eye(logits.shape[1])[y]) / len(y)


def _softmax(logits, axis=1):
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


SAMPLES = {
    "06.cross_entropy_grad": (
        [(_stable,), (_by_log_sum_exp,)],
        [(_naive,),  # overflows for large logits
         (lambda z, y: _stable(z, y) * len(y),),  # no 1/N
         (lambda z, y: -_stable(z, y),),  # sign flipped
         (lambda z, y: _softmax(z) / len(y),),  # no one-hot term
         (lambda z, y: (_softmax(z) - 1.0) / len(y),),  # 1 taken from every entry
         (lambda z, y: (_softmax(z, axis=0) - np.eye(z.shape[1])[y]) / len(y),),  # softmax down the columns
         (lambda z, y: _stable(z, y).T,),  # wrong shape
         (_stable(np.zeros((2, 2)), np.array([0, 1])),)],  # called, not passed
    ),
}
