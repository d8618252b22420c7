"""Every named mistake tells itself apart: from the right answer, and from every other mistake of its
question, on the cases the grader draws. A wrong hint sends a student to fix code that is right, and
the grader names every mistake it recognises, so no two may recognise the same wrong answer."""
from __future__ import annotations

import numpy as np
import pytest

from backprop_lib.grading import QUESTIONS
from backprop_lib.grading.judge import _matches
from backprop_lib.grading.spec import Outcome, close

SEEDS = range(3)
WITH_WRONG = sorted(qid for qid, q in QUESTIONS.items() if any(m.wrong is not None for m in q.mistakes))


def _finite(value) -> bool:
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    try:
        return bool(np.all(np.isfinite(np.asarray(value, dtype=float))))
    except (TypeError, ValueError):
        return True


def _wrong_outcome(mistake, inputs):
    """The outcome of the answer that makes ``mistake`` on ``inputs``; None where it raises or gives
    nan or inf (values a detector cannot compare: such answers are told apart by other cases)."""
    try:
        value = mistake.wrong(inputs)
    except (ArithmeticError, ValueError, RecursionError):
        return None
    return Outcome(value=value) if _finite(value) else None


@pytest.mark.parametrize("qid", WITH_WRONG)
def test_each_mistake_differs_from_the_right_answer_and_some_case_names_it_alone(qid):
    """The judge names a mistake from a case that it alone explains (where two give the same numbers
    it waits for a case that tells them apart): each mistake needs such a case among those drawn."""
    question = QUESTIONS[qid]
    problems = []
    for mistake in (m for m in question.mistakes if m.wrong is not None):
        for seed in SEEDS:
            alone, wrong, shared = False, False, set()
            for case in question.draw_cases(seed):
                inputs = case.judged
                outcome = _wrong_outcome(mistake, inputs)
                if outcome is None:
                    continue
                right = (question.accept(outcome.value, inputs) is None if question.accept is not None
                         else close(outcome.value, question.reference(inputs), question.rtol, question.atol))
                if right:
                    continue
                wrong = True
                found = [m.name for m in question.mistakes if _matches(m, outcome, inputs)]
                if found == [mistake.name]:
                    alone = True
                shared.update(name for name in found if name != mistake.name)
                if mistake.name not in found:
                    problems.append(f"seed {seed}, {case.name}: '{mistake.name}' does not recognise its own answer")
            if not wrong:
                problems.append(f"seed {seed}: '{mistake.name}' gives the right answer on every case")
            elif not alone:
                problems.append(f"seed {seed}: no case tells '{mistake.name}' apart from {sorted(shared)}")
    assert not problems, "\n".join(dict.fromkeys(problems))
