"""Exercise 03: flat backpropagation, gate by gate."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .plain import is_real
from .probes.ex03 import FUNCTIONS, PROBES
from .probes.ex03 import listed as _listed
from .spec import Case, Exercise, Mistake, Outcome, Question, close

Inputs = Mapping[str, Any]
Wrong = Callable[[Inputs], Any]


def _distinct(rng: np.random.Generator, draw: Callable[[np.random.Generator], dict], reference: Wrong,
              wrongs: Mapping[str, tuple[str, Wrong]], rtol: float = 1e-6, atol: float = 1e-9) -> dict:
    """Inputs drawn by ``draw`` on which every known wrong answer differs from the right one.

    Random inputs almost always tell the mistakes apart; this rules out the rare draw that does not
    (a weight equal to its input, an upstream gradient of 1), so feedback never names a mistake
    the student did not make, and a mistake never passes.
    """
    for _ in range(1000):
        inputs = draw(rng)
        expected = reference(inputs)
        if not any(_agrees(wrong, inputs, expected, 10 * rtol, 10 * atol) for _, wrong in wrongs.values()):
            return inputs
    raise RuntimeError("could not draw inputs that tell the known mistakes apart")


def _agrees(wrong: Wrong, inputs: Inputs, expected: Any, rtol: float, atol: float) -> bool:
    try:
        return close(_quiet(wrong)(inputs), expected, rtol, atol)
    except (ArithmeticError, ValueError):
        return False


def _quiet(wrong: Wrong) -> Wrong:
    """``wrong`` with numpy's warnings off: a wrong answer may well divide by zero."""
    def quiet(inputs: Inputs) -> Any:
        with np.errstate(all="ignore"):
            return wrong(inputs)
    return quiet


def _answers(wrongs: Mapping[str, tuple[str, Wrong]], reference: Wrong, rtol: float = 1e-6,
             atol: float = 1e-9) -> tuple[Mistake, ...]:
    """A ``Mistake`` per wrong answer, named only on inputs where that answer differs from the right one."""
    def shown(wrong: Wrong) -> Wrong:
        def answer(inputs: Inputs) -> Any:
            result = _quiet(wrong)(inputs)
            return math.nan if close(result, reference(inputs), rtol, atol) else result
        return answer

    return tuple(Mistake.answer(name, feedback, shown(wrong), rtol, atol) for name, (feedback, wrong) in wrongs.items())


def _round(rng: np.random.Generator, low: float, high: float, size: Any = None) -> Any:
    values = np.round(rng.uniform(low, high, size), 2)
    return float(values) if size is None else values.tolist()


def _sigmoid(s: float) -> float:
    return 1.0 / (1.0 + math.exp(-s)) if s >= 0 else math.exp(s) / (1.0 + math.exp(s))


# --- sigmoid_neuron(w, x) -> (L, dw, dx) ----------------------------------------------------------------


def _neuron(inputs: Inputs, local: str = "output", dw_by: str = "x", dx_by: str = "w", bias: bool = True,
            sign: float = 1.0) -> dict:
    """The flat neuron; the keywords select a known mistake in the backward pass: the sigmoid's local
    derivative, what a mul gate multiplies the upstream gradient by for each w and x ("x", "w" or "1"),
    whether dw holds the bias's gradient, and the sign."""
    (w0, w1, w2), (x0, x1) = inputs["w"], inputs["x"]
    s3 = w0 * x0 + w1 * x1 + w2
    L = _sigmoid(s3)
    grad_s3 = {"output": L * (1 - L), "input": s3 * (1 - s3), "none": 1.0}[local] * sign
    factors = {"x": (x0, x1), "w": (w0, w1), "1": (1.0, 1.0)}
    dw = [a * grad_s3 for a in factors[dw_by]] + ([grad_s3] if bias else [])
    return {"L": L, "dw": dw, "dx": [a * grad_s3 for a in factors[dx_by]]}


NEURON_WRONG: dict[str, tuple[str, Wrong]] = {
    "sigmoid derivative taken on the input": (
        "you computed s3 * (1 - s3); the identity is sigma'(s3) = sigma(s3) (1 - sigma(s3)), in terms of "
        "the gate's OUTPUT: grad_s3 = grad_L * (1 - L) * L.", lambda i: _neuron(i, local="input")),
    "the sigmoid's local derivative is missing": (
        "the sigmoid gate passed the upstream gradient on unchanged; multiply it by the local derivative "
        "L * (1 - L).", lambda i: _neuron(i, local="none")),
    "mul gate not swapped": (
        "for s0 = w0 * x0 the gradient of w0 is x0 times upstream (the OTHER input), and the gradient of "
        "x0 is w0 times upstream.", lambda i: _neuron(i, dw_by="w", dx_by="x")),
    "the mul gates' local derivative is missing": (
        "a mul gate does not pass the gradient on unchanged (that is the add gate): each input gets the "
        "other input times upstream.", lambda i: _neuron(i, dw_by="1", dx_by="1")),
    "the weights' gradients without x": (
        "dx is right, but dw0 and dw1 are the upstream gradient alone: for s0 = w0 * x0 the gradient of "
        "w0 is x0 times upstream (and of w1, x1 times upstream).", lambda i: _neuron(i, dw_by="1")),
    "the inputs' gradients without w": (
        "dw is right, but dx0 and dx1 are the upstream gradient alone: for s0 = w0 * x0 the gradient of "
        "x0 is w0 times upstream (and of x1, w1 times upstream).", lambda i: _neuron(i, dx_by="1")),
    "the bias's gradient left out": (
        "dw has 3 entries: the bias w2 is a weight too, and its gradient is the add gate's upstream "
        "gradient, grad_w2 = grad_s3.", lambda i: _neuron(i, bias=False)),
    "sign error": (
        "every gradient has the wrong sign; sigma'(s) = sigma(s) (1 - sigma(s)) is positive, and the mul "
        "and add gates do not change signs on their own.", lambda i: _neuron(i, sign=-1.0)),
}


def _neuron_cases(rng: np.random.Generator) -> list[Case]:
    def draw(r: np.random.Generator) -> dict:
        return {"w": _round(r, -2, 2, 3), "x": _round(r, -2, 2, 2), "arrays": False}

    inputs = [{"w": [2.0, -3.0, -3.0], "x": [-1.0, -2.0], "arrays": False}]
    inputs += [_distinct(rng, draw, _neuron, NEURON_WRONG) for _ in range(4)]
    inputs[-1]["arrays"] = True  # numpy arrays work as well as lists
    return [Case(f"sigmoid_neuron(w={i['w']}, x={i['x']}" + (" as numpy arrays)" if i["arrays"] else ")"),
                 i, visible=k < 2) for k, i in enumerate(inputs)]


def _dw_dx_swapped(outcome: Outcome, inputs: Inputs) -> bool:
    value = outcome.value
    return (not outcome.error and isinstance(value, dict) and isinstance(value.get("dw"), list)
            and isinstance(value.get("dx"), list) and len(value["dw"]) == 2 and len(value["dx"]) == 3)


SIGMOID_NEURON = Question(
    id="03.sigmoid_neuron",
    points=4,
    title="Flat forward and backward of a sigmoid neuron",
    cases=_neuron_cases,
    probe=PROBES["03.sigmoid_neuron"],
    reference=_neuron,
    credit="output",
    mistakes=_answers(NEURON_WRONG, _neuron) + (
        Mistake("dw and dx returned in the wrong order",
                "return (L, dw, dx): dw has 3 entries (w0, w1, w2), dx has 2 (x0, x1).", _dw_dx_swapped,
                lambda i: {**_neuron(i), "dw": _neuron(i)["dx"], "dx": _neuron(i)["dw"]}),
    ),
)


# --- circuit_backward(x, y, z) -> (f, dx, dy, dz) ----------------------------------------------------------


def _circuit(inputs: Inputs, mistake: str = "") -> dict:
    x, y, z = inputs["x"], inputs["y"], inputs["z"]
    q = x + y
    grad_q, grad_z = {"same": (q, z), "none": (1.0, 1.0)}.get(mistake, (z, q))
    grad_x = grad_y = {"split": grad_q / 2, "add one": 1.0}.get(mistake, grad_q)
    sign = -1.0 if mistake == "sign" else 1.0
    return {"f": q * z, "dx": sign * grad_x, "dy": sign * grad_y, "dz": sign * grad_z}


CIRCUIT_WRONG: dict[str, tuple[str, Wrong]] = {
    "mul gate not swapped": (
        "for f = q * z, df/dq is the OTHER input z and df/dz is q.", lambda i: _circuit(i, "same")),
    "add gate splits the gradient": (
        "an add gate hands the WHOLE upstream gradient to each input (local derivative 1), not half of it.",
        lambda i: _circuit(i, "split")),
    "the mul gate's local derivative is missing": (
        "the mul gate passed the upstream gradient 1 on unchanged; each input gets the other input "
        "times upstream.", lambda i: _circuit(i, "none")),
    "the add gate's upstream gradient is missing": (
        "dx and dy are the add gate's local derivative 1 alone; the add gate passes on its upstream "
        "gradient, grad_x = grad_y = 1 * grad_q, with grad_q = z from the mul gate.",
        lambda i: _circuit(i, "add one")),
    "sign error": ("every gradient has the wrong sign: downstream = local * upstream, with no minus.",
                   lambda i: _circuit(i, "sign")),
}


def _circuit_cases(rng: np.random.Generator) -> list[Case]:
    def draw(r: np.random.Generator) -> dict:
        x, y, z = _round(r, -5, 5, 3)
        return {"x": x, "y": y, "z": z}

    inputs = [{"x": -2.0, "y": 5.0, "z": -4.0}] + [_distinct(rng, draw, _circuit, CIRCUIT_WRONG) for _ in range(4)]
    return [Case(f"circuit_backward(x={i['x']:g}, y={i['y']:g}, z={i['z']:g})", i, visible=k < 2)
            for k, i in enumerate(inputs)]


CIRCUIT_BACKWARD = Question(
    id="03.circuit_backward",
    points=2,
    title="Flat backward of f = (x + y) * z",
    cases=_circuit_cases,
    probe=PROBES["03.circuit_backward"],
    reference=_circuit,
    credit="output",
    mistakes=_answers(CIRCUIT_WRONG, _circuit),
)


# --- mul_backward(dout, x, y) -> (dx, dy) and max_backward(dout, x, y) -> (dx, dy) ------------------------

SHAPES = ((), (), (3,), (2, 3))  # numbers first, then arrays: the gates work elementwise on both
TIED = 2  # entries where x == y, in the max gate's case with ties


def _gate_draw(shape: tuple[int, ...], ties: int = 0) -> Callable[[np.random.Generator], dict]:
    """Inputs of a gate of this shape; ``ties`` entries (and no others) with x == y."""
    def draw(r: np.random.Generator) -> dict:
        while True:
            size = shape or None
            x, y, dout = (np.asarray(_round(r, -3, 3, size)) for _ in range(3))
            tied = r.choice(x.size, size=ties, replace=False)
            y.flat[tied] = x.flat[tied]
            # elsewhere no ties, and no entry of x, y or dout at 0 or 1, where mistakes hide
            apart = np.delete(np.abs(x - y).ravel(), tied)
            values = np.array([x, y, dout], dtype=float)
            if ((apart.size == 0 or apart.min() > 0.05)
                    and np.abs(values).min() > 0.05 and np.abs(values - 1).min() > 0.05):
                return {"dout": _listed(dout), "x": _listed(x), "y": _listed(y)}
    return draw


def _gate_cases(rng: np.random.Generator, gate: str, reference: Wrong, wrongs: Mapping[str, tuple[str, Wrong]],
                tie_wrongs: Mapping[str, tuple[str, Wrong]] | None = None) -> list[Case]:
    """A case per shape in ``SHAPES``; with ``tie_wrongs`` (the mistakes that only ties show), a third
    visible case of arrays with ``TIED`` ties."""
    def label(i: Inputs, shape: tuple[int, ...], ties: int) -> str:
        if not shape:
            return f"{gate}(dout={i['dout']}, x={i['x']}, y={i['y']})"
        return f"{gate} on arrays of shape {shape}" + (f" with x == y in {ties} entries" if ties else "")

    plan = [(shape, 0) for shape in SHAPES]
    if tie_wrongs:
        plan.insert(2, ((2, 3), TIED))
    cases = []
    for k, (shape, ties) in enumerate(plan):
        i = _distinct(rng, _gate_draw(shape, ties), reference, {**wrongs, **(tie_wrongs or {})} if ties else wrongs)
        cases.append(Case(label(i, shape, ties), i, visible=k < 3))
    return cases


def _arrays(inputs: Inputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.asarray(inputs[k], dtype=float) for k in ("dout", "x", "y"))


def _gradients(dx: Any, dy: Any) -> dict:
    return {"dx": _listed(dx), "dy": _listed(dy)}


def _mul(inputs: Inputs, mistake: str = "") -> dict:
    dout, x, y = _arrays(inputs)
    pairs = {"same": (x * dout, y * dout), "none": (dout, dout), "no upstream": (y, x),
             "sign": (-y * dout, -x * dout)}
    return _gradients(*pairs.get(mistake, (y * dout, x * dout)))


MUL_WRONG: dict[str, tuple[str, Wrong]] = {
    "mul gate not swapped": ("dx must be y * dout and dy must be x * dout: each input gets the OTHER "
                             "input times upstream.", lambda i: _mul(i, "same")),
    "the local derivative is missing": ("the mul gate passed dout on unchanged (that is the add gate); "
                                        "multiply it by the other input.", lambda i: _mul(i, "none")),
    "the upstream gradient is missing": ("you returned the local derivatives alone; downstream = local "
                                         "* upstream, so multiply by dout.", lambda i: _mul(i, "no upstream")),
    "sign error": ("both gradients have the wrong sign: dx = y * dout, dy = x * dout.",
                   lambda i: _mul(i, "sign")),
}

MUL_BACKWARD = Question(
    id="03.mul_backward",
    points=2,
    title="Backward of a mul gate",
    cases=lambda rng: _gate_cases(rng, "mul_backward", _mul, MUL_WRONG),
    probe=PROBES["03.mul_backward"],
    reference=_mul,
    credit="output",
    mistakes=_answers(MUL_WRONG, _mul),
)


def _max(inputs: Inputs, mistake: str = "") -> dict:
    dout, x, y = _arrays(inputs)
    if mistake == "both":
        return _gradients(dout, dout)
    x_gets, y_gets = {"loser": (x < y, x >= y), "tie to y": (x > y, x <= y),
                      "tie to both": (x >= y, y >= x)}.get(mistake, (x >= y, x < y))
    routed = np.ones_like(dout) if mistake == "no upstream" else dout
    return _gradients(np.where(x_gets, routed, 0.0), np.where(y_gets, routed, 0.0))


MAX_WRONG: dict[str, tuple[str, Wrong]] = {
    "max gate routes to both inputs": (
        "only the winner influenced the output: it gets all of dout, the loser gets 0.",
        lambda i: _max(i, "both")),
    "max gate routes to the loser": (
        "the gradient goes to the LARGER input (where x >= y it goes to x), and 0 to the other one.",
        lambda i: _max(i, "loser")),
    "the upstream gradient is missing": (
        "the winner's local derivative is 1, so it receives 1 * dout, not 1.", lambda i: _max(i, "no upstream")),
}

MAX_TIE_WRONG: dict[str, tuple[str, Wrong]] = {
    "a tie given to y": (
        "where x == y the gradient goes to x, as in the library: test x >= y, not x > y.",
        lambda i: _max(i, "tie to y")),
    "a tie given to both inputs": (
        "where x == y only one input may take dout (x, as in the library), else the gradient is counted "
        "twice: dx where x >= y, and dy only where x < y.", lambda i: _max(i, "tie to both")),
}

MAX_BACKWARD = Question(
    id="03.max_backward",
    points=2,
    title="Backward of a max gate",
    cases=lambda rng: _gate_cases(rng, "max_backward", _max, MAX_WRONG, MAX_TIE_WRONG),
    probe=PROBES["03.max_backward"],
    reference=_max,
    credit="output",
    mistakes=_answers({**MAX_WRONG, **MAX_TIE_WRONG}, _max) + (
        Mistake.raises("an `if` on a whole array",
                       "`if x >= y:` cannot decide for every entry of an array at once (ValueError); choose "
                       "entry by entry with np.where(x >= y, dout, 0.0).", "ValueError"),
    ),
)


# --- numerical_gradient(f, x, h=1e-5) ------------------------------------------------------------------------


def _difference(inputs: Inputs, kind: str = "central", h: float | None = None) -> dict:
    """The gradient by differences: ``kind`` is "central", or a known mistake: "one-sided", "from x"
    (the second point x itself, still over 2h), "all at once" (every entry nudged together), or
    "never restored" (each entry left at x - h)."""
    f, x = FUNCTIONS[inputs["f"]], np.array(inputs["x"], dtype=float)
    h = h if h is not None else (1e-5 if inputs["h"] is None else inputs["h"])
    if kind == "all at once":
        return {"grad": np.full_like(x, (f(x + h) - f(x - h)) / (2 * h)).tolist(), "x unchanged": True}
    grad = np.empty_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        plus = f(x)
        x[index] = old - h if kind in ("central", "never restored") else old
        minus = f(x)
        if kind != "never restored":
            x[index] = old
        grad[index] = (plus - minus) / (h if kind == "one-sided" else 2 * h)
    return {"grad": grad.tolist(), "x unchanged": kind != "never restored"}


def _over_h(inputs: Inputs) -> dict:
    answer = _difference(inputs)
    return {**answer, "grad": (2 * np.array(answer["grad"])).tolist()}


GRADIENT_WRONG: dict[str, tuple[str, Wrong]] = {
    "one-sided difference": (
        "(f(x + h e_i) - f(x)) / h has error O(h); use the central difference "
        "(f(x + h e_i) - f(x - h e_i)) / (2h), whose error is O(h^2).", lambda i: _difference(i, "one-sided")),
    "divided by h instead of 2h": (
        "the points x - h e_i and x + h e_i are 2h apart: divide the difference by 2h.", _over_h),
    "the second point taken at x": (
        "after x[i] += h, subtracting h once brings x[i] back to x[i], not to x[i] - h: the difference "
        "you divide by 2h spans h only. Set x[i] = old - h for the second point.",
        lambda i: _difference(i, "from x")),
    "every entry nudged at once": (
        "x + h adds h to EVERY entry, so each entry gets the same slope along (1, 1, ...). Nudge one entry "
        "at a time: f(x + h e_i) changes x[i] alone.", lambda i: _difference(i, "all at once")),
    "the step h is ignored": (
        "use the h the caller passes (its default is 1e-5), not a fixed step.",
        lambda i: _difference(i, h=1e-5) if i["h"] is not None else math.nan),
}


def _gradient_cases(rng: np.random.Generator) -> list[Case]:
    shapes = ((3,), (2, 3), (4,), (2, 2))
    steps = (None, 1e-2, None, 5e-2)  # large enough that a step of 1e-5 instead gives another answer
    cases = []
    for k, (name, shape, h) in enumerate(zip(FUNCTIONS, shapes, steps)):
        def draw(r: np.random.Generator, name: str = name, shape: tuple = shape, h: float | None = h) -> dict:
            return {"f": name, "x": np.round(r.uniform(-1.5, 1.5, shape), 2).tolist(), "h": h}

        i = _distinct(rng, draw, _difference, GRADIENT_WRONG, rtol=1e-7, atol=1e-10)
        label = f"numerical_gradient({name}, x of shape {shape}" + (")" if h is None else f", h={h:g})")
        cases.append(Case(label, i, visible=k < 2))
    return cases


def _flattened(outcome: Outcome, inputs: Inputs) -> bool:
    value = outcome.value
    if outcome.error or not isinstance(value, dict) or "grad" not in value:
        return False
    try:
        grad = np.asarray(value["grad"], dtype=float)
    except (TypeError, ValueError):
        return False
    x = np.asarray(inputs["x"])
    return grad.shape != x.shape and grad.size == x.size


def _input_changed(outcome: Outcome, inputs: Inputs) -> bool:
    value = outcome.value
    return not outcome.error and isinstance(value, dict) and value.get("x unchanged") is False


NUMERICAL_GRADIENT = Question(
    id="03.numerical_gradient",
    points=3,
    title="A numerical gradient by central differences",
    cases=_gradient_cases,
    probe=PROBES["03.numerical_gradient"],
    reference=_difference,
    rtol=1e-7,
    atol=1e-10,
    credit="output",
    mistakes=_answers(GRADIENT_WRONG, _difference, rtol=1e-8, atol=1e-11) + (
        Mistake("the gradient has the wrong shape",
                "return an array of the same shape as x: entry [i, j] holds df/dx[i, j].", _flattened,
                lambda i: {**_difference(i), "grad": np.ravel(_difference(i)["grad"]).tolist()}),
        Mistake("the input x was changed",
                "x must hold its original values when you return: save x[i] and put it back after the two "
                "evaluations (x[i] + h - h is not always exactly x[i]), or work on a copy.", _input_changed,
                lambda i: _difference(i, "never restored")),
    ),
)


# --- rel_error(a, b) -> float ----------------------------------------------------------------------------------

TINY = 1e-300


def _pair(inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(inputs["a"], dtype=float), np.asarray(inputs["b"], dtype=float)


def _elementwise(inputs: Inputs, divide_by: str = "both", signed: bool = False) -> np.ndarray:
    a, b = _pair(inputs)
    scale = {"a": np.abs(a), "b": np.abs(b)}.get(divide_by, np.maximum(np.abs(a) + np.abs(b), TINY))
    return (a - b if signed else np.abs(a - b)) / scale


def _rel_error(inputs: Inputs) -> float:
    return float(np.max(_elementwise(inputs)))


REL_WRONG: dict[str, tuple[str, Wrong]] = {
    "absolute error": (
        "|a - b| alone depends on the size of the gradients; divide by max(|a| + |b|, tiny).",
        lambda i: float(np.max(np.abs(np.subtract(*_pair(i)))))),
    "divided by |a| only": (
        "divide by |a| + |b| (kept above a tiny number), so that the error is symmetric and bounded by 1.",
        lambda i: float(np.max(_elementwise(i, divide_by="a")))),
    "divided by |b| only": (
        "divide by |a| + |b| (kept above a tiny number), so that the error is symmetric and bounded by 1.",
        lambda i: float(np.max(_elementwise(i, divide_by="b")))),
    "the difference without its absolute value": (
        "an entry where a < b has a negative a - b, and the max then misses it: take |a - b|.",
        lambda i: float(np.max(_elementwise(i, signed=True)))),
    "the mean instead of the largest error": (
        "a gradient check must report its WORST entry: take the max of the elementwise relative errors.",
        lambda i: float(np.mean(_elementwise(i)))),
}


def _rel_cases(rng: np.random.Generator) -> list[Case]:
    def scalar(r: np.random.Generator) -> dict:
        a = float(np.round(r.uniform(1, 100), 3) * r.choice([-1, 1]))
        return {"a": a, "b": float(np.round(a * (1 + r.uniform(-0.2, 0.2)), 4))}

    def array(r: np.random.Generator) -> dict:
        a = np.round(r.uniform(-2, 2, 5), 3)
        b = np.round(a + r.uniform(-0.3, 0.3, 5), 3)
        return {"a": a.tolist(), "b": b.tolist()}

    def with_zeros(r: np.random.Generator) -> dict:
        pair = array(r)
        pair["a"][2] = pair["b"][2] = 0.0  # an entry where both are exactly zero: its error is 0, not 0/0
        return pair

    # for one number the mean and the largest error are the same thing: the arrays tell them apart
    one_number = {k: v for k, v in REL_WRONG.items() if not k.startswith("the mean")}
    inputs = [_distinct(rng, scalar, _rel_error, one_number), _distinct(rng, array, _rel_error, REL_WRONG),
              _distinct(rng, with_zeros, _rel_error, REL_WRONG), {"a": 0.0, "b": 0.0}]
    return [Case(f"rel_error(a={i['a']}, b={i['b']})", i, visible=k < 3) for k, i in enumerate(inputs)]


def _zero_over_zero(outcome: Outcome, inputs: Inputs) -> bool:
    if outcome.error:
        return outcome.error[0] == "ZeroDivisionError"
    return is_real(outcome.value) and math.isnan(outcome.value)


REL_ERROR = Question(
    id="03.rel_error",
    points=2,
    title="Relative error",
    cases=_rel_cases,
    probe=PROBES["03.rel_error"],
    reference=_rel_error,
    credit="case",
    mistakes=_answers(REL_WRONG, _rel_error) + (
        Mistake("0/0 where both values are zero",
                "two zeros agree exactly, but |a - b| / (|a| + |b|) is 0/0 there; divide by "
                "max(|a| + |b|, tiny) with a tiny number such as 1e-300.", _zero_over_zero),
    ),
)


EXERCISE = Exercise(
    number="03",
    title="Flat backpropagation, gate by gate",
    notebook="03_flat_backprop",
    questions=(SIGMOID_NEURON, CIRCUIT_BACKWARD, MUL_BACKWARD, MAX_BACKWARD, NUMERICAL_GRADIENT, REL_ERROR),
)
