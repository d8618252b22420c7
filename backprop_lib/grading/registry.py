"""Every exercise and question of the course, found in the modules ``exNN`` of this package."""
from __future__ import annotations

import importlib
import pkgutil

from . import __path__ as _package_path
from .probes import PROBES
from .spec import Exercise, Question

EXERCISES: dict[str, Exercise] = {}
QUESTIONS: dict[str, Question] = {}

for _info in sorted(pkgutil.iter_modules(_package_path), key=lambda m: m.name):
    if _info.name.startswith("ex") and _info.name[2:].isdigit():
        _exercise = importlib.import_module(f"{__package__}.{_info.name}").EXERCISE
        EXERCISES[_exercise.number] = _exercise
        for _q in _exercise.questions:
            if _q.id in QUESTIONS:
                raise RuntimeError(f"question id {_q.id} is defined twice")
            if PROBES.get(_q.id) is not _q.probe:
                raise RuntimeError(f"question {_q.id} must use the probe registered for it in probes/")
            QUESTIONS[_q.id] = _q


def find_question(question_id: str) -> Question:
    if question_id not in QUESTIONS:
        known = ", ".join(sorted(QUESTIONS))
        raise KeyError(f"no question {question_id!r}; the questions are: {known}")
    return QUESTIONS[question_id]


def find_exercise(number_or_notebook: str) -> Exercise:
    """An exercise by number (``"02"``) or by notebook name (``"02_paths_and_modes"``)."""
    key = number_or_notebook[:2]
    if key not in EXERCISES or number_or_notebook not in (key, EXERCISES[key].notebook):
        known = ", ".join(e.notebook for e in EXERCISES.values())
        raise KeyError(f"no exercise {number_or_notebook!r}; the exercises are: {known}")
    return EXERCISES[key]
