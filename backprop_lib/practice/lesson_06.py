"""Lesson 06's self-check: the gradient of the mean softmax cross-entropy with respect to the logits.

The reader writes ``cross_entropy_grad(logits, y)``; the check calls it on its own batches (one with
logits in the hundreds, where a softmax without the log-sum-exp shift overflows, and one whose rows
lie a thousand apart, where a single shift for the whole batch underflows) and names the first slip
it recognises, never the expected numbers.
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
    apart = np.array([[1000.0, 990.0, 995.0], [-1000.0, -990.0, -1005.0], [3.0, -2.0, 0.5]]), np.array([0, 1, 2])
    return [small, wide, large, apart]


def _diagnose(got: np.ndarray, logits: np.ndarray, y: np.ndarray, want: np.ndarray) -> str:
    n, c = logits.shape
    if close(got, -want):
        return "the sign is flipped: it is the probabilities minus the one-hot targets, not the other way round."
    scale = float(np.sum(got * want) / np.sum(want * want))
    if scale > 1e-6 and close(got, scale * want):
        if np.isclose(scale, n):
            return "the gradient is N times too large: the loss is the mean over the N rows, so divide by N."
        if np.isclose(scale, n / c):
            return "it is divided by the number of classes C; the loss is the mean over the N rows, so divide by N."
        return ("each row has the right pattern but the wrong size: (softmax - one-hot) is divided by N, the "
                "number of rows, and by nothing else.")
    onehot = np.eye(c)[y]
    probs = want * n + onehot
    if close(got, probs / n) or close(got, probs):
        return ("these are the probabilities alone: the loss is -log p of the right class, so its derivative "
                "also has a term from the right class's logit (the one-hot part).")
    columns = np.isin(np.arange(c), y).astype(float)  # what P[:, y] -= 1 takes from every row
    if close(got, (probs - columns) / n) or close(got, probs - columns):
        where = ("every entry (as P - 1 does, or P[:, y] -= 1 when the batch holds every label)" if columns.all()
                 else "whole columns, every label of the batch in every row (as P[:, y] -= 1 does)")
        return (f"1 is subtracted from {where}: row i loses 1 only at its own label, entry [i, y[i]] (index "
                "with [np.arange(N), y]).")
    e = np.exp(logits - logits.max(axis=0, keepdims=True))
    if close(got, (e / e.sum(axis=0, keepdims=True) - onehot) / n):
        return ("the softmax normalises down the columns (axis=0): each row holds one example's logits, so "
                "normalise along each row (axis=1).")
    if np.allclose(got.sum(axis=1), 0.0, atol=1e-8):
        return ("each row sums to zero as it should, but the numbers are off: check the softmax of each row "
                "and that the one-hot part sits at entry [i, y[i]].")
    return ("wrong numbers. Each row should be that row's softmax probabilities minus its one-hot target, "
            "divided by N; each row then sums to zero.")


def _call(grad_fn: Callable, logits: np.ndarray, y: np.ndarray) -> object:
    """``grad_fn`` on copies of the batch; a ``...`` left in the body means "not filled in yet"."""
    try:
        with np.errstate(all="ignore"):
            out = grad_fn(logits.copy(), y.copy())
    except TypeError as error:
        if "ellipsis" in str(error):
            raise NotImplementedError from error  # a ... still stands in for an array
        raise
    if out is Ellipsis:
        raise NotImplementedError  # the return still holds its ...
    return out


@practice("06.cross_entropy_grad")
def cross_entropy_grad(grad_fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Verdict:
    """Does ``grad_fn(logits, y)`` return dL/dlogits of the mean cross-entropy of softmax(logits)?"""
    if not callable(grad_fn):
        return Verdict(False, "pass the function itself, cross_entropy_grad, without calling it.")
    for i, (logits, y) in enumerate(_cases()):
        try:
            out = _call(grad_fn, logits, y)
        except ValueError as error:
            if "broadcast" not in str(error):
                raise
            return Verdict(False, "one number per row met the (N, C) logits and could not broadcast: keep the "
                                  "reduced axis (keepdims=True) in each row's max and sum.")
        if out is None:
            return Verdict(False, "the function returned None: end it with return and the gradient.")
        if hasattr(out, "backward"):
            return Verdict(False, "the function returned a Tensor: compute with numpy arrays and return one.")
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
        if not np.all(np.isfinite(got)):
            if i == 3:
                return Verdict(False, "nan for a batch whose rows lie a thousand apart: one shift for the whole "
                                      "batch sends the lower rows' exponentials to 0. Shift each row by its own "
                                      "largest logit (max over axis 1, keepdims=True).")
            if i == 2:
                return Verdict(False, "right for ordinary logits, but nan or inf for logits in the hundreds: exp "
                                      "overflows. Subtract each row's largest logit before exponentiating.")
            return Verdict(False, "the function returned nan or inf for ordinary logits.")
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


def _fancy_columns(logits, y):
    probs = _softmax(logits)
    probs[:, y] -= 1.0  # whole columns, not one entry per row
    return probs / len(y)


def _one_shift_for_the_batch(logits, y):
    e = np.exp(logits - logits.max())
    return (e / e.sum(axis=1, keepdims=True) - np.eye(logits.shape[1])[y]) / len(y)


def _max_without_keepdims(logits, y):
    e = np.exp(logits - logits.max(axis=1))
    return (e / e.sum(axis=1, keepdims=True) - np.eye(logits.shape[1])[y]) / len(y)


SAMPLES = {
    "06.cross_entropy_grad": (
        [(_stable,), (_by_log_sum_exp,), (lambda z, y: _stable(z, y).tolist(),)],
        [(_naive,),  # overflows for large logits
         (_one_shift_for_the_batch,),  # one shift for the whole batch: underflows for rows far apart
         (_max_without_keepdims,),  # (N, C) - (N,) does not broadcast
         (lambda z, y: _stable(z, y) * len(y),),  # no 1/N
         (lambda z, y: _stable(z, y) * len(y) / z.shape[1],),  # divided by C instead of N
         (lambda z, y: -_stable(z, y),),  # sign flipped
         (lambda z, y: _softmax(z) / len(y),),  # no one-hot term
         (lambda z, y: (_softmax(z) - 1.0) / len(y),),  # 1 taken from every entry
         (_fancy_columns,),  # 1 taken from whole columns
         (lambda z, y: (_softmax(z, axis=0) - np.eye(z.shape[1])[y]) / len(y),),  # softmax down the columns
         (lambda z, y: np.zeros_like(z),),  # zeros
         (lambda z, y: None,),  # no return
         (lambda z, y: _stable(z, y).T,),  # wrong shape
         (_stable(np.zeros((2, 2)), np.array([0, 1])),)],  # called, not passed
    ),
}
