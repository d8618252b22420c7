"""Exercise 02: sum over paths, and factoring the paths.

Every question works on a graph given as an edge dict ``{(u, v): dv/du}``. The cases are built
here and cross to the student's process as plain data (``edges`` is a list of ``[u, v, dv/du]``
triples, listed in no topological order); the probe turns them back into the dict.

The probes, and what they need to read a case (the edge dict, the sweeps the jacobian probe hands
the answer), are in ``probes.ex02``; the references use the same sweeps, written out there rather
than taken from ``backprop_lib.graph``: the jacobian probe runs them in the student's process,
where every call of the library's sweeps is refused.

A sweep's mistakes are recognised by the exact wrong answer where one loop gives it, or, where the
answer depends on the order in which the student's loop visited the edges, node by node against its
neighbours (``_local_rule``). Where two mistakes give the same numbers on a case (an answer that sets
each term instead of adding it may equal one that visited the nodes out of order), both match, and
the judge names the one that another case tells apart.

Each case's name ends with its graph's edge dict in full, as Python a student can paste into a cell.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .probes.ex02 import PROBES
from .probes.ex02 import edges_of as _edges
from .probes.ex02 import forward_sweep as _forward
from .probes.ex02 import neighbours as _neighbours
from .probes.ex02 import nodes_of as _nodes
from .probes.ex02 import order as _order
from .probes.ex02 import reverse_sweep as _reverse
from .spec import Case, Exercise, Mistake, Outcome, Question, close

Edges = dict[tuple[str, str], float]

RTOL, ATOL = 1e-7, 1e-8
LETTERS = "abcdefghijklmnopqrstuvwxyz"
GREEK = ("α", "β", "γ", "δ", "ε", "ζ")
MAX_PATHS = 800  # between any two nodes of a random graph: enumerating every path stays fast


# --- graphs as plain data ---------------------------------------------------------------------------


def _count_from(edges: Mapping[tuple[str, str], float], source: str) -> dict[str, int]:
    """The number of paths from ``source`` to every node, in one sweep."""
    out, _ = _neighbours(edges)
    count = dict.fromkeys(out, 0)
    count[source] = 1
    for u in _order(edges):
        for v, _ in out[u]:
            count[v] += count[u]
    return count


def _count(edges: Mapping[tuple[str, str], float], source: str, target: str) -> int:
    return _count_from(edges, source)[target]


def _paths(edges: Mapping[tuple[str, str], float], source: str, target: str) -> list[list[float]]:
    """The edge derivatives along every path from ``source`` to ``target``."""
    out, _ = _neighbours(edges)
    found, stack = [], [(source, [])]
    while stack:
        node, factors = stack.pop()
        if node == target:
            found.append(factors)
            continue
        stack.extend((v, factors + [d]) for v, d in out[node])
    return found


def _reached(edges: Mapping[tuple[str, str], float], source: str) -> set[str]:
    """The nodes some path from ``source`` reaches, ``source`` included."""
    return {v for v, n in _count_from(edges, source).items() if n}


# --- case generators ---------------------------------------------------------------------------------


def _derivative(rng: np.random.Generator) -> float:
    """A random edge derivative, never near 0 or +-1 (where a path sum could pass for a path count)."""
    while True:
        d = round(float(rng.uniform(-2.5, 2.5)), 2)
        if abs(d) >= 0.3 and abs(abs(d) - 1.0) > 0.05:
            return d


def _triples(edges: Mapping[tuple[str, str], float]) -> list[list]:
    return [[u, v, d] for (u, v), d in edges.items()]


def _shuffled(rng: np.random.Generator, edges: Edges) -> Edges:
    items = list(edges.items())
    return dict(items[i] for i in rng.permutation(len(items)))


def lesson_graph(a: float = 2.0, b: float = 1.0) -> Edges:
    """The lesson-01 graph of e = (a + b)(b + 1), with c = a + b and d = b + 1."""
    c, d = round(a + b, 10), round(b + 1, 10)  # printed in a case's name as they are used
    return {("a", "c"): 1.0, ("b", "c"): 1.0, ("b", "d"): 1.0, ("c", "e"): d, ("d", "e"): c}


def staged_example(derivatives: list[float]) -> Edges:
    """The lesson's 3x3 example: X -> Y by routes alpha, beta, gamma, Y -> Z by delta, epsilon, zeta.

    Each route passes through a relay node named after its letter: the edge into the relay carries
    the derivative, the edge out of it carries 1.
    """
    edges: Edges = {}
    for k, (hub, nxt) in enumerate((("X", "Y"), ("Y", "Z"))):
        for i in range(3):
            letter = GREEK[3 * k + i]
            edges[(hub, letter)] = derivatives[3 * k + i]
            edges[(letter, nxt)] = 1.0
    return edges


def stage_chain(rng: np.random.Generator, stages: int, width: int) -> Edges:
    """Hubs X0 ... X<stages>, each stage joined by ``width`` routes through relays Xk.i."""
    edges: Edges = {}
    for k in range(stages):
        for i in range(width):
            edges[(f"X{k}", f"X{k}.{i}")] = _derivative(rng)
            edges[(f"X{k}.{i}", f"X{k + 1}")] = 1.0
    return edges


def random_dag(rng: np.random.Generator, n: int) -> tuple[list[str], Edges]:
    """A random DAG on ``n`` letters: its nodes in a topological order, and its edges shuffled.

    The letters are assigned at random, so neither alphabetical order nor the order of the edges
    is a topological order. The first two or three nodes are inputs; every other node has one to
    three inputs among the nodes before it. Path counts stay below ``MAX_PATHS``.
    """
    inputs = 2 if n < 10 else 3
    while True:
        names = [str(s) for s in rng.permutation(list(LETTERS))[:n]]
        pairs = []
        for j in range(inputs, n):
            k = int(rng.integers(1, min(3, j) + 1))
            pairs += [(int(i), j) for i in sorted(rng.choice(j, size=k, replace=False))]
        for i in range(inputs):
            if not any(a == i for a, _ in pairs):
                pairs.append((i, int(rng.integers(inputs, n))))
        edges = {(names[i], names[j]): _derivative(rng) for i, j in pairs}
        if max(max(_count_from(edges, s).values()) for s in names) <= MAX_PATHS:
            return names, _shuffled(rng, edges)


def _describe(edges: Edges, what: str) -> str:
    return f"{what} ({len(_nodes(edges))} nodes, {len(edges)} edges)"


def _literal(edges: Mapping[tuple[str, str], float]) -> str:
    """The edge dict as Python, in the order the case lists it: a student can paste it into a cell."""
    return "{" + ", ".join(f"({u!r}, {v!r}): {float(d)!r}" for (u, v), d in edges.items()) + "}"


def _named(call: str, what: str, edges: Mapping[tuple[str, str], float]) -> str:
    """A case's name: the call, the graph in words, and its edges in full (the inputs the judge shows
    with an unexplained wrong answer stop after a few edges)."""
    return f"{call} on {what}, edges = {_literal(edges)}"


# --- count_paths and sum_over_paths: cases -------------------------------------------------------------


def _pair_cases(function: str, rng: np.random.Generator) -> list[Case]:
    """Source/target pairs: the staged example, the lesson graph, random DAGs, a deeper chain, no path."""
    graphs: list[tuple[str, Edges, str, str]] = [
        ("the 3x3 staged example", _shuffled(rng, staged_example([_derivative(rng) for _ in range(6)])), "X", "Z"),
        ("the lesson-01 graph at a=2, b=1", lesson_graph(), "b", "e"),
    ]
    for n in (8, 12, 18, 24):
        graphs.append(_pair_in_random_dag(rng, n))
    a, b = (round(float(x), 2) for x in rng.uniform(-3, 3, 2))
    graphs.append((f"the lesson-01 graph at a={a:g}, b={b:g}", lesson_graph(a, b), "a", "e"))
    stages, width = int(rng.integers(3, 6)), int(rng.integers(2, 4))
    graphs.append((f"a chain of {stages} stages of {width} routes", _shuffled(rng, stage_chain(rng, stages, width)),
                   "X0", f"X{stages}"))
    names, edges = random_dag(rng, 10)
    s, t = next((s, t) for s in names[3:] for t in names[:3] if s != t)  # t is an input: no path
    graphs.append((_describe(edges, "a random DAG"), edges, s, t))
    return [Case(_named(f"{function}(edges, {s!r}, {t!r})", what, edges),
                 {"edges": _triples(edges), "source": s, "target": t}, visible=k < 3)
            for k, (what, edges, s, t) in enumerate(graphs)]


def _pair_in_random_dag(rng: np.random.Generator, n: int) -> tuple[str, Edges, str, str]:
    """A random DAG and a source/target pair joined by several paths (three or more when possible)."""
    while True:
        names, edges = random_dag(rng, n)
        counts = {(s, t): k for s in names for t, k in _count_from(edges, s).items()}
        for least in (3, 2):
            pairs = [pair for pair, k in counts.items() if k >= least]
            if pairs:
                s, t = pairs[int(rng.integers(len(pairs)))]
                return _describe(edges, "a random DAG"), edges, s, t


def _pair(inputs: Mapping[str, Any]) -> tuple[Edges, str, str]:
    return _edges(inputs), inputs["source"], inputs["target"]


def _value(outcome: Outcome) -> float | None:
    if outcome.error or outcome.reference or not isinstance(outcome.value, (int, float)):
        return None
    return float(outcome.value)


def _near(x: float, y: float) -> bool:
    return close(x, y, 1e-6, 1e-9)


Inputs = Mapping[str, Any]


def _shown(wrong: Callable[[Inputs], Any], reference: Callable[[Inputs], Any]) -> Callable[[Inputs], Any]:
    """``wrong``, but nan (which matches nothing) where it gives the right answer: a case on which a
    mistake changes nothing never names it."""
    def answer(inputs: Inputs) -> Any:
        result = wrong(inputs)
        return math.nan if close(result, reference(inputs), 1e-6, 1e-9) else result

    return answer


def _number_mistake(name: str, feedback: str, reference: Callable[[Inputs], float], wrong: Callable[[Inputs], float],
                    also: Callable[[Inputs], list[float]] | None = None) -> Mistake:
    """The wrong number ``wrong(inputs)``, or one of ``also(inputs)`` (the same mistake made another way:
    another search order, another thing counted); never the right number, where they coincide."""
    if also is None:
        return Mistake.answer(name, feedback, _shown(wrong, reference))

    def matches(outcome: Outcome, inputs: Inputs) -> bool:
        got = _value(outcome)
        if got is None or _near(got, reference(inputs)):
            return False
        return any(_near(got, w) for w in [wrong(inputs), *also(inputs)])

    return Mistake(name, feedback, matches, wrong)


def _from_source(inputs: Inputs) -> tuple[set[str], list[tuple[str, str]]]:
    """The nodes and the edges a search from the source walks through, whether they lead to the target
    or not: what a search counts when it counts nodes or edges instead of paths."""
    edges, s, _ = _pair(inputs)
    ahead = _reached(edges, s)
    return ahead, [(u, v) for u, v in edges if u in ahead]


# --- count_paths ------------------------------------------------------------------------------------------


def _explored_once(inputs: Inputs) -> float:
    """A search with a visited set expands each node once: it counts the edges into the target."""
    edges, s, t = _pair(inputs)
    reached = _reached(edges, s) - {t}
    return float(sum(1 for u, v in edges if v == t and u in reached))


def _number_of_paths(inputs: Inputs) -> float:
    return float(_count(*_pair(inputs)))


def _path_sum(inputs: Inputs) -> float:
    return math.fsum(math.prod(p) for p in _paths(*_pair(inputs)))


COUNT_PATHS = Question(
    id="02.count_paths",
    points=2,
    title="Count the paths",
    cases=lambda rng: _pair_cases("count_paths", rng),
    probe=PROBES["02.count_paths"],
    reference=_number_of_paths,
    rtol=RTOL,
    atol=ATOL,
    credit="case",
    mistakes=(
        _number_mistake("paths weighted by their edge derivatives",
                        "that is the sum over paths of the products, not the number of paths: every path "
                        "counts 1, whatever numbers its edges carry.", _number_of_paths, _path_sum),
        _number_mistake("each node explored only once",
                        "a visited set (as in a reachability search) lets a node be expanded only once, so "
                        "the paths through it after the first are lost. Paths may share nodes: add up the "
                        "counts of every route, count(u) = sum over v in out(u) of count(v).",
                        _number_of_paths, _explored_once),
        _number_mistake("only one path found",
                        "the answer is 1 although several paths lead to the target: keep searching after the "
                        "first path (or after the first visit of the target), and ADD the counts where paths "
                        "merge.", _number_of_paths, lambda i: min(_number_of_paths(i), 1.0)),
        _number_mistake("edges counted instead of paths",
                        "that is the number of edges a search from the source walks along: a path is a "
                        "whole route from the source to the target, and routes share edges. Count the routes: "
                        "count(target) = 1 and count(u) = sum over v in out(u) of count(v).",
                        _number_of_paths, lambda i: float(len(_from_source(i)[1]))),
        _number_mistake("nodes counted instead of paths",
                        "that is the number of nodes a search from the source visits: a path is a whole "
                        "route from the source to the target, and routes share nodes. Count the routes: "
                        "count(target) = 1 and count(u) = sum over v in out(u) of count(v).",
                        _number_of_paths, lambda i: float(len(_from_source(i)[0]))),
    ),
)


# --- sum_over_paths -------------------------------------------------------------------------------------


def _product_at_merges(inputs: Inputs) -> float:
    """The products of the paths multiplied together where they should be added."""
    return math.prod(math.prod(p) for p in _paths(*_pair(inputs)))


def _product_node_by_node(inputs: Inputs) -> list[float]:
    """A sweep that multiplies the terms coming into each node instead of adding them."""
    edges, s, t = _pair(inputs)
    _, into = _neighbours(edges)
    reached = _reached(edges, s)
    total: dict[str, float] = {}
    for v in _order(edges):
        terms = [d * total[w] for w, d in into[v] if w in reached]
        total[v] = 1.0 if v == s else (math.prod(terms) if terms and v in reached else 0.0)
    return [total[t]]


def _one_path(inputs: Inputs) -> float:
    paths = _paths(*_pair(inputs))
    return math.prod(paths[0]) if paths else 0.0


def _visited_once(inputs: Inputs) -> float:
    """A recursive search with a visited set, edges in the order the dict lists them: the paths
    through a node seen before are lost."""
    edges, s, t = _pair(inputs)
    out, _ = _neighbours(edges)
    visited: set[str] = set()

    def search(u: str) -> float:
        if u == t:
            return 1.0
        visited.add(u)
        return math.fsum(d * search(v) for v, d in out[u] if v not in visited)  # lazily, as a student's sum

    return search(s)


def _visited_once_with_a_stack(inputs: Inputs) -> list[float]:
    edges, s, t = _pair(inputs)
    out, _ = _neighbours(edges)
    stack, seen, found = [(s, 1.0)], set(), []
    while stack:
        u, product = stack.pop()
        if u == t:
            found.append(product)
        elif u not in seen:
            seen.add(u)
            stack.extend((v, product * d) for v, d in out[u])
    return [math.fsum(found)]


def _edge_sum(edges: Mapping[tuple[str, str], float], chosen: list[tuple[str, str]]) -> float:
    return math.fsum(edges[e] for e in chosen)


SUM_OVER_PATHS = Question(
    id="02.sum_over_paths",
    points=2,
    title="The derivative as a sum over paths",
    cases=lambda rng: _pair_cases("sum_over_paths", rng),
    probe=PROBES["02.sum_over_paths"],
    reference=_path_sum,
    rtol=RTOL,
    atol=ATOL,
    credit="case",
    mistakes=(
        _number_mistake("paths counted instead of their products summed",
                        "each path contributes the PRODUCT of the edge derivatives along it, not 1: "
                        "multiply dv/du along the path, then add the paths.", _path_sum, _number_of_paths),
        _number_mistake("edge derivatives added along a path",
                        "along one path the chain rule MULTIPLIES the edge derivatives (a nudge is scaled "
                        "by each edge in turn); only different paths are added.",
                        _path_sum, lambda i: math.fsum(math.fsum(p) for p in _paths(*_pair(i)))),
        _number_mistake("paths multiplied where they merge",
                        "where paths meet, their contributions ADD (for a tiny nudge everything is linear): "
                        "sum the path products, do not multiply them.",
                        _path_sum, _product_at_merges, _product_node_by_node),
        _number_mistake("only one path taken",
                        "the answer is the product along a single path: every path from source to target "
                        "contributes, so add the products of all of them.",
                        _path_sum, _one_path, lambda i: [math.prod(p) for p in _paths(*_pair(i))]),
        _number_mistake("the target's own derivative was lost",
                        "the answer is 0: every path's product ends with d target / d target = 1, so the "
                        "recursion returns 1 at the target itself, not 0 (a product started at 0 stays 0).",
                        _path_sum, lambda i: 0.0),
        _number_mistake("each node explored only once",
                        "a visited set (as in a reachability search) lets a node be expanded only once, so "
                        "the paths through it after the first are lost. Paths may share nodes: every path "
                        "counts, dZ/du = sum over v in out(u) of (dv/du)(dZ/dv), however often v is reached.",
                        _path_sum, _visited_once, _visited_once_with_a_stack),
        _number_mistake("edge derivatives summed instead of path products",
                        "that is the sum of the derivatives of the edges a search from the source walks "
                        "along. Each PATH contributes one term, the product of the derivatives along it; then "
                        "add the paths.", _path_sum, lambda i: _edge_sum(_edges(i), _from_source(i)[1])),
    ),
)


# --- forward_mode and reverse_mode ---------------------------------------------------------------------


def _sweep_cases(function: str, rng: np.random.Generator) -> list[Case]:
    """Sweeps from a start node: random DAGs (mostly started inside), the lesson graph, the staged example.

    The first case starts inside a random DAG, where the sweep and the sweep the other way round
    both have nonzero entries, so that the first failure tells the two apart.
    """
    forward = function == "forward_mode"
    key = "source" if forward else "target"
    staged = staged_example([_derivative(rng) for _ in range(6)])
    graphs = [_random_sweep(rng, 9, forward),
              ("the lesson-01 graph at a=2, b=1", lesson_graph(), "b" if forward else "e"),
              ("the 3x3 staged example", _telling_listing(rng, staged, "X" if forward else "Z", forward),
               "X" if forward else "Z")]
    graphs += [_random_sweep(rng, n, forward, inside=n != 6) for n in (6, 12, 16, 22)]
    a, b = (round(float(x), 2) for x in rng.uniform(-3, 3, 2))
    graphs.append((f"the lesson-01 graph at a={a:g}, b={b:g}", lesson_graph(a, b), "a" if forward else "c"))
    return [Case(_named(f"{function}(edges, {start!r})", what, edges), {"edges": _triples(edges), key: start},
                 visible=k < 3) for k, (what, edges, start) in enumerate(graphs)]


def _random_sweep(rng: np.random.Generator, n: int, forward: bool, inside: bool = True) -> tuple[str, Edges, str]:
    """A random DAG and a telling start node: one with neighbours on both sides, if ``inside``."""
    while True:
        names, edges = random_dag(rng, n)
        starts = [s for s in names if _sweep_is_telling(edges, s, forward)]
        if inside:
            starts = [s for s in starts if any(v == s for _, v in edges) and any(u == s for u, _ in edges)]
        if starts:
            start = starts[int(rng.integers(len(starts)))]
            return _describe(edges, "a random DAG"), _telling_listing(rng, edges, start, forward), start


def _telling_listing(rng: np.random.Generator, edges: Edges, start: str, forward: bool) -> Edges:
    """The edges listed in an order in which a sweep that follows the listing does not look like
    one that overwrites totals, so that the two mistakes get their own names."""
    key = "source" if forward else "target"
    best, best_score = edges, -1
    for _ in range(60):
        edges = _shuffled(rng, edges)
        inputs = {"edges": _triples(edges), key: start}
        answers = [_listed_order(inputs)] + ([] if forward else [_listed_order(inputs, backwards=True)])
        score = len(answers) - sum(_overwrites(w, inputs) for w in answers)
        if score > best_score:
            best, best_score = edges, score
        if score == len(answers):
            break
    return best


def _overwrites(answer: dict[str, float], inputs: Mapping[str, Any]) -> bool:
    return _local_rule(_one_term)(Outcome(value=answer), inputs)


def _sweep_is_telling(edges: Edges, start: str, forward: bool) -> bool:
    """The sweep merges several reached paths at some node, leaves some node at 0, and has a node
    whose only edge (coming in, in forward mode; going out, in reverse mode) is one from the start.

    That last node holds a nonzero total even in an answer that overwrites instead of adding,
    which tells such an answer apart from one that swept in the wrong direction.
    """
    flipped = edges if forward else {(v, u): d for (u, v), d in edges.items()}
    reached = _reached(flipped, start)
    _, into = _neighbours(flipped)
    feeding = {v: [u for u, _ in into[v]] for v in _nodes(edges)}
    merges = any(sum(1 for u in feeding[v] if u in reached) >= 2 for v in reached)
    sole = any(feeding[v] == [start] for v in reached)
    return merges and sole and len(reached) < len(_nodes(edges))


def _sweep(inputs: Inputs) -> dict[str, float]:
    edges = _edges(inputs)
    return _forward(edges, inputs["source"]) if "source" in inputs else _reverse(edges, inputs["target"])


def _start(inputs: Inputs) -> str:
    return inputs["source"] if "source" in inputs else inputs["target"]


def _sides(inputs: Inputs) -> tuple[list[str], dict[str, list]]:
    """The nodes in the order a sweep visits them, and the edges each node sums over: the edges coming
    in (forward mode) or going out (reverse mode), as pairs (other end, edge derivative)."""
    edges = _edges(inputs)
    out, into = _neighbours(edges)
    return (_order(edges), into) if "source" in inputs else (_order(edges)[::-1], out)


def _filled(outcome: Outcome, inputs: Inputs) -> dict[str, float] | None:
    """The answer with every missing node read as 0; None if it is not a dict of the graph's nodes."""
    got = outcome.value
    nodes = _nodes(_edges(inputs))
    if outcome.error or outcome.reference or not isinstance(got, dict) or set(got) - set(nodes):
        return None
    if not all(isinstance(x, (int, float)) for x in got.values()):
        return None
    return {n: float(got.get(n, 0.0)) for n in nodes}


def _same(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    return all(_near(a[n], b[n]) for n in b)


Sweep = Callable[[Inputs], dict[str, float]]
Matcher = Callable[[Outcome, Inputs], bool]


def _sweep_mistake(name: str, feedback: str, wrong: Sweep,
                   also: Callable[[Inputs], list[dict[str, float]]] | None = None,
                   rule: Matcher | None = None) -> Mistake:
    """The wrong sweep ``wrong(inputs)``, or one of ``also(inputs)`` (missing nodes read as 0), or, with
    ``rule``, any answer that obeys it: the same mistake made in an order the answer chose."""
    if also is None and rule is None:
        return Mistake.answer(name, feedback, _shown(wrong, _sweep))

    def matches(outcome: Outcome, inputs: Inputs) -> bool:
        got = _filled(outcome, inputs)
        if got is None or _same(got, _sweep(inputs)):
            return False
        if any(_same(got, w) for w in [wrong(inputs), *(also(inputs) if also else [])]):
            return True
        return rule is not None and rule(outcome, inputs)

    return Mistake(name, feedback, matches, wrong)


def _swapped(inputs: Inputs) -> dict[str, float]:
    """The other mode's sweep from the same node."""
    edges = _edges(inputs)
    return _reverse(edges, inputs["source"]) if "source" in inputs else _forward(edges, inputs["target"])


def _all_zero(inputs: Inputs) -> dict[str, float]:
    return dict.fromkeys(_nodes(_edges(inputs)), 0.0)


def _summed(inputs: Inputs, seeded: Callable[[str, list], bool],
            term: Callable[[float, float], float]) -> dict[str, float]:
    """A sweep in the right order in which the nodes ``seeded(node, its edges)`` hold 1 and every other
    node adds ``term(edge derivative, total at the edge's other end)`` over its edges."""
    visits, sides = _sides(inputs)
    total: dict[str, float] = {}
    for v in visits:
        total[v] = 1.0 if seeded(v, sides[v]) else math.fsum(term(d, total[w]) for w, d in sides[v])
    return total


def _every_end_seeded(inputs: Inputs) -> dict[str, float]:
    """Every input (forward mode) or output (reverse mode) seeded with 1, the start node left to its edges."""
    return _summed(inputs, lambda v, edges: not edges, lambda d, t: d * t)


def _other_starts(inputs: Inputs) -> list[dict[str, float]]:
    """The right sweep from every other node."""
    edges, start = _edges(inputs), _start(inputs)
    sweep = _forward if "source" in inputs else _reverse
    return [sweep(edges, n) for n in _nodes(edges) if n != start]


def _paths_counted(inputs: Inputs) -> dict[str, float]:
    start = _start(inputs)
    return _summed(inputs, lambda v, edges: v == start, lambda d, t: t)


def _derivatives_only(inputs: Inputs) -> dict[str, float]:
    start = _start(inputs)
    return _summed(inputs, lambda v, edges: v == start, lambda d, t: d)


def _listed_order(inputs: Inputs, backwards: bool = False) -> dict[str, float]:
    """The sweep done edge by edge in the order the dict lists them (or the reverse of it), each edge
    adding its term to the node at its far end with whatever total its near end holds then."""
    edges = _edges(inputs)
    forward = "source" in inputs
    total = dict.fromkeys(_nodes(edges), 0.0)
    total[_start(inputs)] = 1.0
    listing = list(edges.items())
    for (u, v), d in (listing[::-1] if backwards else listing):
        if forward:
            total[v] += d * total[u]
        else:
            total[u] += d * total[v]
    return total


def _local_rule(rule: Callable[[float, list[float]], bool]) -> Matcher:
    """Matches an answer in which the start holds 1 and every other node obeys ``rule`` with its terms,
    each the edge derivative times the total the answer gives the edge's other end.

    Checking node by node makes the detector independent of the order in which the answer happened
    to visit the edges.
    """
    def matches(outcome: Outcome, inputs: Inputs) -> bool:
        got = _filled(outcome, inputs)
        if got is None or _same(got, _sweep(inputs)):
            return False
        _, sides = _sides(inputs)
        start = _start(inputs)
        return _near(got[start], 1.0) and all(
            rule(got[v], [d * got[w] for w, d in sides[v]]) for v in got if v != start)

    return matches


def _one_term(value: float, terms: list[float]) -> bool:
    return _near(value, 0.0) if not terms else any(_near(value, t) for t in terms)


def _some_terms(value: float, terms: list[float]) -> bool:
    """The sum of some of the terms: what a node holds when some of its neighbours were not final yet."""
    return any(_near(value, math.fsum(chosen)) for r in range(len(terms) + 1)
               for chosen in itertools.combinations(terms, r))


def _product_of_terms(value: float, terms: list[float]) -> bool:
    """The product of the terms, of the nonzero terms only, or, with no terms, 0 or the empty product 1."""
    nonzero = [t for t in terms if t != 0.0]
    candidates = [math.prod(terms), math.prod(nonzero)] if terms else [0.0, 1.0]
    return any(_near(value, c) for c in candidates)


def _multiplied_in_order(inputs: Inputs) -> dict[str, float]:
    start = _start(inputs)
    visits, sides = _sides(inputs)
    total: dict[str, float] = {}
    for v in visits:
        total[v] = 1.0 if v == start else math.prod(d * total[w] for w, d in sides[v])
    return total


def _reached_only(inputs: Inputs) -> dict[str, float]:
    """The right totals of the nodes some path joins to the start, and no entry for the others."""
    edges, start = _edges(inputs), _start(inputs)
    joined = _reached(edges if "source" in inputs else {(v, u): d for (u, v), d in edges.items()}, start)
    return {n: x for n, x in _sweep(inputs).items() if n in joined}


def _missing_nodes(outcome: Outcome, inputs: Inputs) -> bool:
    got = outcome.value
    expected = _sweep(inputs)
    if _filled(outcome, inputs) is None or set(got) == set(expected):
        return False
    return all(_near(got.get(n, 0.0), x) for n, x in expected.items())


def _sweep_mistakes(forward: bool) -> tuple[Mistake, ...]:
    """The mistakes of a sweep, the most specific first: where two of them give the same numbers on
    a case (an answer that sets each term may equal one that visited the nodes out of order), the
    judge names the one another case tells apart, else the first listed."""
    here, there = ("forward", "reverse") if forward else ("reverse", "forward")
    start, ends, order = ("source", "input", "topological") if forward else ("target", "output", "reverse topological")
    fix = ("d v / d source for every node v: sum over the edges COMING IN to v" if forward else
           "d target / d v for every node v: sum over the edges GOING OUT of v")
    merge, side = ("comes in from several nodes", "coming in") if forward else ("feeds several nodes", "going out")
    rule = ("d v / d source = sum over the edges w -> v of (d v / d w) * (d w / d source)" if forward else
            "d target / d v = sum over the edges v -> u of (d target / d u) * (d u / d v)")
    return (
        _sweep_mistake(f"{there} mode computed instead of {here} mode",
                       f"the answer is the derivative the other way round. {here.capitalize()} mode returns {fix}.",
                       _swapped),
        _sweep_mistake(f"the {start}'s own derivative was lost",
                       f"every total is 0: d {start} / d {start} = 1 seeds the sweep. Set the {start} to 1 and "
                       f"do not recompute it from its neighbours, even when it has some.", _all_zero),
        _sweep_mistake("the sweep seeded at the wrong node",
                       f"only the {start} you are given starts at 1 (d {start} / d {start} = 1). Every other node, "
                       f"every other {ends} included, takes its total from the edges {side} (0 when it has none).",
                       _every_end_seeded, _other_starts),
        _sweep_mistake("edge derivatives left out of the terms",
                       f"each edge {side} adds its edge derivative TIMES the total at its other end: {rule}. "
                       "Without the edge derivatives the sweep counts paths.", _paths_counted),
        _sweep_mistake("totals left out of the terms",
                       f"each edge {side} adds its edge derivative times the TOTAL at its other end, not the "
                       f"edge derivative alone: {rule}.", _derivatives_only),
        Mistake("derivative assigned instead of accumulated",
                f"where a node {merge}, each edge {side} adds one term: accumulate with += (or sum the terms) "
                "instead of overwriting the total with the last edge's term. (If you do add them, the totals "
                f"you added were not final yet: visit the nodes in {order} order.)", _local_rule(_one_term)),
        _sweep_mistake("edges used out of topological order",
                       "a total was used before it was final: when an edge is used, the node it "
                       f"{'comes from' if forward else 'leads to'} must already have its whole total. A dict "
                       "lists its edges in no particular order, and names sort in no useful order; if only "
                       f"the {start} is nonzero, the sweep ran backwards. Visit the nodes in {order} order "
                       f"(from the {start} {'towards the outputs' if forward else 'back towards the inputs'}).",
                       _listed_order, lambda i: [_listed_order(i, backwards=True)], _local_rule(_some_terms)),
        Mistake("terms multiplied instead of added at a merge",
                f"the terms of the edges {side} of a node are ADDED: each is the sum over a different set of "
                "paths. Multiply only along an edge (edge derivative times total).",
                _local_rule(_product_of_terms), _multiplied_in_order),
        Mistake("nodes left out of the dict",
                f"return an entry for EVERY node of the graph: a node with no path "
                f"{'from the source' if forward else 'to the target'} has derivative 0, and it must be "
                "there with the value 0.", _missing_nodes, _reached_only),
    )


FORWARD_MODE = Question(
    id="02.forward_mode",
    points=3,
    title="Forward-mode differentiation",
    cases=lambda rng: _sweep_cases("forward_mode", rng),
    probe=PROBES["02.forward_mode"],
    reference=_sweep,
    rtol=RTOL,
    atol=ATOL,
    credit="output",
    mistakes=_sweep_mistakes(forward=True),
)

REVERSE_MODE = Question(
    id="02.reverse_mode",
    points=3,
    title="Reverse-mode differentiation",
    cases=lambda rng: _sweep_cases("reverse_mode", rng),
    probe=PROBES["02.reverse_mode"],
    reference=_sweep,
    rtol=RTOL,
    atol=ATOL,
    credit="output",
    mistakes=_sweep_mistakes(forward=False),
)


# --- jacobian(edges, inputs, outputs): the cheaper mode ------------------------------------------------


def _fan_out(rng: np.random.Generator, m: int) -> Edges:
    """One input t feeding a shared u and, through it (and once directly), m outputs y0 ... y(m-1)."""
    edges = {("t", "u"): _derivative(rng), ("t", "y0"): _derivative(rng)}
    edges |= {("u", f"y{j}"): _derivative(rng) for j in range(m)}
    return _shuffled(rng, edges)


def _connected_blocks(rng: np.random.Generator, n: int, n_in: int, n_out: int) -> tuple[Edges, list[str], list[str]]:
    """A random DAG with ``n_in`` early and ``n_out`` later nodes, most outputs depending on most inputs."""
    while True:
        names, edges = random_dag(rng, n)
        for _ in range(20):
            ins = [str(x) for x in rng.choice(names[: n // 2], size=n_in, replace=False)]
            outs = [str(y) for y in rng.choice(names[n // 2:], size=n_out, replace=False)]
            linked = sum(1 for x in ins for y in _reached(edges, x) if y in outs)
            if 3 * linked >= 2 * n_in * n_out:
                return edges, ins, outs


def _jacobian_cases(rng: np.random.Generator) -> list[Case]:
    graphs: list[tuple[str, Edges, list[str], list[str]]] = [
        ("the lesson-01 graph at a=2, b=1", lesson_graph(), ["a", "b"], ["e"]),
    ]
    m = int(rng.integers(3, 6))
    graphs.append((f"a graph with one input t and {m} outputs", _fan_out(rng, m), ["t"], [f"y{j}" for j in range(m)]))
    for n, (n_in, n_out) in zip((10, 12, 16, 20, 24), ((2, 3), (3, 1), (1, 4), (4, 2), (2, 5))):
        edges, ins, outs = _connected_blocks(rng, n, n_in, n_out)
        graphs.append((_describe(edges, "a random DAG"), edges, ins, outs))
    return [Case(_named(f"jacobian(edges, {ins}, {outs})", what, edges),
                 {"edges": _triples(edges), "inputs": ins, "outputs": outs}, visible=k < 3)
            for k, (what, edges, ins, outs) in enumerate(graphs)]


def _matrix(inputs: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    edges = _edges(inputs)
    rows = {y: _reverse(edges, y) for y in inputs["outputs"]}
    return {y: {x: rows[y][x] for x in inputs["inputs"]} for y in inputs["outputs"]}


def _cheaper(inputs: Mapping[str, Any]) -> dict[str, int]:
    n, m = len(inputs["inputs"]), len(inputs["outputs"])
    return {"forward": n, "reverse": 0} if n < m else {"forward": 0, "reverse": m}


def _jacobian(inputs: Mapping[str, Any]) -> dict:
    return {"jacobian": _matrix(inputs), "sweeps": _cheaper(inputs)}


Counts = Callable[[Inputs], dict[str, int]]


def _jacobian_mistake(name: str, feedback: str, matrix: Callable[[Inputs], dict], counts: Counts | None) -> Mistake:
    """The wrong Jacobian ``matrix(inputs)`` got with the sweep counts ``counts(inputs)``, or with any
    counts if ``counts`` is None (its wrong answer then takes the cheaper mode's)."""
    def wrong(inputs: Inputs) -> dict:
        return {"jacobian": matrix(inputs), "sweeps": counts(inputs) if counts else _cheaper(inputs)}

    if counts is not None:
        return Mistake.answer(name, feedback, _shown(wrong, _jacobian))

    def matches(outcome: Outcome, inputs: Inputs) -> bool:
        got = outcome.value
        return (not outcome.error and not outcome.reference and isinstance(got, dict)
                and not close(got, _jacobian(inputs), RTOL, ATOL)
                and close(got.get("jacobian"), matrix(inputs), RTOL, ATOL))

    return Mistake(name, feedback, matches, wrong)


def _sweeps(forward: int, reverse: int) -> dict[str, int]:
    return {"forward": forward, "reverse": reverse}


def _dearer(inputs: Inputs) -> dict[str, int]:
    n, m = len(inputs["inputs"]), len(inputs["outputs"])
    return _sweeps(0, m) if n < m else _sweeps(n, 0)


def _per_entry(inputs: Inputs, mode: str) -> dict[str, int]:
    entries = len(inputs["inputs"]) * len(inputs["outputs"])
    return _sweeps(entries, 0) if mode == "forward" else _sweeps(0, entries)


def _mixed_up(inputs: Inputs) -> dict[str, int]:
    """The cheaper number of sweeps, in the other mode."""
    n, m = len(inputs["inputs"]), len(inputs["outputs"])
    return _sweeps(0, n) if n < m else _sweeps(m, 0)


def _backwards_entries(inputs: Inputs) -> dict[str, dict[str, float]]:
    """J[y][x] = dx/dy: what a forward sweep from an output, or a reverse sweep to an input, gives."""
    edges = _edges(inputs)
    return {y: {x: _forward(edges, y)[x] for x in inputs["inputs"]} for y in inputs["outputs"]}


def _transposed(inputs: Inputs) -> dict[str, dict[str, float]]:
    matrix = _matrix(inputs)
    return {x: {y: matrix[y][x] for y in inputs["outputs"]} for x in inputs["inputs"]}


_PER_ENTRY = ("one sweep gives a whole column (forward, one input) or a whole row (reverse, one output) of the "
              "Jacobian: call it once per input or once per output and keep its dict, not once per entry.")

JACOBIAN = Question(
    id="02.jacobian",
    builds_on=('02.forward_mode', '02.reverse_mode'),
    points=2,
    title="The whole Jacobian with the fewest sweeps",
    cases=_jacobian_cases,
    probe=PROBES["02.jacobian"],
    reference=_jacobian,
    rtol=RTOL,
    atol=ATOL,
    credit="output",
    mistakes=(
        _jacobian_mistake("the more expensive mode",
                          "the derivatives are right, but the other mode needs fewer sweeps: forward mode costs "
                          "one sweep per input, reverse mode one per output. Use forward mode when there are "
                          "fewer inputs than outputs, reverse mode otherwise.", _matrix, _dearer),
        *(_jacobian_mistake(f"one {mode} sweep per entry", _PER_ENTRY, _matrix, counts)
          for mode, counts in (("forward", lambda i: _per_entry(i, "forward")),
                               ("reverse", lambda i: _per_entry(i, "reverse")))),
        _jacobian_mistake("not built from sweeps",
                          "the derivatives are right, but the answer never calls forward_mode or reverse_mode: "
                          "build the Jacobian from sweeps (called by those names), one per input or one per "
                          "output.", _matrix, lambda i: _sweeps(0, 0)),
        _jacobian_mistake("forward_mode and reverse_mode mixed up",
                          "forward_mode(edges, x) gives the COLUMN of an input x (dy/dx for every y), and "
                          "reverse_mode(edges, y) the ROW of an output y (dy/dx for every x). Calling the other "
                          "one from the same node gives dx/dy instead, 0 here.", _backwards_entries, _mixed_up),
        _jacobian_mistake("the Jacobian is transposed",
                          "index it by output first: J[y][x] = dy/dx, one inner dict per output y.",
                          _transposed, None),
    ),
)


EXERCISE = Exercise(
    number="02",
    title="Sum over paths, and factoring the paths",
    notebook="02_paths_and_modes",
    questions=(COUNT_PATHS, SUM_OVER_PATHS, FORWARD_MODE, REVERSE_MODE, JACOBIAN),
)
