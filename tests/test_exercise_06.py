"""Exercise 06: right answers pass and every known mistake is named (test_course.py grades the master
and the blank exercise)."""
from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest

from backprop_lib.grading import EXERCISES, check, find_question
from backprop_lib.grading.ex06 import TARGET_ACCURACY
from backprop_lib.grading.probes.ex06 import dataset, forward
from backprop_lib.grading.judge import judge
from backprop_lib.grading.plain import to_plain
from backprop_lib.grading.protocol import plain_value as from_plain
from backprop_lib.grading.spec import Outcome
from notebook_text import find_notebook, markdown_text


# --- right answers ------------------------------------------------------------------------------------------


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


ACTIVATIONS = {"relu": lambda z: np.maximum(z, 0.0), "sigmoid": sigmoid, "tanh": np.tanh}


def mlp_forward(params, X, activation="relu"):
    Z1 = X @ params["W1"] + params["b1"]
    A1 = ACTIVATIONS[activation](Z1)
    return A1 @ params["W2"] + params["b2"], {"X": X, "Z1": Z1, "A1": A1, "activation": activation}


def slope(cache):
    A1 = cache["A1"]
    return {"relu": cache["Z1"] > 0, "sigmoid": A1 * (1 - A1), "tanh": 1 - A1 ** 2}[cache["activation"]]


def backprop(params, cache, G, dA1=None, dZ1=None):
    """The right backward pass; ``dA1``, ``dZ1`` replace a step by a wrong one."""
    dA1 = G @ params["W2"].T if dA1 is None else dA1
    dZ1 = dA1 * slope(cache) if dZ1 is None else dZ1
    return {"W1": cache["X"].T @ dZ1, "b1": dZ1.sum(axis=0), "W2": cache["A1"].T @ G, "b2": G.sum(axis=0)}


def mlp_backward(params, cache, grad_out):
    return backprop(params, cache, grad_out)


def sgd_step(params, grads, lr):
    return {k: params[k] - lr * grads[k] for k in params}


def softmax_ce(scores, y, stable=True, mean=True, onehot=True, axis=1, negated=True):
    shifted = scores - scores.max(axis=axis, keepdims=True) if stable else scores
    with np.errstate(over="ignore", invalid="ignore"):  # the unstable version is meant to overflow
        P = np.exp(shifted) / np.exp(shifted).sum(axis=axis, keepdims=True)
    rows = np.arange(len(y))
    loss = (-1 if negated else 1) * np.log(P[rows, y]).sum()
    grad = P.copy()
    if onehot:
        grad[rows, y] -= 1
    return (loss / len(y) if mean else loss), grad / len(y)


def step_with(params, X, y, lr, activation="relu", scale=1.0, sign=-1.0, loss_after=False, **ce):
    scores, cache = mlp_forward(params, X, activation)
    loss, G = softmax_ce(scores, y, **ce)
    grads = mlp_backward(params, cache, G * scale)
    new = {k: params[k] + sign * lr * grads[k] for k in params}
    if loss_after:
        loss = softmax_ce(mlp_forward(new, X, activation)[0], y)[0]
    return new, loss


def train_step(params, X, y, lr, activation="relu"):
    return step_with(params, X, y, lr, activation)


def init_params(D, H, C, seed=0):
    rng = np.random.default_rng(seed)
    return {"W1": rng.standard_normal((D, H)) * np.sqrt(2 / D), "b1": np.zeros(H),
            "W2": rng.standard_normal((H, C)) * np.sqrt(2 / H), "b2": np.zeros(C)}


def train(X, y, hidden=50, lr=2.0, steps=500):
    params = init_params(X.shape[1], hidden, int(y.max()) + 1)
    for _ in range(steps):
        params, _ = train_step(params, X, y, lr)
    return params


def net(x, W1, b1, W2, b2, y, hidden_slope=None, out_slope=None, error=None, down=None, outer=np.outer):
    """The lesson's eight steps, x a row; each keyword replaces one step by a wrong one."""
    z1 = x @ W1 + b1
    a1 = sigmoid(z1)
    z2 = a1 @ W2 + b2
    y_hat = sigmoid(z2)
    dy_hat = y_hat - y if error is None else error(y, y_hat)
    delta2 = dy_hat * (y_hat * (1 - y_hat) if out_slope is None else out_slope(z2, y_hat))
    da1 = delta2 @ W2.T if down is None else down(W2, delta2)
    delta1 = da1 * (a1 * (1 - a1) if hidden_slope is None else hidden_slope(z1, a1))
    return {"W1": outer(x, delta1), "b1": delta1, "W2": outer(a1, delta2), "b2": delta2}


def column_layout(x, W1, b1, W2, b2, y):
    """The answer for column vectors (z = W x + b, W of shape (outputs, inputs)), as texts that write
    examples as columns give it."""
    a1 = sigmoid(W1 @ x + b1)
    y_hat = sigmoid(W2 @ a1 + b2)
    delta2 = (y_hat - y) * y_hat * (1 - y_hat)
    delta1 = (W2.T @ delta2) * a1 * (1 - a1)
    return {"W1": np.outer(delta1, x), "b1": delta1, "W2": np.outer(delta2, a1), "b2": delta2}


RIGHT = {"06.mlp_backward": mlp_backward, "06.sgd_step": sgd_step, "06.train_step": train_step,
         "06.train": train, "06.sigmoid_net_gradients": net}
SYMBOL = {qid: find_question(qid).symbols[0] for qid in RIGHT}


# --- wrong answers, one for each known mistake --------------------------------------------------------------


def replacing(**entries):
    """An mlp_backward whose result has some entries computed wrongly from (params, cache, G)."""
    def answer(params, cache, G):
        return {**mlp_backward(params, cache, G), **{k: f(params, cache, G) for k, f in entries.items()}}
    return answer


def wrong_slope(params, cache, G, on):
    """act' evaluated on the wrong array: act applied to A1 again, or Z1 put into the formula for A1."""
    activation = cache["activation"]
    if activation == "relu":
        return mlp_backward(params, cache, G)
    v = ACTIVATIONS[activation](cache["A1"]) if on == "sigma(a)" else cache["Z1"]
    s = v * (1 - v) if activation == "sigmoid" else 1 - v ** 2
    return backprop(params, cache, G, dZ1=(G @ params["W2"].T) * s)


def in_place(params, grads, lr):
    for k in params:
        params[k] -= lr * grads[k]
    return params


def diverging(X, y):
    params = init_params(X.shape[1], 8, int(y.max()) + 1)
    return {k: v * np.nan for k, v in params.items()}


TRANSPOSE = "missing or misplaced transpose"
BIAS = "bias gradient not summed over the batch"
WRONG_VALUE = "activation derivative taken on the wrong value"
WRONG_INPUT = "a weight gradient made from the wrong layer's input"
OUTER = "outer product the wrong way round"
ROWS = "this course writes one example as a row"
MISTAKES = [
    ("06.mlp_backward", replacing(W2=lambda p, c, G: G.T @ c["A1"]), TRANSPOSE),
    ("06.mlp_backward", replacing(W1=lambda p, c, G: c["X"] @ ((G @ p["W2"].T) * slope(c))), TRANSPOSE),
    ("06.mlp_backward", lambda p, c, G: backprop(p, c, G, dA1=G @ p["W2"]), TRANSPOSE),
    ("06.mlp_backward", replacing(b2=lambda p, c, G: G), BIAS),
    ("06.mlp_backward", replacing(b1=lambda p, c, G: ((G @ p["W2"].T) * slope(c))[0]), BIAS),
    ("06.mlp_backward", replacing(b1=lambda p, c, G: ((G @ p["W2"].T) * slope(c)).mean(axis=0)), BIAS),
    ("06.mlp_backward", lambda p, c, G: wrong_slope(p, c, G, "sigma(a)"), WRONG_VALUE),
    ("06.mlp_backward", lambda p, c, G: wrong_slope(p, c, G, "z"), WRONG_VALUE),
    ("06.mlp_backward", lambda p, c, G: backprop(p, c, G, dZ1=np.maximum(G @ p["W2"].T, 0)), WRONG_VALUE),
    ("06.mlp_backward", lambda p, c, G: backprop(p, c, G, dZ1=G @ p["W2"].T), "activation derivative left out"),
    ("06.mlp_backward", replacing(W2=lambda p, c, G: c["Z1"].T @ G), "pre-activation used in dW2"),
    ("06.mlp_backward", lambda p, c, G: {k: v / len(G) for k, v in mlp_backward(p, c, G).items()},
     "divided by N a second time"),
    ("06.mlp_backward", replacing(W1=lambda p, c, G: c["X"].T @ ((G @ p["W2"].T) * slope(c)) / len(G),
                                  W2=lambda p, c, G: c["A1"].T @ G / len(G)), "divided by N a second time"),
    ("06.mlp_backward", replacing(b2=lambda p, c, G: G.mean(axis=0)), BIAS),
    ("06.mlp_backward", replacing(b2=lambda p, c, G: G.sum(axis=1)), "bias gradient summed over the wrong axis"),
    ("06.mlp_backward", replacing(b1=lambda p, c, G: ((G @ p["W2"].T) * slope(c)).sum(axis=0, keepdims=True)),
     "bias gradient summed over the wrong axis"),
    ("06.mlp_backward", lambda p, c, G: backprop(p, c, G, dZ1=(G @ p["W2"].T) * c["A1"]),
     "multiplied by the activation instead of its derivative"),
    ("06.mlp_backward", replacing(b1=lambda p, c, G: (G @ p["W2"].T).sum(axis=0)), "activation derivative left out"),
    ("06.mlp_backward", replacing(W1=lambda p, c, G: c["A1"].T @ ((G @ p["W2"].T) * slope(c))), WRONG_INPUT),
    ("06.mlp_backward", replacing(W2=lambda p, c, G: c["X"].T @ G), WRONG_INPUT),
    ("06.mlp_backward", lambda p, c, G: {"w1": 0, "b1": 0, "w2": 0, "b2": 0}, "a key is missing"),
    ("06.sgd_step", lambda p, g, lr: {k: p[k] + lr * g[k] for k in p}, "update goes uphill (sign error)"),
    ("06.sgd_step", lambda p, g, lr: {k: p[k] - g[k] for k in p}, "learning rate ignored"),
    ("06.sgd_step", in_place, "params modified in place"),
    ("06.sgd_step", lambda p, g, lr: {k: -lr * g[k] for k in p}, "the step returned instead of the new parameters"),
    ("06.sgd_step", lambda p, g, lr: {k: p[k] - lr * g[k] for k in ("W1", "b1", "W2", "b2")},
     "only some parameters updated"),
    ("06.sgd_step", lambda p, g, lr: {k: p[k] - lr * g[k.upper()] for k in p}, "a key is missing"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": step_with(p, X, y, lr, activation, stable=False),
     "softmax overflows"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": step_with(p, X, y, lr, activation, scale=len(y)),
     "gradient of the mean loss not divided by N"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": step_with(p, X, y, lr, activation, scale=1 / len(y)),
     "gradient divided by N twice"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": step_with(p, X, y, lr, activation, axis=0),
     "softmax taken over the batch axis"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": step_with(p, X, y, lr, activation, negated=False),
     "loss with the wrong sign"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": step_with(p, X, y, 1.0, activation),
     "learning rate ignored"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": step_with(p, X, y, lr, activation, sign=1.0),
     "update goes uphill (sign error)"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": step_with(p, X, y, lr, activation, onehot=False),
     "one-hot not subtracted"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": step_with(p, X, y, lr, activation, loss_after=True),
     "loss measured after the step"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": step_with(p, X, y, lr, activation, mean=False),
     "loss summed instead of averaged"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": ({"W1": p["W1"]}, 0.0), "a key is missing"),
    ("06.train", diverging, "training diverged"),
    ("06.train", lambda X, y: init_params(X.shape[1], 8, 4), "wrong parameter shapes"),
    ("06.train", lambda X, y: {"weights": init_params(X.shape[1], 8, 3)}, "a key is missing"),
    ("06.sigmoid_net_gradients", lambda *a: net(*a, out_slope=lambda z, a: sigmoid(a) * (1 - sigmoid(a))),
     "sigmoid derivative taken on the wrong value"),
    ("06.sigmoid_net_gradients", lambda *a: net(*a, hidden_slope=lambda z, a: z * (1 - z)),
     "sigmoid derivative taken on the wrong value"),
    ("06.sigmoid_net_gradients", lambda *a: net(*a, error=lambda y, y_hat: y - y_hat), "error with the wrong sign"),
    ("06.sigmoid_net_gradients", lambda *a: net(*a, error=lambda y, y_hat: 2 * (y_hat - y)),
     "the 1/2 of the loss forgotten"),
    ("06.sigmoid_net_gradients", lambda *a: net(*a, out_slope=lambda z, a: 1.0, hidden_slope=lambda z, a: 1.0),
     "sigmoid derivative left out"),
    ("06.sigmoid_net_gradients", lambda *a: net(*a, outer=lambda u, v: np.outer(v, u)), OUTER),
    ("06.sigmoid_net_gradients", lambda *a: {**net(*a), "W2": np.outer(net(*a)["b2"], sigmoid(a[0] @ a[1] + a[2]))},
     OUTER),
    ("06.sigmoid_net_gradients", column_layout, OUTER),
    ("06.sigmoid_net_gradients", lambda *a: net(*a, down=lambda W2, d: d @ W2), TRANSPOSE),
    ("06.sigmoid_net_gradients", lambda *a: {**net(*a), "W2": np.outer(a[0], net(*a)["b2"])}, WRONG_INPUT),
    ("06.sigmoid_net_gradients", lambda *a: {**net(*a), "W1": np.outer(sigmoid(a[0] @ a[1] + a[2]), net(*a)["b1"])},
     WRONG_INPUT),
    ("06.sigmoid_net_gradients", lambda *a: {"dW1": 0}, "a key is missing"),
]


def grade(question_id, answer, seed=None, only=None):
    """The judge's verdict on ``answer``: on the visible cases (seed None) or on all cases of ``seed``."""
    q = find_question(question_id)
    cases = q.visible_cases() if seed is None else q.draw_cases(seed)
    if only is not None:
        cases = [cases[i] for i in only]
    namespace = {SYMBOL[question_id]: answer, "init_params": init_params}
    return judge(q, cases, from_plain(json.loads(json.dumps(q.run(namespace, cases)))), seed or 0)


@pytest.mark.parametrize(("question", "answer", "mistake"), MISTAKES, ids=[f"{q}: {m}" for q, _, m in MISTAKES])
def test_each_known_mistake_is_named_and_nothing_else(question, answer, mistake):
    result = grade(question, answer, seed=3)
    assert result.status == "failed"
    assert result.mistakes == (mistake,), result.feedback


def test_every_known_mistake_is_tried():
    for q in EXERCISES["06"].questions:
        assert {m.name for m in q.mistakes} <= {m for question, _, m in MISTAKES if question == q.id}, q.id


def test_check_in_the_notebook_names_a_mistake_on_the_visible_cases():
    report = check("06.mlp_backward", {"mlp_backward": replacing(b1=lambda p, c, G: (G @ p["W2"].T) * slope(c))})
    assert report.result.status == "failed"
    assert BIAS in report.result.feedback
    assert check("06.mlp_backward", {"mlp_backward": mlp_backward}).passed


def test_square_shapes_reveal_a_missing_transpose_by_its_values():
    # with N = D = H = C every product is defined, so X @ dZ1 gives numbers, not a shape error
    square = [i for i, c in enumerate(find_question("06.mlp_backward").draw_cases(0))
              if len({*c.inputs["X"].shape, *c.inputs["params"]["W2"].shape}) == 1]
    assert square
    for answer in (replacing(W1=lambda p, c, G: c["X"] @ ((G @ p["W2"].T) * slope(c))),
                   lambda p, c, G: backprop(p, c, G, dA1=G @ p["W2"])):
        result = grade("06.mlp_backward", answer, seed=0, only=square)
        assert TRANSPOSE in result.feedback and "raised" not in result.feedback


@pytest.mark.parametrize("question", [q for q in RIGHT if q != "06.train"])
def test_a_right_answer_passes_on_fresh_inputs_and_matches_no_mistake(question):
    q = find_question(question)
    for seed in range(4):
        cases = q.draw_cases(seed)
        assert grade(question, RIGHT[question], seed=seed).status == "passed"
        for case in cases:
            right = Outcome(value=from_plain(to_plain(q.probe({SYMBOL[question]: RIGHT[question]}, case.inputs))))
            assert [m.name for m in q.mistakes if m.matches(right, case.inputs)] == []


def test_train_reaches_the_target_and_an_untrained_network_does_not():
    assert grade("06.train", train, seed=5).status == "passed"
    untrained = grade("06.train", lambda X, y: init_params(X.shape[1], 50, int(y.max()) + 1))
    assert untrained.status == "failed"
    assert f"at least {TARGET_ACCURACY:g}" in untrained.feedback


def memorise(X, y, hidden=300, seed=0):
    """A ReLU network that interpolates its training points: random hidden units, output weights
    solved by least squares. It classifies 99% of the training spirals and far fewer fresh ones."""
    rng = np.random.default_rng(seed)
    C = int(y.max()) + 1
    W1, b1 = rng.standard_normal((X.shape[1], hidden)), rng.uniform(-1, 1, hidden)
    W2 = np.linalg.lstsq(np.maximum(X @ W1 + b1, 0), np.eye(C)[y], rcond=None)[0]
    return {"W1": W1, "b1": b1, "W2": W2, "b2": np.zeros(C)}


def test_train_is_judged_on_held_out_points_the_sandbox_never_sees():
    q = find_question("06.train")
    for seed in range(3):
        for case in q.draw_cases(seed):
            assert set(case.inputs) == {"dataset", "seed"} and case.hidden["held_out"] != case.inputs["seed"]
    X, y = dataset("spirals", q.visible_cases()[0].inputs["seed"])
    assert np.mean(np.argmax(forward(memorise(X, y), X)[0], axis=1) == y) > 0.98
    result = grade("06.train", memorise)
    assert result.status == "failed"
    assert "on held-out points" in result.feedback and "fits its training points but not the data set" in result.feedback


@pytest.mark.parametrize(("hidden", "lr", "steps"), [(50, 2.0, 500), (20, 1.0, 300)])
def test_reasonable_recipes_clear_the_target_with_a_margin_on_every_seed(hidden, lr, steps):
    """The target sits well below what the lesson's recipe and a weak one reach (measured on 200 seeds:
    at least 0.96 and 0.92), so that BLAS rounding, which moves a point or two, cannot flip a verdict."""
    q = find_question("06.train")
    worst = 1.0
    for seed in range(12):
        for case in q.draw_cases(seed):
            params = train(*dataset(case.inputs["dataset"], case.inputs["seed"]), hidden=hidden, lr=lr, steps=steps)
            X, y = dataset(case.inputs["dataset"], case.hidden["held_out"])
            worst = min(worst, float(np.mean(np.argmax(forward(params, X)[0], axis=1) == y)))
    assert worst >= TARGET_ACCURACY + 0.015, worst


def test_a_held_out_accuracy_just_below_the_target_gets_advice_not_a_bare_number():
    q = find_question("06.train")
    case = q.visible_cases()[0]
    training = dataset("spirals", case.inputs["seed"])
    close_call = q.accept(train(*training, hidden=12, lr=1.0, steps=150), case.judged)  # 0.887 held out
    assert "below the target" in close_call and "close; train for more steps" in close_call
    weak = q.accept(train(*training, hidden=8, lr=1.0, steps=100), case.judged)  # 0.71
    assert "close" not in weak and "train for more steps, with more hidden units" in weak


# --- partial credit: each gradient (or params and loss) of a case counts on its own -------------------------


def test_a_backward_pass_with_only_db1_wrong_earns_three_quarters_of_the_points():
    result = grade("06.mlp_backward", replacing(b1=lambda p, c, G: ((G @ p["W2"].T) * slope(c)).mean(axis=0)), seed=3)
    assert (result.score, result.max_score, result.cases_passed, result.cases_total) == (3.75, 5, 0, 7)


def test_a_training_step_with_the_right_loss_and_wrong_params_earns_half_the_points():
    uphill = lambda p, X, y, lr, activation="relu": step_with(p, X, y, lr, activation, sign=1.0)  # noqa: E731
    result = grade("06.train_step", uphill, seed=3)
    assert (result.score, result.max_score, result.cases_passed) == (1.5, 3, 0)


def test_the_sigmoid_network_with_one_outer_product_the_wrong_way_round_earns_three_quarters():
    flipped_W2 = lambda *a: {**net(*a), "W2": np.outer(net(*a)["b2"], sigmoid(a[0] @ a[1] + a[2]))}  # noqa: E731
    result = grade("06.sigmoid_net_gradients", flipped_W2, seed=3)
    assert (result.score, result.max_score, result.cases_passed, result.cases_total) == (2.25, 3, 0, 4)
    assert result.mistakes == (OUTER,)


def test_the_sigmoid_network_with_a_wrong_hidden_slope_earns_half_the_points():
    result = grade("06.sigmoid_net_gradients", lambda *a: net(*a, hidden_slope=lambda z, a: z * (1 - z)), seed=3)
    assert (result.score, result.max_score, result.cases_passed) == (1.5, 3, 0)
    assert result.mistakes == ("sigmoid derivative taken on the wrong value",)


def test_a_missing_transpose_in_the_error_sent_down_earns_the_second_layer():
    result = grade("06.sigmoid_net_gradients", lambda *a: net(*a, down=lambda W2, d: d @ W2), seed=3)
    # where H != C the product raises (nothing right); where H = C only dW1 and db1 are wrong
    assert (result.score, result.max_score, result.cases_passed) == (0.75, 3, 0)
    assert result.mistakes == (TRANSPOSE,)


def test_an_answer_in_the_column_layout_earns_nothing_and_is_told_the_course_writes_rows():
    result = grade("06.sigmoid_net_gradients", column_layout, seed=3)
    assert (result.score, result.cases_passed) == (0, 0)
    assert result.mistakes == (OUTER,)
    assert ROWS in result.feedback and "column layout" in result.feedback


def test_sgd_step_earns_nothing_for_only_leaving_params_alone():
    result = grade("06.sgd_step", lambda p, g, lr: {k: p[k] + lr * g[k] for k in p}, seed=3)
    assert result.score == 0


# --- answers of the wrong shape: check() and the cells that look at an answer report them, never raise ----------


def exercise_cells(*starts_or_parts: str) -> list[str]:
    """The code cells of the exercise notebook that contain each of ``starts_or_parts``, in that order."""
    code = [c.source for c in nbformat.read(find_notebook("exercises", "06"), as_version=4).cells
            if c.cell_type == "code"]
    return [next(source for source in code if part in source) for part in starts_or_parts]


def transposed(answer):
    return lambda *args: {k: np.asarray(v).T for k, v in answer(*args).items()}


@pytest.mark.parametrize(("question", "answer", "said"), [
    ("06.mlp_backward", transposed(mlp_backward), TRANSPOSE),
    ("06.mlp_backward", lambda p, c, G: {k: np.zeros(3) for k in p}, "W1: expected shape (3, 4), got shape (3,)"),
    ("06.mlp_backward", lambda p, c, G: tuple(mlp_backward(p, c, G).values()), "must be a dict with the keys"),
    ("06.sgd_step", transposed(sgd_step), "expected shape"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": ({k: v.T for k, v in p.items()}, 1.0), "expected shape"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": (train_step(p, X, y, lr, activation)[0], np.ones(3)),
     "the loss train_step returns must be one number, not an array of shape (3,)"),
    ("06.train_step", lambda p, X, y, lr, activation="relu": train_step(p, X, y, lr, activation)[0],
     "train_step must return the pair (new_params, loss), not a dict"),
    ("06.train", lambda X, y: {k: v.T for k, v in init_params(X.shape[1], 5, 3).items()}, "wrong parameter shapes"),
    ("06.sigmoid_net_gradients", transposed(net), OUTER),
    ("06.sigmoid_net_gradients", transposed(net), ROWS),
    ("06.sigmoid_net_gradients", column_layout, ROWS),
    ("06.sigmoid_net_gradients", lambda *a: {k: np.atleast_2d(v) for k, v in net(*a).items()},
     "b1: expected shape (3,), got shape (1, 3)"),
])
def test_check_reports_an_answer_of_the_wrong_shape(question, answer, said):
    report = check(question, {SYMBOL[question]: answer, "init_params": init_params})
    assert report.result.status == "failed"
    assert said in report.result.feedback


def test_the_cells_that_look_at_an_answer_report_wrong_shapes_without_raising(capsys):
    namespace = {}
    for source in exercise_cells("from backprop_lib.grading import check", "def mlp_forward("):
        exec(source, namespace)
    namespace.update(mlp_backward=transposed(mlp_backward),
                     sigmoid_net_gradients=lambda *a: {k: np.atleast_2d(v) for k, v in net(*a).items()},
                     train=lambda X, y: {k: v.T for k, v in init_params(X.shape[1], 5, 3).items()})
    for source in exercise_cells("numerical_gradient(loss", "X_held_out", "x[None, :]"):
        exec(source, namespace)
    out = capsys.readouterr().out
    assert "relu   : agree with central differences (relative error below 1e-6): b1, b2; W1 has shape (4, 3), not (3, 4)" in out
    assert "the trained network cannot be evaluated yet: ValueError" in out
    assert "dW1: mlp_backward on a batch of one row = sigmoid_net_gradients: False" in out
    assert "db1: mlp_backward on a batch of one row = sigmoid_net_gradients: False" in out
    assert "dW2: mlp_backward on a batch of one row = sigmoid_net_gradients: False" in out


def test_the_train_stub_leaves_every_choice_to_the_student():
    (stub,) = exercise_cells("def train(")
    assert stub.splitlines()[0] == "def train(X, y):"
    assert "yours to choose, inside `train`" in markdown_text(find_notebook("exercises", "06"))


def test_credit_is_declared_for_every_question():
    assert {q.id: q.credit for q in EXERCISES["06"].questions} == {
        "06.mlp_backward": "output", "06.sgd_step": "case", "06.train_step": "output", "06.train": "case",
        "06.sigmoid_net_gradients": "output"}


def test_a_train_step_that_returns_nothing_is_not_told_that_softmax_overflows():
    result = grade("06.train_step", lambda p, X, y, lr, activation="relu": None, seed=3)
    assert result.status == "failed" and "softmax overflows" not in result.feedback
