"""Exercise 02: right answers pass and every known mistake is named (test_course.py grades the master
and the blank exercise)."""
from __future__ import annotations

import ast
import json
import math
import re

import pytest

import backprop_lib.graph as library
from backprop_lib.grading import EXERCISES, check, find_question
from backprop_lib.grading.judge import judge
from backprop_lib.grading.plain import to_plain
from backprop_lib.grading.probes.ex02 import edges_of
from backprop_lib.grading.spec import Outcome

QUESTIONS = ["02.count_paths", "02.sum_over_paths", "02.forward_mode", "02.reverse_mode", "02.jacobian"]


# --- right answers ---------------------------------------------------------------------------------------


def order_of(edges):
    nodes = list(dict.fromkeys(n for pair in edges for n in pair))
    waiting = {n: sum(1 for _, v in edges if v == n) for n in nodes}
    order = [n for n in nodes if waiting[n] == 0]
    for u in order:
        for a, v in edges:
            if a == u:
                waiting[v] -= 1
                if waiting[v] == 0:
                    order.append(v)
    return order


def count_paths(edges, source, target):
    count = dict.fromkeys(order_of(edges), 0)
    count[source] = 1
    for u in list(count):
        for a, v in edges:
            if a == u:
                count[v] += count[u]
    return count[target]


def sum_over_paths(edges, source, target):
    if source == target:
        return 1.0
    return sum(d * sum_over_paths(edges, v, target) for (u, v), d in edges.items() if u == source)


def forward_mode(edges, source):
    total = {}
    for v in order_of(edges):
        total[v] = 1.0 if v == source else sum(d * total[u] for (u, w), d in edges.items() if w == v)
    return total


def reverse_mode(edges, target):
    total = {}
    for u in reversed(order_of(edges)):
        total[u] = 1.0 if u == target else sum(d * total[v] for (w, v), d in edges.items() if w == u)
    return total


def jacobian(edges, inputs, outputs):
    if len(inputs) < len(outputs):
        columns = {x: forward_mode(edges, x) for x in inputs}
        return {y: {x: columns[x][y] for x in inputs} for y in outputs}
    rows = {y: reverse_mode(edges, y) for y in outputs}
    return {y: {x: rows[y][x] for x in inputs} for y in outputs}


RIGHT = {"02.count_paths": count_paths, "02.sum_over_paths": sum_over_paths, "02.forward_mode": forward_mode,
         "02.reverse_mode": reverse_mode, "02.jacobian": jacobian}


# --- wrong answers, one per known mistake ------------------------------------------------------------------


def paths_of(edges, source, target):
    if source == target:
        return [[]]
    return [[d] + rest for (u, v), d in edges.items() if u == source for rest in paths_of(edges, v, target)]


def count_weighted(edges, source, target):
    return sum_over_paths(edges, source, target)


def search_once(edges, source, target, weight):
    """A search with a visited set, as for reachability: the paths through a node seen before are lost."""
    visited = set()

    def search(u):
        if u == target:
            return 1
        visited.add(u)
        return sum(weight(d) * search(v) for (a, v), d in edges.items() if a == u and v not in visited)

    return search(source)


def count_with_visited_set(edges, source, target):
    return search_once(edges, source, target, lambda d: 1)


def count_until_found(edges, source, target):
    visited = set()

    def search(u):
        if u in visited:
            return 0
        visited.add(u)
        return 1 if u == target else max([search(v) for a, v in edges if a == u], default=0)

    return search(source)


def sum_counts_paths(edges, source, target):
    return float(len(paths_of(edges, source, target)))


def sum_adds_along_path(edges, source, target):
    return sum(sum(p) for p in paths_of(edges, source, target))


def sum_multiplies_paths(edges, source, target):
    return math.prod(math.prod(p) for p in paths_of(edges, source, target))


def sum_first_path(edges, source, target):
    return math.prod(paths_of(edges, source, target)[0])


def forward_swapped(edges, source):
    return reverse_mode(edges, source)


def reverse_swapped(edges, target):
    return forward_mode(edges, target)


def forward_seed_lost(edges, source):
    total = dict.fromkeys(order_of(edges), 0.0)
    total[source] = 1.0
    for v in order_of(edges):
        total[v] = sum(d * total[u] for (u, w), d in edges.items() if w == v)
    return total


def reverse_seed_lost(edges, target):
    total = dict.fromkeys(order_of(edges), 0.0)
    total[target] = 1.0
    for u in reversed(order_of(edges)):
        total[u] = sum(d * total[v] for (w, v), d in edges.items() if w == u)
    return total


def forward_backwards(edges, source):
    total = {}
    for v in reversed(order_of(edges)):
        total[v] = 1.0 if v == source else sum(d * total.get(u, 0.0) for (u, w), d in edges.items() if w == v)
    return total


def reverse_forwards(edges, target):
    total = {}
    for u in order_of(edges):
        total[u] = 1.0 if u == target else sum(d * total.get(v, 0.0) for (w, v), d in edges.items() if w == u)
    return total


def forward_listed_order(edges, source):
    total = dict.fromkeys(order_of(edges), 0.0)
    total[source] = 1.0
    for (u, v), d in edges.items():
        total[v] += d * total[u]
    return total


def reverse_listed_order(edges, target):
    total = dict.fromkeys(order_of(edges), 0.0)
    total[target] = 1.0
    for (u, v), d in reversed(list(edges.items())):
        total[u] += d * total[v]
    return total


def forward_in_name_order(edges, source):
    total = {}
    for v in sorted(order_of(edges)):
        total[v] = 1.0 if v == source else sum(d * total.get(u, 0.0) for (u, w), d in edges.items() if w == v)
    return total


def reverse_in_mention_order(edges, target):
    nodes = list(dict.fromkeys(n for pair in edges for n in pair))
    total = {}
    for u in reversed(nodes):
        total[u] = 1.0 if u == target else sum(d * total.get(v, 0.0) for (w, v), d in edges.items() if w == u)
    return total


def forward_assigned(edges, source):
    total = dict.fromkeys(order_of(edges), 0.0)
    total[source] = 1.0
    for u in order_of(edges):
        for (a, v), d in edges.items():
            if a == u and v != source:
                total[v] = d * total[u]
    return total


def reverse_assigned(edges, target):
    total = dict.fromkeys(order_of(edges), 0.0)
    total[target] = 1.0
    for v in reversed(order_of(edges)):
        for (u, b), d in edges.items():
            if b == v and u != target:
                total[u] = d * total[v]
    return total


def forward_multiplied(edges, source):
    total = {}
    for v in order_of(edges):
        total[v] = 1.0 if v == source else math.prod(d * total[u] for (u, w), d in edges.items() if w == v)
    return total


def reverse_multiplied(edges, target):
    total = {}
    for u in reversed(order_of(edges)):
        total[u] = 1.0 if u == target else math.prod(d * total[v] for (w, v), d in edges.items() if w == u)
    return total


def forward_reached_only(edges, source):
    return {v: x for v, x in forward_mode(edges, source).items() if count_paths(edges, source, v)}


def reverse_reached_only(edges, target):
    return {u: x for u, x in reverse_mode(edges, target).items() if count_paths(edges, u, target)}


def count_edges_walked(edges, source, target):
    walked, seen, stack = 0, {source}, [source]
    while stack:
        u = stack.pop()
        for a, v in edges:
            if a == u:
                walked += 1
                if v not in seen:
                    seen.add(v)
                    stack.append(v)
    return walked


def count_nodes_visited(edges, source, target):
    visited = set()

    def search(u):
        visited.add(u)
        for a, v in edges:
            if a == u and v not in visited:
                search(v)

    search(source)
    return len(visited)


def sum_target_zero(edges, source, target):
    if source == target:
        return 0.0
    return sum(d * sum_target_zero(edges, v, target) for (u, v), d in edges.items() if u == source)


def sum_with_visited_set(edges, source, target):
    return search_once(edges, source, target, lambda d: d)


def sum_edge_derivatives(edges, source, target):
    total, seen, stack = 0.0, {source}, [source]
    while stack:
        u = stack.pop()
        for (a, v), d in edges.items():
            if a == u:
                total += d
                if v not in seen:
                    seen.add(v)
                    stack.append(v)
    return total


def forward_every_input_seeded(edges, source):
    total = {}
    for v in order_of(edges):
        incoming = [(u, d) for (u, w), d in edges.items() if w == v]
        total[v] = sum(d * total[u] for u, d in incoming) if incoming else 1.0
    return total


def reverse_every_output_seeded(edges, target):
    total = {}
    for u in reversed(order_of(edges)):
        outgoing = [(v, d) for (w, v), d in edges.items() if w == u]
        total[u] = sum(d * total[v] for v, d in outgoing) if outgoing else 1.0
    return total


def forward_without_derivatives(edges, source):
    total = {}
    for v in order_of(edges):
        total[v] = 1.0 if v == source else sum(total[u] for (u, w), d in edges.items() if w == v)
    return total


def reverse_without_derivatives(edges, target):
    total = {}
    for u in reversed(order_of(edges)):
        total[u] = 1.0 if u == target else sum(total[v] for (w, v), d in edges.items() if w == u)
    return total


def forward_without_totals(edges, source):
    return {v: 1.0 if v == source else sum(d for (u, w), d in edges.items() if w == v) for v in order_of(edges)}


def reverse_without_totals(edges, target):
    return {u: 1.0 if u == target else sum(d for (w, v), d in edges.items() if w == u) for u in order_of(edges)}


def forward_pushed_backwards(edges, source):
    total = dict.fromkeys(order_of(edges), 0.0)
    total[source] = 1.0
    for u in reversed(order_of(edges)):
        for (a, v), d in edges.items():
            if a == u:
                total[v] += d * total[u]
    return total


def jacobian_modes_mixed_up(edges, inputs, outputs):
    by_input = len(inputs) < len(outputs)
    sweep = reverse_mode if by_input else forward_mode  # each mode where the other belongs
    sweeps = {node: sweep(edges, node) for node in (inputs if by_input else outputs)}
    return {y: {x: sweeps[x][y] if by_input else sweeps[y][x] for x in inputs} for y in outputs}


def jacobian_always_forward(edges, inputs, outputs):
    columns = {x: forward_mode(edges, x) for x in inputs}
    return {y: {x: columns[x][y] for x in inputs} for y in outputs}


def jacobian_per_entry(edges, inputs, outputs):
    return {y: {x: reverse_mode(edges, y)[x] for x in inputs} for y in outputs}


def jacobian_forward_per_entry(edges, inputs, outputs):
    return {y: {x: forward_mode(edges, x)[y] for x in inputs} for y in outputs}


def jacobian_by_paths(edges, inputs, outputs):
    return {y: {x: sum_over_paths(edges, x, y) for x in inputs} for y in outputs}


def jacobian_transposed(edges, inputs, outputs):
    matrix = jacobian(edges, inputs, outputs)
    return {x: {y: matrix[y][x] for y in outputs} for x in inputs}


ORDER = "edges used out of topological order"

WRONG = [
    ("02.count_paths", count_weighted, "paths weighted by their edge derivatives"),
    ("02.count_paths", count_with_visited_set, "each node explored only once"),
    ("02.count_paths", count_until_found, "only one path found"),
    ("02.count_paths", count_edges_walked, "edges counted instead of paths"),
    ("02.count_paths", count_nodes_visited, "nodes counted instead of paths"),
    ("02.sum_over_paths", sum_counts_paths, "paths counted instead of their products summed"),
    ("02.sum_over_paths", sum_adds_along_path, "edge derivatives added along a path"),
    ("02.sum_over_paths", sum_multiplies_paths, "paths multiplied where they merge"),
    ("02.sum_over_paths", sum_first_path, "only one path taken"),
    ("02.sum_over_paths", sum_target_zero, "the target's own derivative was lost"),
    ("02.sum_over_paths", sum_with_visited_set, "each node explored only once"),
    ("02.sum_over_paths", sum_edge_derivatives, "edge derivatives summed instead of path products"),
    ("02.forward_mode", forward_swapped, "reverse mode computed instead of forward mode"),
    ("02.forward_mode", forward_seed_lost, "the source's own derivative was lost"),
    ("02.forward_mode", forward_every_input_seeded, "the sweep seeded at the wrong node"),
    ("02.forward_mode", forward_without_derivatives, "edge derivatives left out of the terms"),
    ("02.forward_mode", forward_without_totals, "totals left out of the terms"),
    ("02.forward_mode", forward_assigned, "derivative assigned instead of accumulated"),
    ("02.forward_mode", forward_backwards, ORDER),
    ("02.forward_mode", forward_pushed_backwards, ORDER),
    ("02.forward_mode", forward_listed_order, ORDER),
    ("02.forward_mode", forward_in_name_order, ORDER),
    ("02.forward_mode", forward_multiplied, "terms multiplied instead of added at a merge"),
    ("02.forward_mode", forward_reached_only, "nodes left out of the dict"),
    ("02.reverse_mode", reverse_swapped, "forward mode computed instead of reverse mode"),
    ("02.reverse_mode", reverse_seed_lost, "the target's own derivative was lost"),
    ("02.reverse_mode", reverse_every_output_seeded, "the sweep seeded at the wrong node"),
    ("02.reverse_mode", reverse_without_derivatives, "edge derivatives left out of the terms"),
    ("02.reverse_mode", reverse_without_totals, "totals left out of the terms"),
    ("02.reverse_mode", reverse_assigned, "derivative assigned instead of accumulated"),
    ("02.reverse_mode", reverse_forwards, ORDER),
    ("02.reverse_mode", reverse_listed_order, ORDER),
    ("02.reverse_mode", reverse_in_mention_order, ORDER),
    ("02.reverse_mode", reverse_multiplied, "terms multiplied instead of added at a merge"),
    ("02.reverse_mode", reverse_reached_only, "nodes left out of the dict"),
    ("02.jacobian", jacobian_always_forward, "the more expensive mode"),
    ("02.jacobian", jacobian_per_entry, "one reverse sweep per entry"),
    ("02.jacobian", jacobian_forward_per_entry, "one forward sweep per entry"),
    ("02.jacobian", jacobian_by_paths, "not built from sweeps"),
    ("02.jacobian", jacobian_modes_mixed_up, "forward_mode and reverse_mode mixed up"),
    ("02.jacobian", jacobian_transposed, "the Jacobian is transposed"),
]


@pytest.mark.parametrize(("question", "answer", "mistake"), WRONG, ids=[f"{q}: {a.__name__}" for q, a, _ in WRONG])
def test_each_known_mistake_is_named_alone(question, answer, mistake):
    """Named, and nothing else named, by check() and by the autograder on fresh graphs."""
    name = question.split(".")[1]
    report = check(question, {name: answer})
    assert report.result.status == "failed"
    assert report.result.mistakes == (mistake,), report.result.feedback
    assert f": {mistake}." in report.result.feedback
    q = find_question(question)
    for seed in range(3):
        cases = q.draw_cases(seed)
        result = judge(q, cases, q.run({name: answer}, cases), seed)
        assert result.mistakes == (mistake,), (seed, result.feedback)


def test_every_mistake_has_a_wrong_answer_above_and_its_own_name():
    for q in EXERCISES["02"].questions:
        names = [m.name for m in q.mistakes]
        assert len(set(names)) == len(names), q.id
        assert set(names) == {m for qid, _, m in WRONG if qid == q.id}, q.id


# --- partial credit ---------------------------------------------------------------------------------------


def forward_one_node_off(edges, source):
    total = forward_mode(edges, source)
    total[list(total)[-1]] += 0.5
    return total


def count_one_path_when_none(edges, source, target):
    return count_paths(edges, source, target) or 1


def test_the_credit_of_each_question():
    assert {q.id: q.credit for q in EXERCISES["02"].questions} == {
        "02.count_paths": "case", "02.sum_over_paths": "case", "02.forward_mode": "output",
        "02.reverse_mode": "output", "02.jacobian": "output"}


@pytest.mark.parametrize(("question", "answer", "score"), [
    ("02.forward_mode", forward_one_node_off, 2.54),  # one node wrong in each case, of the nodes whose total is not 0
    # right where forward mode is the cheaper (4 cases); elsewhere the Jacobian right, the sweeps not: 2 x 11 of 14
    ("02.jacobian", jacobian_always_forward, 1.57),
    ("02.count_paths", count_one_path_when_none, 1.78),  # only the case with no path wrong: 2 x 8 of 9
])
def test_a_partly_right_answer_earns_its_exact_share(question, answer, score):
    q = find_question(question)
    for seed in range(2):
        cases = q.draw_cases(seed)
        result = judge(q, cases, q.run({question.split(".")[1]: answer}, cases), seed)
        assert (result.status, result.score) == ("failed", score)


# --- what a student sees -------------------------------------------------------------------------------------


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_case_names_its_graph_edge_by_edge(question):
    """A case's name ends with its edge dict as Python, in the order the answer receives it."""
    for case in find_question(question).draw_cases(3):
        listed = ast.literal_eval(re.search(r"edges = (\{.*\})$", case.name).group(1))
        assert list(listed.items()) == list(edges_of(case.inputs).items())


def test_an_unexplained_wrong_answer_shows_the_whole_failing_graph():
    given = []

    def off_by_half(edges, source):
        given.append(dict(edges))
        return forward_one_node_off(edges, source)

    q = find_question("02.forward_mode")
    cases = q.draw_cases(5)
    result = judge(q, cases, q.run({"forward_mode": off_by_half}, cases), 5)
    assert result.mistakes == () and len(given[0]) > 8  # more edges than the inputs' summary shows
    graph = r"a random DAG \(\d+ nodes, \d+ edges\)"
    shown = re.search(rf"passed\. forward_mode\(edges, '\w'\) on {graph}, edges = (\{{.*?\}}): ", result.feedback)
    assert list(ast.literal_eval(shown.group(1)).items()) == list(given[0].items())


@pytest.mark.parametrize("question", QUESTIONS)
def test_a_right_answer_passes_on_fresh_inputs_and_triggers_no_mistake(question):
    q = find_question(question)
    ns = {question.split(".")[1]: RIGHT[question]}
    for seed in range(3):
        cases = q.draw_cases(seed)
        report = q.run(ns, cases)
        assert judge(q, cases, report, seed).status == "passed"
        for case, outcome in zip(cases, report["outcomes"]):
            assert not any(m.matches(Outcome.from_plain(outcome), case.inputs) for m in q.mistakes)


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_probe_returns_plain_data_and_the_visible_cases_are_fixed(question):
    q = find_question(question)
    first, again = q.visible_cases(), q.visible_cases()
    assert 2 <= len(first) <= 3
    assert [(c.name, c.inputs) for c in first] == [(c.name, c.inputs) for c in again]
    json.dumps([c.inputs for c in first])
    value = q.probe({question.split(".")[1]: RIGHT[question]}, first[0].inputs)
    assert to_plain(value) == value


@pytest.mark.parametrize("question", QUESTIONS)
def test_a_hard_coded_answer_fails_on_fresh_inputs(question):
    q = find_question(question)
    name = question.split(".")[1]
    shown = q.reference(q.visible_cases()[0].inputs)
    recorded = shown["jacobian"] if name == "jacobian" else shown
    cases = q.draw_cases(99)
    result = judge(q, cases, q.run({name: lambda *args: recorded}, cases), 99)
    assert result.status == "failed"


def test_the_visible_cases_include_the_lesson_numbers():
    lesson = {("a", "c"): 1.0, ("b", "c"): 1.0, ("b", "d"): 1.0, ("c", "e"): 2.0, ("d", "e"): 3.0}
    for question, start, expected in [
        ("02.forward_mode", {"source": "b"}, {"a": 0.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 5.0}),
        ("02.reverse_mode", {"target": "e"}, {"a": 2.0, "b": 5.0, "c": 2.0, "d": 3.0, "e": 1.0}),
    ]:
        q = find_question(question)
        inputs = {"edges": [[u, v, d] for (u, v), d in lesson.items()], **start}
        assert inputs in [c.inputs for c in q.visible_cases()]
        assert q.reference(inputs) == expected
    staged = find_question("02.count_paths").visible_cases()[0].inputs
    assert (staged["source"], staged["target"]) == ("X", "Z")
    assert find_question("02.count_paths").reference(staged) == 9


@pytest.mark.parametrize(("question", "call"), [
    ("02.count_paths", lambda edges, s, t: library.count_paths(edges, s, t)),
    ("02.sum_over_paths", lambda edges, s, t: library.Graph(edges).sum_over_paths(s, t)),
    ("02.forward_mode", lambda edges, s: library.forward_mode(edges, s)),
    ("02.reverse_mode", lambda edges, t: {step.node: step.total for step in library.Graph(edges).reverse_steps(t)}),
    ("02.jacobian", lambda edges, xs, ys: {y: {x: library.reverse_mode(edges, y)[x] for x in xs} for y in ys}),
])
def test_calling_the_library_instead_earns_nothing(question, call):
    report = check(question, {question.split(".")[1]: call})
    assert report.result.status == "uses reference"


def test_sweeps_built_on_the_library_order_are_refused():
    def forward(edges, source):
        total = {}
        for v in library.topological_order(edges):
            total[v] = 1.0 if v == source else sum(d * total[u] for (u, w), d in edges.items() if w == v)
        return total

    report = check("02.forward_mode", {"forward_mode": forward})
    assert report.result.status == "uses reference"
    assert "topological_order" in report.result.feedback


def test_the_jacobian_probe_counts_sweeps_and_puts_the_answers_own_back():
    q = find_question("02.jacobian")
    lesson = q.visible_cases()[0].inputs
    before = (globals()["forward_mode"], globals()["reverse_mode"])
    assert q.probe({"jacobian": jacobian}, lesson) == {"jacobian": {"e": {"a": 2.0, "b": 5.0}},
                                                      "sweeps": {"forward": 0, "reverse": 1}}
    assert (globals()["forward_mode"], globals()["reverse_mode"]) == before


def test_exercise_02_has_the_fixed_questions_first():
    assert [q.id for q in EXERCISES["02"].questions][:4] == QUESTIONS[:4]
    assert EXERCISES["02"].notebook == "02_paths_and_modes"


@pytest.mark.parametrize("question", ["02.forward_mode", "02.reverse_mode"])
def test_an_answer_of_zeros_earns_nothing_from_the_nodes_whose_total_is_zero(question):
    q = find_question(question)
    zeros = lambda edges, node: {n: 0.0 for edge in edges for n in edge}  # noqa: E731
    for seed in range(3):
        cases = q.draw_cases(seed)
        assert judge(q, cases, q.run({question.split(".")[1]: zeros}, cases), seed).score == 0.0
