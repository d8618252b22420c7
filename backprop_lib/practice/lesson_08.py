"""Self-checks of lesson 08 (the layers of modern networks): the VJP of log softmax, and the backward
pass of a strided 1-D convolution.

Each checker calls the reader's function on inputs of its own and compares with the reference; a
wrong answer is matched against the usual slips to say which part to reconsider, never what the
right numbers are.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import close, not_filled, practice


def _still_a_placeholder(error: TypeError) -> bool:
    """Whether ``error`` comes from arithmetic with a ``...`` the reader has not replaced yet."""
    text = str(error)
    return "ellipsis" in text or "dtype('O')" in text


def _call(fn: Callable, *args: Any) -> Any:
    """``fn(*args)`` on copies of the arrays; a ``...`` left in the answer means "not filled in yet"."""
    try:
        result = fn(*(np.array(a, dtype=float) if isinstance(a, np.ndarray) else a for a in args))
    except TypeError as error:
        if _still_a_placeholder(error):
            raise NotImplementedError from error
        raise
    if not_filled(result):
        raise NotImplementedError
    return result


# --- log softmax ------------------------------------------------------------------------------------


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def log_softmax_vjp_reference(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """y = x - logsumexp(x) has the Jacobian I - 1 p^T (entry (i, j): [i = j] - p_j), so
    dx = g - p * sum(g)."""
    return g - _softmax(x) * g.sum()


_LOG_SOFTMAX_SLIPS = (
    (lambda x, g, p: g - p,
     "you subtracted p once, as if the upstream summed to 1: every output i sends its own share -g_i p_j "
     "back to x_j, and those shares add up over i"),
    (lambda x, g, p: g * (1 - p),
     "that keeps only the diagonal of the Jacobian I - 1 p^T: each x_j also moves every other output, "
     "through the logsumexp that all of them subtract"),
    (lambda x, g, p: p * (g - (g * p).sum()),
     "that is the VJP of softmax; log softmax has another Jacobian: differentiate x_i - logsumexp(x)"),
    (lambda x, g, p: p * g.sum() - g,
     "the sign is flipped: the x_i term passes g on unchanged, the logsumexp term is subtracted"),
    (lambda x, g, p: g - (p * g).sum(),
     "that is J g, the Jacobian times g as a column: the VJP is the row g times J, so entry j adds up "
     "g_i times the entry (i, j) over the outputs i, down a column of J"),
    (lambda x, g, p: g - g.sum(),
     "the logsumexp term sends x_j the sum of g times the derivative of logsumexp, p_j: that factor p_j "
     "is missing"),
)


@practice("08.log_softmax_vjp")
def check_log_softmax_vjp(log_softmax_vjp: Callable) -> tuple[bool, str]:
    """``log_softmax_vjp(x, g)``: dL/dx for y = log_softmax(x), given x (n,) and g = dL/dy (n,)."""
    if not callable(log_softmax_vjp):
        return False, "pass the function itself, log_softmax_vjp, without calling it"
    rng = np.random.default_rng(8)
    cases = [(np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0]))]
    cases += [(rng.normal(size=n) * 3, rng.normal(size=n)) for n in (2, 5, 7)]
    for x, g in cases:
        got = _call(log_softmax_vjp, x, g)
        if got is None:
            return False, "the function returned None: end it with return and dL/dx"
        want = log_softmax_vjp_reference(x, g)
        if np.shape(got) != want.shape:
            return False, f"dL/dx must have the shape of x, {x.shape}; your function returned shape {np.shape(got)}"
        if close(got, want):
            continue
        p = _softmax(x)
        for slip, hint in _LOG_SOFTMAX_SLIPS:
            if close(got, slip(x, g, p)):
                return False, hint
        return False, ("not the VJP of log softmax: write the Jacobian of y_i = x_i - logsumexp(x) entry by entry "
                       "(the derivative of logsumexp is softmax), then multiply the row g by it")
    return True, "right: g minus p times the sum of g, and no n x n Jacobian needed"


# --- a strided 1-D convolution ----------------------------------------------------------------------


def conv1d_backward_reference(x: np.ndarray, w: np.ndarray, g: np.ndarray, stride: int
                              ) -> tuple[np.ndarray, np.ndarray]:
    """y[i] = sum_j w[j] x[stride * i + j]: dw[j] = sum_i g[i] x[stride * i + j] (w is used at every
    output, a fan-out), dx[stride * i + j] += g[i] w[j] (a pixel in several windows collects from each)."""
    dx, dw = np.zeros(len(x)), np.zeros(len(w))
    for i in range(len(g)):
        for j in range(len(w)):
            dw[j] += g[i] * x[stride * i + j]
            dx[stride * i + j] += g[i] * w[j]
    return dx, dw


def _conv1d_slips(x, w, g, stride):
    n, kw = len(g), len(w)
    last = n - 1
    assigned_dw = np.array([g[last] * x[stride * last + j] for j in range(kw)])
    assigned_dx = np.zeros(len(x))
    for i in range(n):
        for j in range(kw):
            assigned_dx[stride * i + j] = g[i] * w[j]
    unstrided_dw = np.array([sum(g[i] * x[i + j] for i in range(n)) for j in range(kw)])
    unstrided_dx = np.zeros(len(x))
    for i in range(n):
        for j in range(kw):
            unstrided_dx[i + j] += g[i] * w[j]
    flipped_dx = np.zeros(len(x))
    for i in range(n):
        for j in range(kw):
            flipped_dx[stride * i + j] += g[i] * w[kw - 1 - j]
    dx, dw = conv1d_backward_reference(x, w, g, stride)
    dw_own_factor = w * g.sum()                                          # dw[j] += g[i] * w[j]
    dx_own_factor, dx_no_g, dw_no_g, dx_first = np.zeros(len(x)), np.zeros(len(x)), np.zeros(kw), np.zeros(len(x))
    for i in range(n):
        for j in range(kw):
            dx_own_factor[stride * i + j] += g[i] * x[stride * i + j]   # dx[...] += g[i] * x[...]
            dx_no_g[stride * i + j] += w[j]
            dw_no_g[j] += x[stride * i + j]
            dx_first[stride * i] += g[i] * w[j]
    every_entry = np.full(len(x), g.sum() * w.sum())                     # dx[...] += g[i] * w[j]: ... indexes all
    return (
        ("dw", assigned_dw, "dw holds only the last output's term: w[j] is used at every output position (a fan-out), "
                            "so its gradient must add up (+=) the terms of all of them"),
        ("dx", assigned_dx, "where windows overlap, dx keeps only the last window's term: a pixel used by several "
                            "outputs must add up (+=) what each sends back"),
        ("dw", unstrided_dw, "dw uses the wrong input entries: with a stride, output i starts at x[stride * i]"),
        ("dx", unstrided_dx, "dx lands on the wrong entries: with a stride, output i starts at x[stride * i], so "
                             "w[j] met x[stride * i + j]"),
        ("dx", flipped_dx, "dx uses the kernel in the wrong order: the loop already pairs w[j] with x[stride * i + j], "
                           "no flip is needed inside it"),
        ("dx", every_entry, "dx[...] still has the placeholder as its index, and ... there means every entry: index "
                            "the input entry that tap j met at output i"),
        ("dw", dw_own_factor, "dw[j] collects w[j] itself: a product sends each factor the other one, and the other "
                              "factor of w[j] at output i is the input entry it met"),
        ("dx", dx_own_factor, "dx collects the input entry itself: a product sends each factor the other one, and "
                              "the other factor of x[stride * i + j] is w[j]"),
        ("dw", dw_no_g, "dw leaves out the upstream: each output's share is scaled by its own g[i]"),
        ("dx", dx_no_g, "dx leaves out the upstream: each output's share is scaled by its own g[i]"),
        ("dx", -dx, "dx has the wrong sign: each window adds g[i] * w[j] to the input entry (+=)"),
        ("dw", -dw, "dw has the wrong sign: each output adds g[i] * (the input entry) to w[j] (+=)"),
        ("dx", dx_first, "dx lands every tap on the first entry of its window: tap j met x[stride * i + j]"),
    )


@practice("08.conv1d_backward")
def check_conv1d_backward(conv1d_backward: Callable) -> tuple[bool, str]:
    """``conv1d_backward(x, w, g, stride)`` -> (dx, dw) for y[i] = sum_j w[j] x[stride * i + j]."""
    if not callable(conv1d_backward):
        return False, "pass the function itself, conv1d_backward, without calling it"
    rng = np.random.default_rng(80)
    cases = [(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([2.0, 0.0, -1.0]), np.array([1.0, 2.0]), 2)]
    for n_x, k, s in ((9, 3, 2), (10, 2, 3), (7, 3, 1), (11, 4, 2)):
        n_out = (n_x - k) // s + 1
        cases.append((rng.normal(size=n_x), rng.normal(size=k), rng.normal(size=n_out), s))
    for x, w, g, stride in cases:
        try:
            answer = _call(conv1d_backward, x, w, g, stride)
        except IndexError as error:
            return False, (f"an index ran past the end of an array ({error}): output i's window is x[stride * i] "
                           "to x[stride * i + len(w) - 1], with i over the outputs and j over the taps")
        if not isinstance(answer, (tuple, list)) or len(answer) != 2:
            return False, "return two arrays, (dx, dw)"
        dx, dw = answer
        want_dx, want_dw = conv1d_backward_reference(x, w, g, stride)
        if np.shape(dx) != want_dx.shape or np.shape(dw) != want_dw.shape:
            if np.shape(dx) == want_dw.shape and np.shape(dw) == want_dx.shape:
                return False, "dx and dw are swapped: return (dL/dx, dL/dw), in that order"
            return False, (f"dx must have the shape of x, {want_dx.shape}, and dw that of w, {want_dw.shape}; "
                           f"got {np.shape(dx)} and {np.shape(dw)}")
        ok_dx, ok_dw = close(dx, want_dx), close(dw, want_dw)
        if ok_dx and ok_dw:
            continue
        for part, slip, hint in _conv1d_slips(x, w, g, stride):
            if (part == "dw" and not ok_dw and close(dw, slip)) or (part == "dx" and not ok_dx and close(dx, slip)):
                return False, hint
        wrong = " and ".join(name for name, ok in (("dx", ok_dx), ("dw", ok_dw)) if not ok)
        return False, (f"{wrong} {'is' if ' ' not in wrong else 'are'} not right yet: output i = sum over j of "
                       f"w[j] * x[stride * i + j]; each product sends g[i] * (the other factor) back to each factor")
    return True, "right: dw adds up over every output position, dx over every window a pixel lies in"


# --- right and wrong answers, for the tests ----------------------------------------------------------


def _conv1d_with(dx_slip: int | None = None, dw_slip: int | None = None) -> Callable:
    """A wrong answer: the reference with dx or dw replaced by the given slip (by its position)."""
    def backward(x, w, g, stride):
        dx, dw = conv1d_backward_reference(x, w, g, stride)
        slips = _conv1d_slips(x, w, g, stride)
        if dx_slip is not None:
            dx = slips[dx_slip][1]
        if dw_slip is not None:
            dw = slips[dw_slip][1]
        return dx, dw
    return backward


def _swapped(x, w, g, stride):
    dx, dw = conv1d_backward_reference(x, w, g, stride)
    return dw, dx


def _conv1d_loop(dw_term: Callable, dx_index: Callable, dx_term: Callable) -> Callable:
    """A reader's loop: dw[j] += dw_term(...), dx[dx_index(...)] += dx_term(...)."""
    def backward(x, w, g, stride):
        dx, dw = np.zeros(len(x)), np.zeros(len(w))
        for i in range(len(g)):
            for j in range(len(w)):
                dw[j] += dw_term(x, w, g, stride, i, j)
                dx[dx_index(stride, i, j)] += dx_term(x, w, g, stride, i, j)
        return dx, dw
    return backward


_RIGHT_DW = lambda x, w, g, s, i, j: g[i] * x[s * i + j]  # noqa: E731 (the loops' pieces, named)
_RIGHT_AT = lambda s, i, j: s * i + j  # noqa: E731
_RIGHT_DX = lambda x, w, g, s, i, j: g[i] * w[j]  # noqa: E731

SAMPLES = {
    "08.log_softmax_vjp": (
        [(log_softmax_vjp_reference,),
         (lambda x, g: g - np.exp(x) / np.exp(x).sum() * g.sum(),),
         (lambda x, g: (np.eye(len(x)) - _softmax(x)[None, :]).T @ g,),
         (lambda x, g: list(g - _softmax(x) * g.sum()),)],
        [(lambda x, g, slip=slip: slip(x, g, _softmax(x)),) for slip, _ in _LOG_SOFTMAX_SLIPS]
        + [(lambda x, g: g,), (lambda x, g: (g - _softmax(x) * g.sum())[:-1],),
           (lambda x, g: g - g.mean(),), (lambda x, g: None,),
           (log_softmax_vjp_reference(np.zeros(3), np.ones(3)),)],  # called, not passed
    ),
    "08.conv1d_backward": (
        [(conv1d_backward_reference,),
         (lambda x, w, g, stride: [np.asarray(a) for a in conv1d_backward_reference(x, w, g, stride)],),
         (_conv1d_loop(_RIGHT_DW, _RIGHT_AT, _RIGHT_DX),)],
        [(_conv1d_with(dw_slip=0),), (_conv1d_with(dx_slip=1),), (_conv1d_with(dw_slip=2),),
         (_conv1d_with(dx_slip=3),), (_conv1d_with(dx_slip=4),), (_swapped,),
         (_conv1d_loop(_RIGHT_DW, lambda s, i, j: ..., _RIGHT_DX),),  # dx[...]: the placeholder index left
         (_conv1d_loop(lambda x, w, g, s, i, j: g[i] * w[j], _RIGHT_AT, _RIGHT_DX),),  # w[j]'s own value
         (_conv1d_loop(_RIGHT_DW, _RIGHT_AT, lambda x, w, g, s, i, j: g[i] * x[s * i + j]),),  # x's own value
         (_conv1d_loop(lambda x, w, g, s, i, j: x[s * i + j], _RIGHT_AT, _RIGHT_DX),),  # no upstream in dw
         (_conv1d_loop(_RIGHT_DW, _RIGHT_AT, lambda x, w, g, s, i, j: w[j]),),  # no upstream in dx
         (_conv1d_loop(_RIGHT_DW, _RIGHT_AT, lambda x, w, g, s, i, j: -g[i] * w[j]),),  # -= for dx
         (_conv1d_loop(_RIGHT_DW, lambda s, i, j: s * i, _RIGHT_DX),),  # every tap on the window's first entry
         (_conv1d_loop(_RIGHT_DW, lambda s, i, j: s * (i + j), _RIGHT_DX),),  # runs past the end
         (lambda x, w, g, stride: (np.zeros(len(x)), np.zeros(len(w))),),
         (lambda x, w, g, stride: conv1d_backward_reference(x, w, g, stride)[1],),
         (conv1d_backward_reference(np.ones(3), np.ones(2), np.ones(2), 1),)],  # called, not passed
    ),
}
