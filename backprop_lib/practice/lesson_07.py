"""Lesson 07's self-checks: a forward sweep by hand, and one step of backpropagation through time.

- ``07.tangents``: the reader writes ``f_and_tangent(x, y, dx, dy) -> (f, df)`` for
  f(x, y) = sin(x y) + x^2, each line's tangent beside its value (what a dual number does).
- ``07.bptt_step``: the reader writes ``bptt_step(s_prev, s, W, grad_s) -> (grad_W_t, grad_s_prev)``
  for one step s = tanh(s_prev W + x U) of a recurrent net: this step's term of dL/dW and the
  gradient passed one step further back.

Both are called on the check's own inputs; a wrong answer is told which rule it broke, never the
expected numbers.
"""
from __future__ import annotations

from collections.abc import Callable
from types import CodeType
from typing import Any

import numpy as np

from . import _TODO, Verdict, close, not_filled, practice


def _placeholder_left(fn: Any) -> bool:
    """Whether a ``...`` is still written in the function (or in one defined inside it)."""
    def search(code: CodeType) -> bool:
        return any(c is Ellipsis or (isinstance(c, CodeType) and search(c)) for c in code.co_consts)

    code = getattr(fn, "__code__", None)
    return code is not None and search(code)


def _answers(fn: Callable, cases: list[tuple], pair: str) -> list[tuple] | Verdict:
    """The reader's function on every case, or the Verdict that stops the check early."""
    if not callable(fn):
        return Verdict(False, "pass your function itself, not its result")
    if _placeholder_left(fn):
        return Verdict(False, _TODO, filled=False)
    results = []
    for case in cases:
        out = fn(*case)
        if not_filled(out):
            return Verdict(False, _TODO, filled=False)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            return Verdict(False, f"return the pair {pair}")
        results.append(tuple(out))
    return results


# --- 07.tangents: f(x, y) = sin(x y) + x^2 with its tangent ------------------------------------------

_POINTS = [(0.7, -1.3, 1.0, 0.0), (-0.4, 2.1, 0.5, -1.5), (1.9, 0.6, -2.0, 0.8), (0.3, 0.9, 0.0, 1.0)]


def _tangent_terms(x: float, y: float, dx: float, dy: float) -> dict[str, float]:
    a = x * y
    return {"sin": np.cos(a) * (dx * y + x * dy), "square": 2 * x * dx}


@practice("07.tangents")
def tangents(f_and_tangent: Callable[[float, float, float, float], Any]) -> Verdict:
    """``f_and_tangent(x, y, dx, dy) -> (f, df)`` with df the derivative of f along (dx, dy)."""
    answers = _answers(f_and_tangent, _POINTS, "(f, df)")
    if isinstance(answers, Verdict):
        return answers
    if not all(close(f, np.sin(x * y) + x ** 2) for (f, _), (x, y, _, _) in zip(answers, _POINTS)):
        return Verdict(False, "f itself is off: the values follow the ordinary rules, only the tangents are new.")
    dfs = [df for _, df in answers]
    terms = [_tangent_terms(*p) for p in _POINTS]
    if all(close(df, t["sin"] + t["square"]) for df, t in zip(dfs, terms)):
        return Verdict(True, "right: each line's tangent is its local derivative times the tangents coming in, "
                             "which is what a Dual computes for you.")
    slips = [
        (lambda x, y, dx, dy: np.cos(x * y) * dx * y + 2 * x * dx,
         "da misses the term x dy: a = x y is a product, so its tangent is dx y + x dy."),
        (lambda x, y, dx, dy: np.cos(x * y) * x * dy + 2 * x * dx,
         "da misses the term dx y: a = x y is a product, so its tangent is dx y + x dy."),
        (lambda x, y, dx, dy: np.cos(x * y) * dx * dy + 2 * x * dx,
         "da multiplies the two tangents: the product rule pairs each tangent with the other factor's value."),
        (lambda x, y, dx, dy: (dx * y + x * dy) + 2 * x * dx,
         "db is missing the derivative of sin: the tangent of sin(a) is cos(a) times da."),
        (lambda x, y, dx, dy: np.cos(dx * y + x * dy) + 2 * x * dx,
         "db takes the cosine of the tangent: the tangent of sin(a) is cos(a), taken at the value a, times da."),
        (lambda x, y, dx, dy: np.sin(x * y) * (dx * y + x * dy) + 2 * x * dx,
         "db uses sin where its derivative, cos, belongs."),
        (lambda x, y, dx, dy: np.cos(x * y) * (dx * y + x * dy) + 2 * x,
         "the tangent of x**2 is 2 x times dx: the tangent of x has to come in."),
        (lambda x, y, dx, dy: np.cos(x * y) * (dx * y + x * dy),
         "df is missing the tangent of x**2: f adds two terms, so df adds their tangents."),
        (lambda x, y, dx, dy: np.cos(x * y) * (dx * y + x * dy) + x ** 2,
         "the x**2 term enters df as its value: its tangent is 2 x dx."),
    ]
    for slip, hint in slips:
        if all(close(df, slip(*p)) for df, p in zip(dfs, _POINTS)):
            return Verdict(False, hint)
    return Verdict(False, "df is off: write one line's tangent at a time (da, then db, then df), each as the "
                          "local derivative of that line times the tangents of what it reads.")


def _right_tangents(x: float, y: float, dx: float, dy: float) -> tuple[float, float]:
    a, da = x * y, dx * y + x * dy
    b, db = np.sin(a), np.cos(a) * da
    return b + x ** 2, db + 2 * x * dx


# --- 07.bptt_step: one step back through s = tanh(s_prev W + x U) ----------------------------------------


def _bptt_cases() -> list[tuple]:
    rng = np.random.default_rng(70)
    cases = []
    for n in (3, 4):  # square W: a missing transpose keeps every shape
        W = rng.standard_normal((n, n)) / np.sqrt(n)
        s_prev = np.tanh(rng.standard_normal(n))
        s = np.tanh(s_prev @ W + rng.standard_normal(n))
        cases.append((s_prev, s, W, rng.standard_normal(n)))
    return cases


_CASES = _bptt_cases()


def _right_bptt(s_prev: np.ndarray, s: np.ndarray, W: np.ndarray, grad_s: np.ndarray) -> tuple:
    g = grad_s * (1 - s ** 2)
    return np.outer(s_prev, g), g @ W.T


@practice("07.bptt_step")
def bptt_step(step: Callable[..., Any]) -> Verdict:
    """``step(s_prev, s, W, grad_s) -> (grad_W_t, grad_s_prev)`` for s = tanh(s_prev W + x U)."""
    answers = _answers(step, [tuple(a.copy() for a in c) for c in _CASES], "(grad_W_t, grad_s_prev)")
    if isinstance(answers, Verdict):
        return answers
    problems = []
    for which, name, shape_of in ((0, "grad_W_t", "W"), (1, "grad_s_prev", "s_prev")):
        got = [np.asarray(a[which], dtype=float) for a in answers]
        want = [_right_bptt(*c)[which] for c in _CASES]
        if all(close(g, w) for g, w in zip(got, want)):
            continue
        if any(g.shape != w.shape for g, w in zip(got, want)):
            problems.append(f"{name} must have the shape of {shape_of}")
        else:
            problems.append(_bptt_hint(which, got))
        break
    if not problems:
        return Verdict(True, "right: the gradient passes through tanh' = 1 - s**2 first; then W's term pairs "
                             "s_prev with it, and it goes back to s_prev through W transposed.")
    return Verdict(False, problems[0])


def _bptt_hint(which: int, got: list[np.ndarray]) -> str:
    """What slip gives the answers ``got`` (for grad_W_t when which is 0, for grad_s_prev when 1)."""
    def g_with(c: tuple, local: str) -> np.ndarray:
        s_prev, s, W, grad_s = c
        return {"right": grad_s * (1 - s ** 2), "none": grad_s, "s_prev": grad_s * (1 - s_prev ** 2),
                "tanh_again": grad_s * (1 - np.tanh(s) ** 2), "square_first": grad_s * (1 - s) ** 2}[local]

    locals_named = {
        "none": "the gradient skipped tanh: multiply grad_s by tanh' = 1 - s**2 first.",
        "s_prev": "tanh' is read at the wrong step: it is 1 - s**2 with this step's output s, not s_prev.",
        "tanh_again": "tanh' = 1 - s**2 uses the output s as it is: s is already tanh of something.",
        "square_first": "tanh' is 1 - s**2, one minus the square, not the square of one minus s.",
    }
    if which == 0:
        forms = {"transposed": lambda c, g: np.outer(g, c[0]),
                 "output": lambda c, g: np.outer(c[1], g)}
        if all(close(a, forms["transposed"](c, g_with(c, "right"))) for a, c in zip(got, _CASES)):
            return ("grad_W_t is transposed: s_prev @ W puts s_prev's entries along W's rows, so its "
                    "gradient has s_prev along the rows and the gradient after tanh' along the columns.")
        if all(close(a, forms["output"](c, g_with(c, "right"))) for a, c in zip(got, _CASES)):
            return "grad_W_t pairs g with s, the output: W multiplied s_prev, so its gradient pairs g with s_prev."
        for local, hint in locals_named.items():
            if all(close(a, np.outer(c[0], g_with(c, local))) for a, c in zip(got, _CASES)):
                return hint
        return ("grad_W_t is off: this step's term of dL/dW is an outer product of what W multiplied and the "
                "gradient after tanh'.")
    if all(close(a, g_with(c, "right") @ c[2]) for a, c in zip(got, _CASES)):
        return ("grad_s_prev goes back through W untransposed: the forward pass computed s_prev @ W, so the "
                "gradient returns through W.T. With a square W the shapes cannot warn you.")
    for local, hint in locals_named.items():
        if all(close(a, g_with(c, local) @ c[2].T) for a, c in zip(got, _CASES)):
            return hint
    return ("grad_s_prev is off: it is the gradient after tanh' taken back through the weights, by lesson 05's "
            "rule for a matrix product.")


SAMPLES = {
    "07.tangents": (
        [(_right_tangents,),
         (lambda x, y, dx, dy: (np.sin(x * y) + x * x, np.cos(x * y) * (y * dx + x * dy) + 2 * x * dx),)],
        [(lambda x, y, dx, dy: (np.sin(x * y) + x ** 2, np.cos(x * y) * dx * y + 2 * x * dx),),
         (lambda x, y, dx, dy: (np.sin(x * y) + x ** 2, np.cos(x * y) * dx * dy + 2 * x * dx),),
         (lambda x, y, dx, dy: (np.sin(x * y) + x ** 2, np.cos(dx * y + x * dy) + 2 * x * dx),),
         (lambda x, y, dx, dy: (np.sin(x * y) + x ** 2, np.sin(x * y) * (dx * y + x * dy) + 2 * x * dx),),
         (lambda x, y, dx, dy: (np.sin(x * y) + x ** 2, np.cos(x * y) * (dx * y + x * dy) + 2 * x),),
         (lambda x, y, dx, dy: (np.sin(x * y) + x ** 2, np.cos(x * y) * (dx * y + x * dy)),),
         (lambda x, y, dx, dy: (np.sin(x * y), np.cos(x * y) * (dx * y + x * dy) + 2 * x * dx),),
         (lambda x, y, dx, dy: np.sin(x * y) + x ** 2,)],
    ),
    "07.bptt_step": (
        [(_right_bptt,),
         (lambda s_prev, s, W, grad_s: (s_prev[:, None] * (grad_s * (1 - s * s))[None, :],
                                        W @ (grad_s * (1 - s * s))),)],
        [(lambda s_prev, s, W, grad_s: (np.outer(s_prev, grad_s), grad_s @ W.T),),
         (lambda s_prev, s, W, grad_s: (np.outer(grad_s * (1 - s ** 2), s_prev), (grad_s * (1 - s ** 2)) @ W.T),),
         (lambda s_prev, s, W, grad_s: (np.outer(s_prev, grad_s * (1 - s ** 2)), (grad_s * (1 - s ** 2)) @ W),),
         (lambda s_prev, s, W, grad_s: (np.outer(s_prev, grad_s * (1 - s_prev ** 2)),
                                        (grad_s * (1 - s_prev ** 2)) @ W.T),),
         (lambda s_prev, s, W, grad_s: (np.outer(s, grad_s * (1 - s ** 2)), (grad_s * (1 - s ** 2)) @ W.T),),
         (lambda s_prev, s, W, grad_s: (np.outer(s_prev, grad_s * (1 - s) ** 2), (grad_s * (1 - s) ** 2) @ W.T),),
         (lambda s_prev, s, W, grad_s: (np.outer(s_prev, grad_s * (1 - s ** 2)), grad_s @ W.T),),
         (lambda s_prev, s, W, grad_s: ((grad_s * (1 - s ** 2)) @ W.T),)],
    ),
}
