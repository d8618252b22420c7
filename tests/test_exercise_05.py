"""Exercise 05: right answers pass and every known mistake is named (test_course.py grades the master
and the blank exercise)."""
from __future__ import annotations

import numpy as np
import pytest

from backprop_lib import Context, Tensor
from backprop_lib.grading import EXERCISES, check, find_question
from backprop_lib.grading.judge import judge
from backprop_lib.grading.plain import to_plain
from backprop_lib.grading.protocol import plain_value as from_plain
from backprop_lib.grading.spec import Outcome, close
from backprop_lib.tensor import ReLU
from backprop_lib.tensor import unbroadcast as library_unbroadcast


# --- right answers ---------------------------------------------------------------------------------------


def relu_vjp(x, grad_y):
    return np.where(x > 0, grad_y, 0.0)


def matmul_vjp(X, W, grad_Y):
    return grad_Y @ W.T, X.T @ grad_Y


def unbroadcast(grad, shape):
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    return grad.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def sigma(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_vjp(x, grad_y):
    return grad_y * sigma(x) * (1 - sigma(x))


def linear_vjp(x, W, b, grad_out):
    return grad_out @ W.T, x.T @ grad_out, grad_out.sum(axis=0)


RIGHT = {"05.relu_vjp": relu_vjp, "05.matmul_vjp": matmul_vjp, "05.unbroadcast": unbroadcast,
         "05.sigmoid_vjp": sigmoid_vjp, "05.linear_vjp": linear_vjp}


def namespace(question_id, answer):
    return {question_id.split(".", 1)[1]: answer}


# --- wrong answers, one per known mistake ----------------------------------------------------------------


def unbroadcast_sliced(grad, shape):
    while grad.ndim > len(shape):
        grad = grad[0]
    for axis, n in enumerate(shape):
        if n == 1:
            grad = np.take(grad, [0], axis=axis)
    return grad


def unbroadcast_averaged(grad, shape):
    grad = grad.mean(axis=tuple(range(grad.ndim - len(shape))))
    return grad.mean(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def unbroadcast_from_the_left(grad, shape):
    grad = grad.sum(axis=tuple(range(len(shape), grad.ndim)))
    return grad.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def unbroadcast_without_keepdims(grad, shape):
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    return grad.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1))


def unbroadcast_leading_only(grad, shape):
    return grad.sum(axis=tuple(range(grad.ndim - len(shape))))


def unbroadcast_leading_kept(grad, shape):
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))), keepdims=True)
    extra = grad.ndim - len(shape)
    return grad.sum(axis=tuple(extra + i for i, n in enumerate(shape) if n == 1), keepdims=True)


def relu_in_place(x, grad_y):
    grad_y[x <= 0] = 0.0
    return grad_y


def unbroadcast_in_place(grad, shape):
    """Adds the broadcast copies into grad's own first entries, and returns a view of them."""
    while grad.ndim > len(shape):
        for k in range(1, len(grad)):
            grad[0] += grad[k]
        grad = grad[0]
    for axis, n in enumerate(shape):
        if n == 1:
            grad = np.moveaxis(grad, axis, 0)
            for k in range(1, len(grad)):
                grad[0] += grad[k]
            grad = np.moveaxis(grad[:1], 0, axis)
    return grad


def sigmoid_in_place(x, grad_y):
    grad_y *= sigma(x) * (1 - sigma(x))
    return grad_y


IN_PLACE = "an argument changed in place"
WRONG = [
    ("05.relu_vjp", lambda x, g: np.where(g > 0, g, 0.0), "mask taken on the upstream gradient"),
    ("05.relu_vjp", lambda x, g: np.where(x >= 0, g, 0.0), "relu'(0) taken as 1"),
    ("05.relu_vjp", lambda x, g: np.where(x > 0, 0.0, g), "mask inverted"),
    ("05.relu_vjp", lambda x, g: (x > 0) * 1.0, "the upstream gradient is not used"),
    ("05.relu_vjp", lambda x, g: g * np.maximum(x, 0), "multiplied by relu(x) instead of its derivative"),
    ("05.relu_vjp", lambda x, g: np.maximum(x, 0), "the forward value relu(x) was returned"),
    ("05.relu_vjp", relu_in_place, IN_PLACE),
    ("05.matmul_vjp", lambda X, W, g: (g @ W, X.T @ g), "grad_X without the transpose of W"),
    ("05.matmul_vjp", lambda X, W, g: (g @ W.T, X @ g), "grad_W without the transpose of X"),
    ("05.matmul_vjp", lambda X, W, g: (g @ W.T, g.T @ X), "grad_W transposed"),
    ("05.matmul_vjp", lambda X, W, g: (g @ W.T, X.T @ g / len(X)), "grad_W divided by N"),
    ("05.matmul_vjp", lambda X, W, g: (W.T @ g, X.T @ g), "the factors of a product in the wrong order"),
    ("05.matmul_vjp", lambda X, W, g: (g @ W.T, g @ X.T), "the factors of a product in the wrong order"),
    ("05.matmul_vjp", lambda X, W, g: (X.T @ g, g @ W.T), "grad_X and grad_W swapped"),
    ("05.unbroadcast", unbroadcast_sliced, "one slice instead of a sum"),
    ("05.unbroadcast", unbroadcast_averaged, "averaged instead of summed"),
    ("05.unbroadcast", unbroadcast_from_the_left, "summed over the trailing axes instead of the leading ones"),
    ("05.unbroadcast", unbroadcast_without_keepdims, "size-1 axes dropped (keepdims forgotten)"),
    ("05.unbroadcast", unbroadcast_leading_only, "size-1 axes not summed"),
    ("05.unbroadcast", unbroadcast_leading_kept, "the added leading axes were kept"),
    ("05.unbroadcast", lambda grad, shape: grad.sum(axis=0), "summed over axis 0 whatever the shape"),
    ("05.unbroadcast", lambda grad, shape: grad.sum(), "summed over every axis"),
    ("05.unbroadcast", unbroadcast_in_place, IN_PLACE),
    ("05.sigmoid_vjp", lambda x, g: g * x * (1 - x), "sigmoid derivative taken on the input"),
    ("05.sigmoid_vjp", lambda x, g: sigma(x) * (1 - sigma(x)), "the upstream gradient is not used"),
    ("05.sigmoid_vjp", lambda x, g: g * sigma(x), "multiplied by sigma(x) instead of its derivative"),
    ("05.sigmoid_vjp", lambda x, g: g * (1 - sigma(x) ** 2), "tanh's derivative used"),
    ("05.sigmoid_vjp", sigmoid_in_place, IN_PLACE),
    ("05.linear_vjp", lambda x, W, b, g: (g @ W.T, x.T @ g, g.sum(axis=1)), "bias gradient summed over the wrong axis"),
    ("05.linear_vjp", lambda x, W, b, g: (g @ W.T, x.T @ g, g), "bias gradient not summed over the batch"),
    ("05.linear_vjp", lambda x, W, b, g: (g @ W.T, x.T @ g, g[0]), "bias gradient taken from one row"),
    ("05.linear_vjp", lambda x, W, b, g: (g @ W.T, x.T @ g, g.mean(axis=0)), "bias gradient averaged over the batch"),
    ("05.linear_vjp", lambda x, W, b, g: (g @ W.T, x.T @ g, g.sum(axis=0, keepdims=True)),
     "bias gradient keeps the batch axis"),
    ("05.linear_vjp", lambda x, W, b, g: (g @ W, x.T @ g, g.sum(axis=0)), "dx without the transpose of W"),
    ("05.linear_vjp", lambda x, W, b, g: (g @ W.T, x @ g, g.sum(axis=0)), "dW without the transpose of x"),
    ("05.linear_vjp", lambda x, W, b, g: (g @ W.T, g.T @ x, g.sum(axis=0)), "dW transposed"),
    ("05.linear_vjp", lambda x, W, b, g: (g @ W.T, x.T @ g / len(x), g.sum(axis=0)), "dW divided by N"),
    ("05.linear_vjp", lambda x, W, b, g: (W.T @ g, x.T @ g, g.sum(axis=0)),
     "the factors of a product in the wrong order"),
]


SHAPES = "matrix shapes that do not line up"  # what a wrong product shows where the sizes do not fit


def named(result) -> tuple[str, ...]:
    """The mistakes a result names, the shape error left out: a misplaced transpose also raises one on
    the rectangular cases, where the product cannot run."""
    return tuple(m for m in result.mistakes if m != SHAPES)


@pytest.mark.parametrize(("question", "answer", "mistake"), WRONG, ids=[f"{q}: {m}" for q, _, m in WRONG])
def test_each_known_mistake_is_named_by_check_and_nothing_else(question, answer, mistake):
    report = check(question, namespace(question, answer))
    assert report.result.status == "failed"
    assert named(report.result) == (mistake,), report.result.feedback
    q = find_question(question)
    cases = q.draw_cases(7)
    assert named(judge(q, cases, q.run(namespace(question, answer), cases), 7)) == (mistake,)


def test_every_known_mistake_is_tried():
    for q in EXERCISES["05"].questions:
        tried = {m for question, _, m in WRONG if question == q.id}
        assert {m.name for m in q.mistakes} - {SHAPES} <= tried, q.id  # SHAPES: tried on the lesson's case below


@pytest.mark.parametrize(("question", "answer"), [
    ("05.matmul_vjp", lambda X, W, g: (X.T @ g, g @ W.T)),
    ("05.matmul_vjp", lambda X, W, g: (g @ W.T, g.T @ X)),
    ("05.linear_vjp", lambda x, W, b, g: (g @ W.T, x.T @ g, g.sum(axis=1))),
])
def test_only_the_transpose_mistakes_speak_of_square_shapes(question, answer):
    feedback = check(question, namespace(question, answer)).result.feedback
    assert "square" not in feedback and "still runs" not in feedback and "only runs" not in feedback


@pytest.mark.parametrize(("question", "answer"), [
    ("05.matmul_vjp", lambda X, W, g: (g @ W, X.T @ g)),
    ("05.linear_vjp", lambda x, W, b, g: (g @ W, x.T @ g, g.sum(axis=0))),
])
def test_a_missing_transpose_is_told_why_it_ran(question, answer):
    feedback = check(question, namespace(question, answer)).result.feedback
    assert "only runs when M == D, as here" in feedback


def test_a_right_grad_X_with_a_wrong_grad_W_earns_half_the_points():
    q = find_question("05.matmul_vjp")
    cases = q.draw_cases(4)
    result = judge(q, cases, q.run({"matmul_vjp": lambda X, W, g: (g @ W.T, X.T @ g + 1.0)}, cases), 4)
    assert (result.score, result.max_score, result.cases_passed, result.cases_total) == (1.5, 3, 0, 7)


def test_a_layer_with_only_its_bias_gradient_wrong_earns_two_thirds():
    q = find_question("05.linear_vjp")
    cases = q.draw_cases(4)
    result = judge(q, cases, q.run({"linear_vjp": lambda x, W, b, g: (g @ W.T, x.T @ g, g.sum(axis=1))}, cases), 4)
    assert (result.score, result.cases_passed) == (2.0, 0)
    assert result.mistakes == ("bias gradient summed over the wrong axis",)


def test_an_answer_that_leaves_its_arguments_alone_is_not_told_it_changed_them():
    def relu_on_a_copy(x, grad_y):
        grad_x = grad_y.copy()
        grad_x[x <= 0] = 0.0
        return grad_x

    assert check("05.relu_vjp", {"relu_vjp": relu_on_a_copy}).passed


@pytest.mark.parametrize("question", ["05.matmul_vjp", "05.linear_vjp"])
def test_a_missing_transpose_on_rectangular_shapes_is_named_as_a_shape_error(question):
    q = find_question(question)
    lesson = [c for c in q.visible_cases() if "lesson" in c.name]
    wrong = (lambda X, W, g: (g @ W, X.T @ g)) if question == "05.matmul_vjp" else (
        lambda x, W, b, g: (g @ W, x.T @ g, g.sum(axis=0)))
    result = judge(q, lesson, q.run(namespace(question, wrong), lesson), 0)
    assert result.status == "failed"
    assert result.mistakes == (SHAPES,)


@pytest.mark.parametrize("question", list(RIGHT))
def test_a_right_answer_passes_on_fresh_inputs_and_triggers_no_mistake(question):
    q = find_question(question)
    for seed in range(5):
        cases = q.draw_cases(seed)
        report = from_plain(to_plain(q.run(namespace(question, RIGHT[question]), cases)))
        assert judge(q, cases, report, seed).status == "passed"


@pytest.mark.parametrize("question", list(RIGHT))
def test_every_mistake_differs_from_the_right_answer_in_every_draw(question):
    q = find_question(question)
    for cases in [q.visible_cases()] + [q.draw_cases(seed) for seed in range(8)]:
        for mistake in q.mistakes:
            right = [Outcome(value=q.reference(c.inputs)) for c in cases]
            assert any(not mistake.matches(o, c.inputs) for o, c in zip(right, cases)), mistake.name


def relu_by_the_library(x, grad_y):
    ctx = Context()
    ReLU.forward(ctx, x)
    return ReLU.backward(ctx, grad_y)


def matmul_by_the_engine(X, W, grad_Y):
    Xt, Wt = Tensor(X, requires_grad=True), Tensor(W, requires_grad=True)
    (Xt @ Wt).backward(grad_Y)
    return Xt.grad, Wt.grad


def sigmoid_by_the_engine(x, grad_y):
    xt = Tensor(x, requires_grad=True)
    xt.sigmoid().backward(grad_y)
    return xt.grad


def linear_by_the_engine(x, W, b, grad_out):
    xt, Wt, bt = (Tensor(a, requires_grad=True) for a in (x, W, b))
    (xt @ Wt + bt).backward(grad_out)
    return xt.grad, Wt.grad, bt.grad


@pytest.mark.parametrize(("question", "answer", "name"), [
    ("05.relu_vjp", relu_by_the_library, "backward"),
    ("05.matmul_vjp", matmul_by_the_engine, "backward"),
    ("05.unbroadcast", library_unbroadcast, "unbroadcast"),
    ("05.sigmoid_vjp", sigmoid_by_the_engine, "backward"),
    ("05.linear_vjp", linear_by_the_engine, "backward"),
])
def test_calling_the_library_instead_earns_nothing(question, answer, name):
    report = check(question, namespace(question, answer))
    assert report.result.status == "uses reference"
    assert f"`{name}`" in report.result.feedback


def test_a_hard_coded_answer_fails_on_fresh_inputs():
    q = find_question("05.matmul_vjp")
    known = {c.inputs["X"].tobytes(): matmul_vjp(c.inputs["X"], c.inputs["W"], c.inputs["grad_Y"])
             for c in q.visible_cases()}
    lesson = next(iter(known.values()))

    def lookup(X, W, grad_Y):
        return known.get(X.tobytes(), lesson)

    assert check("05.matmul_vjp", {"matmul_vjp": lookup}).passed
    cases = q.draw_cases(99)
    assert judge(q, cases, q.run({"matmul_vjp": lookup}, cases), 99).status == "failed"


@pytest.mark.parametrize("question", list(RIGHT))
def test_visible_cases_are_deterministic_and_the_probe_returns_plain_data(question):
    q = find_question(question)
    first, second = q.visible_cases(), q.visible_cases()
    assert 2 <= len(first) <= 3
    assert [c.name for c in first] == [c.name for c in second]
    for a, b in zip(first, second):
        assert a.inputs.keys() == b.inputs.keys()
        assert all(np.array_equal(a.inputs[k], b.inputs[k]) for k in a.inputs)
    for case in q.draw_cases(3):
        value = q.probe(namespace(question, RIGHT[question]), case.inputs)
        assert close(from_plain(to_plain(value)), q.reference(case.inputs))


def test_the_lessons_numbers_are_visible_cases():
    relu = find_question("05.relu_vjp").visible_cases()[0].inputs
    assert relu["x"].tolist() == [1, -2, 3, -1] and relu["grad_y"].tolist() == [4, -1, 5, 9]
    assert find_question("05.relu_vjp").reference(relu)["dL/dx"].tolist() == [4, 0, 5, 0]
    matmul = [c for c in find_question("05.matmul_vjp").visible_cases() if "lesson" in c.name][0].inputs
    grad_X = find_question("05.matmul_vjp").reference(matmul)["grad_X"]
    assert (grad_X[0, 0], grad_X[1, 2]) == (0, -30)


def test_exercise_05_puts_the_fixed_questions_first():
    exercise = EXERCISES["05"]
    ids = [q.id for q in exercise.questions]
    assert ids[:3] == ["05.relu_vjp", "05.matmul_vjp", "05.unbroadcast"]
    assert len(ids) >= 4
    assert exercise.notebook == "05_vector_jacobian_products"


def test_credit_is_declared_for_every_question():
    assert {q.id: q.credit for q in EXERCISES["05"].questions} == {
        "05.relu_vjp": "case", "05.matmul_vjp": "output", "05.unbroadcast": "case", "05.sigmoid_vjp": "case",
        "05.linear_vjp": "output"}
