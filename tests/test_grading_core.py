"""The grading core: plain data round trips, and check() judges what the autograder judges."""
from __future__ import annotations

import numpy as np
import pytest

from backprop_lib.grading import Case, Question, check, close
from backprop_lib.grading.probes import Probe
from backprop_lib.grading.plain import NotPlain, dumps, to_plain
from backprop_lib.grading.protocol import loads, plain_value as from_plain


@pytest.mark.parametrize("value", [
    np.asarray(2.5), np.arange(6.0).reshape(2, 3), np.array([[1, 2]], dtype=np.int64), np.zeros((0, 3)),
    [1.0, {"a": np.ones(2)}], {"x": None, "y": "text", "z": True}, 3, 2.5,
])
def test_plain_data_round_trips_keeping_shape_and_values(value):
    back = loads(dumps(value))
    if isinstance(value, np.ndarray):
        assert back.shape == value.shape and np.array_equal(back, value)
    else:
        assert close(back, value) or back == value


@pytest.mark.parametrize("value", [object(), {1: 2.0}, np.array(["a"]), np.array([object()]), lambda: 1])
def test_anything_else_is_refused(value):
    with pytest.raises(NotPlain):
        to_plain(value)


def test_non_finite_numbers_never_match():
    assert not close(float("nan"), float("nan"))
    assert not close(np.array([np.inf]), np.array([np.inf]))
    assert not close(True, 1.0) and not close(1.0, True)
    # an infinite expected value is matched by no finite answer (the tolerance it implies is infinite)
    for got in (5.0, 5, np.float64(5.0), -1e300):
        assert not close(got, float("inf")) and not close(got, float("-inf"))
    assert not close(float("inf"), float("inf"))
    assert close(1.0 + 1e-7, 1.0) and not close(1.1, 1.0)


def test_check_judges_arrays_like_the_autograder():
    question = Question(
        id="01.demo_array", points=1, title="an array answer",
        cases=lambda rng: [Case("f()", {})], probe=Probe(("f",), lambda ns, i: np.asarray(ns["f"](), dtype=float)),
        reference=lambda i: np.array([1.0, 2.0]))
    from backprop_lib import grading

    grading.QUESTIONS[question.id] = question
    try:
        assert check(question.id, {"f": lambda: [1, 2]}).passed
        assert check(question.id, {"f": lambda: [1, 3]}).result.status == "failed"
    finally:
        del grading.QUESTIONS[question.id]
    assert from_plain(to_plain(np.asarray(2.5))).shape == ()


def test_check_reads_results_as_the_autograder_does_and_never_raises():
    question = Question(
        id="01.demo_list", points=1, title="a list answer",
        cases=lambda rng: [Case("f()", {})], probe=Probe(("f",), lambda ns, i: ns["f"]()),
        reference=lambda i: {"key": "value"})
    from backprop_lib import grading

    grading.QUESTIONS[question.id] = question
    try:
        assert check(question.id, {"f": lambda: {"key": "value"}}).passed
        # the autograder removes control characters from strings, and so does check()
        assert check(question.id, {"f": lambda: {"key": "val\x1bue"}}).passed
        too_big = check(question.id, {"f": lambda: list(range(300_000))})
        assert too_big.result is None and "cannot be graded" in repr(too_big)
    finally:
        del grading.QUESTIONS[question.id]


# --- credit and feedback -------------------------------------------------------------------------------------

from backprop_lib.grading.judge import judge  # noqa: E402
from backprop_lib.grading.protocol import decode_report  # noqa: E402
from backprop_lib.grading.spec import Mistake  # noqa: E402


def _question(credit="case", mistakes=(), points=4):
    """Four cases of f(x) = {"double": 2x, "square": x^2}."""
    return Question(
        id="01.demo_credit", points=points, title="two outputs per case", credit=credit,
        cases=lambda rng: [Case(f"f({x})", {"x": float(x)}) for x in (1, 2, 3, 4)],
        probe=Probe(("f",), lambda ns, i: ns["f"](i["x"])),
        reference=lambda i: {"double": 2 * i["x"], "square": i["x"] ** 2}, mistakes=mistakes)


def _judge(question, f):
    cases = question.draw_cases(0)
    return judge(question, cases, decode_report(question.run({"f": f}, cases), len(cases)), 0)


def test_points_are_shared_over_the_cases_that_pass():
    result = _judge(_question(), lambda x: {"double": 2 * x, "square": x * x if x < 3 else 0.0})
    assert (result.score, result.cases_passed, result.cases_total, result.status) == (2.0, 2, 4, "failed")
    assert result.feedback.startswith("2 of 4 tests passed. f(3): ")
    assert result.as_dict()["cases_passed"] == 2


def test_output_credit_counts_each_named_output_of_each_case():
    result = _judge(_question("output"), lambda x: {"double": 2 * x, "square": 0.0})
    assert (result.score, result.cases_passed) == (2.0, 0)  # every "double" right, every "square" wrong
    assert _judge(_question("all"), lambda x: {"double": 2 * x, "square": 0.0}).score == 0.0
    assert _judge(_question("output"), lambda x: {"double": 2 * x, "square": x * x}).score == 4.0


def test_an_unknown_mistake_shows_the_first_differing_output_alike_on_both_sides_and_the_inputs():
    result = _judge(_question(), lambda x: {"double": 2 * x, "square": x ** 2 + (0.5 if x == 2 else 0)})
    assert "f(2): square: expected 4, got 4.5 (inputs: x=2)" in result.feedback
    arrays = Question(
        id="01.demo_arrays", points=1, title="arrays", cases=lambda rng: [Case("g()", {"n": 3})],
        probe=Probe(("g",), lambda ns, i: {"grad_W": np.asarray(ns["g"](), dtype=float)}),
        reference=lambda i: {"grad_W": np.array([[1.0, 2.0], [3.0, 4.0]])})
    cases = arrays.draw_cases(0)
    wrong = judge(arrays, cases, decode_report(arrays.run({"g": lambda: [[1, 2], [3, 5]]}, cases), 1), 0)
    assert "grad_W[1, 1]: expected 4, got 5 (1 of 4 entries differ)" in wrong.feedback
    shaped = judge(arrays, cases, decode_report(arrays.run({"g": lambda: [[1, 3], [2, 4]][0]}, cases), 1), 0)
    assert "grad_W: expected shape (2, 2), got shape (2,)" in shaped.feedback


def test_every_known_mistake_present_is_named_once():
    halves = Mistake.answer("square halved", "square, do not halve.", lambda i: {"double": 2 * i["x"], "square": i["x"] ** 2 / 2})
    doubled = Mistake.answer("double forgotten", "multiply by two.", lambda i: {"double": i["x"], "square": i["x"] ** 2})
    q = _question(mistakes=(halves, doubled))
    result = _judge(q, lambda x: {"double": 2 * x, "square": x * x / 2} if x < 3 else {"double": x, "square": x * x})
    assert result.mistakes == ("square halved", "double forgotten")
    assert result.feedback == ("0 of 4 tests passed. f(1): square halved. square, do not halve. "
                               "Also: f(3): double forgotten. multiply by two.")


def test_an_exception_is_shown_with_the_students_line():
    source = "def f(x):\n    y = 2 * x\n    return {'double': y, 'square': x * x * (x - 3) / (x - 3)}\n"
    namespace: dict = {}
    exec(compile(source, "<cell 2>", "exec"), namespace)
    q = _question()
    cases = q.draw_cases(0)
    result = judge(q, cases, decode_report(q.run(namespace, cases), len(cases)), 0, lambda f, line, fn: f"{fn} at {f}:{line}")
    assert "f(3): raised ZeroDivisionError: float division by zero (f at <cell 2>:3)" in result.feedback
    assert result.score == 3.0


def test_a_mistake_is_named_from_a_case_that_no_other_mistake_explains_as_well():
    halved = Mistake.answer("square halved", "do not halve.", lambda i: {"double": 2 * i["x"], "square": i["x"] ** 2 / 2})
    plain = Mistake.answer("x instead of its square", "square it.", lambda i: {"double": 2 * i["x"], "square": i["x"]})
    q = _question(mistakes=(halved, plain))
    # at x = 2 both give 2: only the other cases tell which mistake this is
    result = _judge(q, lambda x: {"double": 2 * x, "square": x * x / 2})
    assert result.mistakes == ("square halved",) and "x instead" not in result.feedback
    only_two = Question(
        id="01.demo_alike", points=1, title="one case", cases=lambda rng: [Case("f(2)", {"x": 2.0})],
        probe=Probe(("f",), lambda ns, i: ns["f"](i["x"])), mistakes=(halved, plain),
        reference=lambda i: {"double": 2 * i["x"], "square": i["x"] ** 2})
    alike = _judge(only_two, lambda x: {"double": 2 * x, "square": x})
    assert alike.mistakes == ("square halved",)  # the first listed, where no case tells them apart


def test_under_output_credit_an_answer_of_zeros_earns_nothing_from_outputs_whose_right_value_is_zero():
    q = Question(
        id="01.demo_zeros", points=4, title="outputs that are zero", credit="output",
        cases=lambda rng: [Case(f"f({x})", {"x": float(x)}) for x in (1, 2)],
        probe=Probe(("f",), lambda ns, i: ns["f"](i["x"])),
        reference=lambda i: {"a": i["x"], "b": 0.0, "c": 0.0, "d": 2 * i["x"]})
    assert _judge(q, lambda x: {"a": 0.0, "b": 0.0, "c": 0.0, "d": 0.0}).score == 0.0
    assert _judge(q, lambda x: {"a": x, "b": 0.0, "c": 0.0, "d": 0.0}).score == 2.0
    assert _judge(q, lambda x: {"a": x, "b": 0.0, "c": 0.0, "d": 2 * x}).score == 4.0
