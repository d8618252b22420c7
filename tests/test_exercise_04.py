"""Exercise 04: right answers pass and every known mistake is named (test_course.py grades the master
and the blank exercise).

The engines below are students' answers: ``engine()`` is a right one, and each keyword switches on
one known mistake, so every detector is tried on the answer it was written for.
"""
from __future__ import annotations

import math

import nbformat
import numpy as np
import pytest

import backprop_lib
from backprop_lib import gates
from backprop_lib.grading import EXERCISES, check, find_question
from backprop_lib.grading.ex04 import _library_grads, _random_program, _simulated, ALL_KINDS
from backprop_lib.grading.judge import judge
from backprop_lib.grading.plain import to_plain
from backprop_lib.grading.spec import Outcome
from backprop_lib.graph import dependency_order
from notebook_text import find_notebook


def engine(unwrapped=False, reflected=True, assign=False, no_swap=False, pow_k_xk=False, tanh_on_input=False,
           order="postorder", sweep="reverse", reset="interior", seed=1.0):
    """A micrograd-style ``Value`` and its ``topological_order``, right unless a mistake is asked for."""

    def give(node, g):
        node.grad = g if assign else node.grad + g

    class Value:
        def __init__(self, data, _prev=(), _op=""):
            self.data, self.grad, self._prev, self._op = data, 0.0, tuple(_prev), _op
            self._backward = lambda: None

        def _node(self, other):
            return other if unwrapped or isinstance(other, Value) else Value(other)

        def __add__(self, other):
            other = self._node(other)
            out = Value(self.data + other.data, (self, other), "+")

            def _backward():
                give(self, out.grad)
                give(other, out.grad)

            out._backward = _backward
            return out

        def __mul__(self, other):
            other = self._node(other)
            out = Value(self.data * other.data, (self, other), "*")

            def _backward():
                give(self, (self.data if no_swap else other.data) * out.grad)
                give(other, (other.data if no_swap else self.data) * out.grad)

            out._backward = _backward
            return out

        def __pow__(self, k):
            out = Value(self.data**k, (self,), "**")
            out._backward = lambda: give(self, k * self.data ** (k if pow_k_xk else k - 1) * out.grad)
            return out

        def tanh(self):
            out = Value(math.tanh(self.data), (self,), "tanh")
            out._backward = lambda: give(self, (1 - (self.data if tanh_on_input else out.data) ** 2) * out.grad)
            return out

        def exp(self):
            out = Value(math.exp(self.data), (self,), "exp")
            out._backward = lambda: give(self, out.data * out.grad)
            return out

        def backward(self):
            nodes = topological_order(self)
            for node in nodes:
                if reset == "all" or (reset == "interior" and node._prev):
                    node.grad = 0.0
            self.grad = seed
            if sweep in ("bfs", "preorder"):  # from the root outwards, without waiting for all consumers
                queue, seen = [self], {self}
                while queue:
                    node = queue.pop(0) if sweep == "bfs" else queue.pop()
                    node._backward()
                    for child in node._prev:
                        if child not in seen:
                            seen.add(child)
                            queue.append(child)
                return
            for node in (nodes if sweep == "forward" else reversed(nodes)):
                node._backward()

    if reflected == "calls itself":
        Value.__radd__ = lambda self, other: other + self
        Value.__rmul__ = lambda self, other: other * self
    elif reflected:
        Value.__radd__ = Value.__add__
        Value.__rmul__ = Value.__mul__

    def topological_order(root):
        if order == "recursive":
            out, seen = [], set()

            def visit(v):
                if v not in seen:
                    seen.add(v)
                    for child in v._prev:
                        visit(child)
                    out.append(v)

            visit(root)
            return out
        out, seen, stack = [], set(), [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                out.append(node)
            elif order == "duplicates" or node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev)
        if order == "reversed":
            return out[::-1]
        if order == "no leaves":
            return [v for v in out if v._prev]
        return out

    return {"Value": Value, "topological_order": topological_order}


class SlotValue:
    """A right answer written differently: local derivatives stored on the node, no closures."""

    __slots__ = ("data", "grad", "_prev", "_local")

    def __init__(self, data, _prev=(), _local=()):
        self.data, self.grad, self._prev, self._local = data, 0.0, tuple(_prev), tuple(_local)

    def __add__(self, other):
        other = other if isinstance(other, SlotValue) else SlotValue(other)
        return SlotValue(self.data + other.data, (self, other), (1.0, 1.0))

    __radd__ = __add__

    def __mul__(self, other):
        other = other if isinstance(other, SlotValue) else SlotValue(other)
        return SlotValue(self.data * other.data, (self, other), (other.data, self.data))

    __rmul__ = __mul__

    def __pow__(self, k):
        return SlotValue(self.data**k, (self,), (k * self.data ** (k - 1),))

    def tanh(self):
        t = math.tanh(self.data)
        return SlotValue(t, (self,), (1 - t * t,))

    def exp(self):
        e = math.exp(self.data)
        return SlotValue(e, (self,), (e,))

    def backward(self):
        nodes = dependency_free_order(self)
        for node in nodes:
            if node._prev:
                node.grad = 0.0
        self.grad = 1.0
        for node in reversed(nodes):
            for child, local in zip(node._prev, node._local):
                child.grad += local * node.grad


def dependency_free_order(root):
    """Kahn's algorithm on the reachable graph: count each node's consumers, emit when all are done."""
    consumers, stack, seen = {}, [root], {root}
    while stack:
        for child in stack.pop()._prev:
            consumers[child] = consumers.get(child, 0) + 1
            if child not in seen:
                seen.add(child)
                stack.append(child)
    ready, reverse_order = [root], []
    while ready:
        node = ready.pop()
        reverse_order.append(node)
        for child in node._prev:
            consumers[child] -= 1
            if consumers[child] == 0:
                ready.append(child)
    return reverse_order[::-1]


class Sigmoid(backprop_lib.Function):
    @staticmethod
    def forward(ctx, x):
        s = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
        ctx.save_for_backward(s, x)
        return s

    @staticmethod
    def backward(ctx, grad_output):
        s, _ = ctx.saved_tensors
        return grad_output * s * (1 - s)


class SigmoidOnInput(Sigmoid):
    @staticmethod
    def backward(ctx, grad_output):
        _, x = ctx.saved_tensors
        return grad_output * x * (1 - x)


class SigmoidTimesOutput(Sigmoid):
    @staticmethod
    def backward(ctx, grad_output):
        s, _ = ctx.saved_tensors
        return grad_output * s


class SigmoidIgnoringUpstream(Sigmoid):
    @staticmethod
    def backward(ctx, grad_output):
        s, _ = ctx.saved_tensors
        return s * (1 - s)


class SigmoidOverflowing(Sigmoid):
    @staticmethod
    def forward(ctx, x):
        s = 1 / (1 + math.exp(-x))
        ctx.save_for_backward(s, x)
        return s


class LibrarySubclass(backprop_lib.Value):
    pass


VALUE_QUESTIONS = ["04.value_forward", "04.topological_order", "04.value_backward", "04.deep_chain",
                   "04.backward_accumulates"]
RIGHT = {"Sigmoid": Sigmoid, **engine()}


ASSIGNED = "gradient assigned instead of accumulated at a fan-out"
WRONG_ORDER = "backward steps run out of topological order"
NOT_SEEDED = "the root's gradient is not seeded with 1"
LEAVES_RESET = "backward() resets the leaves' gradients"
MISTAKES = [
    ("04.value_forward", engine(reflected=False), "a reflected operator is missing"),
    ("04.value_forward", engine(reflected="calls itself"), "a reflected operator calls itself"),
    ("04.value_forward", engine(unwrapped=True), "a number operand is used as a Value"),
    ("04.topological_order", engine(order="recursive"), "recursive topological sort overflows"),
    ("04.topological_order", engine(order="reversed"), "the order is reversed"),
    ("04.topological_order", engine(order="duplicates"), "a node is listed more than once"),
    ("04.topological_order", engine(order="no leaves"), "nodes are missing"),
    ("04.value_backward", engine(assign=True), ASSIGNED),
    ("04.value_backward", engine(sweep="bfs"), WRONG_ORDER),
    ("04.value_backward", engine(sweep="forward"), WRONG_ORDER),
    ("04.value_backward", engine(sweep="preorder"), WRONG_ORDER),
    ("04.value_backward", engine(tanh_on_input=True), "tanh derivative taken on the input"),
    ("04.value_backward", engine(pow_k_xk=True), "power rule applied as k * x**k"),
    ("04.value_backward", engine(no_swap=True), "multiplication does not swap"),
    ("04.value_backward", engine(seed=0.0), NOT_SEEDED),
    ("04.deep_chain", engine(order="recursive"), "recursion too deep"),
    ("04.deep_chain", engine(assign=True), ASSIGNED),
    ("04.deep_chain", engine(sweep="forward"), WRONG_ORDER),
    ("04.deep_chain", engine(seed=0.0), NOT_SEEDED),
    ("04.backward_accumulates", engine(reset="none"), "intermediate gradients are not reset"),
    ("04.backward_accumulates", engine(reset="none", order="recursive"), "intermediate gradients are not reset"),
    ("04.backward_accumulates", engine(reset="all"), LEAVES_RESET),
    ("04.backward_accumulates", engine(assign=True), ASSIGNED),
    ("04.backward_accumulates", engine(sweep="forward"), WRONG_ORDER),
    ("04.backward_accumulates", engine(tanh_on_input=True), "tanh derivative taken on the input"),
    ("04.backward_accumulates", engine(pow_k_xk=True), "power rule applied as k * x**k"),
    ("04.backward_accumulates", engine(no_swap=True), "multiplication does not swap"),
    ("04.backward_accumulates", engine(seed=0.0), NOT_SEEDED),
    ("04.sigmoid_function", {"Sigmoid": SigmoidOnInput}, "sigmoid derivative taken on the input"),
    ("04.sigmoid_function", {"Sigmoid": SigmoidTimesOutput}, "multiplied by sigma(x) instead of its derivative"),
    ("04.sigmoid_function", {"Sigmoid": SigmoidIgnoringUpstream}, "the upstream gradient is ignored"),
    ("04.sigmoid_function", {"Sigmoid": SigmoidOverflowing}, "exp overflows for very negative x"),
]


@pytest.mark.parametrize(("question", "answer", "mistake"), MISTAKES, ids=[f"{q}: {m}" for q, _, m in MISTAKES])
def test_each_known_mistake_is_named_and_nothing_else(question, answer, mistake):
    report = check(question, answer)
    assert report.result.status == "failed"
    assert report.result.mistakes == (mistake,), report.result.feedback
    assert f": {mistake}. " in report.result.feedback
    if question != "04.deep_chain":  # its inputs are the same kind every time, and 100,000 nodes cost time
        q = find_question(question)
        cases = q.draw_cases(5)
        assert judge(q, cases, q.run(answer, cases), 5).mistakes == (mistake,)


# Answers that were once named by a mistake they do not make: the name they must get, and the one they must not.
MISDIAGNOSED = [
    ("04.backward_accumulates", engine(assign=True), ASSIGNED, LEAVES_RESET),
    ("04.backward_accumulates", engine(assign=True, reset="none"), ASSIGNED, LEAVES_RESET),
    ("04.backward_accumulates", engine(sweep="forward"), WRONG_ORDER, NOT_SEEDED),
    ("04.backward_accumulates", engine(order="reversed"), WRONG_ORDER, NOT_SEEDED),
]


@pytest.mark.parametrize(("question", "answer", "named", "not_named"), MISDIAGNOSED)
def test_a_diagnosis_names_only_the_mistake_made(question, answer, named, not_named):
    q = find_question(question)
    for seed in (1, 2, 3):
        cases = q.draw_cases(seed)
        result = judge(q, cases, q.run(answer, cases), seed)
        assert named in result.mistakes and not_named not in result.mistakes, result.feedback
        assert not_named not in result.feedback


def test_every_known_mistake_is_tried():
    for q in EXERCISES["04"].questions:
        for m in q.mistakes:
            if m.name != "the library's Value instead of your own":  # tried below, on every question
                assert any(question == q.id and name in m.name for question, _, name in MISTAKES), m.name


def test_a_right_answer_passes_and_every_mistake_differs_from_it_somewhere():
    for q in EXERCISES["04"].questions:
        for seed in (1,) if q.id == "04.deep_chain" else (1, 2, 3):
            cases = q.draw_cases(seed)
            report = q.run(RIGHT, cases)
            assert judge(q, cases, report, seed).status == "passed", q.id
            outcomes = [Outcome.from_plain(o) for o in report["outcomes"]]
            for m in q.mistakes:
                assert not all(m.matches(o, c.inputs) for o, c in zip(outcomes, cases)), (q.id, m.name)


def test_an_engine_written_differently_passes():
    answer = {"Value": SlotValue, "topological_order": dependency_free_order}
    for question in VALUE_QUESTIONS:
        report = check(question, answer)
        assert report.passed, report


@pytest.mark.parametrize("question", VALUE_QUESTIONS)
def test_the_library_value_is_refused(question):
    for value in (backprop_lib.Value, LibrarySubclass):
        report = check(question, {**engine(), "Value": value})
        assert report.result.status == "failed"
        assert "the library's Value instead of your own" in report.result.feedback


def test_calling_the_library_instead_earns_nothing():
    library_order = {**engine(), "topological_order": lambda root: dependency_order(root, lambda v: v._prev)}
    report = check("04.topological_order", library_order)
    assert report.result.status == "uses reference"
    assert "dependency_order" in report.result.feedback

    class LibrarySigmoid(backprop_lib.Function):
        forward = staticmethod(lambda ctx, x: gates.sigmoid(x))
        backward = staticmethod(lambda ctx, g: g)

    report = check("04.sigmoid_function", {"Sigmoid": LibrarySigmoid})
    assert report.result.status == "uses reference"


def test_the_visible_cases_are_fixed_and_the_probes_return_plain_data():
    for q in EXERCISES["04"].questions:
        first, again = q.visible_cases(), q.visible_cases()
        assert [c.name for c in first] == [c.name for c in again]
        assert [dict(c.inputs) for c in first] == [dict(c.inputs) for c in again]
        assert 1 <= len(first) <= 3
        if q.id != "04.deep_chain":
            result = q.probe(RIGHT, first[0].inputs)
            assert to_plain(result) == result


def test_hard_coded_answers_fail_because_the_expressions_change():
    q = find_question("04.value_backward")
    assert [c.inputs for c in q.draw_cases(1)] != [c.inputs for c in q.draw_cases(2)]


def test_the_simulated_engine_agrees_with_the_library():
    rng = np.random.default_rng(0)
    for _ in range(20):
        program = _random_program(rng, 3, 10, ALL_KINDS)
        expected = _library_grads(program)
        assert np.allclose(_simulated(program)["grads"], expected["grads"], rtol=1e-12, atol=1e-12)


def test_exercise_04_has_the_fixed_symbols():
    symbols = {s for q in EXERCISES["04"].questions for s in q.symbols}
    assert {"Value", "topological_order"} <= symbols
    assert len(EXERCISES["04"].questions) >= 4


def test_the_accumulation_question_warns_readers_of_micrograd():
    nb = nbformat.read(find_notebook("exercises", "04"), as_version=4)
    (section,) = [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("### 3c.")]
    assert "If you know micrograd" in section and "fails\nthis check, by design" in section


def test_credit_is_declared_for_every_question():
    assert {q.id: q.credit for q in EXERCISES["04"].questions} == {
        "04.value_forward": "case", "04.topological_order": "case", "04.value_backward": "case",
        "04.deep_chain": "case", "04.backward_accumulates": "case", "04.sigmoid_function": "output"}


def test_a_sigmoid_with_the_right_forward_and_a_wrong_backward_earns_its_s_outputs():
    q = find_question("04.sigmoid_function")
    cases = q.draw_cases(3)
    result = judge(q, cases, q.run({"Sigmoid": SigmoidTimesOutput}, cases), 3)
    # s right in all 5 cases; dx right only at x near -720, where s and s (1 - s) both round to 0: 6 of 10 outputs
    assert (result.score, result.max_score, result.cases_passed) == (1.2, 2, 1)
