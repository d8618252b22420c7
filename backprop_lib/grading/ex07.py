"""Exercise 07: modes, cost and memory.

The student writes dual numbers and ``jvp`` (forward mode), a full Jacobian by forward sweeps
(columns) and by reverse sweeps (rows), a Hessian-vector product by central differences of the
gradient and by forward mode over a gradient, and the cost of a chain of Jacobians in either order.

The test functions are built from plain inputs (a name and its constant arrays) in ``probes/ex07.py``
and written with operators and the methods ``.sin() .exp() .tanh()``, so the same code runs on the
student's ``Dual``, on the library's ``Tensor`` and on plain numpy arrays. None of them is quadratic
or homogeneous, so that a gradient taken at the wrong point, or a rule dropped, cannot give H v or
J v by chance. The references use a small dual-number class of this module (``_Dual``); each of
its subclasses breaks one derivative rule the way students do, so that the feedback can name it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .probes.ex07 import FUNCTIONS, OPERATIONS, PROBES, as_array, gradient_function, value_and_tangent
from .spec import Case, Exercise, Mistake, Outcome, Question, close

Inputs = Mapping[str, Any]
Matcher = Callable[[Outcome, Inputs], bool]

# --- a reference dual number, and the same with one rule broken --------------------------------------------


class _Dual:
    """value + tangent * eps with the right rules; a subclass overrides one method to break its rule."""

    __slots__ = ("value", "tangent")
    __array_ufunc__ = None

    def __init__(self, value: Any, tangent: Any = 0.0):
        self.value, self.tangent = value, tangent

    def _lift(self, other: Any) -> _Dual:
        return other if isinstance(other, _Dual) else type(self)(other, 0.0)

    def _new(self, value: Any, tangent: Any) -> _Dual:
        return type(self)(value, tangent)

    def __add__(self, other: Any) -> _Dual:
        o = self._lift(other)
        return self._new(self.value + o.value, self.tangent + o.tangent)

    def __radd__(self, other: Any) -> _Dual:
        return self._lift(other) + self

    def __sub__(self, other: Any) -> _Dual:
        o = self._lift(other)
        return self._new(self.value - o.value, self.tangent - o.tangent)

    def __rsub__(self, other: Any) -> _Dual:
        return self._lift(other) - self

    def __mul__(self, other: Any) -> _Dual:
        o = self._lift(other)
        return self._new(self.value * o.value, self.tangent * o.value + self.value * o.tangent)

    def __rmul__(self, other: Any) -> _Dual:
        return self._lift(other) * self

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


class _NoProductRule(_Dual):
    __slots__ = ()

    def __mul__(self, other: Any) -> _Dual:
        o = self._lift(other)
        return self._new(self.value * o.value, self.tangent * o.tangent)


def _quotient(tangent: Callable[[Any, Any, Any, Any], Any]) -> type[_Dual]:
    """A dual number whose x / y has the tangent ``tangent(x.value, x.tangent, y.value, y.tangent)``."""

    class WrongQuotient(_Dual):
        __slots__ = ()

        def __truediv__(self, other: Any) -> _Dual:
            o = self._lift(other)
            return self._new(self.value / o.value, tangent(self.value, self.tangent, o.value, o.tangent))

    return WrongQuotient


WRONG_QUOTIENTS = (_quotient(lambda a, at, b, bt: (at * b + a * bt) / (b * b)),  # a plus sign
                   _quotient(lambda a, at, b, bt: (a * bt - at * b) / (b * b)),  # the terms the other way round
                   _quotient(lambda a, at, b, bt: (at * b - a * bt) / b))  # not the square below


class _RsubIsSub(_Dual):
    __slots__ = ()

    def __rsub__(self, other: Any) -> _Dual:
        return self - other


class _RdivIsDiv(_Dual):
    __slots__ = ()

    def __rtruediv__(self, other: Any) -> _Dual:
        return self / other


class _TanhOnInput(_Dual):
    __slots__ = ()

    def tanh(self) -> _Dual:
        return self._new(np.tanh(self.value), (1.0 - self.value * self.value) * self.tangent)


class _NoInnerTangent(_Dual):
    """sin, exp and tanh give g'(a), not g'(a) a': the chain rule's last factor is left out."""

    __slots__ = ()

    def sin(self) -> _Dual:
        return self._new(np.sin(self.value), np.cos(self.value))

    def exp(self) -> _Dual:
        return self._new(np.exp(self.value), np.exp(self.value))

    def tanh(self) -> _Dual:
        t = np.tanh(self.value)
        return self._new(t, 1.0 - t * t)


class _NegatesValueOnly(_Dual):
    __slots__ = ()

    def __neg__(self) -> _Dual:
        return self._new(-self.value, self.tangent)


class _SubtractionAddsTangents(_Dual):
    __slots__ = ()

    def __sub__(self, other: Any) -> _Dual:
        o = self._lift(other)
        return self._new(self.value - o.value, self.tangent + o.tangent)


def _sweep(f: Callable, x: Any, v: Any, dual: type[_Dual] = _Dual) -> tuple[np.ndarray, np.ndarray]:
    """(f(x), J v) by the reference dual numbers ``dual``, as float arrays."""
    with np.errstate(all="ignore"):
        out = f(dual(np.array(x, dtype=float), np.array(v, dtype=float)))
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


def _dual_reference(inputs: Inputs, dual: type[_Dual] = _Dual) -> dict[str, dict[str, Any]]:
    out = {}
    with np.errstate(all="ignore"):
        for key, op in OPERATIONS[inputs["group"]].items():
            r = op(dual(inputs["a"], inputs["at"]), dual(inputs["b"], inputs["bt"]), inputs["c"])
            out[key] = value_and_tangent(r.value, r.tangent, key)
    return out


def _entry_is(key: str, part: str, expected: Callable[[Inputs], Any]) -> Matcher:
    """Matches when the outcome's ``key`` entry has ``part`` equal to ``expected(inputs)``."""
    def matches(outcome: Outcome, inputs: Inputs) -> bool:
        got = outcome.value
        if outcome.error or not isinstance(got, dict) or not isinstance(got.get(key), dict):
            return False
        with np.errstate(all="ignore"):
            want = np.asarray(expected(inputs), dtype=float)
        return close(np.asarray(got[key].get(part), dtype=float), want, 1e-9, 1e-12)
    return matches


def _broken_rule(name: str, feedback: str, dual: type[_Dual], part: str, *keys: str) -> Mistake:
    """The mistake of the dual number ``dual``, recognised from the ``part`` of any of the entries
    ``keys`` it gets wrong, whatever the other entries give (a Dual may break several rules)."""
    entries = [_entry_is(key, part, lambda i, k=key: _dual_reference(i, dual)[k][part]) for key in keys]
    return Mistake(name, feedback, lambda outcome, inputs: any(m(outcome, inputs) for m in entries),
                   lambda i: _dual_reference(i, dual))


def _error_says(kind: str, *words: str) -> Matcher:
    return lambda outcome, inputs: (bool(outcome.error) and outcome.error[0] == kind
                                    and any(w in outcome.error[1] for w in words))


QUOTIENT_FEEDBACK = ("the tangent of x / y is (x.tangent * y.value - x.value * y.tangent) / y.value**2: "
                     "a minus sign between the terms, x's tangent first, and the square of y's value below.")

DUAL = Question(
    id="07.Dual",
    points=3,
    title="Dual numbers: the derivative rules on value + tangent * eps",
    cases=_dual_cases,
    probe=PROBES["07.Dual"],
    reference=_dual_reference,
    rtol=1e-9,
    atol=1e-12,
    credit="output",  # each operation of a case is an output of its own
    mistakes=(
        _broken_rule("tangent of a product without the product rule",
                     "(a + a' eps)(b + b' eps) = ab + (a' b + a b') eps, because eps^2 = 0: the tangent of "
                     "x * y is x.tangent * y.value + x.value * y.tangent, not x.tangent * y.tangent.",
                     _NoProductRule, "tangent", "x * y"),
        *(_broken_rule("wrong quotient rule", QUOTIENT_FEEDBACK, dual, "tangent", "x / y") for dual in WRONG_QUOTIENTS),
        Mistake("wrong quotient rule", QUOTIENT_FEEDBACK,  # x / c would divide by a zero tangent: no wrong answer
                _entry_is("x / y", "tangent", lambda i: np.divide(np.asarray(i["at"], float), i["bt"]))),
        _broken_rule("tangents added in x - y",
                     "the tangent of a difference is the difference of the tangents: "
                     "x.tangent - y.tangent, not x.tangent + y.tangent.", _SubtractionAddsTangents, "tangent", "x - y"),
        _broken_rule("-x negates only the value",
                     "-(a + a' eps) = -a - a' eps: negate the tangent too.", _NegatesValueOnly, "tangent", "-x"),
        _broken_rule("c - x computed as x - c",
                     "__rsub__ is not __sub__: c - x calls x.__rsub__(c), which must return lift(c) - x.",
                     _RsubIsSub, "value", "c - x"),
        _broken_rule("c / x computed as x / c",
                     "__rtruediv__ is not __truediv__: c / x calls x.__rtruediv__(c), which must return lift(c) / x.",
                     _RdivIsDiv, "value", "c / x"),
        _broken_rule("derivative of tanh taken on the input",
                     "d tanh(a) / da = 1 - tanh(a)^2: square the OUTPUT tanh(a), not the input a.",
                     _TanhOnInput, "tangent", "x.tanh()"),
        _broken_rule("the input's tangent left out of sin, exp or tanh",
                     "by the chain rule, g(a + a' eps) = g(a) + g'(a) a' eps: multiply g'(a) by self.tangent, "
                     "e.g. np.cos(self.value) * self.tangent for sin.",
                     _NoInnerTangent, "tangent", "x.sin()", "x.exp()", "x.tanh()"),
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


def _jvp_answer(inputs: Inputs, dual: type[_Dual] = _Dual, x: Any = None, v: Any = None) -> dict[str, np.ndarray]:
    """{"value": f(x), "tangent": J v}, by ``dual``, at the case's x and v unless given others."""
    f = FUNCTIONS[inputs["f"]](inputs)
    value, tangent = _sweep(f, inputs["x"] if x is None else x, inputs["v"] if v is None else v, dual)
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
    credit="case",  # f(x) alone is no Jacobian-vector product
    mistakes=(
        Mistake.answer("tangent of a product without the product rule", PRODUCT_RULE_FEEDBACK,
                       lambda i: _jvp_answer(i, dual=_NoProductRule), rtol=1e-9),
        Mistake.answer("x and v swapped in the dual number",
                       "the point is the VALUE and the direction the TANGENT: f(Dual(x, v)). "
                       "f(Dual(v, x)) evaluates f at v and differentiates along x.",
                       lambda i: _jvp_answer(i, x=i["v"], v=i["x"]), rtol=1e-9),
        Mistake.answer("the direction v is ignored",
                       "seed the input's tangent with v: f(Dual(x, v)), not with ones; the output's "
                       "tangent is then J v.", lambda i: _jvp_answer(i, v=np.ones(np.shape(i["x"]))), rtol=1e-9),
        Mistake.answer("the input's tangent left at 0",
                       "Dual(x) has tangent 0, a constant, so every output tangent is 0: seed it with v, "
                       "f(Dual(x, v)).", lambda i: _jvp_answer(i, v=np.zeros(np.shape(i["x"]))), rtol=1e-9),
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


def _function(inputs: Inputs) -> Callable:
    return FUNCTIONS[inputs["f"]](inputs)


def _jacobian_answer(inputs: Inputs) -> np.ndarray:
    return _jacobian(_function(inputs), as_array(inputs, "x"))


def _columns(inputs: Inputs, column: Callable[[Callable, np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """The m x n matrix whose column j is ``column(f, x, e_j)``."""
    f, x = _function(inputs), as_array(inputs, "x")
    return np.stack([column(f, x, e) for e in np.eye(len(x))], axis=1)


TRANSPOSED = ("a Jacobian of f: R^n -> R^m is m x n: one ROW per output, one COLUMN per input. "
              "Stack the JVPs J e_j as columns (np.stack(..., axis=1)) and the VJPs e_i^T J as rows.")


def _transposed() -> Mistake:
    return Mistake.answer("Jacobian transposed", TRANSPOSED, lambda i: _jacobian_answer(i).T, rtol=1e-8, atol=1e-11)


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
    credit="case",
    mistakes=(
        _transposed(),
        Mistake.answer("one sweep with v = ones instead of n sweeps",
                       "jvp(f, x, ones) gives J @ ones, the sum of the columns; column j is jvp(f, x, e_j) "
                       "with the unit vector e_j: n sweeps.",
                       lambda i: _jacobian_answer(i) @ np.ones(len(i["x"])), rtol=1e-8, atol=1e-11),
        Mistake.answer("the value f(x) taken instead of the tangent",
                       "jvp returns the pair (f(x), J e_j): column j is its SECOND item, jvp(f, x, e_j)[1].",
                       lambda i: _columns(i, lambda f, x, e: _sweep(f, x, e)[0]), rtol=1e-8, atol=1e-11),
        Mistake.answer("x and e_j swapped in the call of jvp",
                       "jvp(f, x, e_j) differentiates at the point x along e_j; jvp(f, e_j, x) evaluates at "
                       "e_j instead. Check the order of the arguments here and inside jvp.",
                       lambda i: _columns(i, lambda f, x, e: _sweep(f, e, x)[1]), rtol=1e-8, atol=1e-11),
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
    credit="case",
    mistakes=(
        _transposed(),
        Mistake.answer("gradients accumulated across the sweeps",
                       "row i came out as the sum of rows 0..i: backward ADDS into x.grad, so set "
                       "xt.grad = None (or build a fresh leaf) before each backward call; and seed each sweep "
                       "with a fresh unit vector, not one that keeps the ones of the earlier sweeps.",
                       lambda i: np.cumsum(_jacobian_answer(i), axis=0), rtol=1e-8, atol=1e-11),
        Mistake.answer("one sweep with u = ones instead of m sweeps",
                       "backward(grad=ones) gives J^T ones, the sum of the rows; row i is the VJP with the "
                       "unit vector e_i as upstream gradient: m sweeps.",
                       lambda i: np.ones(_jacobian_answer(i).shape[0]) @ _jacobian_answer(i), rtol=1e-8, atol=1e-11),
        Mistake.answer("the same output seeded in every sweep",
                       "every row came out as row 0: sweep i must seed output i, backward(grad=e_i) with "
                       "e_i = np.eye(m)[i], a different unit vector each time.",
                       lambda i: np.broadcast_to(_jacobian_answer(i)[0], _jacobian_answer(i).shape).copy(),
                       rtol=1e-8, atol=1e-11),
        Mistake("one seed per input instead of per output",
                "a reverse sweep seeds an OUTPUT: the upstream gradient has the shape of y, m = y.shape[0] "
                "entries, and there are m sweeps (np.eye(m)), not n = len(x).",
                _error_says("ValueError", "gradient of shape")),
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
            inputs["S"], inputs["b"] = np.round((M + M.T) / 2, 3), _vector(rng, n)
        elif name == "tiny_net":
            inputs["X"], inputs["y"] = np.round(rng.normal(size=(6, n)), 3), _vector(rng, 6)
        elif name == "waves":
            inputs["c"] = _vector(rng, n)
        label = f"{name}, n = {n}"
        if with_h:  # a step given is large enough that the quotient with it differs clearly from one with 1e-5
            inputs["h"] = None if k % 2 == 0 else float(rng.choice([0.1, 0.05, 0.01]))
            label += "" if inputs["h"] is None else f", h = {inputs['h']:g}"
        cases.append(Case(label, inputs, visible=visible))
    return cases


def _gradient_at(inputs: Inputs, x: np.ndarray) -> np.ndarray:
    return np.asarray(gradient_function(inputs)(x), dtype=float)


def _differences(inputs: Inputs, kind: str = "central", h: float | None = None, v: Any = None) -> np.ndarray:
    h = (1e-5 if inputs["h"] is None else inputs["h"]) if h is None else h
    x, v = as_array(inputs, "x"), (as_array(inputs, "v") if v is None else v)
    plus, minus, at = (_gradient_at(inputs, x + h * v), _gradient_at(inputs, x - h * v), _gradient_at(inputs, x))
    return {"central": (plus - minus) / (2 * h), "forward": (plus - at) / h, "backward": (at - minus) / h,
            "over h": (plus - minus) / h, "undivided": plus - minus, "times h": (plus - minus) / 2 * h}[kind]


ONE_SIDED = ("(grad(x + h v) - grad(x)) / h, or (grad(x) - grad(x - h v)) / h, has error O(h); use the central "
             "difference (grad(x + h v) - grad(x - h v)) / (2h), whose error is O(h^2).")

HVP_NUMERICAL = Question(
    id="07.hvp_numerical",
    points=2,
    title="H v by central differences of the gradient",
    cases=lambda rng: _hvp_cases(rng, with_h=True),
    probe=PROBES["07.hvp_numerical"],
    reference=_differences,
    rtol=1e-7,
    atol=1e-9,
    credit="case",
    mistakes=(
        Mistake.answer("one-sided differences", ONE_SIDED, lambda i: _differences(i, "forward"), rtol=1e-9),
        Mistake.answer("one-sided differences", ONE_SIDED, lambda i: _differences(i, "backward"), rtol=1e-9),
        Mistake.answer("divided by h instead of 2h",
                       "the points x - h v and x + h v are 2h apart along v: divide by 2h.",
                       lambda i: _differences(i, "over h"), rtol=1e-9),
        Mistake.answer("the difference is not divided by 2h",
                       "a difference quotient divides the change of the gradient by the distance 2h.",
                       lambda i: _differences(i, "undivided"), rtol=1e-9),
        Mistake.answer("2 * h not in parentheses",
                       "d / 2 * h is (d / 2) * h, a product with h: write d / (2 * h).",
                       lambda i: _differences(i, "times h"), rtol=1e-9),
        Mistake.answer("the step h is ignored",
                       "use the h the caller passes (its default is 1e-5), not a fixed step.",
                       lambda i: _differences(i, h=1e-5) if i["h"] is not None else np.full(len(i["x"]), np.nan),
                       rtol=1e-9),
        Mistake.answer("the direction v is ignored",
                       "step along v: grad(x + h v) and grad(x - h v), not x + h and x - h.",
                       lambda i: _differences(i, v=np.ones(len(i["x"]))), rtol=1e-9),
        Mistake.raises("an input changed in place",
                       "x += h * v (or v *= h) writes into the caller's array, which it may still need: "
                       "compute x + h * v and x - h * v as new arrays and leave x and v as they came.",
                       "InputChanged"),
    ),
)


def _hvp_answer(inputs: Inputs) -> np.ndarray:
    return _sweep(gradient_function(inputs), inputs["x"], inputs["v"])[1]


SWAPPED = ("jvp(grad_f, x, v): the point x is the value of the dual number and the direction v its tangent. "
           "jvp(grad_f, v, x) evaluates the gradient at v, which is not H v.")

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
    credit="case",
    mistakes=(
        Mistake.answer("the gradient returned instead of H v",
                       "H v is the TANGENT of grad_f along v: return jvp(grad_f, x, v)[1], not the value "
                       "grad_f(x).", lambda i: _gradient_at(i, as_array(i, "x")), rtol=1e-9),
        Mistake.answer("x and v swapped in the call of jvp", SWAPPED,
                       lambda i: _gradient_at(i, as_array(i, "v")), rtol=1e-9),
        Mistake.answer("x and v swapped in the call of jvp", SWAPPED,
                       lambda i: _sweep(gradient_function(i), i["v"], i["x"])[1], rtol=1e-9),
        Mistake.answer("the direction v is ignored",
                       "seed the tangent with v, jvp(grad_f, x, v), not with ones: the tangent is then H v.",
                       lambda i: _sweep(gradient_function(i), i["x"], np.ones(len(i["x"])))[1], rtol=1e-9),
        Mistake.answer("tangent of a product without the product rule", PRODUCT_RULE_FEEDBACK,
                       lambda i: _sweep(gradient_function(i), i["x"], i["v"], _NoProductRule)[1], rtol=1e-9),
        Mistake.raises("no forward sweep",
                       "run grad_f once on dual numbers, jvp(grad_f, x, v): its tangent is exactly H v. "
                       "Finite differences are the check, not the answer.", "NotForwardMode"),
    ),
)


# --- chain_cost(sizes, order="reverse") ---------------------------------------------------------------------


def _terms(sizes: list[int], order: str, first: int = 0, last: int = 0) -> int:
    """Multiply-adds of the chain from the loss side ("reverse") or the input side ("forward"): one
    term per product, over the usual range of i moved by ``first`` at its start and ``last`` at its end."""
    s = sizes
    if order == "reverse":
        return sum(s[-1] * s[i] * s[i - 1] for i in range(1 + first, len(s) - 1 + last))
    return sum(s[i] * s[i - 1] * s[0] for i in range(2 + first, len(s) + last))


def _chain_cases(rng: np.random.Generator) -> list[Case]:
    # at least two hidden sizes: with one ([|x|, |z1|, |l|]) both orders cost the same
    cases = []
    for k, (length, outputs) in enumerate([(5, 1), (4, 1), (4, 6), (6, 1), (5, 3), (6, 2)]):
        sizes = [int(s) for s in rng.integers(2, 800, size=length - 1)] + [outputs]
        cases.append(Case(f"chain_cost({sizes})", {"sizes": sizes}, visible=k < 3))
    return cases


def _chain_answer(inputs: Inputs) -> dict[str, float]:
    sizes = list(inputs["sizes"])
    rev, fwd = _terms(sizes, "reverse"), _terms(sizes, "forward")
    return {"reverse": float(rev), "forward": float(fwd), "default": float(rev)}


def _costs(name: str, feedback: str, costs: Callable[[list[int]], dict[str, float]]) -> Mistake:
    """The mistake that gives ``costs(sizes)`` for the orders it names (the default order follows
    "reverse"), recognised from those orders alone: a mistake in one order is named whatever the
    other order gives. A cost of nan: the mistake cannot be told apart on these sizes."""
    def matches(outcome: Outcome, inputs: Inputs) -> bool:
        got = outcome.value
        if outcome.error or not isinstance(got, dict):
            return False
        return all(close(got.get(order), cost, 0.0, 0.5) for order, cost in costs(list(inputs["sizes"])).items())

    def wrong(inputs: Inputs) -> dict[str, float]:
        changed = {order: float(cost) for order, cost in costs(list(inputs["sizes"])).items()}
        if "reverse" in changed:
            changed["default"] = changed["reverse"]
        return {**_chain_answer(inputs), **changed}

    return Mistake(name, feedback, matches, wrong)


LEFT_OUT = ("each Jacobian after the first is one product: k + 1 Jacobians take k products. From the loss "
            "side i runs over k, ..., 1 (range(1, len(sizes) - 1)); from the input side over 2, ..., k + 1 "
            "(range(2, len(sizes))): mind that range stops BEFORE its end.")
IDENTITY = ("the running product starts AS the first Jacobian (dl/dz_k from the loss side, dz_1/dx from the "
            "input side), so k + 1 Jacobians take k products: no multiply-adds for multiplying by an identity.")

CHAIN_COST = Question(
    id="07.chain_cost",
    points=2,
    title="Multiply-adds of a chain of Jacobians, from the loss side or from the input side",
    cases=_chain_cases,
    probe=PROBES["07.chain_cost"],
    reference=_chain_answer,
    rtol=0.0,
    atol=0.5,
    credit="output",  # the two orders, and the default, are counted apart
    mistakes=(
        _costs("forward and reverse orders swapped",
               "reverse mode starts from the loss side: a (s_(k+1) x s_i) row block times each "
               "Jacobian, sum of s_(k+1) s_i s_(i-1). Forward mode starts from the input side: a full "
               "(s_(i-1) x s_0) Jacobian each time, sum of s_i s_(i-1) s_0.",
               lambda s: {"reverse": _terms(s, "forward"), "forward": _terms(s, "reverse")}),
        _costs("the number of outputs is left out of the reverse cost",
               "with m = sizes[-1] outputs the running product from the loss side is m x s_i, "
               "so each step costs m s_i s_(i-1), not s_i s_(i-1).",
               lambda s: {"reverse": _terms(s[:-1] + [1], "reverse") if s[-1] > 1 else np.nan}),
        _costs("a product left out of the count", LEFT_OUT, lambda s: {"reverse": _terms(s, "reverse", last=-1)}),
        _costs("a product left out of the count", LEFT_OUT, lambda s: {"forward": _terms(s, "forward", last=-1)}),
        _costs("a product with an identity counted", IDENTITY, lambda s: {"reverse": _terms(s, "reverse", last=1)}),
        _costs("a product with an identity counted", IDENTITY, lambda s: {"forward": _terms(s, "forward", first=-1)}),
        Mistake.raises("an input changed in place",
                       "sizes.reverse() (or sort, pop, append) changes the caller's list, which it may still "
                       "need: read sizes as it is, or work on a copy (list(sizes), sizes[::-1]).", "InputChanged"),
    ),
)


EXERCISE = Exercise(
    number="07",
    title="Modes, cost and memory",
    notebook="07_modes_cost_memory",
    questions=(DUAL, JVP, JACOBIAN_FORWARD, JACOBIAN_REVERSE, HVP_NUMERICAL, HVP, CHAIN_COST),
)
