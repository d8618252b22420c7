"""The grader's side: compare plain outcomes with references, give credit, and name known mistakes.

A question's points are shared out as its ``credit`` says: evenly over its cases ("case"), over
every output of every case where one case checks several named outputs ("output"), or all or
nothing ("all"). Feedback names every known mistake the answer made (each once, with its fix, and
from a case that no other known mistake explains as well, else the first of those that do, as the
question lists its mistakes from the most specific);
where no known mistake matches, it shows the first output that differs, both sides formatted
alike, and the inputs of that case; where the answer raised, the line of the student's code that
raised it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .plain import is_real
from .spec import Case, Outcome, Question, close

PASSED, FAILED, NOT_IMPLEMENTED, MISSING, REFERENCE, TIMEOUT, CRASHED = (
    "passed", "failed", "not implemented", "missing", "uses reference", "timeout", "crashed")

# Turns where an answer raised, (file name, line, function), into words such as "cell 7, line 3:
# `return x @ W`"; None when the place is not the student's own code.
Locate = Callable[[str, int, str], "str | None"]


@dataclass(frozen=True)
class QuestionResult:
    id: str
    score: float
    max_score: int
    status: str
    feedback: str
    seed: int
    cases_passed: int = 0
    cases_total: int = 0
    mistakes: tuple[str, ...] = field(default=())  # the names of the known mistakes found

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mistakes"] = list(self.mistakes)
        return data


# --- formatting values, the same way on both sides -----------------------------------------------------------

def _number(x: Any) -> str:
    if not is_real(x) or isinstance(x, bool):
        return repr(x)
    try:
        return f"{float(x):.6g}"
    except (OverflowError, ValueError):
        return "an integer too large for a float"


def _fmt(x: Any) -> str:
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "biuf":
            return np.array2string(np.asarray(x, dtype=float), precision=6, threshold=12, separator=", ",
                                   floatmode="maxprec", suppress_small=False)
        return np.array2string(x, threshold=12, separator=", ")
    if isinstance(x, bool) or x is None:
        return repr(x)
    if is_real(x):
        return _number(x)
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in list(x)[:8]) + (", ..." if len(x) > 8 else "") + "]"
    if isinstance(x, dict):
        items = list(x.items())[:8]
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in items) + (", ..." if len(x) > 8 else "") + "}"
    text = repr(x)
    return text if len(text) <= 120 else text[:117] + "..."


def _short(x: Any, limit: int = 240) -> str:
    text = _fmt(x)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _kind(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    if isinstance(x, bool):
        return "a bool"
    if is_real(x):
        return "a number"
    if isinstance(x, (list, tuple)):
        return f"a list of {len(x)}"
    if isinstance(x, dict):
        return "a dict"
    return "None" if x is None else f"a {type(x).__name__}"


def difference(got: Any, expected: Any, rtol: float, atol: float, where: str = "") -> str:
    """Where ``got`` first differs from ``expected``, in words: the output's name, the entry, and both
    values in the same format. Empty when they match."""
    label = f"{where}: " if where else ""
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{label}expected a dict with the keys {sorted(map(str, expected))}, got {_kind(got)}"
        missing, extra = sorted(set(map(str, expected)) - set(map(str, got))), sorted(set(map(str, got)) - set(map(str, expected)))
        if missing or extra:
            return (f"{label}the keys differ: " + (f"missing {missing}" if missing else "")
                    + ("; " if missing and extra else "") + (f"unexpected {extra}" if extra else ""))
        for key in expected:
            found = difference(got[key], expected[key], rtol, atol, f"{where}[{key!r}]" if where else str(key))
            if found:
                return found
        return ""
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
        try:
            g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return f"{label}expected {_kind(np.asarray(expected))}, got {_kind(got)}"
        if g.shape != e.shape:
            return f"{label}expected shape {e.shape}, got shape {g.shape}"
        wrong = ~np.isfinite(g) | ~np.isclose(g, e, rtol=rtol, atol=atol)
        if not wrong.any():
            return ""
        first = tuple(int(i) for i in np.argwhere(wrong)[0])
        at = f"[{', '.join(map(str, first))}]" if first else ""
        count = int(wrong.sum())
        share = f" ({count} of {wrong.size} entries differ)" if wrong.size > 1 else ""
        return (f"{where or 'the answer'}{at}: expected {_number(e[first])}, got {_number(g[first])}{share}; "
                f"expected {_short(e, 160)}, got {_short(g, 160)}")
    if isinstance(expected, (list, tuple)) and not isinstance(expected, str):
        if not isinstance(got, (list, tuple)) or len(got) != len(expected):
            return f"{label}expected {_kind(list(expected))}, got {_kind(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            found = difference(g, e, rtol, atol, f"{where}[{i}]")
            if found:
                return found
        return ""
    if close(got, expected, rtol, atol):
        return ""
    if type(got) is not type(expected) and not (is_real(got) and is_real(expected)):
        return f"{label}expected {_kind(expected)} ({_short(expected, 80)}), got {_kind(got)} ({_short(got, 80)})"
    return f"{label}expected {_short(expected)}, got {_short(got)}"


def describe_inputs(inputs: Mapping[str, Any], limit: int = 300) -> str:
    """A case's inputs, briefly: ``x=0.5, edges=[...]``."""
    text = ", ".join(f"{k}={_fmt(v)}" for k, v in inputs.items())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --- judging ---------------------------------------------------------------------------------------------------

def failure(question: Question, status: str, feedback: str, seed: int, cases_total: int = 0) -> QuestionResult:
    return QuestionResult(question.id, 0.0, question.points, status, feedback, seed, 0, cases_total)


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


def _zero(x: Any) -> bool:
    """Whether ``x`` is a number or array of numbers that are all zero (or holds only such)."""
    if isinstance(x, dict):
        return all(_zero(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return all(_zero(v) for v in x)
    if isinstance(x, bool) or not (is_real(x) or isinstance(x, np.ndarray)):
        return False
    try:
        return bool(np.all(np.asarray(x, dtype=np.float64) == 0))
    except (TypeError, ValueError, OverflowError):
        return False


def _outputs_right(question: Question, outcome: Outcome, expected: Any) -> tuple[int, int]:
    """(outputs right, outputs) of one case under ``credit="output"``: each key of a dict answer.
    An output whose right value is zero earns nothing on its own (an answer of zeros would): such
    outputs only count as part of the whole case when every output is zero."""
    whole = int(outcome.error is None and close(outcome.value, expected, question.rtol, question.atol))
    if not isinstance(expected, dict):
        return whole, 1
    telling = [k for k in expected if not _zero(expected[k])]
    if not telling:
        return whole, 1
    if outcome.error is not None or not isinstance(outcome.value, dict):
        return 0, len(telling)
    got = outcome.value
    return sum(1 for k in telling if k in got and close(got[k], expected[k], question.rtol, question.atol)), len(telling)


def _explained(got: Any, expected: Any, case: Case, question: Question) -> str:
    """What differs and the inputs of the case; the answer's value is hostile data, so a failure to
    describe it costs the description only."""
    try:
        what = difference(got, expected, question.rtol, question.atol) or "the answer differs from the expected one"
    except Exception:
        what = "the answer differs from the expected one"
    try:
        return f"{what} (inputs: {describe_inputs(case.inputs)})"
    except Exception:
        return what


def _raised(outcome: Outcome, locate: Locate | None) -> str:
    kind, message = outcome.error  # type: ignore[misc]
    text = f"raised {kind}: {message}" if message else f"raised {kind}"
    if outcome.at is not None and locate is not None:
        place = locate(*outcome.at)
        if place:
            text += f" ({place})"
    return text


def judge(question: Question, cases: Sequence[Case], report: Mapping[str, Any], seed: int,
          locate: Locate | None = None) -> QuestionResult:
    """Score ``question`` from the plain ``report`` that ``probe.run_cases`` produced."""
    total = len(cases)
    if "missing" in report:
        names = ", ".join(f"`{n}`" for n in report["missing"])
        return failure(question, MISSING, f"define {names} at the top level of a code cell", seed, total)
    outcomes = [Outcome.from_plain(o) for o in report.get("outcomes", [])]
    if len(outcomes) != total:
        return failure(question, CRASHED, "the answer stopped before every test had run", seed, total)
    if outcomes and all(o.error and o.error[0] == "NotImplementedError" for o in outcomes):
        return failure(question, NOT_IMPLEMENTED, "not implemented yet", seed, total)
    for outcome in outcomes:
        if outcome.reference:
            name = outcome.reference.rsplit(".", 1)[-1]
            return failure(question, REFERENCE, f"the answer calls the library's own `{name}` "
                           f"({outcome.reference}); write it yourself to earn the points", seed, total)
    passed, units_right, units = 0, 0, 0
    first_problem: str | None = None
    named: dict[str, tuple[str, str]] = {}  # mistake name -> (its feedback, the first case it showed in)
    alike: list[tuple[Case, list]] = []  # cases that several mistakes explain equally well
    for case, outcome in zip(cases, outcomes):
        inputs = case.judged
        expected = question.reference(inputs)
        verdict = None
        if outcome.error is None and question.accept is not None:
            verdict = _accepted(question, outcome.value, inputs)
            right = verdict is None
        else:
            right = outcome.error is None and close(outcome.value, expected, question.rtol, question.atol)
        if question.credit == "output" and question.accept is None:
            got, out_of = _outputs_right(question, outcome, expected)
        else:
            got, out_of = int(right), 1
        units_right, units = units_right + got, units + out_of
        if right:
            passed += 1
            continue
        found = [m for m in question.mistakes if _matches(m, outcome, inputs)]
        if len(found) == 1:
            named.setdefault(found[0].name, (found[0].feedback, case.name))
        elif found:  # these mistakes give the same numbers here: another case may tell them apart
            alike.append((case, found))
        if first_problem is None and not found:
            if outcome.error:
                first_problem = f"{case.name}: {_raised(outcome, locate)}"
            elif verdict is not None:
                first_problem = f"{case.name}: {verdict}"
            else:
                first_problem = f"{case.name}: {_explained(outcome.value, expected, case, question)}"
    if passed == total:
        return QuestionResult(question.id, float(question.points), question.points, PASSED,
                              f"all {total} test{'s' * (total != 1)} passed", seed, passed, total)
    if question.credit == "all":
        score = 0.0
    else:
        score = round(question.points * units_right / units, 2) if units else 0.0
    for case, found in alike:  # where no case told them apart, the first the question lists (the most specific)
        if not any(m.name in named for m in found):
            named.setdefault(found[0].name, (found[0].feedback, case.name))
    parts = [f"{where}: {name}. {feedback}" for name, (feedback, where) in named.items()]
    if first_problem is not None:
        parts.append(first_problem)
    tally = f"{passed} of {total} tests passed"
    return QuestionResult(question.id, score, question.points, FAILED, f"{tally}. " + " Also: ".join(parts),
                          seed, passed, total, tuple(named))
