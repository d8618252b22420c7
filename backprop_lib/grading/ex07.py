"""Exercise 07: modes, cost and memory.

The student writes dual numbers and ``jvp`` (forward mode), a full Jacobian by forward sweeps
(columns) and by reverse sweeps (rows), a Hessian-vector product by central differences of the
gradient and by forward mode over a gradient, and the cost of a chain of Jacobians in either order.

The test functions are built from plain inputs (a name and its constant arrays) in ``probes/ex07.py``
and written with operators and the methods ``.sin() .exp() .tanh()``, so the same code runs on the
student's ``Dual``, on the library's ``Tensor`` and on plain numpy arrays. The references
use a small dual-number class of this module (``_Dual``), which can also make the classic mistake
of dropping the product rule, so that the feedback can name it.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .probes.ex07 import FUNCTIONS, OPERATIONS, PROBES, as_array, gradient_function, value_and_tangent
from .spec import Case, Exercise, Mistake, Outcome, Question, close

# --- a reference dual number, right or with the product rule dropped --------------------------------------


class _Dual:
    """value + tangent * eps; ``bad_product`` makes x * y carry x.t * y.t (the mistake), nothing else."""

    __slots__ = ("value", "tangent", "bad_product")
    __array_ufunc__ = None

    def __init__(self, value: Any, tangent: Any = 0.0, bad_product: bool = False):
        self.value, self.tangent, self.bad_product = value, tangent, bad_product

    def _lift(self, other: Any) -> _Dual:
        return other if isinstance(other, _Dual) else _Dual(other, 0.0, self.bad_product)

    def _new(self, value: Any, tangent: Any) -> _Dual:
        return _Dual(value, tangent, self.bad_product)

    def __add__(self, other: Any) -> _Dual:
        o = self._lift(other)
        return self._new(self.value + o.value, self.tangent + o.tangent)

    __radd__ = __add__

    def __sub__(self, other: Any) -> _Dual:
        o = self._lift(other)
        return self._new(self.value - o.value, self.tangent - o.tangent)

    def __rsub__(self, other: Any) -> _Dual:
        return self._lift(other) - self

    def __mul__(self, other: Any) -> _Dual:
        o = self._lift(other)
        if self.bad_product:
            return self._new(self.value * o.value, self.tangent * o.tangent)
        return self._new(self.value * o.value, self.tangent * o.value + self.value * o.tangent)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> _Dual:
        o = self._lift(other)
        return self._new(self.value / o.value, (self.tangent * o.value - self.value * o.tangent) / (o.value * o.value))

    def __rtruediv__(self, other: Any) -> _Dual:
        return self._lift(other) / self

    def __neg__(self) -> _Dual:
        return self._new(-self.value, -self.tangent)

    def __rmatmul__(self, matrix: np.ndarray) -> _Dual:
        return self._new(matrix @ self.value, matrix @ self.tangent)

    def sin(self) -> _Dual:
        return self._new(np.sin(self.value), np.cos(self.value) * self.tangent)

    def exp(self) -> _Dual:
        return self._new(np.exp(self.value), np.exp(self.value) * self.tangent)

    def tanh(self) -> _Dual:
        t = np.tanh(self.value)
        return self._new(t, (1.0 - t * t) * self.tangent)


def _sweep(f: Callable, x: Any, v: Any, bad_product: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(f(x), J v) by the reference dual numbers, as float arrays."""
    out = f(_Dual(np.array(x, dtype=float), np.array(v, dtype=float), bad_product))
    value = np.asarray(out.value, dtype=float)
    return value, np.broadcast_to(np.asarray(out.tangent, dtype=float), value.shape).copy()


def _jacobian(f: Callable, x: np.ndarray) -> np.ndarray:
    return np.stack([_sweep(f, x, e)[1] for e in np.eye(len(x))], axis=1)


def _vector(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    return np.round(rng.normal(scale=scale, size=n), 3)


def _matrices(rng: np.random.Generator, m: int, n: int, hidden: int | None = None) -> dict[str, np.ndarray]:
    """The constants of the vector test functions: A, B both (m, n), or A (hidden, n) and B (m, hidden)."""
    inner = n if hidden is None else hidden
    return {"A": np.round(rng.normal(size=(m if hidden is None else hidden, n)) / np.sqrt(n), 3),
            "B": np.round(rng.normal(size=(m, inner)) / np.sqrt(inner), 3)}


def _dim(x: Any) -> str:
    return "a float" if np.ndim(x) == 0 else f"a vector of {np.size(x)}"


# --- class Dual -------------------------------------------------------------------------------------------

def _dual_cases(rng: np.random.Generator) -> list[Case]:
    def away_from_zero(size):
        number = np.round(rng.choice([-1.0, 1.0], size=size) * rng.uniform(0.3, 2.0, size=size), 3)
        return float(number) if size is None else number

    def uniform(size):
        number = np.round(rng.uniform(-1.5, 1.5, size=size), 3)
        return float(number) if size is None else number

    cases = []
    for size, c_size, visible in ((None, None, True), (4, None, False), (4, 4, False)):
        for group in OPERATIONS:
            if group == "sin, exp and tanh" and c_size is not None:
                continue
            inputs = {"group": group, "a": away_from_zero(size), "at": uniform(size), "b": away_from_zero(size),
                      "bt": uniform(size), "c": away_from_zero(c_size)}
            label = (f"{group}, x and y {'floats' if size is None else f'vectors of {size}'}, "
                     f"c {'a float' if c_size is None else f'a vector of {c_size}'}")
            cases.append(Case(label, inputs, visible=visible))
    return cases


def _dual_reference(inputs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for key, op in OPERATIONS[inputs["group"]].items():
        r = op(_Dual(inputs["a"], inputs["at"]), _Dual(inputs["b"], inputs["bt"]), inputs["c"])
        out[key] = value_and_tangent(r.value, r.tangent, key)
    return out


def _entry_is(key: str, part: str, expected: Callable[[Mapping[str, Any]], Any]) -> Callable[[Outcome, Mapping[str, Any]], bool]:
    """Matches when the outcome's ``key`` entry has ``part`` equal to ``expected(inputs)``."""
    def matches(outcome: Outcome, inputs: Mapping[str, Any]) -> bool:
        got = outcome.value
        if outcome.error or not isinstance(got, dict) or not isinstance(got.get(key), dict):
            return False
        with np.errstate(all="ignore"):
            want = np.asarray(expected(inputs), dtype=float)
        return close(np.asarray(got[key].get(part), dtype=float), want, 1e-9, 1e-12)
    return matches


def _any_of(*matchers: Callable[[Outcome, Mapping[str, Any]], bool]) -> Callable[[Outcome, Mapping[str, Any]], bool]:
    return lambda outcome, inputs: any(m(outcome, inputs) for m in matchers)


def _error_says(kind: str, *words: str) -> Callable[[Outcome, Mapping[str, Any]], bool]:
    return lambda outcome, inputs: (bool(outcome.error) and outcome.error[0] == kind
                                    and any(w in outcome.error[1] for w in words))


def _i(inputs: Mapping[str, Any], *keys: str) -> list[np.ndarray]:
    return [np.asarray(inputs[k], dtype=float) for k in keys]


DUAL = Question(
    id="07.Dual",
    points=3,
    title="Dual numbers: the derivative rules on value + tangent * eps",
    cases=_dual_cases,
    probe=PROBES["07.Dual"],
    reference=_dual_reference,
    rtol=1e-9,
    atol=1e-12,
    mistakes=(
        Mistake("tangent of a product without the product rule",
                "(a + a' eps)(b + b' eps) = ab + (a' b + a b') eps, because eps^2 = 0: the tangent of "
                "x * y is x.tangent * y.value + x.value * y.tangent, not x.tangent * y.tangent.",
                _entry_is("x * y", "tangent", lambda i: np.multiply(*_i(i, "at", "bt")))),
        Mistake("wrong quotient rule",
                "the tangent of x / y is (x.tangent * y.value - x.value * y.tangent) / y.value**2: "
                "a minus sign between the terms, and the square of y's value below.",
                _any_of(*(_entry_is("x / y", "tangent", wrong) for wrong in (
                    lambda i: (lambda a, at, b, bt: (at * b + a * bt) / (b * b))(*_i(i, "a", "at", "b", "bt")),
                    lambda i: (lambda a, at, b, bt: (a * bt - at * b) / (b * b))(*_i(i, "a", "at", "b", "bt")),
                    lambda i: (lambda a, at, b, bt: (at * b - a * bt) / b)(*_i(i, "a", "at", "b", "bt")),
                    lambda i: (lambda at, bt: at / bt)(*_i(i, "at", "bt")))))),
        Mistake("c - x computed as x - c",
                "__rsub__ is not __sub__: c - x calls x.__rsub__(c), which must return lift(c) - x.",
                _entry_is("c - x", "value", lambda i: np.subtract(*_i(i, "a", "c")))),
        Mistake("c / x computed as x / c",
                "__rtruediv__ is not __truediv__: c / x calls x.__rtruediv__(c), which must return lift(c) / x.",
                _entry_is("c / x", "value", lambda i: np.divide(*_i(i, "a", "c")))),
        Mistake("derivative of tanh taken on the input",
                "d tanh(a) / da = 1 - tanh(a)^2: square the OUTPUT tanh(a), not the input a.",
                _entry_is("x.tanh()", "tangent", lambda i: (lambda a, at: (1 - a * a) * at)(*_i(i, "a", "at")))),
        Mistake("a constant operand is not lifted",
                "a number or an array c is a dual number with tangent 0: start each operator with "
                "other = lift(other), so that other.value and other.tangent exist.",
                _error_says("AttributeError", "'value'", "'tangent'")),
        Mistake("a reflected operator is missing",
                "c + x, c - x, c * x and c / x with a number c on the left call x.__radd__(c), "
                "x.__rsub__(c), x.__rmul__(c), x.__rtruediv__(c): define them.",
                _error_says("TypeError", "unsupported operand")),
    ),
)


# --- jvp(f, x, v) -------------------------------------------------------------------------------------------


def _jvp_cases(rng: np.random.Generator) -> list[Case]:
    # (function, n inputs or None for a float, m outputs for the functions with matrices, visible)
    plans = [("waves", None, None, True), ("rational", None, None, True), ("gated", 5, 3, True),
             ("mixed", 4, None, False), ("ratio", 2, 4, False), ("rational", 3, None, False),
             ("mixed", None, None, False)]
    cases = []
    for name, n, m, visible in plans:
        if n is None:
            inputs: dict[str, Any] = {"f": name, "x": float(np.round(rng.uniform(-1.5, 1.5), 3)),
                                      "v": float(np.round(rng.uniform(-1.5, 1.5), 3))}
        else:
            inputs = {"f": name, "x": _vector(rng, n), "v": _vector(rng, n)}
            if m is not None:
                inputs.update(_matrices(rng, m, n))
        cases.append(Case(f"jvp({name}, x {_dim(inputs['x'])}, v {_dim(inputs['v'])})", inputs, visible=visible))
    return cases


def _jvp_answer(inputs: Mapping[str, Any], bad_product: bool = False, v: Any = None) -> dict[str, np.ndarray]:
    f = FUNCTIONS[inputs["f"]](inputs)
    value, tangent = _sweep(f, inputs["x"], inputs["v"] if v is None else v, bad_product)
    return {"value": value, "tangent": tangent}


PRODUCT_RULE_FEEDBACK = ("in your Dual, the tangent of x * y must be x.tangent * y.value + x.value * y.tangent "
                         "(the product rule), not x.tangent * y.tangent.")

JVP = Question(
    id="07.jvp",
    builds_on=('07.Dual',),
    points=2,
    title="A Jacobian-vector product by one forward sweep on dual numbers",
    cases=_jvp_cases,
    probe=PROBES["07.jvp"],
    reference=_jvp_answer,
    rtol=1e-9,
    atol=1e-12,
    mistakes=(
        Mistake.answer("tangent of a product without the product rule", PRODUCT_RULE_FEEDBACK,
                       lambda i: _jvp_answer(i, bad_product=True), rtol=1e-9),
        Mistake.answer("the direction v is ignored",
                       "seed the input's tangent with v: f(Dual(x, v)), not with ones; the output's "
                       "tangent is then J v.", lambda i: _jvp_answer(i, v=np.ones(np.shape(i["x"]))), rtol=1e-9),
        Mistake.answer("value and tangent swapped",
                       "return the pair in the order (f(x), J v): out.value first, then out.tangent.",
                       lambda i: (lambda r: {"value": r["tangent"], "tangent": r["value"]})(_jvp_answer(i)),
                       rtol=1e-9),
    ),
)


# --- jacobian_forward(f, x) and jacobian_reverse(f, x) -----------------------------------------------------


def _jacobian_cases(rng: np.random.Generator) -> list[Case]:
    # (function, n inputs, m outputs, hidden width or None, visible): never square, so that a
    # transposed answer has the wrong shape
    plans = [("gated", 5, 3, None, True), ("two_layer", 2, 4, 3, True), ("ratio", 3, 2, None, False),
             ("square", 3, 5, None, False), ("two_layer", 6, 2, 4, False)]
    cases = []
    for name, n, m, hidden, visible in plans:
        inputs = {"f": name, "x": _vector(rng, n), **_matrices(rng, m, n, hidden)}
        cases.append(Case(f"{name}: R^{n} -> R^{m}", inputs, visible=visible))
    return cases


def _jacobian_answer(inputs: Mapping[str, Any]) -> np.ndarray:
    return _jacobian(FUNCTIONS[inputs["f"]](inputs), as_array(inputs, "x"))


TRANSPOSED = ("a Jacobian of f: R^n -> R^m is m x n: one ROW per output, one COLUMN per input. "
              "Stack the JVPs J e_j as columns (np.stack(..., axis=1)) and the VJPs e_i^T J as rows.")

JACOBIAN_FORWARD = Question(
    id="07.jacobian_forward",
    builds_on=('07.jvp',),
    points=2,
    title="A full Jacobian by n forward sweeps, one column each",
    cases=_jacobian_cases,
    probe=PROBES["07.jacobian_forward"],
    reference=_jacobian_answer,
    rtol=1e-8,
    atol=1e-11,
    mistakes=(
        Mistake.answer("Jacobian transposed", TRANSPOSED, lambda i: _jacobian_answer(i).T, rtol=1e-8, atol=1e-11),
        Mistake.answer("one sweep with v = ones instead of n sweeps",
                       "jvp(f, x, ones) gives J @ ones, the sum of the columns; column j is jvp(f, x, e_j) "
                       "with the unit vector e_j: n sweeps.",
                       lambda i: _jacobian_answer(i) @ np.ones(len(i["x"])), rtol=1e-8, atol=1e-11),
        Mistake.raises("no forward sweep",
                       "jacobian_forward must run f on your dual numbers: column j is jvp(f, x, e_j) "
                       "(finite differences are only an approximation).", "NotForwardMode"),
    ),
)

JACOBIAN_REVERSE = Question(
    id="07.jacobian_reverse",
    points=3,
    title="A full Jacobian by m reverse sweeps, one row each",
    cases=_jacobian_cases,
    probe=PROBES["07.jacobian_reverse"],
    reference=_jacobian_answer,
    rtol=1e-8,
    atol=1e-11,
    mistakes=(
        Mistake.answer("Jacobian transposed", TRANSPOSED, lambda i: _jacobian_answer(i).T, rtol=1e-8, atol=1e-11),
        Mistake.answer("gradients accumulated across the sweeps",
                       "backward ADDS into x.grad, so row i came out as the sum of rows 0..i: set "
                       "xt.grad = None (or build a fresh leaf) before each backward call.",
                       lambda i: np.cumsum(_jacobian_answer(i), axis=0), rtol=1e-8, atol=1e-11),
        Mistake.answer("one sweep with u = ones instead of m sweeps",
                       "backward(grad=ones) gives J^T ones, the sum of the rows; row i is the VJP with the "
                       "unit vector e_i as upstream gradient: m sweeps.",
                       lambda i: np.ones(_jacobian_answer(i).shape[0]) @ _jacobian_answer(i), rtol=1e-8, atol=1e-11),
        Mistake.raises("not reverse sweeps",
                       "jacobian_reverse must run f on a Tensor that requires grad (never on dual numbers) "
                       "and read row i from one backward call with upstream gradient e_i.", "NotReverseMode"),
    ),
)


# --- hvp_numerical(grad_f, x, v, h=1e-5) and hvp(grad_f, x, v) ---------------------------------------------


def _hvp_cases(rng: np.random.Generator, with_h: bool) -> list[Case]:
    plans = [("quartic", 3, True), ("tiny_net", 3, True), ("rosenbrock", 4, False), ("waves", 5, False),
             ("tiny_net", 4, False), ("quartic", 5, False)]
    cases = []
    for k, (name, n, visible) in enumerate(plans):
        inputs: dict[str, Any] = {"f": name, "x": _vector(rng, n, 0.8), "v": _vector(rng, n)}
        if name == "quartic":
            M = rng.normal(size=(n, n))
            inputs["S"] = np.round((M + M.T) / 2, 3)
        elif name == "tiny_net":
            inputs["X"], inputs["y"] = np.round(rng.normal(size=(6, n)), 3), _vector(rng, 6)
        elif name == "waves":
            inputs["c"] = _vector(rng, n)
        label = f"{name}, n = {n}"
        if with_h:
            inputs["h"] = None if k % 2 == 0 else float(rng.choice([1e-3, 1e-4]))
            label += "" if inputs["h"] is None else f", h = {inputs['h']:g}"
        cases.append(Case(label, inputs, visible=visible))
    return cases


def _gradient_at(inputs: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    return np.asarray(gradient_function(inputs)(x), dtype=float)


def _differences(inputs: Mapping[str, Any], kind: str = "central", h: float | None = None, v: Any = None) -> np.ndarray:
    h = (1e-5 if inputs["h"] is None else inputs["h"]) if h is None else h
    x, v = as_array(inputs, "x"), (as_array(inputs, "v") if v is None else v)
    plus, minus, at = (_gradient_at(inputs, x + h * v), _gradient_at(inputs, x - h * v), _gradient_at(inputs, x))
    if kind == "one-sided":
        return (plus - at) / h
    if kind == "over h":
        return (plus - minus) / h
    if kind == "undivided":
        return plus - minus
    return (plus - minus) / (2 * h)


HVP_NUMERICAL = Question(
    id="07.hvp_numerical",
    points=2,
    title="H v by central differences of the gradient",
    cases=lambda rng: _hvp_cases(rng, with_h=True),
    probe=PROBES["07.hvp_numerical"],
    reference=_differences,
    rtol=1e-7,
    atol=1e-9,
    mistakes=(
        Mistake.answer("one-sided differences",
                       "(grad(x + h v) - grad(x)) / h has error O(h); use the central difference "
                       "(grad(x + h v) - grad(x - h v)) / (2h), whose error is O(h^2).",
                       lambda i: _differences(i, "one-sided"), rtol=1e-9),
        Mistake.answer("divided by h instead of 2h",
                       "the points x - h v and x + h v are 2h apart along v: divide by 2h.",
                       lambda i: _differences(i, "over h"), rtol=1e-9),
        Mistake.answer("the difference is not divided by 2h",
                       "a difference quotient divides the change of the gradient by the distance 2h.",
                       lambda i: _differences(i, "undivided"), rtol=1e-9),
        Mistake.answer("the step h is ignored",
                       "use the h the caller passes (its default is 1e-5), not a fixed step.",
                       lambda i: _differences(i, h=1e-5) if i["h"] is not None else np.full(len(i["x"]), np.nan),
                       rtol=1e-9),
        Mistake.answer("the direction v is ignored",
                       "step along v: grad(x + h v) and grad(x - h v), not x + h and x - h.",
                       lambda i: _differences(i, v=np.ones(len(i["x"]))), rtol=1e-9),
    ),
)


def _hvp_answer(inputs: Mapping[str, Any]) -> np.ndarray:
    return _sweep(gradient_function(inputs), inputs["x"], inputs["v"])[1]


HVP = Question(
    id="07.hvp",
    builds_on=('07.jvp',),
    points=2,
    title="H v by forward mode over the gradient (one sweep, no Hessian)",
    cases=lambda rng: _hvp_cases(rng, with_h=False),
    probe=PROBES["07.hvp"],
    reference=_hvp_answer,
    rtol=1e-8,
    atol=1e-10,
    mistakes=(
        Mistake.answer("the gradient returned instead of H v",
                       "H v is the TANGENT of grad_f along v: return jvp(grad_f, x, v)[1], not the value "
                       "grad_f(x).", lambda i: _gradient_at(i, as_array(i, "x")), rtol=1e-9),
        Mistake.answer("tangent of a product without the product rule", PRODUCT_RULE_FEEDBACK,
                       lambda i: _sweep(gradient_function(i), i["x"], i["v"], bad_product=True)[1], rtol=1e-9),
        Mistake.raises("no forward sweep",
                       "run grad_f once on dual numbers, jvp(grad_f, x, v): its tangent is exactly H v. "
                       "Finite differences are the check, not the answer.", "NotForwardMode"),
    ),
)


# --- chain_cost(sizes, order="reverse") ---------------------------------------------------------------------


def _cost(sizes: list[int], order: str) -> int:
    s = sizes
    if order == "reverse":
        return sum(s[-1] * s[i] * s[i - 1] for i in range(1, len(s) - 1))
    return sum(s[i] * s[i - 1] * s[0] for i in range(2, len(s)))


def _chain_cases(rng: np.random.Generator) -> list[Case]:
    # at least two hidden sizes: with one ([|x|, |z1|, |l|]) both orders cost the same
    cases = []
    for k, (length, outputs) in enumerate([(5, 1), (4, 1), (4, 6), (6, 1), (5, 3), (6, 2)]):
        sizes = [int(s) for s in rng.integers(2, 800, size=length - 1)] + [outputs]
        cases.append(Case(f"chain_cost({sizes})", {"sizes": sizes}, visible=k < 3))
    return cases


def _chain_answer(inputs: Mapping[str, Any], swap: bool = False, no_outputs: bool = False) -> dict[str, float]:
    sizes = list(inputs["sizes"])
    rev, fwd = _cost(sizes, "reverse"), _cost(sizes, "forward")
    if no_outputs:  # only tells apart when there is more than one output
        rev = _cost(sizes[:-1] + [1], "reverse") if sizes[-1] > 1 else math.nan
    if swap:
        rev, fwd = fwd, rev
    return {"reverse": float(rev), "forward": float(fwd), "default": float(rev)}


CHAIN_COST = Question(
    id="07.chain_cost",
    points=2,
    title="Multiply-adds of a chain of Jacobians, from the loss side or from the input side",
    cases=_chain_cases,
    probe=PROBES["07.chain_cost"],
    reference=_chain_answer,
    rtol=0.0,
    atol=0.5,
    mistakes=(
        Mistake.answer("forward and reverse orders swapped",
                       "reverse mode starts from the loss side: a (s_(k+1) x s_i) row block times each "
                       "Jacobian, sum of s_(k+1) s_i s_(i-1). Forward mode starts from the input side: a full "
                       "(s_(i-1) x s_0) Jacobian each time, sum of s_i s_(i-1) s_0.",
                       lambda i: _chain_answer(i, swap=True), rtol=0.0, atol=0.5),
        Mistake.answer("the number of outputs is left out of the reverse cost",
                       "with m = sizes[-1] outputs the running product from the loss side is m x s_i, "
                       "so each step costs m s_i s_(i-1), not s_i s_(i-1).",
                       lambda i: _chain_answer(i, no_outputs=True), rtol=0.0, atol=0.5),
    ),
)


EXERCISE = Exercise(
    number="07",
    title="Modes, cost and memory",
    notebook="07_modes_cost_memory",
    questions=(DUAL, JVP, JACOBIAN_FORWARD, JACOBIAN_REVERSE, HVP_NUMERICAL, HVP, CHAIN_COST),
)
