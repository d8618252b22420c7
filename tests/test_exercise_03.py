"""Exercise 03: right answers pass and every known mistake is named (test_course.py grades the master
and the blank exercise)."""
from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest

from backprop_lib import gates, gradcheck
from backprop_lib.grading import EXERCISES, check, find_question
from backprop_lib.grading.ex03 import CIRCUIT_WRONG, GRADIENT_WRONG, MAX_WRONG, MUL_WRONG, NEURON_WRONG, REL_WRONG
from backprop_lib.grading.judge import judge
from backprop_lib.grading.plain import dumps
from backprop_lib.grading.protocol import loads


# --- right answers, written as a student would -----------------------------------------------------------


def neuron(w, x, local=lambda L, s3: L * (1 - L), mul=lambda other, own, g: other * g, sign=1.0):
    """The flat neuron; ``local`` is the sigmoid's local derivative, ``mul`` what a mul gate sends an input."""
    w0, w1, w2 = w
    x0, x1 = x
    s3 = w0 * x0 + w1 * x1 + w2
    L = 1 / (1 + math.exp(-s3))
    g = sign * local(L, s3)
    return L, [mul(x0, w0, g), mul(x1, w1, g), g], [mul(w0, x0, g), mul(w1, x1, g)]


def circuit(x, y, z, swap=True, add_share=1.0, mul_local=True, sign=1.0):
    q = x + y
    grad_q, grad_z = (z, q) if swap else (q, z)
    if not mul_local:
        grad_q, grad_z = 1.0, 1.0
    return q * z, sign * add_share * grad_q, sign * add_share * grad_q, sign * grad_z


def mul(dout, x, y):
    return y * dout, x * dout


def max_gate(dout, x, y):
    x_wins = np.greater_equal(x, y)
    return np.where(x_wins, dout, 0.0), np.where(x_wins, 0.0, dout)


def central(f, x, h=1e-5, back=1.0):
    """The central difference; with ``back=0`` the mistake of taking the second point at x itself."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - back * h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def relative(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-300)))


RIGHT = {
    "03.sigmoid_neuron": ("sigmoid_neuron", neuron),
    "03.circuit_backward": ("circuit_backward", circuit),
    "03.mul_backward": ("mul_backward", mul),
    "03.max_backward": ("max_backward", max_gate),
    "03.numerical_gradient": ("numerical_gradient", central),
    "03.rel_error": ("rel_error", relative),
}


# --- wrong answers, one per known mistake ----------------------------------------------------------------


def neuron_dw_dx_swapped(w, x):
    L, dw, dx = neuron(w, x)
    return L, dx, dw


def neuron_dw_without_x(w, x):
    L, dw, dx = neuron(w, x)
    return L, [dw[2], dw[2], dw[2]], dx


def neuron_dx_without_w(w, x):
    L, dw, dx = neuron(w, x)
    return L, dw, [dw[2], dw[2]]


def neuron_without_bias(w, x):
    L, dw, dx = neuron(w, x)
    return L, dw[:2], dx


def circuit_add_gate_passes_one(x, y, z):
    f, _, _, dz = circuit(x, y, z)
    return f, 1.0, 1.0, dz


def max_ties_to_y(dout, x, y):
    x_wins = np.greater(x, y)
    return np.where(x_wins, dout, 0.0), np.where(x_wins, 0.0, dout)


def max_ties_to_both(dout, x, y):
    return np.where(np.greater_equal(x, y), dout, 0.0), np.where(np.greater_equal(y, x), dout, 0.0)


def max_if_else(dout, x, y):
    return (dout, 0.0) if x >= y else (0.0, dout)


def max_to_loser(dout, x, y):
    x_wins = np.greater_equal(x, y)
    return np.where(x_wins, 0.0, dout), np.where(x_wins, dout, 0.0)


def one_sided(f, x, h=1e-5):
    grad = np.zeros_like(x)
    base = f(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        grad[i] = (f(x) - base) / h
        x[i] = old
    return grad


def all_entries_at_once(f, x, h=1e-5):
    return np.full_like(x, (f(x + h) - f(x - h)) / (2 * h))


def never_restores(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        grad[i] = (plus - f(x)) / (2 * h)
    return grad


def over_a(a, b):
    with np.errstate(all="ignore"):  # 0/0 where both are zero
        return float(np.max(np.abs(np.subtract(a, b)) / np.abs(a)))


def over_one(a, b, which):
    return float(np.max(np.abs(np.subtract(a, b)) / np.maximum(np.abs(which), 1e-300)))


def signed_difference(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max((a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-300)))


def mean_error(a, b):
    return float(np.mean(np.abs(np.subtract(a, b)) / np.maximum(np.abs(a) + np.abs(b), 1e-300)))


def without_tiny(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore"):
        return float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b))))


WRONG = [
    ("03.sigmoid_neuron", partial(neuron, local=lambda L, s3: s3 * (1 - s3)), "sigmoid derivative taken on the input"),
    ("03.sigmoid_neuron", partial(neuron, local=lambda L, s3: 1.0), "the sigmoid's local derivative is missing"),
    ("03.sigmoid_neuron", partial(neuron, mul=lambda other, own, g: own * g), "mul gate not swapped"),
    ("03.sigmoid_neuron", partial(neuron, mul=lambda other, own, g: g), "the mul gates' local derivative is missing"),
    ("03.sigmoid_neuron", partial(neuron, sign=-1.0), "sign error"),
    ("03.sigmoid_neuron", neuron_dw_without_x, "the weights' gradients without x"),
    ("03.sigmoid_neuron", neuron_dx_without_w, "the inputs' gradients without w"),
    ("03.sigmoid_neuron", neuron_without_bias, "the bias's gradient left out"),
    ("03.sigmoid_neuron", neuron_dw_dx_swapped, "dw and dx returned in the wrong order"),
    ("03.circuit_backward", partial(circuit, swap=False), "mul gate not swapped"),
    ("03.circuit_backward", partial(circuit, add_share=0.5), "add gate splits the gradient"),
    ("03.circuit_backward", partial(circuit, mul_local=False), "the mul gate's local derivative is missing"),
    ("03.circuit_backward", circuit_add_gate_passes_one, "the add gate's upstream gradient is missing"),
    ("03.circuit_backward", partial(circuit, sign=-1.0), "sign error"),
    ("03.mul_backward", lambda dout, x, y: (x * dout, y * dout), "mul gate not swapped"),
    ("03.mul_backward", lambda dout, x, y: (dout, dout), "the local derivative is missing"),
    ("03.mul_backward", lambda dout, x, y: (y, x), "the upstream gradient is missing"),
    ("03.mul_backward", lambda dout, x, y: (-y * dout, -x * dout), "sign error"),
    ("03.max_backward", lambda dout, x, y: (dout, dout), "max gate routes to both inputs"),
    ("03.max_backward", max_to_loser, "max gate routes to the loser"),
    ("03.max_backward", lambda dout, x, y: max_gate(np.ones_like(dout), x, y), "the upstream gradient is missing"),
    ("03.max_backward", max_ties_to_y, "a tie given to y"),
    ("03.max_backward", max_ties_to_both, "a tie given to both inputs"),
    ("03.max_backward", max_if_else, "an `if` on a whole array"),
    ("03.numerical_gradient", one_sided, "one-sided difference"),
    ("03.numerical_gradient", lambda f, x, h=1e-5: 2 * central(f, x, h), "divided by h instead of 2h"),
    ("03.numerical_gradient", lambda f, x, h=1e-5: central(f, x, h, back=0.0), "the second point taken at x"),
    ("03.numerical_gradient", all_entries_at_once, "every entry nudged at once"),
    ("03.numerical_gradient", lambda f, x, h=1e-5: central(f, x), "the step h is ignored"),
    ("03.numerical_gradient", lambda f, x, h=1e-5: central(f, x, h).reshape(-1), "the gradient has the wrong shape"),
    ("03.numerical_gradient", never_restores, "the input x was changed"),
    ("03.rel_error", lambda a, b: float(np.max(np.abs(np.subtract(a, b)))), "absolute error"),
    ("03.rel_error", lambda a, b: over_one(a, b, a), "divided by |a| only"),
    ("03.rel_error", lambda a, b: over_one(a, b, b), "divided by |b| only"),
    ("03.rel_error", signed_difference, "the difference without its absolute value"),
    ("03.rel_error", mean_error, "the mean instead of the largest error"),
    ("03.rel_error", without_tiny, "0/0 where both values are zero"),
]


def grade(question_id, answer, seed):
    q = find_question(question_id)
    cases = q.draw_cases(seed)
    return judge(q, cases, q.run({RIGHT[question_id][0]: answer}, cases), seed)


@pytest.mark.parametrize(("question", "answer", "mistake"), WRONG, ids=[f"{q}: {m}" for q, _, m in WRONG])
def test_each_known_mistake_is_named_alone(question, answer, mistake):
    report = check(question, {RIGHT[question][0]: answer})
    assert report.result.status == "failed"
    assert report.result.mistakes == (mistake,), report.result.feedback
    assert f": {mistake}." in report.result.feedback
    for seed in range(3):  # and by the autograder, on fresh inputs
        result = grade(question, answer, seed)
        assert result.status == "failed" and result.mistakes == (mistake,), result.feedback


def test_an_answer_with_two_mistakes_hears_of_both():
    for seed in range(3):  # |a| alone where a is not zero, 0/0 where both are
        assert grade("03.rel_error", over_a, seed).mistakes == ("divided by |a| only", "0/0 where both values are zero")


def test_every_mistake_has_a_wrong_answer_above_and_its_own_name():
    for q in EXERCISES["03"].questions:
        names = [m.name for m in q.mistakes]
        assert len(set(names)) == len(names), q.id
    declared = {(q.id, m.name) for q in EXERCISES["03"].questions for m in q.mistakes}
    assert declared == {(q, m) for q, _, m in WRONG}


def test_the_credit_of_each_question():
    assert {q.id: q.credit for q in EXERCISES["03"].questions} == {
        "03.sigmoid_neuron": "output", "03.circuit_backward": "output", "03.mul_backward": "output",
        "03.max_backward": "output", "03.numerical_gradient": "output", "03.rel_error": "case"}


def changes_x_after(f, x, h=1e-5):
    grad = central(f, x, h)
    x *= 1.5
    return grad


@pytest.mark.parametrize(("question", "answer", "score"), [
    ("03.sigmoid_neuron", neuron_dx_without_w, 2.67),  # L and dw right, dx wrong in every case: 4 x 2 of 3
    ("03.circuit_backward", circuit_add_gate_passes_one, 1.0),  # f and dz right, dx and dy wrong: 2 x 2 of 4
    ("03.mul_backward", lambda dout, x, y: (y * dout, -x * dout), 1.0),  # dx right, dy wrong: 2 x 1 of 2
    ("03.max_backward", max_ties_to_y, 1.5),  # only the tie case wrong; outputs that should be 0 do not count
    ("03.numerical_gradient", changes_x_after, 1.5),  # every gradient right, every x changed: 3 x 1 of 2
    ("03.rel_error", without_tiny, 1.0),  # 0/0 in the two cases with zeros: 2 x 2 of 4
])
def test_a_partly_right_answer_earns_its_exact_share(question, answer, score):
    for seed in range(2):
        result = grade(question, answer, seed)
        assert (result.status, result.score) == ("failed", score)


@pytest.mark.parametrize("question", list(RIGHT))
def test_a_right_answer_passes_on_fresh_inputs_and_matches_no_mistake(question):
    from backprop_lib.grading.spec import Outcome

    q = find_question(question)
    name, answer = RIGHT[question]
    for seed in range(6):
        cases = q.draw_cases(seed)
        report = q.run({name: answer}, cases)
        assert judge(q, cases, loads(dumps(report)), seed).status == "passed"
        for case, plain in zip(cases, report["outcomes"]):
            outcome = Outcome.from_plain(loads(dumps(plain)))
            assert not [m.name for m in q.mistakes if m.matches(outcome, case.inputs)], case.name


WRONG_ANSWERS = {"03.sigmoid_neuron": NEURON_WRONG, "03.circuit_backward": CIRCUIT_WRONG, "03.mul_backward": MUL_WRONG,
                 "03.max_backward": MAX_WRONG, "03.numerical_gradient": GRADIENT_WRONG, "03.rel_error": REL_WRONG}


@pytest.mark.parametrize("question", list(WRONG_ANSWERS))
def test_every_draw_tells_each_wrong_answer_from_the_right_one(question):
    from backprop_lib.grading.spec import close

    q = find_question(question)
    for seed in range(20):
        cases = q.draw_cases(seed)
        for mistake, (_, wrong) in WRONG_ANSWERS[question].items():
            with np.errstate(all="ignore"):
                told_apart = [not close(wrong(c.inputs), q.reference(c.inputs), q.rtol, q.atol) for c in cases]
            assert any(told_apart), (seed, mistake)


def test_the_lessons_numbers_are_a_visible_case():
    cases = find_question("03.sigmoid_neuron").visible_cases()
    value = find_question("03.sigmoid_neuron").reference(cases[0].inputs)
    assert round(value["L"], 3) == 0.731
    assert [round(d, 3) for d in value["dw"]] == [-0.197, -0.393, 0.197]
    assert [round(d, 3) for d in value["dx"]] == [0.393, -0.590]
    circuit_case = find_question("03.circuit_backward").visible_cases()[0]
    assert find_question("03.circuit_backward").reference(circuit_case.inputs) == {
        "f": -12.0, "dx": -4.0, "dy": -4.0, "dz": 3.0}


def test_calling_the_library_instead_earns_nothing():
    from backprop_lib.graph import Expression

    def by_graph(w, x):
        expr = Expression({"s0": ("*", "w0", "x0"), "s1": ("*", "w1", "x1"), "s2": ("+", "s0", "s1"),
                           "s3": ("+", "s2", "w2"), "L": ("sigmoid", "s3")})
        graph = expr.evaluate(w0=w[0], w1=w[1], w2=w[2], x0=x[0], x1=x[1])
        grads = graph.reverse_mode("L")
        return graph.values["L"], [grads["w0"], grads["w1"], grads["w2"]], [grads["x0"], grads["x1"]]

    def circuit_by_gates(x, y, z):
        q, add_cache = gates.add_forward(x, y)
        f, mul_cache = gates.mul_forward(q, z)
        grad_q, grad_z = gates.mul_backward(1.0, mul_cache)
        return (f, *gates.add_backward(grad_q, add_cache), grad_z)

    answers = [
        ("03.sigmoid_neuron", gates.sigmoid_neuron, "sigmoid_neuron"),
        ("03.sigmoid_neuron", by_graph, "reverse_mode"),
        ("03.circuit_backward", circuit_by_gates, "mul_backward"),
        ("03.mul_backward", lambda dout, x, y: gates.mul_backward(dout, (x, y)), "mul_backward"),
        ("03.max_backward", lambda dout, x, y: gates.max_backward(dout, gates.max_forward(x, y)[1]), "max_backward"),
        ("03.numerical_gradient", gradcheck.numerical_gradient, "numerical_gradient"),
        ("03.rel_error", gradcheck.rel_error, "rel_error"),
    ]
    for question, answer, library in answers:
        report = check(question, {RIGHT[question][0]: answer})
        assert report.result.status == "uses reference", question
        assert library in report.result.feedback


def test_the_visible_cases_are_fixed_and_the_graded_ones_fresh():
    for q in EXERCISES["03"].questions:
        assert 2 <= len(q.visible_cases()) <= 3
        assert dumps([c.inputs for c in q.visible_cases()]) == dumps([c.inputs for c in q.visible_cases()])
        assert dumps([c.inputs for c in q.draw_cases(1)]) != dumps([c.inputs for c in q.draw_cases(2)])


def test_a_hard_coded_answer_fails_on_fresh_inputs():
    q = find_question("03.sigmoid_neuron")
    known = {tuple(c.inputs["w"] + c.inputs["x"]): neuron(c.inputs["w"], c.inputs["x"]) for c in q.visible_cases()}
    answer = lambda w, x: known.get(tuple(list(w) + list(x)), (0.5, [0.0] * 3, [0.0] * 2))
    assert check("03.sigmoid_neuron", {"sigmoid_neuron": answer}).passed
    assert grade("03.sigmoid_neuron", answer, 99).status == "failed"


@pytest.mark.parametrize("question", list(RIGHT))
def test_the_probe_returns_plain_data(question):
    q = find_question(question)
    name, answer = RIGHT[question]
    for case in q.visible_cases():
        value = q.probe({name: answer}, case.inputs)
        assert loads(dumps(value)) == value  # numbers, lists and dicts only: nothing is lost on the way


def test_exercise_03_starts_with_the_fixed_question():
    exercise = EXERCISES["03"]
    assert exercise.notebook == "03_flat_backprop"
    assert exercise.questions[0].id == "03.sigmoid_neuron"
    assert len(exercise.questions) >= 4
    assert sum(len(q.mistakes) for q in exercise.questions) >= 2
