"""Exercise 07: right answers pass and every known mistake is named (test_course.py grades the master
and the blank exercise)."""
from __future__ import annotations

import numpy as np
import pytest

from backprop_lib import Tensor, modes
from backprop_lib.checkpoint import chain_cost as library_chain_cost
from backprop_lib.grading import EXERCISES, check, find_question
from backprop_lib.grading.judge import judge
from backprop_lib.grading.plain import dumps
from backprop_lib.grading.probes.ex07 import gradient_function
from backprop_lib.grading.protocol import loads
from backprop_lib.grading.spec import Outcome

EXERCISE = EXERCISES["07"]


# --- right answers ------------------------------------------------------------------------------------


class Dual:
    __array_ufunc__ = None

    def __init__(self, value, tangent=0.0):
        self.value, self.tangent = value, tangent

    def lift(self, c):
        return c if hasattr(c, "tangent") else type(self)(c, 0.0)

    def new(self, value, tangent):
        return type(self)(value, tangent)

    def __add__(self, o):
        o = self.lift(o)
        return self.new(self.value + o.value, self.tangent + o.tangent)

    def __radd__(self, o):
        return self.lift(o) + self

    def __sub__(self, o):
        o = self.lift(o)
        return self.new(self.value - o.value, self.tangent - o.tangent)

    def __rsub__(self, o):
        return self.lift(o) - self

    def __mul__(self, o):
        o = self.lift(o)
        return self.new(self.value * o.value, self.tangent * o.value + self.value * o.tangent)

    def __rmul__(self, o):
        return self.lift(o) * self

    def __truediv__(self, o):
        o = self.lift(o)
        return self.new(self.value / o.value, (self.tangent * o.value - self.value * o.tangent) / o.value ** 2)

    def __rtruediv__(self, o):
        return self.lift(o) / self

    def __neg__(self):
        return self.new(-self.value, -self.tangent)

    def __rmatmul__(self, A):
        return self.new(A @ self.value, A @ self.tangent)

    def sin(self):
        return self.new(np.sin(self.value), np.cos(self.value) * self.tangent)

    def exp(self):
        return self.new(np.exp(self.value), np.exp(self.value) * self.tangent)

    def tanh(self):
        return self.new(np.tanh(self.value), (1 - np.tanh(self.value) ** 2) * self.tangent)


def jvp(f, x, v, dual=Dual):
    out = f(dual(x, v))
    return out.value, out.tangent


def jacobian_forward(f, x):
    return np.stack([jvp(f, x, e)[1] for e in np.eye(len(x))], axis=1)


def reverse_rows(f, x, reset=True):
    xt = Tensor(np.asarray(x, dtype=float), requires_grad=True)
    y = f(xt)
    rows = []
    for u in np.eye(y.shape[0]):
        if reset:
            xt.grad = None
        y.backward(grad=u)
        rows.append(xt.grad.copy())
    return np.stack(rows)


def jacobian_reverse(f, x):
    return reverse_rows(f, x)


def hvp_numerical(grad_f, x, v, h=1e-5):
    return (grad_f(x + h * v) - grad_f(x - h * v)) / (2 * h)


def hvp(grad_f, x, v):
    return jvp(grad_f, x, v)[1]


def chain_cost(sizes, order="reverse"):
    s = list(sizes)
    if order == "reverse":
        return sum(s[-1] * s[i] * s[i - 1] for i in range(1, len(s) - 1))
    return sum(s[i] * s[i - 1] * s[0] for i in range(2, len(s)))


RIGHT = {"07.Dual": {"Dual": Dual}, "07.jvp": {"jvp": jvp}, "07.jacobian_forward": {"jacobian_forward": jacobian_forward},
         "07.jacobian_reverse": {"jacobian_reverse": jacobian_reverse},
         "07.hvp_numerical": {"hvp_numerical": hvp_numerical}, "07.hvp": {"hvp": hvp},
         "07.chain_cost": {"chain_cost": chain_cost}}


# --- wrong answers, one per known mistake -----------------------------------------------------------------


class NoProductRule(Dual):
    def __mul__(self, o):
        o = self.lift(o)
        return self.new(self.value * o.value, self.tangent * o.tangent)


class PlusInQuotient(Dual):
    def __truediv__(self, o):
        o = self.lift(o)
        return self.new(self.value / o.value, (self.tangent * o.value + self.value * o.tangent) / o.value ** 2)


class RsubIsSub(Dual):
    __rsub__ = Dual.__sub__


class RdivIsDiv(Dual):
    __rtruediv__ = Dual.__truediv__


class TanhOnInput(Dual):
    def tanh(self):
        return self.new(np.tanh(self.value), (1 - self.value ** 2) * self.tangent)


class NoLift(Dual):
    def __add__(self, o):
        return self.new(self.value + o.value, self.tangent + o.tangent)


NoReflected = type("Dual", (), {k: v for k, v in vars(Dual).items()
                                if k not in ("__radd__", "__rsub__", "__rmul__", "__rtruediv__", "__dict__", "__weakref__")})


def quotient(tangent):
    """A Dual whose x / y has the tangent ``tangent(x.value, x.tangent, y.value, y.tangent)``."""
    def __truediv__(self, o):
        o = self.lift(o)
        return self.new(self.value / o.value, tangent(self.value, self.tangent, o.value, o.tangent))
    return type("Dual", (Dual,), {"__truediv__": __truediv__})


class SubtractionAdds(Dual):
    def __sub__(self, o):
        o = self.lift(o)
        return self.new(self.value - o.value, self.tangent + o.tangent)


class NegatesValueOnly(Dual):
    def __neg__(self):
        return self.new(-self.value, self.tangent)


class NoInnerTangent(Dual):
    def sin(self):
        return self.new(np.sin(self.value), np.cos(self.value))

    def exp(self):
        return self.new(np.exp(self.value), np.exp(self.value))

    def tanh(self):
        return self.new(np.tanh(self.value), 1 - np.tanh(self.value) ** 2)


def tangent_left_at_zero(f, x, v):
    out = f(Dual(x))
    return out.value, out.tangent


def forward_differences(f, x, h=1e-6):
    return np.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))], axis=1)


def backward_with_ones(f, x):
    xt = Tensor(np.asarray(x, dtype=float), requires_grad=True)
    y = f(xt)
    y.backward(grad=np.ones(y.shape))
    return xt.grad


def columns(column_of, x):
    """The matrix whose column j is ``column_of(e_j)``."""
    return np.stack([column_of(e) for e in np.eye(len(x))], axis=1)


def same_seed(f, x):
    xt = Tensor(np.asarray(x, dtype=float), requires_grad=True)
    y = f(xt)
    rows = []
    for _ in range(y.shape[0]):
        xt.grad = None
        y.backward(grad=np.eye(y.shape[0])[0])
        rows.append(xt.grad.copy())
    return np.stack(rows)


def seed_per_input(f, x):
    xt = Tensor(np.asarray(x, dtype=float), requires_grad=True)
    y = f(xt)
    rows = []
    for u in np.eye(len(x)):
        xt.grad = None
        y.backward(grad=u)
        rows.append(xt.grad.copy())
    return np.stack(rows)


def hvp_in_place(grad_f, x, v, h=1e-5):
    x += h * v
    plus = grad_f(x)
    x -= 2 * h * v
    return (plus - grad_f(x)) / (2 * h)


def chain_off_by_one(reverse_stop=-1, forward_start=2, forward_stop=0):
    def cost(sizes, order="reverse"):
        s = list(sizes)
        if order == "reverse":
            return sum(s[-1] * s[i] * s[i - 1] for i in range(1, len(s) + reverse_stop))
        return sum(s[i] * s[i - 1] * s[0] for i in range(forward_start, len(s) + forward_stop))
    return cost


def chain_reversing_in_place(sizes, order="reverse"):
    if order == "forward":
        sizes.reverse()
        return sum(sizes[-1] * sizes[i] * sizes[i - 1] for i in range(1, len(sizes) - 1))
    return chain_cost(sizes, order)


def chain_swapped(sizes, order="reverse"):
    return chain_cost(sizes, "forward" if order == "reverse" else "reverse")


def chain_without_outputs(sizes, order="reverse"):
    return chain_cost(list(sizes[:-1]) + [1], order) if order == "reverse" else chain_cost(sizes, order)


WRONG = [
    ("07.Dual", "Dual", NoProductRule, "tangent of a product without the product rule"),
    ("07.Dual", "Dual", PlusInQuotient, "wrong quotient rule"),
    ("07.Dual", "Dual", RsubIsSub, "c - x computed as x - c"),
    ("07.Dual", "Dual", RdivIsDiv, "c / x computed as x / c"),
    ("07.Dual", "Dual", TanhOnInput, "derivative of tanh taken on the input"),
    ("07.Dual", "Dual", quotient(lambda a, at, b, bt: (a * bt - at * b) / b ** 2), "wrong quotient rule"),
    ("07.Dual", "Dual", quotient(lambda a, at, b, bt: (at * b - a * bt) / b), "wrong quotient rule"),
    ("07.Dual", "Dual", SubtractionAdds, "tangents added in x - y"),
    ("07.Dual", "Dual", NegatesValueOnly, "-x negates only the value"),
    ("07.Dual", "Dual", NoInnerTangent, "the input's tangent left out of sin, exp or tanh"),
    ("07.Dual", "Dual", NoLift, "a constant operand is not lifted"),
    ("07.Dual", "Dual", NoReflected, "a reflected operator is missing"),
    ("07.jvp", "jvp", lambda f, x, v: jvp(f, x, v, NoProductRule), "tangent of a product without the product rule"),
    ("07.jvp", "jvp", lambda f, x, v: jvp(f, x, np.ones_like(v)), "the direction v is ignored"),
    ("07.jvp", "jvp", lambda f, x, v: jvp(f, x, v)[::-1], "value and tangent swapped"),
    ("07.jvp", "jvp", lambda f, x, v: jvp(f, v, x), "x and v swapped in the dual number"),
    ("07.jvp", "jvp", tangent_left_at_zero, "the input's tangent left at 0"),
    ("07.jacobian_forward", "jacobian_forward", lambda f, x: jacobian_forward(f, x).T, "Jacobian transposed"),
    ("07.jacobian_forward", "jacobian_forward", lambda f, x: jvp(f, x, np.ones_like(x))[1],
     "one sweep with v = ones instead of n sweeps"),
    ("07.jacobian_forward", "jacobian_forward", forward_differences, "no forward sweep"),
    ("07.jacobian_forward", "jacobian_forward", lambda f, x: columns(lambda e: jvp(f, x, e)[0], x),
     "the value f(x) taken instead of the tangent"),
    ("07.jacobian_forward", "jacobian_forward", lambda f, x: columns(lambda e: jvp(f, e, x)[1], x),
     "x and e_j swapped in the call of jvp"),
    ("07.jacobian_reverse", "jacobian_reverse", lambda f, x: jacobian_reverse(f, x).T, "Jacobian transposed"),
    ("07.jacobian_reverse", "jacobian_reverse", lambda f, x: reverse_rows(f, x, reset=False),
     "gradients accumulated across the sweeps"),
    ("07.jacobian_reverse", "jacobian_reverse", backward_with_ones, "one sweep with u = ones instead of m sweeps"),
    ("07.jacobian_reverse", "jacobian_reverse", jacobian_forward, "not reverse sweeps"),
    ("07.jacobian_reverse", "jacobian_reverse", same_seed, "the same output seeded in every sweep"),
    ("07.jacobian_reverse", "jacobian_reverse", seed_per_input, "one seed per input instead of per output"),
    ("07.hvp_numerical", "hvp_numerical", lambda g, x, v, h=1e-5: (g(x + h * v) - g(x)) / h, "one-sided differences"),
    ("07.hvp_numerical", "hvp_numerical", lambda g, x, v, h=1e-5: (g(x) - g(x - h * v)) / h, "one-sided differences"),
    ("07.hvp_numerical", "hvp_numerical", lambda g, x, v, h=1e-5: (g(x + h * v) - g(x - h * v)) / 2 * h,
     "2 * h not in parentheses"),
    ("07.hvp_numerical", "hvp_numerical", hvp_in_place, "an input changed in place"),
    ("07.hvp_numerical", "hvp_numerical", lambda g, x, v, h=1e-5: (g(x + h * v) - g(x - h * v)) / h,
     "divided by h instead of 2h"),
    ("07.hvp_numerical", "hvp_numerical", lambda g, x, v, h=1e-5: g(x + h * v) - g(x - h * v),
     "the difference is not divided by 2h"),
    ("07.hvp_numerical", "hvp_numerical", lambda g, x, v, h=1e-5: hvp_numerical(g, x, v), "the step h is ignored"),
    ("07.hvp_numerical", "hvp_numerical", lambda g, x, v, h=1e-5: hvp_numerical(g, x, np.ones_like(v), h),
     "the direction v is ignored"),
    ("07.hvp", "hvp", lambda g, x, v: jvp(g, x, v)[0], "the gradient returned instead of H v"),
    ("07.hvp", "hvp", lambda g, x, v: jvp(g, x, v, NoProductRule)[1], "tangent of a product without the product rule"),
    ("07.hvp", "hvp", hvp_numerical, "no forward sweep"),
    ("07.hvp", "hvp", lambda g, x, v: jvp(g, v, x)[0], "x and v swapped in the call of jvp"),
    ("07.hvp", "hvp", lambda g, x, v: jvp(g, v, x)[1], "x and v swapped in the call of jvp"),
    ("07.hvp", "hvp", lambda g, x, v: jvp(g, x, np.ones_like(v))[1], "the direction v is ignored"),
    ("07.chain_cost", "chain_cost", chain_swapped, "forward and reverse orders swapped"),
    ("07.chain_cost", "chain_cost", chain_without_outputs, "the number of outputs is left out of the reverse cost"),
    ("07.chain_cost", "chain_cost", chain_off_by_one(reverse_stop=-2), "a product left out of the count"),
    ("07.chain_cost", "chain_cost", chain_off_by_one(forward_stop=-1), "a product left out of the count"),
    ("07.chain_cost", "chain_cost", chain_off_by_one(reverse_stop=0), "a product with an identity counted"),
    ("07.chain_cost", "chain_cost", chain_off_by_one(forward_start=1), "a product with an identity counted"),
    ("07.chain_cost", "chain_cost", chain_reversing_in_place, "an input changed in place"),
]


def full_run(question_id, namespace, seed):
    q = find_question(question_id)
    cases = q.draw_cases(seed)
    return judge(q, cases, q.run(namespace, cases), seed)


@pytest.mark.parametrize(("question", "name", "answer", "mistake"), WRONG)
def test_each_known_mistake_is_named_and_no_other(question, name, answer, mistake):
    result = full_run(question, {name: answer}, seed=5)
    assert result.status == "failed"
    assert result.mistakes == (mistake,), result.feedback
    assert f": {mistake}. " in result.feedback


def test_every_mistake_has_a_wrong_answer_above():
    declared = {(q.id, m.name) for q in EXERCISE.questions for m in q.mistakes}
    assert declared == {(question, mistake) for question, _, _, mistake in WRONG}


@pytest.mark.parametrize("question", sorted(RIGHT))
def test_a_right_answer_passes_on_fresh_inputs_and_matches_no_mistake(question):
    q = find_question(question)
    for seed in range(4):
        cases = q.draw_cases(seed)
        assert judge(q, cases, q.run(RIGHT[question], cases), seed).status == "passed"
        for case in cases:
            right = Outcome(value=loads(dumps(q.reference(case.inputs))))
            assert not [m.name for m in q.mistakes if m.matches(right, case.inputs)]


LIBRARY = [
    ("07.Dual", {"Dual": modes.Dual}, "Dual.__init__"),
    ("07.jvp", {"jvp": modes.jvp}, "jvp"),
    ("07.jacobian_forward", {"jacobian_forward": modes.jacobian_forward}, "jacobian_forward"),
    ("07.jacobian_reverse", {"jacobian_reverse": modes.jacobian_reverse}, "jacobian_reverse"),
    ("07.hvp_numerical", {"hvp_numerical": modes.hvp_numerical}, "hvp_numerical"),
    ("07.hvp", {"hvp": lambda g, x, v: modes.jvp(g, x, v)[1]}, "jvp"),
    ("07.chain_cost", {"chain_cost": library_chain_cost}, "chain_cost"),
]


@pytest.mark.parametrize(("question", "namespace", "called"), LIBRARY)
def test_calling_the_library_instead_earns_nothing(question, namespace, called):
    report = check(question, namespace)
    assert report.result.status == "uses reference"
    assert called in report.result.feedback


def test_a_hard_coded_answer_fails_on_fresh_inputs():
    q = find_question("07.chain_cost")
    seen = {tuple(c.inputs["sizes"]): c.inputs["sizes"] for c in q.visible_cases()}
    answers = {(key, order): chain_cost(sizes, order) for key, sizes in seen.items() for order in ("reverse", "forward")}
    hard_coded = lambda sizes, order="reverse": answers.get((tuple(sizes), order), 0)
    assert check("07.chain_cost", {"chain_cost": hard_coded}).passed
    assert full_run("07.chain_cost", {"chain_cost": hard_coded}, seed=99).status == "failed"


@pytest.mark.parametrize("question", [q.id for q in EXERCISE.questions])
def test_visible_cases_are_deterministic_and_few(question):
    q = find_question(question)
    first, second = q.visible_cases(), q.visible_cases()
    assert 2 <= len(first) <= 3
    assert [c.name for c in first] == [c.name for c in second]
    assert dumps([dict(c.inputs) for c in first]) == dumps([dict(c.inputs) for c in second])
    assert dumps([dict(c.inputs) for c in q.draw_cases(1)]) != dumps([dict(c.inputs) for c in q.draw_cases(2)])


def _only_plain(x):
    if isinstance(x, dict):
        return all(type(k) is str and _only_plain(v) for k, v in x.items())
    if isinstance(x, list):
        return all(_only_plain(v) for v in x)
    return type(x) in (float, int)


@pytest.mark.parametrize("question", sorted(RIGHT))
def test_the_probe_returns_plain_lists_and_floats(question):
    q = find_question(question)
    for case in q.draw_cases(3):
        assert _only_plain(q.probe(RIGHT[question], case.inputs))


def test_jacobian_cases_are_never_square_and_the_fixed_questions_come_with_the_dual_class():
    ids = [q.id for q in EXERCISE.questions]
    assert ids[:6] == ["07.Dual", "07.jvp", "07.jacobian_forward", "07.jacobian_reverse", "07.hvp_numerical", "07.hvp"]
    for seed in range(3):
        for case in find_question("07.jacobian_forward").draw_cases(seed):
            assert np.shape(find_question("07.jacobian_forward").reference(case.inputs)) in {(3, 5), (4, 2), (2, 3), (5, 3), (2, 6)}


# --- the tests tell answers and mistakes apart ------------------------------------------------------------


def test_h_v_by_a_swapped_jvp_never_passes_and_is_named_as_the_swap():
    """jvp(grad_f, v, x)[0] is grad_f(v): it equals H v only for a quadratic, and equals the tangent of a
    Dual without the product rule only for a homogeneous gradient. The tests use neither."""
    swapped = {"hvp": lambda g, x, v: jvp(g, v, x)[0]}
    assert check("07.hvp", swapped).result.mistakes == ("x and v swapped in the call of jvp",)
    for seed in range(6):
        result = full_run("07.hvp", swapped, seed)
        assert (result.status, result.score) == ("failed", 0.0)
        assert result.mistakes == ("x and v swapped in the call of jvp",), result.feedback
        assert "product rule" not in result.feedback


def test_no_hvp_case_has_a_gradient_that_gives_h_v_at_the_wrong_point_or_without_the_product_rule():
    q = find_question("07.hvp")
    for seed in range(4):
        for case in q.draw_cases(seed):
            grad_f = gradient_function(case.inputs)
            x, v = np.asarray(case.inputs["x"]), np.asarray(case.inputs["v"])
            right, at_v = hvp(grad_f, x, v), grad_f(v)
            no_product_rule = jvp(grad_f, x, v, NoProductRule)[1]
            assert not np.allclose(at_v, right, rtol=1e-3), case.name
            assert not np.allclose(at_v, no_product_rule, rtol=1e-3), case.name


def test_a_jvp_seeded_the_wrong_way_round_is_named_on_every_seed():
    for seed in range(4):
        result = full_run("07.jvp", {"jvp": lambda f, x, v: jvp(f, v, x)}, seed)
        assert result.mistakes == ("x and v swapped in the dual number",), result.feedback


def test_each_question_declares_how_it_shares_its_points():
    assert {q.id: q.credit for q in EXERCISE.questions} == {
        "07.Dual": "output", "07.jvp": "case", "07.jacobian_forward": "case", "07.jacobian_reverse": "case",
        "07.hvp_numerical": "case", "07.hvp": "case", "07.chain_cost": "output"}
    assert {q.id: q.builds_on for q in EXERCISE.questions if q.builds_on} == {
        "07.jvp": ("07.Dual",), "07.jacobian_forward": ("07.jvp",), "07.hvp": ("07.jvp",)}


def test_a_dual_without_the_product_rule_keeps_the_points_of_every_other_operation():
    # 45 operations over the 8 cases; x * y, x * c and c * x are wrong in the 3 cases of products
    result = full_run("07.Dual", {"Dual": NoProductRule}, seed=5)
    assert (result.score, result.cases_passed, result.cases_total) == (round(3 * 36 / 45, 2), 5, 8)


def test_a_chain_cost_wrong_in_one_order_keeps_the_points_of_the_other():
    # forward is wrong in all 6 cases; reverse and the default are right: 12 of 18 outputs
    result = full_run("07.chain_cost", {"chain_cost": chain_off_by_one(forward_start=1)}, seed=5)
    assert (result.score, result.cases_passed) == (round(2 * 12 / 18, 2), 0)
    assert result.mistakes == ("a product with an identity counted",)
