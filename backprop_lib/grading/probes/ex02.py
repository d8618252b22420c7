"""Probes of exercise 02: sum over paths, and factoring the paths.

A case's ``edges`` arrive as a list of ``[u, v, dv/du]`` triples; the probes turn them back into
the edge dict ``{(u, v): dv/du}`` the student's functions take.

The jacobian probe hands the answer correct, counting sweeps in place of its own ``forward_mode``
and ``reverse_mode``, so the sweeps are written out here. They cannot be the library's
(``backprop_lib.graph``): every call of the library's sweeps is refused while a probe runs.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from . import Probe

Edges = dict[tuple[str, str], float]

_GRAPH = "backprop_lib.graph"
FORBIDDEN = tuple(f"{_GRAPH}.{name}" for name in
                  ("count_paths", "sum_over_paths", "forward_mode", "reverse_mode", "topological_order")) + tuple(
    f"{_GRAPH}.Graph.{name}" for name in ("count_paths", "sum_over_paths", "forward_mode", "reverse_mode",
                                         "topological_order", "paths", "forward_steps", "reverse_steps"))


# --- graphs as plain data ---------------------------------------------------------------------------


def edges_of(inputs: Mapping[str, Any]) -> Edges:
    """The case's edge dict, in the order the triples were listed."""
    return {(str(u), str(v)): float(d) for u, v, d in inputs["edges"]}


def nodes_of(edges: Mapping[tuple[str, str], float]) -> list[str]:
    return list(_structure_of(edges)[0])


def neighbours(edges: Mapping[tuple[str, str], float]) -> tuple[Mapping, Mapping]:
    """``out[v]``: pairs (u, du/dv) for u in out(v); ``into[v]``: pairs (w, dv/dw) for the edges w -> v."""
    _, out, into, _ = _structure_of(edges)
    return out, into


def order(edges: Mapping[tuple[str, str], float]) -> list[str]:
    """Kahn's algorithm: every node before the nodes it feeds."""
    return list(_structure_of(edges)[3])


Structure = tuple[tuple[str, ...], Mapping[str, tuple], Mapping[str, tuple], tuple[str, ...]]


def _structure_of(edges: Mapping[tuple[str, str], float]) -> Structure:
    """The nodes, both neighbour maps and the order of a graph, worked out once per graph: grading a
    wrong answer tries every known mistake on every case, each asking for them again."""
    items = tuple(edges.items())
    try:
        return _structure(items)
    except TypeError:  # a value that cannot be hashed (edges made by an answer): not kept
        return _structure.__wrapped__(items)


@functools.lru_cache(maxsize=256)
def _structure(items: tuple) -> Structure:
    nodes = tuple(dict.fromkeys(n for pair, _ in items for n in pair))
    out: dict[str, list] = {n: [] for n in nodes}
    into: dict[str, list] = {n: [] for n in nodes}
    for (u, v), d in items:
        out[u].append((v, d))
        into[v].append((u, d))
    waiting = {n: len(into[n]) for n in nodes}
    found = [n for n in nodes if waiting[n] == 0]
    for u in found:  # the list grows while we walk it
        for v, _ in out[u]:
            waiting[v] -= 1
            if waiting[v] == 0:
                found.append(v)
    return (nodes, MappingProxyType({n: tuple(pairs) for n, pairs in out.items()}),
            MappingProxyType({n: tuple(pairs) for n, pairs in into.items()}), tuple(found))


def forward_sweep(edges: Mapping[tuple[str, str], float], source: str) -> dict[str, float]:
    """d v / d source for every node v, summing the paths coming in."""
    _, into = neighbours(edges)
    total: dict[str, float] = {}
    for v in order(edges):
        total[v] = 1.0 if v == source else math.fsum(d * total[w] for w, d in into[v])
    return total


def reverse_sweep(edges: Mapping[tuple[str, str], float], target: str) -> dict[str, float]:
    """d target / d v for every node v, merging the paths going out."""
    out, _ = neighbours(edges)
    total: dict[str, float] = {}
    for v in reversed(order(edges)):
        total[v] = 1.0 if v == target else math.fsum(d * total[u] for u, d in out[v])
    return {n: total[n] for n in nodes_of(edges)}


# --- the probes -------------------------------------------------------------------------------------


def _between(function: str, ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> float:
    return float(ns[function](edges_of(inputs), inputs["source"], inputs["target"]))


def count_paths_between(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> float:
    return _between("count_paths", ns, inputs)


def sum_over_paths_between(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> float:
    return _between("sum_over_paths", ns, inputs)


def _sweep(function: str, key: str, ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, float]:
    result = ns[function](edges_of(inputs), inputs[key])
    if not isinstance(result, Mapping):
        raise TypeError(f"{function} must return a dict {{node: derivative}}, got {type(result).__name__}")
    return {str(node): float(x) for node, x in result.items()}


def forward_mode_from_source(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, float]:
    return _sweep("forward_mode", "source", ns, inputs)


def reverse_mode_to_target(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, float]:
    return _sweep("reverse_mode", "target", ns, inputs)


_ABSENT = object()


def jacobian_with_counted_sweeps(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict:
    """Run ``jacobian`` with correct, counting sweeps in place of the answer's own.

    The answer calls ``forward_mode`` and ``reverse_mode`` by name from its module's globals; the
    probe puts counting versions there for the duration of the call, so this question grades the
    choice of mode and the assembly of the Jacobian, whatever the other answers do.
    """
    fn = ns["jacobian"]
    home = getattr(fn, "__globals__", ns)
    sweeps = {"forward": 0, "reverse": 0}

    def forward_mode(edges: Mapping, source: str) -> dict[str, float]:
        sweeps["forward"] += 1
        return forward_sweep(dict(edges), source)

    def reverse_mode(edges: Mapping, target: str) -> dict[str, float]:
        sweeps["reverse"] += 1
        return reverse_sweep(dict(edges), target)

    saved = {name: home.get(name, _ABSENT) for name in ("forward_mode", "reverse_mode")}
    home["forward_mode"], home["reverse_mode"] = forward_mode, reverse_mode
    try:
        result = fn(edges_of(inputs), list(inputs["inputs"]), list(inputs["outputs"]))
    finally:
        for name, original in saved.items():
            if original is _ABSENT:
                home.pop(name, None)
            else:
                home[name] = original
    if not isinstance(result, Mapping) or not all(isinstance(row, Mapping) for row in result.values()):
        raise TypeError("jacobian must return a dict of dicts, J[y][x] = dy/dx")
    matrix = {str(y): {str(x): float(v) for x, v in row.items()} for y, row in result.items()}
    return {"jacobian": matrix, "sweeps": dict(sweeps)}


PROBES = {
    "02.count_paths": Probe(("count_paths",), count_paths_between, forbidden=FORBIDDEN),
    "02.sum_over_paths": Probe(("sum_over_paths",), sum_over_paths_between, forbidden=FORBIDDEN),
    "02.forward_mode": Probe(("forward_mode",), forward_mode_from_source, forbidden=FORBIDDEN),
    "02.reverse_mode": Probe(("reverse_mode",), reverse_mode_to_target, forbidden=FORBIDDEN),
    "02.jacobian": Probe(("jacobian",), jacobian_with_counted_sweeps, forbidden=FORBIDDEN),
}
