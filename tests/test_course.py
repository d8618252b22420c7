"""The course as a whole: every exercise is consistent with its master, and nothing is stale."""
from __future__ import annotations

import pytest

from backprop_lib.course.build import build, numbered
from backprop_lib.grading import EXERCISES, QUESTIONS
from backprop_lib.grading.runner import grade_notebook
from notebook_text import ROOT

NUMBERS = sorted(EXERCISES)


def test_every_committed_notebook_is_what_the_build_makes():
    result = build(ROOT, check=True)
    assert result.errors == []
    assert result.stale == [], "run: backprop-course build"
    masters = [p.name for p in numbered(ROOT, "solutions")]
    assert [p.name for p in numbered(ROOT, "exercises")] == masters
    assert sorted(name[:2] for name in masters) == NUMBERS


MAX_SCORES = {"01": 8, "02": 12, "03": 15, "04": 15, "05": 13, "06": 17, "07": 16, "08": 14}


@pytest.fixture(scope="module")
def sandbox():
    """One sandbox for the module's notebooks, as a batch keeps one for its submissions."""
    from backprop_lib.grading.sandbox import Sandbox

    with Sandbox() as started:
        yield started


@pytest.mark.parametrize("number", NUMBERS)
def test_the_master_earns_full_marks_and_the_exercise_zero(number, sandbox):
    """With fresh inputs each run (the seed is in the message of a failure)."""
    exercise = EXERCISES[number]
    solved = grade_notebook(ROOT / "solutions" / f"{exercise.notebook}.ipynb", sandbox=sandbox)
    seed = f"seed {solved.seed}"
    assert solved.cell_errors == [], seed
    assert [(q.id, q.status) for q in solved.questions] == [(q.id, "passed") for q in exercise.questions], (
        seed, [q.feedback for q in solved.questions if q.status != "passed"])
    assert solved.score == solved.max_score == exercise.max_score == MAX_SCORES[number], seed
    blank = grade_notebook(ROOT / "exercises" / f"{exercise.notebook}.ipynb", sandbox=sandbox)
    assert blank.cell_errors == [], f"seed {blank.seed}"
    assert [(q.id, q.score, q.status) for q in blank.questions] == [
        (q.id, 0, "not implemented") for q in exercise.questions], f"seed {blank.seed}"


@pytest.mark.parametrize("number", NUMBERS)
def test_each_exercise_has_three_questions_and_two_known_mistakes(number):
    exercise = EXERCISES[number]
    assert len(exercise.questions) >= 3
    assert sum(len(q.mistakes) for q in exercise.questions) >= 2
    assert all(q.points > 0 and q.id.startswith(f"{number}.") for q in exercise.questions)


def test_the_fixed_questions_of_the_course_plan_exist():
    fixed = {
        "01": ["numerical_derivative"],
        "02": ["count_paths", "sum_over_paths", "forward_mode", "reverse_mode"],
        "03": ["sigmoid_neuron"],
        "04": ["Value", "topological_order"],
        "05": ["relu_vjp", "matmul_vjp", "unbroadcast"],
        "08": ["conv2d_backward", "max_pool_backward", "layer_norm_backward", "attention_backward"],
    }
    for number, names in fixed.items():
        if number not in EXERCISES:
            continue
        symbols = {s for q in EXERCISES[number].questions for s in q.symbols}
        assert set(names) <= symbols, number


def test_eight_exercises_and_at_least_twenty_five_graded_questions():
    assert NUMBERS == [f"{n:02d}" for n in range(1, 9)]
    assert [p.name[:2] for p in numbered(ROOT, "lessons")] == NUMBERS
    assert len(QUESTIONS) >= 25
