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
