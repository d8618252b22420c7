"""``check("question id")``: immediate feedback inside a notebook.

It runs the visible cases of one question on the notebook's own functions (fixed inputs, so the
output is the same every time) and shows the result as HTML in JupyterLab, as text elsewhere.
It never raises: a stub says "not implemented yet", so Run All works on a fresh exercise.
The autograder runs the full question, with fresh inputs, in a separate process.

In the full course the question is the trusted one (``registry``); in a student release, which
has no trusted half, it is the same question made from stored data (``public``), judged alike.
"""
from __future__ import annotations

import html
import linecache
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .judge import NOT_IMPLEMENTED, PASSED, QuestionResult, judge
from .protocol import ProtocolError, decode_report
from .spec import VISIBLE_SEED, Question

_COLOURS = {PASSED: "#2f855a", NOT_IMPLEMENTED: "#718096"}


@dataclass(frozen=True)
class CheckReport:
    result: QuestionResult | None
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.result is not None and self.result.status == PASSED

    def _line(self) -> tuple[str, str, str]:
        if self.result is None:
            return "error", "check", self.message
        r = self.result
        verdict = "ok" if r.status == PASSED else r.status
        return verdict, r.id, r.feedback

    def __repr__(self) -> str:
        verdict, qid, feedback = self._line()
        return f"[{verdict}] {qid}: {feedback}"

    def _repr_html_(self) -> str:
        verdict, qid, feedback = self._line()
        status = self.result.status if self.result else "error"
        colour = _COLOURS.get(status, "#c53030")
        return (f'<div style="border-left:4px solid {colour};padding:2px 8px">'
                f'<b style="color:{colour}">{html.escape(verdict)}</b> '
                f"<code>{html.escape(qid)}</code>: {html.escape(feedback)}</div>")


def find_question(question_id: str) -> Question:
    """The question ``check`` runs: the course's own, or in a student release the one made from data."""
    from . import student_release

    if student_release():
        from .public import find_question as find
    else:
        from .registry import find_question as find
    return find(question_id)


def check(question_id: str, namespace: Mapping[str, Any] | None = None) -> CheckReport:
    """Run the visible tests of ``question_id`` on the functions this notebook defines."""
    from .public import DataError

    try:
        question = find_question(question_id)
    except KeyError as exc:
        return CheckReport(None, str(exc.args[0]))
    except DataError as exc:
        return CheckReport(None, f"{exc}; reinstall the course")
    return check_question(question, namespace)


def check_question(question: Question, namespace: Mapping[str, Any] | None = None) -> CheckReport:
    """``check`` of one ``question``, on ``namespace`` (by default the notebook's)."""
    ns = namespace if namespace is not None else vars(sys.modules["__main__"])
    cases = question.visible_cases()
    # run_cases returns encoded plain data; decode it as the autograder does, so both judge the same values
    try:
        report = decode_report(question.run(ns, cases), len(cases))
    except ProtocolError as exc:
        return CheckReport(None, f"the answer's results cannot be graded: {exc}")
    return CheckReport(judge(question, cases, report, VISIBLE_SEED, _locate))


def _locate(filename: str, line: int, function: str) -> str | None:
    """Where in this notebook a student's function raised: the function, the line and its code."""
    code = linecache.getline(filename, line).strip()
    inside = f"in `{function}`, " if function != "<module>" else ""
    return f"{inside}line {line} of its cell" + (f": `{code[:120]}`" if code else "")
