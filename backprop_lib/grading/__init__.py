"""Grading: questions as code, immediate checks in notebooks, the judge and the sandbox.

Grading has two halves that share nothing:

- the trusted half (the judge): ``spec``, the questions ``exNN`` (cases, references, known
  mistakes), ``judge``, ``runner``, ``sandbox``, ``gradebook``, ``commands``;
- the half that runs beside the student's code: ``plain``, ``probe``, the ``probes`` package and
  ``worker``. The sandbox sees only these (see ``sandbox.sandbox_library``).

This package's own namespace is loaded lazily, so that importing it in the sandbox pulls in
nothing of the trusted half. ``check`` runs a question's visible tests in the student's notebook;
inside the sandbox it only says that the autograder runs every question itself.

A student release of the course (``course.release``) has no trusted half at all: there ``check``
judges the visible tests from stored data (``public``), and ``student_release()`` is true.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import Any

# Set by the sandbox's worker: check() cells are feedback for the student, and the grader runs the
# full questions itself (the trusted half that check() needs is not there anyway).
IN_SANDBOX = False

_LAZY = {
    "EXERCISES": "registry", "QUESTIONS": "registry", "find_exercise": "registry", "find_question": "registry",
    "CheckReport": "checking", "QuestionResult": "judge", "judge": "judge",
    "Case": "spec", "Exercise": "spec", "Mistake": "spec", "Outcome": "spec", "Question": "spec", "close": "spec",
}


class SkippedCheck:
    """What ``check`` returns inside the sandbox."""

    passed = False
    result = None
    message = "skipped: the autograder runs every question itself"

    def __repr__(self) -> str:
        return f"[skipped] check: {self.message[9:]}"


def check(question_id: str, namespace: Any = None) -> Any:
    """Run the visible tests of ``question_id`` on the functions this notebook defines."""
    if IN_SANDBOX:
        return SkippedCheck()
    from .checking import check as run_check

    return run_check(question_id, namespace)


def student_release() -> bool:
    """Whether this copy of the course is a student release: one without the trusted half of grading."""
    return importlib.util.find_spec(f"{__name__}.registry") is None


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        if _LAZY[name] == "registry" and student_release():
            raise AttributeError(f"{name} is not in a student release of the course")
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Case", "CheckReport", "EXERCISES", "Exercise", "Mistake", "Outcome", "QUESTIONS", "Question",
           "QuestionResult", "check", "close", "find_exercise", "find_question", "judge", "student_release"]
