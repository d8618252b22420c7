"""Lesson 02's self-check: a reverse sweep by hand on a small graph given by its edge numbers.

The reader fills in dv5/dv for every node v of ``DRILL_EDGES``. The check walks the nodes in
reverse topological order and names the first one whose value is wrong, with what to reconsider
(the edges leaving it), never the value itself.
"""
from __future__ import annotations

from typing import Any

from ..graph import Graph
from . import Verdict, close, practice

DRILL_EDGES = {
    ("v1", "v2"): 2, ("v1", "v3"): -1, ("v2", "v3"): 3,
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
    missing = [node for node in order if node not in adjoints]
    if missing:
        return Verdict(False, f"no value for {', '.join(missing)}: fill in every node")
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
    else:
        hint = (f"{first} feeds {feeds}: add up, over those edges, (d{TARGET}/d of the node the edge goes to) "
                "times (the edge's number)")
    return Verdict(False, f"d{TARGET}/d{first} is not right: {hint}.{after}")


_RIGHT = {"v5": 1, "v4": 3, "v3": 6, "v2": 21, "v1": 36}

SAMPLES = {
    "02.reverse_table": (
        [(_RIGHT,), ({"v1": 36.0, "v2": 21.0, "v3": 6.0, "v4": 3.0, "v5": 1.0},)],
        [
            # v2 forgets its branch to v4 (and v1 follows from it)
            (_RIGHT | {"v2": 18, "v1": 30},),
            # v1 forgets its branch to v3
            (_RIGHT | {"v1": 42},),
            # v3 multiplies by the edge coming into it from v2
            (_RIGHT | {"v3": 9},),
            # a forward sweep from v1 instead of a reverse sweep to v5
            ({"v1": 1, "v2": 2, "v3": 5, "v4": 12, "v5": 36},),
            # a sign lost on the edge v1 -> v3
            (_RIGHT | {"v1": 48},),
            # a node left out
            ({"v5": 1, "v4": 3, "v3": 6, "v2": 21},),
        ],
    ),
}
