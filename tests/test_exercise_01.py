"""Exercise 01: right answers pass and every known mistake is named (test_course.py grades the master
and the blank exercise)."""
from __future__ import annotations

import math

import pytest

from backprop_lib.grading import EXERCISES, check, find_question


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


def graph_with(**changed):
    """lesson_graph with the edges ``changed`` (keyed "ac", "ce"...) given by functions of (a, b, c, d)."""
    def answer(a, b):
        values, edges = graph(a, b)
        c, d = values["c"], values["d"]
        for key, local in changed.items():
            edges[(key[0], key[1])] = local(a, b, c, d)
        return values, edges
    return answer


def graph_reversed_edge(a, b):
    values, edges = graph(a, b)
    edges[("c", "a")] = edges.pop(("a", "c"))
    return values, edges


def product(f, df, g, dg, x):
    return df(x) * g(x) + f(x) * dg(x)


def product_by_differences(h):
    def answer(f, df, g, dg, x):
        return central(lambda t: f(t) * g(t), x, h)
    return answer


MISTAKES = [
    ("01.numerical_derivative", "numerical_derivative", one_sided, "one-sided difference"),
    ("01.numerical_derivative", "numerical_derivative", lambda f, x, h=1e-5: (f(x) - f(x - h)) / h,
     "one-sided difference"),
    ("01.numerical_derivative", "numerical_derivative", over_h, "divided by h instead of 2h"),
    ("01.numerical_derivative", "numerical_derivative", lambda f, x, h=1e-5: (f(x + h) - f(x - h)) / 2 * h,
     "2 * h not in parentheses"),
    ("01.numerical_derivative", "numerical_derivative", lambda f, x, h=1e-5: (f(x - h) - f(x + h)) / (2 * h),
     "difference taken the wrong way round"),
    ("01.numerical_derivative", "numerical_derivative", fixed_step, "the step h is ignored"),
    ("01.lesson_graph", "lesson_graph", graph_swapped, "product rule applied to the wrong factor"),
    ("01.lesson_graph", "lesson_graph", graph_with(ce=lambda a, b, c, d: 1.0, de=lambda a, b, c, d: 1.0),
     "the product's edges set to 1, as for a sum"),
    ("01.lesson_graph", "lesson_graph", graph_with(ac=lambda a, b, c, d: b, bc=lambda a, b, c, d: a),
     "the sum's edges set to the other summand, as for a product"),
    ("01.lesson_graph", "lesson_graph", graph_with(ac=lambda a, b, c, d: d, bc=lambda a, b, c, d: c + d,
                                                   bd=lambda a, b, c, d: c + d),
     "derivatives of e on the edges instead of local derivatives"),
    ("01.lesson_graph", "lesson_graph", graph_with(ce=lambda a, b, c, d: 1 / d, de=lambda a, b, c, d: 1 / c),
     "edge derivatives taken upside down"),
    ("01.lesson_graph", "lesson_graph", graph_reversed_edge, "an edge keyed the wrong way round"),
    ("01.lesson_graph", "lesson_graph", graph_string_keys, "a key is missing"),
    ("01.product_rule", "product_rule", lambda f, df, g, dg, x: df(x) * dg(x), "product of the derivatives"),
    ("01.product_rule", "product_rule", lambda f, df, g, dg, x: df(x) * g(x), "only one term of the product rule"),
    ("01.product_rule", "product_rule", lambda f, df, g, dg, x: f(x) * dg(x), "only one term of the product rule"),
    ("01.product_rule", "product_rule", lambda f, df, g, dg, x: df(x) + dg(x), "the derivatives added, as for a sum"),
    ("01.product_rule", "product_rule", lambda f, df, g, dg, x: df(x) * g(x) - f(x) * dg(x),
     "a minus sign between the terms"),
    ("01.product_rule", "product_rule", lambda f, df, g, dg, x: df(g(x)) * dg(x),
     "the chain rule instead of the product rule"),
    ("01.product_rule", "product_rule", product_by_differences(1e-5),
     "a difference quotient instead of the product rule"),
]


@pytest.mark.parametrize(("question", "name", "answer", "mistake"), MISTAKES)
def test_each_known_mistake_is_named(question, name, answer, mistake):
    report = check(question, {name: answer})
    assert report.result.status == "failed"
    assert mistake in report.result.feedback


@pytest.mark.parametrize(("question", "name", "answer", "mistake"), MISTAKES)
def test_on_fresh_inputs_each_known_mistake_is_named_and_no_other(question, name, answer, mistake):
    result = full_run(question, {name: answer}, seed=5)
    assert result.status == "failed"
    assert result.mistakes == (mistake,), result.feedback


def test_every_mistake_has_a_wrong_answer_above():
    declared = {(q.id, m.name) for q in EXERCISES["01"].questions for m in q.mistakes}
    assert declared == {(question, mistake) for question, _, _, mistake in MISTAKES}


@pytest.mark.parametrize("h", [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8])
def test_a_difference_quotient_of_the_product_never_passes_for_the_product_rule(h):
    """The product rule is exact; a central difference of f g, whatever its step, is not, and is named."""
    for seed in range(4):
        result = full_run("01.product_rule", {"product_rule": product_by_differences(h)}, seed)
        assert result.status == "failed" and result.cases_passed <= 1, (seed, result.feedback)
        assert result.mistakes == ("a difference quotient instead of the product rule",), result.feedback


def product_by_logarithms(f, df, g, dg, x):
    """(fg)' = fg (f'/f + g'/g): exact too, but rounded otherwise than f'g + fg'."""
    fx, gx = f(x), g(x)
    if fx == 0 or gx == 0:
        return product(f, df, g, dg, x)
    return fx * gx * (df(x) / fx + dg(x) / gx)


@pytest.mark.parametrize("answer", [lambda f, df, g, dg, x: f(x) * dg(x) + g(x) * df(x), product_by_logarithms])
def test_the_product_rule_written_another_way_still_passes_the_tight_tolerance(answer):
    for seed in range(4):
        assert full_run("01.product_rule", {"product_rule": answer}, seed).status == "passed"


def test_each_question_declares_how_it_shares_its_points():
    assert {q.id: q.credit for q in EXERCISES["01"].questions} == {
        "01.numerical_derivative": "case", "01.lesson_graph": "output", "01.product_rule": "case"}


def test_lesson_graph_with_right_values_and_wrong_edges_earns_the_values():
    result = full_run("01.lesson_graph", {"lesson_graph": graph_swapped}, seed=5)
    assert (result.score, result.cases_passed) == (1.5, 0)


def full_run(question_id, namespace, seed):
    from backprop_lib.grading.judge import judge

    q = find_question(question_id)
    cases = q.draw_cases(seed)
    return judge(q, cases, q.run(namespace, cases), seed)


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
