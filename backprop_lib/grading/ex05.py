"""Exercise 05: vectors, matrices and vector-Jacobian products.

Shapes follow lesson 05: a batch is first, ``Y = X W`` with X (N, D), W (D, M), Y (N, M), and a
layer adds a bias b (M,) to every row. Every case is drawn so that the usual mistakes (a missing
transpose, a mask on the wrong array, a sum over the wrong axis) give a different answer from the
right one; square shapes are drawn where a mistake would otherwise only show as a shape error.
Where answers often change their arguments in place, the probe also reports whether they did.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .probes.ex05 import PROBES, UNCHANGED
from .spec import Case, Exercise, Mistake, Outcome, Question, close

# The lesson's worked numbers (lesson 05, sections 3, 4 and 7).
LESSON_X = np.array([1.0, -2.0, 3.0, -1.0])
LESSON_GRAD_Y = np.array([4.0, -1.0, 5.0, 9.0])
LESSON_MATRIX_X = np.array([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]])
LESSON_W = np.array([[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]])
LESSON_UPSTREAM = np.array([[2.0, 3.0, -3.0, 9.0], [-8.0, 1.0, 4.0, 6.0]])
LESSON_BIAS = np.array([1.0, 0.0, -1.0, 2.0])


def _numbers(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 3.0) -> np.ndarray:
    """Random floats with two decimals (readable in feedback), never exactly zero."""
    a = np.round(rng.uniform(-scale, scale, shape), 2)
    a[a == 0] = 0.25
    return a


def _distinct_sizes(rng: np.random.Generator, count: int) -> tuple[int, ...]:
    return tuple(int(n) for n in rng.choice(np.arange(2, 7), size=count, replace=False))


def _part(name: str, feedback: str, key: str, wrong: Callable[[Mapping[str, Any]], Any],
          right: Callable[[Mapping[str, Any]], dict]) -> Mistake:
    """The mistake whose result has ``wrong(inputs)`` under ``key`` (the other parts may be right or not);
    the wrong answer it stands for is the ``right`` one with that part replaced."""

    def matches(outcome: Outcome, inputs: Mapping[str, Any]) -> bool:
        value = outcome.value
        if outcome.error or outcome.reference or not isinstance(value, dict) or key not in value:
            return False
        try:
            expected = wrong(inputs)
        except (ArithmeticError, ValueError):
            return False
        return close(value[key], expected)

    return Mistake(name, feedback, matches, lambda i: {**right(i), key: wrong(i)})


def _returning(key: str, result: Callable[[Mapping[str, Any]], np.ndarray]) -> Callable[[Mapping[str, Any]], dict]:
    """What the probe reports for an answer that returns ``result(inputs)`` and leaves its arguments alone."""
    return lambda i: {key: result(i), UNCHANGED: True}


def _in_place(feedback: str, right: Callable[[Mapping[str, Any]], dict]) -> Mistake:
    """An answer that wrote into its arguments (whatever it returned)."""
    return Mistake("an argument changed in place", feedback,
                   lambda o, i: isinstance(o.value, dict) and o.value.get(UNCHANGED) is False,
                   lambda i: {**right(i), UNCHANGED: False})


def _shape_error(feedback: str) -> Mistake:
    def matches(outcome: Outcome, inputs: Mapping[str, Any]) -> bool:
        if not outcome.error or outcome.error[0] != "ValueError":
            return False
        message = outcome.error[1]
        return "matmul" in message or "not aligned" in message

    return Mistake("matrix shapes that do not line up", feedback, matches)


# --- relu_vjp(x, grad_y) -------------------------------------------------------------------------------


def _relu_arrays(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """x and grad_y where a mask on the wrong array, or relu'(0) = 1, changes the answer."""
    n = int(np.prod(shape))
    x, g = _numbers(rng, (n,)), _numbers(rng, (n,), 5.0)
    # x > 0 with grad_y < 0, x < 0 with grad_y > 0, and x == 0 with either sign of grad_y
    x[:4] = [abs(x[0]) + 0.01, -abs(x[1]) - 0.01, 0.0, 0.0]
    g[:4] = [-abs(g[0]) - 0.5, abs(g[1]) + 0.5, abs(g[2]) + 0.5, -abs(g[3]) - 0.5]
    order = rng.permutation(n)
    return x[order].reshape(shape), g[order].reshape(shape)


def _relu_cases(rng: np.random.Generator) -> list[Case]:
    cases = [Case("relu_vjp on the lesson's x = [1, -2, 3, -1], grad_y = [4, -1, 5, 9]",
                  {"x": LESSON_X.copy(), "grad_y": LESSON_GRAD_Y.copy()})]
    n = int(rng.integers(6, 10))
    shapes = [(n,), _distinct_sizes(rng, 2), (2, 3, 4), (int(rng.integers(20, 40)),)]
    for k, shape in enumerate(shapes):
        x, g = _relu_arrays(rng, shape)
        cases.append(Case(f"relu_vjp on x of shape {shape}, with zeros in x", {"x": x, "grad_y": g},
                          visible=k < 2))
    return cases


def _relu(inputs: Mapping[str, Any]) -> np.ndarray:
    x, g = inputs["x"], inputs["grad_y"]
    return np.where(x > 0, g, 0.0)


def _relu_answer(result: Callable[[Mapping[str, Any]], np.ndarray]) -> Callable[[Mapping[str, Any]], dict]:
    return _returning("dL/dx", result)


RELU_VJP = Question(
    id="05.relu_vjp",
    points=2,
    credit="case",
    title="The VJP of ReLU: a mask, not a diagonal matrix",
    cases=_relu_cases,
    probe=PROBES["05.relu_vjp"],
    reference=_relu_answer(_relu),
    mistakes=(
        Mistake.answer("mask taken on the upstream gradient",
                       "whether the gradient passes depends on the forward INPUT: keep grad_y where x > 0, "
                       "whatever the sign of grad_y (a negative upstream gradient passes unchanged).",
                       _relu_answer(lambda i: np.where(i["grad_y"] > 0, i["grad_y"], 0.0))),
        Mistake.answer("relu'(0) taken as 1",
                       "this course takes the derivative of ReLU at the kink x == 0 to be 0, as the library "
                       "does: mask with x > 0, not x >= 0.",
                       _relu_answer(lambda i: np.where(i["x"] >= 0, i["grad_y"], 0.0))),
        Mistake.answer("mask inverted",
                       "the gradient passes where ReLU passed its input, x > 0, and is 0 where x <= 0: "
                       "np.where(x > 0, grad_y, 0.0).",
                       _relu_answer(lambda i: np.where(i["x"] > 0, 0.0, i["grad_y"]))),
        Mistake.answer("the upstream gradient is not used",
                       "[x > 0] is only the local derivative; the VJP multiplies it by the upstream "
                       "gradient: return grad_y where x > 0 and 0 elsewhere.",
                       _relu_answer(lambda i: (i["x"] > 0).astype(float))),
        Mistake.answer("multiplied by relu(x) instead of its derivative",
                       "the local derivative of ReLU is 1 where x > 0 and 0 elsewhere, not max(x, 0): "
                       "grad_y * (x > 0).",
                       _relu_answer(lambda i: i["grad_y"] * np.maximum(i["x"], 0.0))),
        Mistake.answer("the forward value relu(x) was returned",
                       "backward returns dL/dx = grad_y * [x > 0], not the forward output max(x, 0).",
                       _relu_answer(lambda i: np.maximum(i["x"], 0.0))),
        _in_place("relu_vjp must leave x and grad_y as they are: in an engine grad_y may also flow to another "
                  "input, and x is saved for later passes. Build a new array, np.where(x > 0, grad_y, 0.0), "
                  "rather than setting entries of grad_y to 0.", _relu_answer(_relu)),
    ),
)


# --- matmul_vjp(X, W, grad_Y) -> (grad_X, grad_W) ---------------------------------------------------------


def _matmul_inputs(rng: np.random.Generator, n: int, d: int, m: int) -> dict[str, np.ndarray]:
    return {"X": _numbers(rng, (n, d)), "W": _numbers(rng, (d, m)), "grad_Y": _numbers(rng, (n, m))}


def _matmul_cases(rng: np.random.Generator) -> list[Case]:
    # the square case first: there a missing transpose runs, so check() can name it
    cases = [Case("matmul_vjp with N = D = M = 3", _matmul_inputs(rng, 3, 3, 3)),
             Case("matmul_vjp on the lesson's X (2, 3), W (3, 4), dL/dY (2, 4)",
                  {"X": LESSON_MATRIX_X.copy(), "W": LESSON_W.copy(), "grad_Y": LESSON_UPSTREAM.copy()})]
    for _ in range(3):
        n, d, m = _distinct_sizes(rng, 3)
        cases.append(Case(f"matmul_vjp with N = {n}, D = {d}, M = {m}", _matmul_inputs(rng, n, d, m), visible=False))
    d, m = _distinct_sizes(rng, 2)
    cases.append(Case(f"matmul_vjp with N = 1, D = {d}, M = {m}", _matmul_inputs(rng, 1, d, m), visible=False))
    cases.append(Case("matmul_vjp with N = D = M = 4", _matmul_inputs(rng, 4, 4, 4), visible=False))
    return cases


def _matmul(inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    X, W, gY = inputs["X"], inputs["W"], inputs["grad_Y"]
    return {"grad_X": gY @ W.T, "grad_W": X.T @ gY}


def _wrong_order(x: str, w: str, g: str, dx: str, dw: str, right: Callable[[Mapping[str, Any]], dict]) -> Mistake:
    """W^T grad for dx, or grad X^T for dW: the right factors multiplied the wrong way round."""
    grad_x = _part("", "", dx, lambda i: i[w].T @ i[g], right)
    grad_w = _part("", "", dw, lambda i: i[g] @ i[x].T, right)
    return Mistake("the factors of a product in the wrong order",
                   f"matrix products do not commute; let the shapes decide: {dx} = {g} @ {w}.T is "
                   f"(N, M) @ (M, D), and {dw} = {x}.T @ {g} is (D, N) @ (N, M). A reversed product runs "
                   f"only where the sizes happen to fit, as here.",
                   lambda outcome, inputs: grad_x.matches(outcome, inputs) or grad_w.matches(outcome, inputs),
                   grad_x.wrong)


def _swapped(inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    right = _matmul(inputs)
    return {"grad_X": right["grad_W"], "grad_W": right["grad_X"]}


MATMUL_VJP = Question(
    id="05.matmul_vjp",
    points=3,
    credit="output",
    title="The VJP of Y = X W without a Jacobian",
    cases=_matmul_cases,
    probe=PROBES["05.matmul_vjp"],
    reference=_matmul,
    mistakes=(
        _part("grad_X without the transpose of W",
              "dL/dX = dL/dY W^T: grad_Y (N, M) times W^T (M, D) gives (N, D). grad_Y @ W only runs "
              "when M == D, as here, and is wrong even then.", "grad_X", lambda i: i["grad_Y"] @ i["W"], _matmul),
        _part("grad_W without the transpose of X",
              "dL/dW = X^T dL/dY: X^T (D, N) times grad_Y (N, M) gives (D, M). X @ grad_Y only runs "
              "when D == N, as here, and is wrong even then.", "grad_W", lambda i: i["X"] @ i["grad_Y"], _matmul),
        _part("grad_W transposed",
              "grad_W must have W's shape (D, M): X^T dL/dY. grad_Y^T X is its transpose, the rule for "
              "z = W a with W stored as (outputs, inputs).", "grad_W", lambda i: i["grad_Y"].T @ i["X"], _matmul),
        _part("grad_W divided by N",
              "each row of the batch adds its own term to dL/dW = X^T dL/dY: the product already sums over the "
              "batch, and any 1/N of a mean loss is already in grad_Y. Do not divide by N.",
              "grad_W", lambda i: i["X"].T @ i["grad_Y"] / len(i["X"]), _matmul),
        _wrong_order("X", "W", "grad_Y", "grad_X", "grad_W", _matmul),
        Mistake.answer("grad_X and grad_W swapped",
                       "return the pair in the order of the inputs: (grad_X, grad_W), with grad_X of X's "
                       "shape (N, D) and grad_W of W's shape (D, M).", _swapped),
        _shape_error("a product raised a shape error: each gradient has the shape of its value, so "
                     "grad_X (N, D) = grad_Y (N, M) @ W^T (M, D) and grad_W (D, M) = X^T (D, N) @ grad_Y (N, M); "
                     "a transpose is probably missing."),
    ),
)


# --- unbroadcast(grad, shape) -------------------------------------------------------------------------


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    extra = grad.ndim - len(shape)
    summed = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and summed.shape[i] != 1)
    return np.asarray(summed.sum(axis=axes, keepdims=True))


def _broadcast_axes(grad: np.ndarray, shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The leading axes that broadcasting added, and the axes of grad where ``shape`` has a 1."""
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise ValueError("shape has more axes than grad")
    ones = tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    return tuple(range(extra)), ones


def _sliced(i: Mapping[str, Any]) -> np.ndarray:
    grad, shape = i["grad"], i["shape"]
    leading, ones = _broadcast_axes(grad, shape)
    index = tuple(0 if a in leading else slice(0, 1) if a in ones else slice(None) for a in range(grad.ndim))
    return grad[index]


def _averaged(i: Mapping[str, Any]) -> np.ndarray:
    grad, shape = i["grad"], i["shape"]
    leading, ones = _broadcast_axes(grad, shape)
    return grad.mean(axis=leading + ones, keepdims=True).reshape(shape)


def _aligned_left(i: Mapping[str, Any]) -> np.ndarray:
    """Shapes lined up from the left: the trailing axes of grad are taken as the broadcast ones."""
    grad, shape = i["grad"], i["shape"]
    if grad.ndim == len(shape):
        raise ValueError("no added axes: lining up from either side is the same")
    summed = grad.sum(axis=tuple(range(len(shape), grad.ndim)))
    axes = tuple(k for k, n in enumerate(shape) if n == 1 and summed.shape[k] != 1)
    return summed.sum(axis=axes, keepdims=True)


def _ones_dropped(i: Mapping[str, Any]) -> np.ndarray:
    grad, shape = i["grad"], i["shape"]
    leading, ones = _broadcast_axes(grad, shape)
    if not ones:
        raise ValueError("no size-1 axes to drop")
    return grad.sum(axis=leading + ones)


def _ones_not_summed(i: Mapping[str, Any]) -> np.ndarray:
    grad, shape = i["grad"], i["shape"]
    leading, ones = _broadcast_axes(grad, shape)
    if not ones:
        raise ValueError("no size-1 axes")
    return grad.sum(axis=leading)


def _leading_kept(i: Mapping[str, Any]) -> np.ndarray:
    grad, shape = i["grad"], i["shape"]
    extra = grad.ndim - len(shape)
    if extra <= 0:
        raise ValueError("no added axes")
    return _unbroadcast(grad, shape).reshape((1,) * extra + tuple(shape))


def _axis_zero(i: Mapping[str, Any]) -> np.ndarray:
    return i["grad"].sum(axis=0)


def _unbroadcast_cases(rng: np.random.Generator) -> list[Case]:
    k = int(rng.integers(3, 6))
    n, m = _distinct_sizes(rng, 2)
    a, b, c = _distinct_sizes(rng, 3)
    n2, m2 = _distinct_sizes(rng, 2)
    plans = [
        ("a per-row bias", (n, m), (n, 1)),
        ("a row bias kept as a matrix", (n2, m2), (1, m2)),
        ("a matrix broadcast over a new leading axis", (a, b, c), (b, c)),
        ("a vector broadcast over two new leading axes", (a, b, c), (c,)),
        ("a middle axis of size 1", (a, b, c), (a, 1, c)),
        ("size-1 axes on both sides", (a, b, c), (1, b, 1)),
        ("a new leading axis and a size-1 axis", (a, b, c), (b, 1)),
        ("nothing was broadcast", (n2, m2), (n2, m2)),
        ("a scalar broadcast to a matrix", (n, m), ()),
    ]
    cases = [Case("unbroadcast of the lesson's dL/dZ (2, 4) to a bias of shape (4,)",
                  {"grad": LESSON_UPSTREAM.copy(), "shape": (4,)}),
             Case(f"unbroadcast of a square ({k}, {k}) gradient to shape ({k},)",
                  {"grad": _numbers(rng, (k, k)), "shape": (k,)})]
    for index, (what, grad_shape, shape) in enumerate(plans):
        cases.append(Case(f"unbroadcast from {grad_shape} to {shape} ({what})",
                          {"grad": _numbers(rng, grad_shape), "shape": shape}, visible=index == 0))
    return cases


def _summed(result: Callable[[Mapping[str, Any]], np.ndarray]) -> Callable[[Mapping[str, Any]], dict]:
    return _returning("summed", result)


def _all_axes(i: Mapping[str, Any]) -> np.ndarray:
    if not i["shape"]:
        raise ValueError("to shape () the total is right")
    return np.asarray(i["grad"].sum())


UNBROADCAST = Question(
    id="05.unbroadcast",
    points=3,
    credit="case",
    title="Sum a gradient back down to the shape before broadcasting",
    cases=_unbroadcast_cases,
    probe=PROBES["05.unbroadcast"],
    reference=_summed(lambda i: _unbroadcast(i["grad"], i["shape"])),
    mistakes=(
        Mistake.answer("one slice instead of a sum",
                       "broadcasting copied the operand to every position, and a copy gate ADDS the "
                       "gradients that come back: sum over the broadcast axes, do not keep one slice.",
                       _summed(_sliced)),
        Mistake.answer("averaged instead of summed",
                       "each copy of the operand contributes its whole gradient: sum over the broadcast "
                       "axes (grad.sum), do not take the mean.", _summed(_averaged)),
        Mistake.answer("summed over the trailing axes instead of the leading ones",
                       "numpy lines shapes up from the RIGHT: shape (M,) added to (N, M) gains a new "
                       "LEADING axis, so sum over the first grad.ndim - len(shape) axes.", _summed(_aligned_left)),
        Mistake.answer("size-1 axes dropped (keepdims forgotten)",
                       "an axis where shape has 1 must stay, with length 1: sum it with keepdims=True, so "
                       "the result has exactly the requested shape.", _summed(_ones_dropped)),
        Mistake.answer("size-1 axes not summed",
                       "besides the leading axes that broadcasting added, sum every axis where shape has 1 "
                       "and grad is longer (with keepdims=True).", _summed(_ones_not_summed)),
        Mistake.answer("summed over axis 0 whatever the shape",
                       "grad.sum(axis=0) only fits a bias (M,) added to (N, M). In general, sum every leading "
                       "axis that broadcasting added, and every axis where shape has 1 (with keepdims=True).",
                       _summed(_axis_zero)),
        Mistake.answer("summed over every axis",
                       "only the broadcast axes are summed: the axes that shape keeps at full length stay, and "
                       "the result has exactly the requested shape, not a single number.", _summed(_all_axes)),
        Mistake.answer("the added leading axes were kept",
                       "the axes that broadcasting added in front must disappear (sum without keepdims): "
                       "the result has exactly the requested shape.", _summed(_leading_kept)),
        _in_place("unbroadcast must leave grad as it is: the engine may pass the same gradient to another "
                  "input. grad.sum(axis=..., keepdims=...) builds a new array; do not add into grad's own "
                  "entries.", _summed(lambda i: _unbroadcast(i["grad"], i["shape"]))),
    ),
)


# --- sigmoid_vjp(x, grad_y) ----------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _sigmoid_cases(rng: np.random.Generator) -> list[Case]:
    cases = [Case("sigmoid_vjp at x = [-2, -1, 0, 1, 2], grad_y = [1, 2, -1, 0.5, 3]",
                  {"x": np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), "grad_y": np.array([1.0, 2.0, -1.0, 0.5, 3.0])})]
    shapes = [(int(rng.integers(5, 9)),), _distinct_sizes(rng, 2), (2, 3, 4)]
    for k, shape in enumerate(shapes):
        cases.append(Case(f"sigmoid_vjp on x of shape {shape}",
                          {"x": _numbers(rng, shape, 4.0), "grad_y": _numbers(rng, shape, 3.0)}, visible=k < 1))
    return cases


def _sigmoid_grad(inputs: Mapping[str, Any]) -> np.ndarray:
    s = _sigmoid(inputs["x"])
    return inputs["grad_y"] * s * (1 - s)


def _sigmoid_answer(result: Callable[[Mapping[str, Any]], np.ndarray]) -> Callable[[Mapping[str, Any]], dict]:
    return _returning("dL/dx", result)


SIGMOID_VJP = Question(
    id="05.sigmoid_vjp",
    points=2,
    credit="case",
    title="The VJP of the elementwise sigmoid",
    cases=_sigmoid_cases,
    probe=PROBES["05.sigmoid_vjp"],
    reference=_sigmoid_answer(_sigmoid_grad),
    mistakes=(
        Mistake.answer("sigmoid derivative taken on the input",
                       "sigma'(x) = sigma(x) (1 - sigma(x)) uses the sigmoid's OUTPUT s = sigma(x), not x: "
                       "compute s first, then grad_y * s * (1 - s).",
                       _sigmoid_answer(lambda i: i["grad_y"] * i["x"] * (1 - i["x"]))),
        Mistake.answer("the upstream gradient is not used",
                       "sigma'(x) is only the local derivative; the VJP multiplies it by grad_y, entry by entry.",
                       _sigmoid_answer(lambda i: _sigmoid(i["x"]) * (1 - _sigmoid(i["x"])))),
        Mistake.answer("multiplied by sigma(x) instead of its derivative",
                       "the local derivative of the sigmoid is sigma(x) (1 - sigma(x)), not sigma(x).",
                       _sigmoid_answer(lambda i: i["grad_y"] * _sigmoid(i["x"]))),
        Mistake.answer("tanh's derivative used",
                       "1 - s^2 is the derivative of tanh written with its output; the sigmoid's is s (1 - s).",
                       _sigmoid_answer(lambda i: i["grad_y"] * (1 - _sigmoid(i["x"]) ** 2))),
        _in_place("sigmoid_vjp must leave x and grad_y as they are: `grad_y *= ...` changes the caller's "
                  "gradient, which may also flow to another input. Return a new array: grad_y * s * (1 - s).",
                  _sigmoid_answer(_sigmoid_grad)),
    ),
)


# --- linear_vjp(x, W, b, grad_out) -> (dx, dW, db) ----------------------------------------------------------


def _linear_inputs(rng: np.random.Generator, n: int, d: int, m: int) -> dict[str, np.ndarray]:
    return {"x": _numbers(rng, (n, d)), "W": _numbers(rng, (d, m)), "b": _numbers(rng, (m,)),
            "grad_out": _numbers(rng, (n, m))}


def _linear_cases(rng: np.random.Generator) -> list[Case]:
    cases = [Case("linear_vjp with N = D = M = 3", _linear_inputs(rng, 3, 3, 3)),
             Case("linear_vjp on the lesson's x (2, 3), W (3, 4), b (4,), grad_out (2, 4)",
                  {"x": LESSON_MATRIX_X.copy(), "W": LESSON_W.copy(), "b": LESSON_BIAS.copy(),
                   "grad_out": LESSON_UPSTREAM.copy()})]
    for _ in range(2):
        n, d, m = _distinct_sizes(rng, 3)
        cases.append(Case(f"linear_vjp with N = {n}, D = {d}, M = {m}", _linear_inputs(rng, n, d, m), visible=False))
    d, m = _distinct_sizes(rng, 2)
    cases.append(Case(f"linear_vjp with N = 1, D = {d}, M = {m}", _linear_inputs(rng, 1, d, m), visible=False))
    return cases


def _linear(inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    x, W, g = inputs["x"], inputs["W"], inputs["grad_out"]
    return {"dx": g @ W.T, "dW": x.T @ g, "db": g.sum(axis=0)}


def _linear_part(name: str, feedback: str, key: str, wrong: Callable[[Mapping[str, Any]], Any]) -> Mistake:
    return _part(name, feedback, key, wrong, _linear)


LINEAR_VJP = Question(
    id="05.linear_vjp",
    builds_on=('05.matmul_vjp', '05.unbroadcast'),
    points=3,
    credit="output",
    title="Backward of a batch-first fully connected layer, out = x W + b",
    cases=_linear_cases,
    probe=PROBES["05.linear_vjp"],
    reference=_linear,
    mistakes=(
        _linear_part("bias gradient summed over the wrong axis",
                     "b (M,) was added to every ROW, i.e. copied along axis 0, the batch axis: "
                     "db = grad_out.sum(axis=0), one number per output unit, not one per example.",
                     "db", lambda i: i["grad_out"].sum(axis=1)),
        _linear_part("bias gradient not summed over the batch",
                     "db must have b's shape (M,): add up the rows of grad_out (the copy gate sums).",
                     "db", lambda i: i["grad_out"]),
        _linear_part("bias gradient taken from one row",
                     "b was copied into every row, and every copy sends a gradient back: db is the sum of ALL the "
                     "rows of grad_out, grad_out.sum(axis=0), not its first row.",
                     "db", lambda i: i["grad_out"][0]),
        _linear_part("bias gradient averaged over the batch",
                     "each row's copy of b contributes its whole gradient: sum over the batch, do not average "
                     "(any 1/N belongs to the loss, and is already in grad_out).",
                     "db", lambda i: i["grad_out"].mean(axis=0)),
        _linear_part("bias gradient keeps the batch axis",
                     "db must have b's shape (M,), not (1, M): sum over axis 0 without keepdims.",
                     "db", lambda i: i["grad_out"].sum(axis=0, keepdims=True)),
        _linear_part("dx without the transpose of W",
                     "dx = grad_out W^T: (N, M) @ (M, D) gives (N, D); grad_out @ W only runs when M == D, as "
                     "here, and is wrong even then.", "dx", lambda i: i["grad_out"] @ i["W"]),
        _linear_part("dW without the transpose of x",
                     "dW = x^T grad_out: (D, N) @ (N, M) gives W's shape (D, M); x @ grad_out only runs when "
                     "D == N, as here, and is wrong even then.", "dW", lambda i: i["x"] @ i["grad_out"]),
        _linear_part("dW transposed",
                     "dW must have W's shape (D, M): x^T grad_out, not grad_out^T x (the rule for z = W a).",
                     "dW", lambda i: i["grad_out"].T @ i["x"]),
        _linear_part("dW divided by N",
                     "x^T grad_out already sums the batch's contributions, and any 1/N of a mean loss is already "
                     "in grad_out: do not divide by N.", "dW", lambda i: i["x"].T @ i["grad_out"] / len(i["x"])),
        _wrong_order("x", "W", "grad_out", "dx", "dW", _linear),
        _shape_error("a product raised a shape error: dx (N, D) = grad_out (N, M) @ W^T (M, D) and "
                     "dW (D, M) = x^T (D, N) @ grad_out (N, M); a transpose is probably missing."),
    ),
)


EXERCISE = Exercise(
    number="05",
    title="Vectors, matrices and vector-Jacobian products",
    notebook="05_vector_jacobian_products",
    questions=(RELU_VJP, MATMUL_VJP, UNBROADCAST, SIGMOID_VJP, LINEAR_VJP),
)
