"""Layered layout of a computational graph, left to right.

A node's layer is the length of the longest path that reaches it from an input; inside a layer,
nodes are ordered by the barycentre heuristic (each node moves to the mean position of its
neighbours in the next layer) to reduce edge crossings. An edge that skips layers gets a reserved
slot in every layer it crosses, so it never runs through a node.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..graph import Graph

# Row gaps between neighbours in a layer, in rows: a real node needs a full row, the slot of an
# edge passing through the layer needs less.
_SEP_NODE, _SEP_MIXED, _SEP_SLOT = 1.0, 0.55, 0.35
_ORDER_SWEEPS = 8
_SMOOTHING_SWEEPS = 8


class _Slot:
    """Where an edge that skips layers crosses one layer: a point it passes through."""

    __slots__ = ()


@dataclass
class _Layout:
    layer: dict[Any, int]
    layers: list[list[Any]]
    rows: dict[Any, float]  # growing downwards, in rows
    routes: list[list[Any]]  # per edge: source, the slots it crosses, target


def _layered(keys: Sequence[Hashable], pairs: Sequence[tuple[Hashable, Hashable]], align_inputs: bool) -> _Layout:
    """Layers, order inside each layer and row positions of ``keys`` (given in topological order)."""
    preds: dict[Any, list] = {k: [] for k in keys}
    succs: dict[Any, list] = {k: [] for k in keys}
    for u, v in pairs:
        succs[u].append(v)
        preds[v].append(u)
    layer: dict[Any, int] = {}
    for k in keys:
        layer[k] = 1 + max(layer[u] for u in preds[k]) if preds[k] else 0
    if not align_inputs:
        # An input used late sits just before its first consumer instead of far to the left.
        for k in keys:
            if not preds[k] and succs[k]:
                layer[k] = min(layer[v] for v in succs[k]) - 1
    n_layers = 1 + max(layer.values(), default=-1)
    layers: list[list[Any]] = [[] for _ in range(n_layers)]
    for k in keys:
        layers[layer[k]].append(k)
    up: dict[Any, list] = {k: [] for k in keys}
    down: dict[Any, list] = {k: [] for k in keys}
    routes = []
    for u, v in pairs:
        route = [u]
        for i in range(layer[u] + 1, layer[v]):
            slot = _Slot()
            layer[slot] = i
            layers[i].append(slot)
            up[slot], down[slot] = [], []
            route.append(slot)
        route.append(v)
        for a, b in zip(route, route[1:]):
            down[a].append(b)
            up[b].append(a)
        routes.append(route)
    layers = _reduce_crossings(layers, up, down)
    rows = _assign_rows(layers, up, down)
    return _Layout(layer, layers, rows, routes)


def _crossings(layers: list[list], down: Mapping[Any, list]) -> int:
    """Edge crossings between neighbouring layers: inversions among the edges sorted by source."""
    total = 0
    for upper, lower in zip(layers, layers[1:]):
        where = {n: i for i, n in enumerate(lower)}
        ends = sorted((i, where[v]) for i, u in enumerate(upper) for v in down[u])
        seen: list[int] = []
        for _, j in ends:
            lo, hi = 0, len(seen)
            while lo < hi:  # count the earlier edges that end below j
                mid = (lo + hi) // 2
                if seen[mid] <= j:
                    lo = mid + 1
                else:
                    hi = mid
            total += len(seen) - lo
            seen.insert(lo, j)
    return total


def _reduce_crossings(layers: list[list], up: Mapping, down: Mapping) -> list[list]:
    """Barycentre heuristic: sweep down then up, sorting each layer by its neighbours' mean position."""
    position = {n: i for layer in layers for i, n in enumerate(layer)}

    def reorder(layer: list, neighbours: Mapping) -> list:
        def barycentre(n: Any) -> float:
            ns = neighbours[n]
            return sum(position[m] for m in ns) / len(ns) if ns else position[n]

        ordered = sorted(layer, key=barycentre)  # stable: ties keep the current order
        position.update((n, i) for i, n in enumerate(ordered))
        return ordered

    best = [list(layer) for layer in layers]
    best_count = _crossings(best, down)
    for _ in range(_ORDER_SWEEPS):
        if best_count == 0:
            break
        for i in range(1, len(layers)):
            layers[i] = reorder(layers[i], up)
        for i in range(len(layers) - 2, -1, -1):
            layers[i] = reorder(layers[i], down)
        count = _crossings(layers, down)
        if count < best_count:
            best, best_count = [list(layer) for layer in layers], count
    return best


def _closest_ordered(targets: Sequence[float], gaps: Sequence[float]) -> list[float]:
    """Positions y minimising sum (y_i - target_i)^2 subject to y[i+1] - y[i] >= gaps[i].

    With z_i = y_i - (gaps before i) the constraint reads z nondecreasing: isotonic regression, solved
    by pooling adjacent violators.
    """
    offsets = [0.0]
    for g in gaps:
        offsets.append(offsets[-1] + g)
    blocks: list[list[float]] = []  # [sum, count] of pooled targets
    for t, off in zip(targets, offsets):
        blocks.append([t - off, 1])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] > blocks[-1][0] * blocks[-2][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    z = [s / c for s, c in blocks for _ in range(int(c))]
    return [zi + off for zi, off in zip(z, offsets)]


def _assign_rows(layers: list[list], up: Mapping, down: Mapping) -> dict[Any, float]:
    """Row of every node: as close to the mean of its neighbours as the order and the gaps allow."""

    def gap(a: Any, b: Any) -> float:
        slots = isinstance(a, _Slot) + isinstance(b, _Slot)
        return (_SEP_NODE, _SEP_MIXED, _SEP_SLOT)[slots]

    gaps = [[gap(a, b) for a, b in zip(layer, layer[1:])] for layer in layers]
    rows: dict[Any, float] = {}
    for layer, gs in zip(layers, gaps):
        ys = _closest_ordered([0.0] * len(layer), gs)
        rows.update(zip(layer, ys))
    for sweep in range(_SMOOTHING_SWEEPS):
        indices = range(len(layers)) if sweep % 2 == 0 else range(len(layers) - 1, -1, -1)
        for i in indices:
            layer = layers[i]
            targets = []
            for n in layer:
                ns = up[n] + down[n]
                targets.append(sum(rows[m] for m in ns) / len(ns) if ns else rows[n])
            rows.update(zip(layer, _closest_ordered(targets, gaps[i])))
    if rows:
        middle = (min(rows.values()) + max(rows.values())) / 2
        rows = {n: y - middle for n, y in rows.items()}
    return rows


def layered_layout(graph: Graph, align_inputs: bool = True) -> dict[Hashable, tuple[float, float]]:
    """Position ``(x, y)`` of every node of ``graph``: ``x`` is its layer, ``y`` its row (up is positive).

    The layer of a node is the length of the longest path reaching it from an input, so every edge
    goes from a lower layer to a higher one. With ``align_inputs=False`` an input sits in the layer
    just before its first consumer instead of in layer 0. Rows are one unit apart at least.
    """
    if not isinstance(graph, Graph):
        raise TypeError(f"layered_layout needs a backprop_lib.graph.Graph, got {type(graph).__name__}")
    layout = _layered(graph.order, list(graph.edges), align_inputs)
    return {n: (float(layout.layer[n]), -layout.rows[n]) for n in graph.order}
