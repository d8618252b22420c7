"""Exercise 01: the master earns full marks, the exercise zero, and every known mistake is named."""
from __future__ import annotations

import math

import pytest

from backprop_lib.grading import EXERCISES, check, find_question
from backprop_lib.grading.runner import grade_notebook
from notebook_text import find_notebook


def test_the_master_earns_full_marks_and_the_exercise_zero():
    solved = grade_notebook(find_notebook("solutions", "01"), seed=11)
    assert (solved.score, solved.max_score) == (8, 8)
    assert solved.cell_errors == []
    blank = grade_notebook(find_notebook("exercises", "01"), seed=11)
    assert blank.score == 0
    assert {q.status for q in blank.questions} == {"not implemented"}


def central(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)


def one_sided(f, x, h=1e-5):
    return (f(x + h) - f(x)) / h


def over_h(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / h


def fixed_step(f, x, h=1e-5):
    return central(f, x)


def graph(a, b):
    c, d = a + b, b + 1
    return {"a": a, "b": b, "c": c, "d": d, "e": c * d}, {
        ("a", "c"): 1.0, ("b", "c"): 1.0, ("b", "d"): 1.0, ("c", "e"): d, ("d", "e"): c}


def graph_swapped(a, b):
    values, edges = graph(a, b)
    edges[("c", "e")], edges[("d", "e")] = edges[("d", "e")], edges[("c", "e")]
    return values, edges


def graph_string_keys(a, b):
    values, edges = graph(a, b)
    return values, {f"{u}{v}": d for (u, v), d in edges.items()}


def product(f, df, g, dg, x):
    return df(x) * g(x) + f(x) * dg(x)


@pytest.mark.parametrize(("question", "name", "answer", "mistake"), [
    ("01.numerical_derivative", "numerical_derivative", one_sided, "one-sided difference"),
    ("01.numerical_derivative", "numerical_derivative", over_h, "divided by h instead of 2h"),
    ("01.numerical_derivative", "numerical_derivative", fixed_step, "the step h is ignored"),
    ("01.lesson_graph", "lesson_graph", graph_swapped, "product rule applied to the wrong factor"),
    ("01.lesson_graph", "lesson_graph", graph_string_keys, "a key is missing"),
    ("01.product_rule", "product_rule", lambda f, df, g, dg, x: df(x) * dg(x), "product of the derivatives"),
    ("01.product_rule", "product_rule", lambda f, df, g, dg, x: df(x) * g(x), "only one term of the product rule"),
])
def test_each_known_mistake_is_named(question, name, answer, mistake):
    report = check(question, {name: answer})
    assert report.result.status == "failed"
    assert mistake in report.result.feedback


@pytest.mark.parametrize(("question", "name", "answer"), [
    ("01.numerical_derivative", "numerical_derivative", central),
    ("01.lesson_graph", "lesson_graph", graph),
    ("01.product_rule", "product_rule", product),
])
def test_a_right_answer_passes_on_fresh_inputs(question, name, answer):
    from backprop_lib.grading.judge import judge

    q = find_question(question)
    for seed in range(5):
        cases = q.draw_cases(seed)
        assert judge(q, cases, q.run({name: answer}, cases), seed).status == "passed"


def test_calling_the_library_instead_earns_nothing():
    from backprop_lib.gradcheck import numerical_gradient

    report = check("01.numerical_derivative", {"numerical_derivative": lambda f, x, h=1e-5: numerical_gradient(f, x, h)})
    assert report.result.status == "uses reference"
    assert "numerical_gradient" in report.result.feedback


def test_a_hard_coded_answer_fails_on_fresh_inputs():
    q = find_question("01.numerical_derivative")
    answers = {c.inputs["x"]: central(math.sin, c.inputs["x"]) for c in q.visible_cases()}
    from backprop_lib.grading.judge import judge

    cases = q.draw_cases(99)
    result = judge(q, cases, q.run({"numerical_derivative": lambda f, x, h=1e-5: answers.get(x, 0.0)}, cases), 99)
    assert result.status == "failed"


def test_exercise_01_has_three_questions_and_the_fixed_signature():
    exercise = EXERCISES["01"]
    assert [q.id for q in exercise.questions][0] == "01.numerical_derivative"
    assert len(exercise.questions) >= 3
