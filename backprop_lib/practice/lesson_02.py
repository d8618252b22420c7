"""Lesson 02's self-check: a reverse sweep by hand on a small graph given by its edge numbers.

The reader fills in dv5/dv for every node v of ``DRILL_EDGES``. The check walks the nodes in
reverse topological order and names the first one whose value is wrong, with what to reconsider
(the edges leaving it), never the value itself. The edge numbers are chosen so that no shortcut
lands on a right total by accident (for instance, no single path from v1 carries the whole sum).
"""
from __future__ import annotations

from typing import Any

from ..graph import Graph
from . import Verdict, close, is_plain_number, practice

DRILL_EDGES = {
    ("v1", "v2"): 2, ("v1", "v3"): -2, ("v2", "v3"): 3,
    ("v2", "v4"): 1, ("v3", "v4"): 2, ("v4", "v5"): 3,
}
TARGET = "v5"


@practice("02.reverse_table")
def reverse_table(adjoints: Any) -> Verdict:
    """``adjoints`` maps every node v of the drill graph to dv5/dv."""
    if not isinstance(adjoints, dict):
        return Verdict(False, f"give a dict from each node name to d{TARGET}/d(node)")
    graph = Graph(DRILL_EDGES)
    order = list(reversed(graph.topological_order()))
    names = ", ".join(repr(node) for node in sorted(order))
    unknown = [node for node in adjoints if node not in order]
    if unknown:
        return Verdict(False, f"{unknown[0]!r} is not a node of this graph: the keys are the node names {names}")
    missing = [node for node in order if node not in adjoints]
    if missing:
        return Verdict(False, f"no value for {', '.join(missing)}: fill in every node")
    not_numbers = [node for node in order if not is_plain_number(adjoints[node])]
    if not_numbers:
        node = not_numbers[0]
        return Verdict(False, f"d{TARGET}/d{node} holds {adjoints[node]!r} ({type(adjoints[node]).__name__}): "
                              "write each total as one plain number")
    truth = graph.reverse_mode(TARGET)
    wrong = [node for node in order if not close(adjoints[node], truth[node])]
    if not wrong:
        return Verdict(True, "every node right: each total merges the edges leaving the node, and every edge "
                             "is used once")
    first, later = wrong[0], wrong[1:]
    verb = "comes" if len(later) == 1 else "come"
    after = ""
    if later:
        after = f" ({', '.join(later)} {verb} after it in the sweep and may be off because of it: fix {first} first.)"
    if first == TARGET:
        return Verdict(False, f"d{TARGET}/d{TARGET} is where the sweep starts: how much does {TARGET} move when "
                              f"{TARGET} itself moves?{after}")
    leaving = graph.succ[first]
    feeds = " and ".join(v for v, _ in leaving)
    terms = [adjoints[v] * d for v, d in leaving]
    if len(terms) > 1 and any(close(adjoints[first], sum(terms) - t) for t in terms):
        hint = (f"{first} feeds {feeds}; one of those edges is missing from its sum: a fork collects one "
                "term per edge leaving it")
    elif any(close(adjoints[first], adjoints[v] * d_in) for v, _ in leaving for _, d_in in graph.pred[first]):
        hint = (f"that uses the number of an edge coming into {first}; a reverse sweep uses the edges leaving it "
                f"(to {feeds})")
    elif any(d < 0 for _, d in leaving) and close(adjoints[first], sum(adjoints[v] * abs(d) for v, d in leaving)):
        hint = f"{first} feeds {feeds}, and one of those edges carries a negative number: keep its sign in the product"
    elif close(adjoints[first], sum(adjoints[v] for v, _ in leaving)):
        hint = (f"{first} feeds {feeds}: each successor's total must be multiplied by the number on the edge "
                "that leads to it before the terms are added")
    else:
        hint = (f"{first} feeds {feeds}: add up, over those edges, (d{TARGET}/d of the node the edge goes to) "
                "times (the edge's number)")
    return Verdict(False, f"d{TARGET}/d{first} is not right: {hint}.{after}")


_RIGHT = {"v5": 1, "v4": 3, "v3": 6, "v2": 21, "v1": 30}

SAMPLES = {
    "02.reverse_table": (
        [(_RIGHT,), ({"v1": 30.0, "v2": 21.0, "v3": 6.0, "v4": 3.0, "v5": 1.0},)],
        [
            # v2 forgets its branch to v4 (and v1 follows from it)
            (_RIGHT | {"v2": 18, "v1": 24},),
            # v1 forgets its branch to v3, or its branch to v2
            (_RIGHT | {"v1": 42},),
            (_RIGHT | {"v1": -12},),
            # v3 multiplies by an edge coming into it (from v2, or from v1)
            (_RIGHT | {"v3": 9},),
            (_RIGHT | {"v3": -6},),
            # a forward sweep from v1 instead of a reverse sweep to v5
            ({"v1": 1, "v2": 2, "v3": 4, "v4": 10, "v5": 30},),
            # a sign lost on the edge v1 -> v3
            (_RIGHT | {"v1": 54},),
            # only the longest path v1 -> v2 -> v3 -> v4 -> v5
            (_RIGHT | {"v1": 36},),
            # the successors' totals added without their edge numbers
            (_RIGHT | {"v1": 27},),
            # the sweep started at 0
            ({node: 0 for node in _RIGHT},),
            # a node left out, a node that is not in the graph, numbers as strings
            ({"v5": 1, "v4": 3, "v3": 6, "v2": 21},),
            (_RIGHT | {"v6": 0},),
            ({node: str(value) for node, value in _RIGHT.items()},),
        ],
    ),
}
