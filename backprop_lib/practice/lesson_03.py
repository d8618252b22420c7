"""Lesson 03's self-check: the backward pass of a staged expression with forks.

    f(x, y) = (x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)

The forward pass is staged in named variables and returns them as a cache (the same eight stages
as the lesson); the reader writes ``staged_backward(cache) -> (dx, dy)``. ``x`` feeds three stages
and ``y`` two, so their gradients are sums: the check recognises a missing term (a forgotten branch,
or ``=`` where ``+=`` was needed) and names the stage, never the value.
"""
from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from typing import Any

import numpy as np

from ..gates import sigmoid
from . import _TODO, Verdict, close, is_plain_number, not_filled, practice

POINTS = [(3.0, -4.0), (0.5, 1.2), (-1.3, 0.4), (2.0, 0.7)]


def staged_forward(x: float, y: float) -> tuple[float, tuple]:
    """f and the cache ``(x, y, sigy, num, sigx, xpy, xpysqr, den, invden)``, one stage per line."""
    sigy = sigmoid(y)          # (1)
    num = x + sigy             # (2)
    sigx = sigmoid(x)          # (3)
    xpy = x + y                # (4)
    xpysqr = xpy ** 2          # (5)
    den = sigx + xpysqr        # (6)
    invden = 1.0 / den         # (7)
    f = num * invden           # (8)
    return f, (x, y, sigy, num, sigx, xpy, xpysqr, den, invden)


def _terms(cache: tuple) -> tuple[dict[str, float], dict[str, float]]:
    """Each use's contribution to dx and to dy, keyed by the stage it comes through."""
    x, y, sigy, num, sigx, xpy, xpysqr, den, invden = cache
    dnum, dinvden = invden, num
    dden = -1.0 / den ** 2 * dinvden
    dxpy = 2 * xpy * dden
    dx = {"(4) xpy": dxpy, "(3) sigx": (1 - sigx) * sigx * dden, "(2) num": dnum}
    dy = {"(4) xpy": dxpy, "(1) sigy": (1 - sigy) * sigy * dnum}
    return dx, dy


def reference_backward(cache: tuple) -> tuple[float, float]:
    """The right (dx, dy): every use of x and of y adds its term."""
    dx, dy = _terms(cache)
    return sum(dx.values()), sum(dy.values())


def _missing_term(answers: list[float], terms: list[dict[str, float]]) -> list[str] | None:
    """The stages whose terms the answers leave out (the same at every point), or None."""
    for keep in range(len(terms[0]) - 1, 0, -1):
        for kept in combinations(terms[0], keep):
            if all(close(a, sum(t[k] for k in kept)) for a, t in zip(answers, terms)):
                return [k for k in terms[0] if k not in kept]
    return None


def _diagnose(name: str, uses: str, answers: list[float], terms: list[dict[str, float]], other_right: bool) -> str:
    missing = _missing_term(answers, terms)
    if missing is None:
        var = name[1:]
        if other_right:
            only = "(3) sigx and its share of (2)" if var == "x" else "(2) num's share for sigy, and (1) sigy"
            return (f"{name} is off, and not by a missing term; the other gradient is right, so the stages both share, "
                    f"(8) to (4), are fine: look at the stages only {var} goes through, {only}")
        return (f"{name} is off, and not by a missing term: check the local derivatives on {var}'s paths, "
                "each computed from values in the cache")
    plural = "s" if len(missing) > 1 else ""
    stages = f"stage{plural} " + " and ".join(missing)
    if any(k.startswith("(4)") for k in missing):
        return (f"{name} lost the term{plural} from {stages}: a later line overwrote it. {name[1:]} feeds {uses}, "
                f"so after the first term add to {name} (+=) instead of assigning (=)")
    return (f"{name} has no term from {stages}: {name[1:]} feeds {uses}, and {name} needs one term "
            "from each use")


def _is_number(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iuf"
    return is_plain_number(value)


def _pair(result: Any) -> tuple | str:
    """The two gradients the reader's function returned, or what is wrong with its return value
    (said without the values: they are computed at the check's points, not the reader's)."""
    if result is None:
        return "your function returned None: end it with return dx, dy"
    if not isinstance(result, (tuple, list, np.ndarray)):
        return f"return the pair (dx, dy), two numbers; your function returned one {type(result).__name__}"
    if len(result) != 2:
        return f"return the pair (dx, dy), two numbers; your function returned {len(result)} values"
    for name, value in zip(("dx", "dy"), result):
        if not _is_number(value):
            return f"{name} is a {type(value).__name__}, not a number: return two plain numbers, dx and dy"
    return tuple(float(value) for value in result)


@practice("03.staged_backward")
def staged_backward(backward: Callable[[tuple], Any]) -> Verdict:
    """``backward(cache) -> (dx, dy)`` for the staged f, judged at a few points of the check's own."""
    if not callable(backward):
        return Verdict(False, 'pass your function itself: check("03.staged_backward", staged_backward)')
    answers, expected = [], []
    for x, y in POINTS:
        _, cache = staged_forward(x, y)
        try:
            result = backward(cache)
        except TypeError as exc:
            if "ellipsis" in str(exc):  # arithmetic on a ... that is still there
                return Verdict(False, _TODO, filled=False)
            raise
        if not_filled(result):
            return Verdict(False, _TODO, filled=False)
        pair = _pair(result)
        if isinstance(pair, str):
            return Verdict(False, pair)
        answers.append(pair)
        expected.append(_terms(cache))
    dx_right = all(close(a[0], sum(e[0].values())) for a, e in zip(answers, expected))
    dy_right = all(close(a[1], sum(e[1].values())) for a, e in zip(answers, expected))
    if dx_right and dy_right:
        return Verdict(True, "dx and dy right: every stage read the cache, and both forks added up their terms")
    if all(close(a[1], sum(e[0].values())) and close(a[0], sum(e[1].values())) for a, e in zip(answers, expected)):
        return Verdict(False, "both gradients are right but in the wrong order: return dx, dy (x's first)")
    problems = []
    if not dx_right:
        problems.append(_diagnose("dx", "three stages (num, sigx and xpy)", [a[0] for a in answers],
                                  [e[0] for e in expected], dy_right))
    if not dy_right:
        problems.append(_diagnose("dy", "two stages (sigy and xpy)", [a[1] for a in answers],
                                  [e[1] for e in expected], dx_right))
    if len(problems) == 2 and all("not by a missing term" in p for p in problems):
        return Verdict(False, "dx and dy are both off, and not by a missing term: the stages they share come first, "
                              "(7) and (5): dden and dxpy are each their stage's local derivative times the upstream "
                              "gradient of that stage's output.")
    return Verdict(False, "; ".join(problems) + ".")


def _assign_at_sigx(cache: tuple) -> tuple[float, float]:
    """The classic bug: stage (3) overwrites dx with = instead of adding to it."""
    terms_x, terms_y = _terms(cache)
    return terms_x["(3) sigx"] + terms_x["(2) num"], sum(terms_y.values())


def _forgot_num_branch(cache: tuple) -> tuple[float, float]:
    """Stage (2) sends a gradient to sigy only, forgetting x."""
    terms_x, terms_y = _terms(cache)
    return terms_x["(4) xpy"] + terms_x["(3) sigx"], sum(terms_y.values())


def _assign_everywhere(cache: tuple) -> tuple[float, float]:
    """= at every fork: only the last term of each gradient survives."""
    terms_x, terms_y = _terms(cache)
    return terms_x["(2) num"], terms_y["(1) sigy"]


def _wrong_inverse(cache: tuple) -> tuple[float, float]:
    """Stage (7) with -1 / den instead of -1 / den**2: both gradients off, no term missing."""
    x, y, sigy, num, sigx, xpy, xpysqr, den, invden = cache
    dden = -1.0 / den * num
    dx = 2 * xpy * dden + (1 - sigx) * sigx * dden + invden
    dy = 2 * xpy * dden + (1 - sigy) * sigy * invden
    return dx, dy


def _sigmoid_of_the_other(cache: tuple) -> tuple[float, float]:
    """Stage (1) uses sigx where it needs sigy."""
    terms_x, terms_y = _terms(cache)
    x, y, sigy, num, sigx, xpy, xpysqr, den, invden = cache
    return sum(terms_x.values()), terms_y["(4) xpy"] + (1 - sigx) * sigx * invden


def _sigmoid_derivative_of_the_input(cache: tuple) -> tuple[float, float]:
    """Stage (3) with (1 - x) * x, the input where the cached output belongs."""
    terms_x, terms_y = _terms(cache)
    x, y, sigy, num, sigx, xpy, xpysqr, den, invden = cache
    dden = -1.0 / den ** 2 * num
    return terms_x["(4) xpy"] + (1 - x) * x * dden + terms_x["(2) num"], sum(terms_y.values())


SAMPLES = {
    "03.staged_backward": (
        [(reference_backward,), (lambda cache: list(reference_backward(cache)),),
         (lambda cache: np.array(reference_backward(cache)),)],
        [(_assign_at_sigx,), (_forgot_num_branch,), (_assign_everywhere,), (_wrong_inverse,),
         (_sigmoid_of_the_other,), (_sigmoid_derivative_of_the_input,),
         # dx and dy the wrong way round, one gradient only, nothing returned, numbers as text
         (lambda cache: reference_backward(cache)[::-1],), (lambda cache: reference_backward(cache)[0],),
         (lambda cache: None,), (lambda cache: tuple(str(g) for g in reference_backward(cache)),),
         # the function's result instead of the function
         (reference_backward(staged_forward(3.0, -4.0)[1]),)],
    ),
}
