"""Questions as code: what is asked, how it is tested, and the known wrong answers.

A ``Question`` is graded in two halves that never share objects:

- its ``probe`` (a ``probes.Probe``) runs where the student's code runs, in the sandbox. It looks up
  the student's functions in the notebook's top-level ``namespace``, calls them on the case's
  ``inputs`` and returns plain data (numbers, strings, lists, dicts, numpy arrays).
- ``reference(inputs)`` runs in the grader (the judge), and so do the cases and the mistakes: this
  module and the ``exNN`` modules are never importable in the sandbox. The plain result is compared with it, and, when they
  differ, with each ``Mistake`` (a known wrong answer) so that the feedback can name the mistake.

Cases are drawn from a random generator seeded at grading time (the seed is recorded), so a
hard-coded answer cannot pass; ``check`` in a notebook uses the question's fixed visible seed.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .plain import is_real
from .probe import run_cases
from .probes import Probe

VISIBLE_SEED = 2024


@dataclass(frozen=True)
class Case:
    """One test: a description shown in feedback and the plain ``inputs`` the probe receives.

    ``hidden`` holds what only the judge may know (the seed of a held-out test set): it never
    reaches the sandbox, and the judge's reference, ``accept`` and mistakes see it merged into the
    inputs (``judged``).
    """

    name: str
    inputs: Mapping[str, Any]
    visible: bool = True
    hidden: Mapping[str, Any] = field(default_factory=dict)

    @property
    def judged(self) -> Mapping[str, Any]:
        """The inputs as the judge sees them: the probe's, and what is kept from the sandbox."""
        return {**self.inputs, **self.hidden} if self.hidden else self.inputs


@dataclass(frozen=True)
class Outcome:
    """What happened when a case ran in the student's process."""

    value: Any = None
    error: tuple[str, str] | None = None  # (exception type name, message)
    reference: str | None = None  # the library function the answer called instead of its own code
    at: tuple[str, int, str] | None = None  # where the student's code raised: (file name, line, function)

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> Outcome:
        if "error" in data:
            kind, message = data["error"]
            at = data.get("at")
            return cls(error=(str(kind), str(message)),
                       at=(str(at[0]), int(at[1]), str(at[2])) if at is not None else None)
        if "reference" in data:
            return cls(reference=str(data["reference"]))
        return cls(value=data.get("value"))


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``matches(outcome, inputs)`` recognises it; ``feedback`` names it and the fix."""

    name: str
    feedback: str
    matches: Callable[[Outcome, Mapping[str, Any]], bool]
    # For a mistake made by ``answer``: the wrong result it stands for, so tests can check that no
    # two mistakes of a question (nor a mistake and the right answer) look alike on the cases drawn.
    wrong: Callable[[Mapping[str, Any]], Any] | None = None
    # How a mistake made by ``answer`` or ``raises`` recognises its answer, as data (a student release
    # stores it): "answer" (``wrong``'s output within ``rtol``/``atol``) or "raises" (``error``).
    kind: str = ""
    rtol: float = 1e-6
    atol: float = 1e-9
    error: str = ""

    @classmethod
    def answer(cls, name: str, feedback: str, wrong: Callable[[Mapping[str, Any]], Any],
               rtol: float = 1e-6, atol: float = 1e-9) -> Mistake:
        """The mistake whose result is ``wrong(inputs)``."""

        def matches(outcome: Outcome, inputs: Mapping[str, Any]) -> bool:
            if outcome.error or outcome.reference:
                return False
            try:
                expected = wrong(inputs)
            except (ArithmeticError, ValueError, RecursionError):
                return False
            return close(outcome.value, expected, rtol, atol)

        return cls(name, feedback, matches, wrong, "answer", rtol, atol)

    @classmethod
    def raises(cls, name: str, feedback: str, error: str) -> Mistake:
        """The mistake that shows as an exception of type ``error``."""
        return cls(name, feedback, lambda outcome, inputs: bool(outcome.error) and outcome.error[0] == error,
                   kind="raises", error=error)


@dataclass(frozen=True)
class Question:
    id: str
    points: int
    title: str
    cases: Callable[[np.random.Generator], Sequence[Case]]
    probe: Probe
    reference: Callable[[Mapping[str, Any]], Any]
    mistakes: tuple[Mistake, ...] = ()
    rtol: float = 1e-6
    atol: float = 1e-9
    time_limit: float = 10.0  # seconds for all cases together
    # For answers with no single right value (trained weights): None if ``value`` is acceptable for
    # ``inputs``, else what is wrong with it. Runs in the grader, on plain data; replaces ``close``.
    accept: Callable[[Any, Mapping[str, Any]], str | None] | None = None
    # How the points are shared when only some tests pass: evenly over the cases ("case"), over every
    # output of every case where a case checks several named outputs ("output"), or not ("all").
    credit: str = "case"
    # Earlier questions whose functions this one's answer calls: when one of them failed, the
    # feedback says to fix it first.
    builds_on: tuple[str, ...] = ()
    # What usually makes a right answer too slow for ``time_limit`` (said when the tests time out).
    slow_hint: str = ""

    def __post_init__(self) -> None:
        if self.credit not in ("case", "output", "all"):
            raise ValueError(f"question {self.id}: credit must be 'case', 'output' or 'all', not {self.credit!r}")

    @property
    def exercise(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.probe.symbols

    @property
    def forbidden(self) -> tuple[str, ...]:
        """Dotted names of library code an answer may not call."""
        return self.probe.forbidden

    def run(self, namespace: Mapping[str, Any], cases: Sequence[Case]) -> dict[str, Any]:
        """Run the probe on ``cases`` in this process (``check`` and tests; the grader uses a sandbox)."""
        return run_cases(self.probe, namespace, [case.inputs for case in cases])

    def draw_cases(self, seed: int) -> list[Case]:
        return list(self.cases(np.random.default_rng(seed)))

    def visible_cases(self) -> list[Case]:
        return [c for c in self.draw_cases(VISIBLE_SEED) if c.visible]


@dataclass(frozen=True)
class Exercise:
    number: str
    title: str
    notebook: str  # file name without .ipynb, the same in exercises/ and solutions/
    questions: tuple[Question, ...] = field(default_factory=tuple)

    @property
    def max_score(self) -> int:
        return sum(q.points for q in self.questions)


def close(got: Any, expected: Any, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Plain ``got`` equals ``expected`` within tolerances; non-finite numbers never match."""
    if type(expected) is float and type(got) is float:  # the commonest case, without the general checks
        return math.isfinite(got) and math.isfinite(expected) and abs(got - expected) <= atol + rtol * abs(expected)
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
        try:
            g = np.asarray(got, dtype=np.float64)
            e = np.asarray(expected, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return False
        return (g.shape == e.shape and bool(np.all(np.isfinite(g)))
                and bool(np.allclose(g, e, rtol=rtol, atol=atol)))
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is type(expected) and got == expected
    if is_real(expected):
        if not is_real(got):
            return False
        try:
            g, e = float(got), float(expected)
        except OverflowError:  # an integer beyond any float: only an exact match counts
            return got == expected
        return math.isfinite(g) and math.isfinite(e) and abs(g - e) <= atol + rtol * abs(e)
    if isinstance(expected, str):
        return isinstance(got, str) and got == expected
    if isinstance(expected, (list, tuple)):
        return (isinstance(got, (list, tuple)) and len(got) == len(expected)
                and all(close(g, e, rtol, atol) for g, e in zip(got, expected)))
    if isinstance(expected, dict):
        return (isinstance(got, dict) and set(got) == set(expected)
                and all(close(got[k], expected[k], rtol, atol) for k in expected))
    return got is None and expected is None
