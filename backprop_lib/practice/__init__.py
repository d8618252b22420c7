"""Practice inside the lessons: "predict, then run" moments and small fill-in cells.

Two helpers, both for notebook cells, and both never raise:

- ``reveal(guess, actual)`` shows a computed value only once the reader has written a prediction
  in ``guess``; until then it says what to do and keeps the value to itself. So a lesson's stored
  output never gives the answer away before the reader has committed to a number::

      guess = ...          # your prediction
      reveal(guess, the_computed_value)

- ``check(practice_id, answer, ...)`` judges a fill-in cell against a reference held here, in a
  lesson's module (``practice.lesson_NN``), not in the notebook: one line, right or wrong with a
  hint, and never the expected value itself. ``...`` (Ellipsis) anywhere in the answer means "not
  filled in yet".

``verdict(practice_id, ...)`` is ``check`` without the printing: a ``Verdict`` (``ok``, ``message``)
for tests and for the browser. Each lesson module registers its checks with ``@practice("NN.name")``
and lists, in ``SAMPLES``, right and wrong answers for each (``{id: ([right, ...], [wrong, ...])}``,
each answer a tuple of arguments): the tests require that every right one passes and every wrong one
fails.
"""
from __future__ import annotations

import importlib
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Verdict", "check", "close", "is_plain_number", "not_filled", "practice", "reveal", "verdict", "PRACTICES"]

_TODO = "not filled in yet: replace the ... with your answer, then run this cell again."


@dataclass(frozen=True)
class Verdict:
    """The outcome of one self-check: ``ok`` and the one line shown to the reader."""

    ok: bool
    message: str
    filled: bool = True

    def __str__(self) -> str:
        return self.message


Checker = Callable[..., "Verdict | tuple[bool, str]"]
PRACTICES: dict[str, Checker] = {}


def practice(practice_id: str) -> Callable[[Checker], Checker]:
    """Register a lesson's self-check under ``"NN.name"`` (the lesson's number, then a name)."""
    if len(practice_id) < 4 or not practice_id[:2].isdigit() or practice_id[2] != ".":
        raise ValueError(f"a practice id is 'NN.name', got {practice_id!r}")

    def register(checker: Checker) -> Checker:
        if practice_id in PRACTICES:
            raise ValueError(f"two self-checks are named {practice_id!r}")
        PRACTICES[practice_id] = checker
        return checker

    return register


def not_filled(value: Any) -> bool:
    """Whether ``value`` still holds the ``...`` placeholder (anywhere inside a list, tuple or dict)."""
    if value is Ellipsis:
        return True
    if isinstance(value, dict):
        return any(not_filled(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(not_filled(v) for v in value)
    if isinstance(value, np.ndarray) and value.dtype == object:
        return any(v is Ellipsis for v in value.flat)
    return False


def is_plain_number(value: Any) -> bool:
    """A real number written as one: not a string, not True/False, not a list or an array."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def close(answer: Any, expected: Any, *, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Whether ``answer`` equals ``expected`` as numbers (same shape), within the tolerances."""
    try:
        a = np.asarray(answer, dtype=float)
        e = np.asarray(expected, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.shape == e.shape and bool(np.all(np.isfinite(a))) and bool(np.allclose(a, e, rtol=rtol, atol=atol))


def _lookup(practice_id: str) -> Checker | None:
    if practice_id not in PRACTICES and len(practice_id) > 3 and practice_id[:2].isdigit():
        try:
            importlib.import_module(f"{__name__}.lesson_{practice_id[:2]}")
        except ModuleNotFoundError:
            return None
    return PRACTICES.get(practice_id)


def verdict(practice_id: str, *answer: Any, **named: Any) -> Verdict:
    """Judge one fill-in answer; never raises (an error in the answer is the message)."""
    checker = _lookup(practice_id)
    if checker is None:
        return Verdict(False, f"there is no self-check named {practice_id!r}", filled=False)
    if any(not_filled(a) for a in answer) or any(not_filled(v) for v in named.values()):
        return Verdict(False, _TODO, filled=False)
    try:
        outcome = checker(*answer, **named)
    except Exception as exc:  # the reader's code, called by the checker, may raise anything
        if isinstance(exc, NotImplementedError):
            return Verdict(False, _TODO, filled=False)
        return Verdict(False, f"your answer raised {type(exc).__name__}: {exc}")
    if isinstance(outcome, Verdict):
        return outcome
    ok, message = outcome
    return Verdict(bool(ok), str(message))


def check(practice_id: str, *answer: Any, **named: Any) -> None:
    """Print the verdict on one fill-in answer in one line (right, or wrong with a hint)."""
    result = verdict(practice_id, *answer, **named)
    if not result.filled:
        mark = "[ ]"
    else:
        mark = "[right]" if result.ok else "[not yet]"
    print(f"{mark} {result.message}")


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return None
        return float(array) if array.shape == () else None
    return float(value)


def _format(value: float, places: int) -> str:
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 10.0 ** -places):
        return f"{value:.{max(places - 1, 1)}e}"
    return f"{value:.{places}f}"


def reveal(guess: Any, actual: Any, *, places: int = 3, rtol: float = 0.05, what: str = "the value") -> None:
    """Show ``actual`` once a prediction is in ``guess``, and how far the prediction was.

    ``guess`` left as ``...`` (or None) prints an invitation and not the value. A number within
    ``rtol`` of the value counts as right. ``actual`` may be a number, or any value shown as text
    (then ``guess`` is compared by equality).
    """
    if guess is Ellipsis or guess is None:
        print(f"Write your prediction of {what} in `guess` above, run that cell, then this one: "
              "the value appears once you have committed to a number.")
        return
    number, predicted = _as_number(actual), _as_number(guess)
    if number is None:
        right = guess == actual
        print(f"You predicted {guess!r}; {what} is {actual!r}. " + ("Right." if right else "Read on to see why."))
        return
    if predicted is None:
        print(f"Your prediction {guess!r} is not a number; write one in `guess` and run both cells again.")
        return
    shown = _format(number, places)
    tolerance = 0.5 * 10.0 ** -places if abs(number) >= 10.0 ** -places else 0.0
    if math.isclose(predicted, number, rel_tol=rtol, abs_tol=tolerance):
        print(f"You predicted {_format(predicted, places)}; {what} is {shown}. Right.")
    else:
        print(f"You predicted {_format(predicted, places)}; {what} is {shown}. Read on to see why.")
