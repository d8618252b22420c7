"""The grader's side: compare plain outcomes with references and name known mistakes."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .spec import Case, Outcome, Question, close

PASSED, FAILED, NOT_IMPLEMENTED, MISSING, REFERENCE, TIMEOUT, CRASHED = (
    "passed", "failed", "not implemented", "missing", "uses reference", "timeout", "crashed")


@dataclass(frozen=True)
class QuestionResult:
    id: str
    score: float
    max_score: int
    status: str
    feedback: str
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _short(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return np.array2string(x, precision=4, threshold=12, separator=", ")
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in list(x)[:8]) + (", ..." if len(x) > 8 else "") + "]"
    if isinstance(x, dict):
        items = list(x.items())[:8]
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in items) + (", ..." if len(x) > 8 else "") + "}"
    text = repr(x)
    return text if len(text) <= 120 else text[:117] + "..."


def failure(question: Question, status: str, feedback: str, seed: int) -> QuestionResult:
    return QuestionResult(question.id, 0.0, question.points, status, feedback, seed)


def _matches(mistake: Any, outcome: Outcome, inputs: Mapping[str, Any]) -> bool:
    """A detector that cannot read an answer of an odd shape has not recognised it."""
    try:
        return bool(mistake.matches(outcome, inputs))
    except Exception:  # the answer's value is hostile data: any failure to read it is a non-match
        return False


def _accepted(question: Question, value: Any, inputs: Mapping[str, Any]) -> str | None:
    try:
        return question.accept(value, inputs)
    except Exception as exc:  # an answer of the wrong shape: say so rather than stop grading
        return f"the answer has the wrong form ({type(exc).__name__})"


def judge(question: Question, cases: Sequence[Case], report: Mapping[str, Any], seed: int) -> QuestionResult:
    """Score ``question`` from the plain ``report`` that ``probe.run_cases`` produced."""
    if "missing" in report:
        names = ", ".join(f"`{n}`" for n in report["missing"])
        return failure(question, MISSING, f"define {names} at the top level of a code cell", seed)
    outcomes = [Outcome.from_plain(o) for o in report.get("outcomes", [])]
    if len(outcomes) != len(cases):
        return failure(question, CRASHED, "the answer stopped before every test had run", seed)
    if outcomes and all(o.error and o.error[0] == "NotImplementedError" for o in outcomes):
        return failure(question, NOT_IMPLEMENTED, "not implemented yet", seed)
    for case, outcome in zip(cases, outcomes):
        if outcome.reference:
            name = outcome.reference.rsplit(".", 1)[-1]
            return failure(question, REFERENCE, f"the answer calls the library's own `{name}` "
                           f"({outcome.reference}); write it yourself to earn the points", seed)
        inputs = case.judged
        expected = question.reference(inputs)
        verdict = None
        if outcome.error is None:
            if question.accept is not None:
                verdict = _accepted(question, outcome.value, inputs)
                if verdict is None:
                    continue
            elif close(outcome.value, expected, question.rtol, question.atol):
                continue
        for mistake in question.mistakes:
            if _matches(mistake, outcome, inputs):
                return failure(question, FAILED, f"{case.name}: {mistake.name}. {mistake.feedback}", seed)
        if outcome.error:
            kind, message = outcome.error
            return failure(question, FAILED, f"{case.name}: raised {kind}: {message}", seed)
        if verdict is not None:
            return failure(question, FAILED, f"{case.name}: {verdict}", seed)
        return failure(question, FAILED,
                       f"{case.name}: expected {_short(expected)}, got {_short(outcome.value)}", seed)
    passed = len(cases)
    return QuestionResult(question.id, float(question.points), question.points, PASSED,
                          f"all {passed} test{'s' * (passed != 1)} passed", seed)
