"""Drawings for the course: computational graphs and training plots, with matplotlib only.

Graphs are drawn left to right in layers. A node's layer is the length of the longest path that
reaches it from an input; inside a layer, nodes are ordered by the barycentre heuristic (each node
moves to the mean position of its neighbours in the next layer) to reduce edge crossings. An edge
that skips layers gets a reserved slot in every layer it crosses, so it never runs through a node.
Box sizes are computed in points from the text they hold, so labels fit their boxes whatever the
size of the axes.

Every function returns the Axes it drew on and never calls ``plt.show()``. ``ax`` may be an Axes,
``None`` (a new pyplot figure) or, for the graph drawings, a ``Figure``, which is cleared and
resized to fit the graph: that is how the widgets redraw into one figure.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import ArrowStyle, FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path
from matplotlib.textpath import TextToPath

from .engine import LOCAL_DERIVATIVES, Value
from .graph import Graph, dependency_order
from .tensor import Tensor

#: The course's colours: one fill and one outline per kind of node, and the plot colours.
PALETTE: dict[str, str] = {
    "input": "#dbe9f6",
    "input_edge": "#2b6cb0",
    "inner": "#f4f4f4",
    "inner_edge": "#4a5568",
    "output": "#dcefd8",
    "output_edge": "#2f855a",
    "op": "#fff2c2",
    "op_edge": "#b7791f",
    "highlight": "#ffd8a8",
    "highlight_edge": "#dd6b20",
    "edge": "#4a5568",
    "derivative": "#1f4e8c",
    "text": "#1a202c",
}
_CLASS_COLOURS = ("#2b6cb0", "#dd6b20", "#2f855a", "#c53030", "#6b46c1", "#b7791f", "#319795", "#d53f8c")
_OP_SYMBOLS = {"*": "×", "-": "−", "/": "÷"}

# Sizes in points, at scale 1.
_NODE_FONT = 11.0
_EDGE_FONT = 10.0
_TITLE_FONT = 12.0
_LINESPACING = 1.3
_PAD_X, _PAD_Y = 8.0, 5.0
_MIN_BOX_W = 36.0
_GAP_X, _GAP_Y = 48.0, 20.0
_MARGIN = 10.0
_MAX_SCALE = 1.25  # a big axes may enlarge a small graph a little, no more
_MAX_FIG_IN = (13.0, 9.0)

# Row gaps between neighbours in a layer, in rows: a real node needs a full row, the slot of an
# edge passing through the layer needs less.
_SEP_NODE, _SEP_MIXED, _SEP_SLOT = 1.0, 0.55, 0.35
_ORDER_SWEEPS = 8
_SMOOTHING_SWEEPS = 8
_WIDENINGS = 3
# Where along an edge's curve a label may go, in order of preference.
_LABEL_SPOTS = (0.5, 0.38, 0.62, 0.26, 0.74, 0.14, 0.86)


def format_number(x: float) -> str:
    """A number in at most three significant digits, without a negative zero."""
    x = float(x.data if isinstance(x, Value) else x)
    text = f"{x:.3g}"
    return "0" if text == "-0" else text


# --- layout -------------------------------------------------------------------------------------


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


# --- drawing a graph ----------------------------------------------------------------------------


@dataclass
class _Node:
    key: Hashable
    name: str
    text: str
    kind: str  # "input", "inner", "output" or "op"
    highlight: bool = False


@dataclass
class _Edge:
    source: Hashable
    target: Hashable
    name: str
    label: str | None = None
    highlight: bool = False


_TEXT_TO_PATH = TextToPath()


@lru_cache(maxsize=4096)
def _text_size(text: str, size: float) -> tuple[float, float]:
    """Width and height in points of ``text`` (possibly several lines) at font ``size``."""
    prop = FontProperties(size=size)
    lines = text.split("\n")
    width = max(_TEXT_TO_PATH.get_text_width_height_descent(line, prop, ismath=False)[0] for line in lines)
    return width, size * (1.0 + _LINESPACING * (len(lines) - 1)) + 0.25 * size


def _box_size(node: _Node) -> tuple[float, float, float]:
    """Width, height and corner radius of a node's box, in points."""
    w, h = _text_size(node.text, _NODE_FONT)
    if node.kind == "op":
        h += 2 * 3.0
        return max(w + 2 * _PAD_X, h), h, h / 2
    h += 2 * _PAD_Y
    return max(w + 2 * _PAD_X, _MIN_BOX_W), h, min(6.0, h / 2)


def _inset(dy: float, h: float, r: float) -> float:
    """How far a rounded box's side lies inside its bounding box at height ``dy`` from the centre."""
    over = abs(dy) - (h / 2 - r)
    return r - math.sqrt(max(r * r - over * over, 0.0)) if over > 0 else 0.0


def _ports(count: int, h: float) -> list[float]:
    """Vertical offsets, top first, at which ``count`` edges meet one side of a box of height ``h``."""
    spacing = min(13.0, 0.7 * h / max(count, 1))
    return [((count - 1) / 2 - j) * spacing for j in range(count)]


def _bezier(p: tuple, q: tuple, t: float) -> tuple[float, float]:
    """Point at ``t`` on the horizontal-tangent cubic from ``p`` to ``q`` used for every edge."""
    dx = (q[0] - p[0]) / 2
    c1, c2 = (p[0] + dx, p[1]), (q[0] - dx, q[1])
    a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t**3
    return (a * p[0] + b * c1[0] + c * c2[0] + d * q[0], a * p[1] + b * c1[1] + c * c2[1] + d * q[1])


def _overlap(a: tuple, b: tuple) -> float:
    """Area shared by two rectangles ``(x0, y0, x1, y1)``."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


@dataclass
class _Geometry:
    at: dict[Any, tuple[float, float]]  # centre of every node and slot
    paths: list[list[tuple[float, float]]]  # per edge: where it leaves, slot ends, where it arrives
    labels: list[tuple | None]  # per edge: the rectangle of its label
    bounds: tuple[float, float, float, float]
    clashes: int  # labels that could not be placed clear of every box and label


def _geometry(nodes: list[_Node], edges: list[_Edge], layout: _Layout, size: Mapping, gap_x: float) -> _Geometry:
    """Coordinates in points of the nodes, the edge routes and the edge labels."""
    col_w = [max((size[k][0] for k in layer if k in size), default=_MIN_BOX_W) for layer in layout.layers]
    col_x, x = [], 0.0
    for w in col_w:
        col_x.append(x + w / 2)
        x += w + gap_x
    pitch = max(h for _, h, _ in size.values()) + _GAP_Y
    at = {k: (col_x[layout.layer[k]], -layout.rows[k] * pitch) for k in layout.rows}

    # Edges meet a box side in the order of where they come from, so they do not cross there.
    leaving: dict[Any, list[int]] = {n.key: [] for n in nodes}
    arriving: dict[Any, list[int]] = {n.key: [] for n in nodes}
    for i, route in enumerate(layout.routes):
        leaving[route[0]].append(i)
        arriving[route[-1]].append(i)
    out_port: dict[int, float] = {}
    in_port: dict[int, float] = {}
    for k in leaving:
        h = size[k][1]
        out = sorted(leaving[k], key=lambda i: -at[layout.routes[i][1]][1])
        into = sorted(arriving[k], key=lambda i: -at[layout.routes[i][-2]][1])
        out_port.update(zip(out, _ports(len(out), h)))
        in_port.update(zip(into, _ports(len(into), h)))

    boxes = []
    for n in nodes:
        (cx, cy), (w, h, _) = at[n.key], size[n.key]
        boxes.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    paths = []
    for i, (edge, route) in enumerate(zip(edges, layout.routes)):
        (sx, sy), (sw, sh, sr) = at[edge.source], size[edge.source]
        (tx, ty), (tw, th, tr) = at[edge.target], size[edge.target]
        points = [(sx + sw / 2 - _inset(out_port[i], sh, sr), sy + out_port[i])]
        for slot in route[1:-1]:
            cx, cy = at[slot]
            half = col_w[layout.layer[slot]] / 2
            points += [(cx - half, cy), (cx + half, cy)]
        points.append((tx - tw / 2 + _inset(in_port[i], th, tr), ty + in_port[i]))
        paths.append(points)

    # Labels, greedily: the first spot along the edge (nearest its target first) clear of the boxes
    # and of the labels already placed; failing that, the least crowded one.
    placed = list(boxes)
    labels: list[tuple | None] = []
    clashes = 0
    for edge, points in zip(edges, paths):
        if not edge.label:
            labels.append(None)
            continue
        w, h = _text_size(edge.label, _EDGE_FONT)
        w, h = w + 8.0, h + 4.0
        best, best_cost = None, math.inf
        for j in range(len(points) - 2, -1, -2):
            for t in _LABEL_SPOTS:
                lx, ly = _bezier(points[j], points[j + 1], t)
                rect = (lx - w / 2, ly - h / 2, lx + w / 2, ly + h / 2)
                cost = sum(_overlap(rect, other) for other in placed)
                if cost < best_cost:
                    best, best_cost = rect, cost
                if cost == 0:
                    break
            if best_cost == 0:
                break
        clashes += best_cost > 0
        placed.append(best)
        labels.append(best)
    ys = [y for _, y in at.values()]
    bounds = (min(b[0] for b in boxes) - _MARGIN, min([b[1] for b in boxes] + ys) - _MARGIN,
              max(b[2] for b in boxes) + _MARGIN, max([b[3] for b in boxes] + ys) + _MARGIN)
    return _Geometry(at, paths, labels, bounds, clashes)


def _draw_scene(ax: Axes | Figure | None, nodes: list[_Node], edges: list[_Edge], align_inputs: bool,
                title: str | None) -> Axes:
    """Lay out and draw boxes and arrows; all geometry is in points, scaled to fit the axes."""
    if not nodes:
        ax, _ = _fit_axes(ax, (0.0, 0.0, 72.0, 36.0), title)
        return ax
    layout = _layered([n.key for n in nodes], [(e.source, e.target) for e in edges], align_inputs)
    size = {n.key: _box_size(n) for n in nodes}
    label_w = max((_text_size(e.label, _EDGE_FONT)[0] for e in edges if e.label), default=0.0)
    gap_x = max(_GAP_X, label_w + 28.0)
    geometry = _geometry(nodes, edges, layout, size, gap_x)
    for _ in range(_WIDENINGS):  # wider gaps between layers leave more room for crowded labels
        if not geometry.clashes:
            break
        gap_x *= 1.4
        wider = _geometry(nodes, edges, layout, size, gap_x)
        if wider.clashes < geometry.clashes:
            geometry = wider
    ax, s = _fit_axes(ax, geometry.bounds, title)

    arrow = ArrowStyle("-|>", head_length=0.7, head_width=0.35)
    for edge, points, rect in zip(edges, geometry.paths, geometry.labels):
        verts, codes = [points[0]], [Path.MOVETO]
        for j in range(0, len(points) - 1, 2):  # a curve across each gap, straight through each slot
            p, q = points[j], points[j + 1]
            dx = (q[0] - p[0]) / 2
            verts += [(p[0] + dx, p[1]), (q[0] - dx, q[1]), q]
            codes += [Path.CURVE4] * 3
            if j + 2 < len(points):
                verts.append(points[j + 2])
                codes.append(Path.LINETO)
        colour = PALETTE["highlight_edge"] if edge.highlight else PALETTE["edge"]
        ax.add_patch(FancyArrowPatch(
            path=Path(verts, codes), arrowstyle=arrow, mutation_scale=10 * s, color=colour,
            linewidth=(2.6 if edge.highlight else 1.3) * s, zorder=1, gid=f"edge:{edge.name}"))
        if rect is not None:
            ax.text((rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2, edge.label, ha="center", va="center",
                    fontsize=_EDGE_FONT * s, color=colour if edge.highlight else PALETTE["derivative"],
                    zorder=4, parse_math=False, gid=f"edge-label:{edge.name}",
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.9))

    for node in nodes:
        (cx, cy), (w, h, r) = geometry.at[node.key], size[node.key]
        if node.highlight:
            face, line, lw = PALETTE["highlight"], PALETTE["highlight_edge"], 2.4
        else:
            face, line, lw = PALETTE[node.kind], PALETTE[f"{node.kind}_edge"], 1.2
        ax.add_patch(FancyBboxPatch(
            (cx - w / 2, cy - h / 2), w, h, boxstyle=f"round,pad=0,rounding_size={r}", facecolor=face,
            edgecolor=line, linewidth=lw * s, zorder=2, gid=f"node:{node.name}"))
        ax.text(cx, cy, node.text, ha="center", va="center", fontsize=_NODE_FONT * s, color=PALETTE["text"],
                linespacing=_LINESPACING, zorder=3, parse_math=False, gid=f"node-label:{node.name}")
    return ax


def _fit_axes(ax: Axes | Figure | None, bounds: tuple, title: str | None) -> tuple[Axes, float]:
    """The axes to draw on and the scale (points per layout point) that fits ``bounds`` into it."""
    x0, y0, x1, y1 = bounds
    need_w, need_h = x1 - x0, y1 - y0
    if not isinstance(ax, Axes):
        title_in = 0.35 if title else 0.0
        shrink = min(1.0, _MAX_FIG_IN[0] * 72 / need_w, _MAX_FIG_IN[1] * 72 / need_h)
        w_in = max(need_w * shrink / 72, 2.0)
        h_in = max(need_h * shrink / 72, 0.8)
        figsize = (w_in, h_in + title_in)
        if ax is None:
            fig = plt.figure(figsize=figsize)
        elif isinstance(ax, Figure):
            fig = ax
            fig.clear()
            fig.set_size_inches(figsize)
        else:
            raise TypeError(f"ax must be a matplotlib Axes, a Figure or None, got {type(ax).__name__}")
        ax = fig.add_axes((0.0, 0.0, 1.0, h_in / figsize[1]))
    fig = ax.figure
    avail_w = ax.bbox.width * 72 / fig.dpi
    avail_h = ax.bbox.height * 72 / fig.dpi
    s = min(_MAX_SCALE, avail_w / need_w, avail_h / need_h)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax.set_xlim(cx - avail_w / s / 2, cx + avail_w / s / 2)
    ax.set_ylim(cy - avail_h / s / 2, cy + avail_h / s / 2)
    ax.set_aspect("equal", adjustable="box")  # "datalim" would fight a later tight_layout
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=_TITLE_FONT, color=PALETTE["text"])
    return ax, s


def _split_highlight(graph: Graph, highlight: Iterable | None) -> tuple[set, set]:
    nodes, edges = set(), set()
    for item in highlight or ():
        if isinstance(item, tuple) and item in graph.edges:
            edges.add(item)
        elif item in graph.succ:
            nodes.add(item)
        else:
            raise KeyError(f"cannot highlight {item!r}: it is neither a node nor an edge (u, v) of the graph")
    return nodes, edges


def _check_nodes(graph: Graph, numbers: Mapping, what: str) -> None:
    unknown = [n for n in numbers if n not in graph.succ]
    if unknown:
        raise KeyError(f"{what} given for node(s) {unknown} that are not in the graph (nodes: {graph.nodes})")


def draw_graph(graph: Graph, ax: Axes | Figure | None = None, values: Mapping | None = None,
               grads: Mapping | None = None, edge_labels: str = "derivative", highlight: Iterable | None = None,
               title: str | None = None, grad_label: str = "grad {grad}") -> Axes:
    """Draw ``graph`` left to right: a box per node, an arrow per edge labelled with dv/du.

    A box reads ``name (op)``, then the node's value (``values``, by default ``graph.values``), then
    ``grad_label`` formatted with ``node`` and ``grad`` for the nodes in ``grads`` (for instance the
    dict from ``graph.reverse_mode("e")`` with ``grad_label="de/d{node} = {grad}"``).
    ``edge_labels`` is ``"derivative"`` or ``"none"``; ``highlight`` holds nodes and ``(u, v)`` edges
    to colour. Inputs are blue, outputs green.
    """
    if not isinstance(graph, Graph):
        raise TypeError(f"draw_graph needs a backprop_lib.graph.Graph, got {type(graph).__name__}")
    if edge_labels not in ("derivative", "none"):
        raise ValueError(f"edge_labels must be 'derivative' or 'none', got {edge_labels!r}")
    values = graph.values if values is None else values
    grads = {} if grads is None else grads
    _check_nodes(graph, values, "values")
    _check_nodes(graph, grads, "grads")
    lit_nodes, lit_edges = _split_highlight(graph, highlight)
    inputs, outputs = set(graph.inputs), set(graph.outputs)
    nodes = []
    for n in graph.order:
        op = graph.ops.get(n)
        lines = [f"{n} ({_OP_SYMBOLS.get(op, op)})" if op else str(n)]
        if n in values:
            lines.append(format_number(values[n]))
        if n in grads:
            lines.append(grad_label.format(node=n, grad=format_number(grads[n])))
        kind = "input" if n in inputs else "output" if n in outputs else "inner"
        nodes.append(_Node(n, str(n), "\n".join(lines), kind, n in lit_nodes))
    edges = [
        _Edge(u, v, f"{u}->{v}", format_number(d) if edge_labels == "derivative" else None, (u, v) in lit_edges)
        for (u, v), d in graph.edges.items()
    ]
    return _draw_scene(ax, nodes, edges, True, title)


def _value_derivatives(v: Value) -> tuple:
    """d v / d parent for each parent of ``v``: the engine's table, or the Function's own backward."""
    if v._fn is not None:
        out = v._fn.backward(v._ctx, 1.0)
        out = out if isinstance(out, tuple) else (out,)
        return tuple(out[slot] for slot in v._ctx.grad_slots)
    args = [c.data for c in v._prev] + ([v._k] if v._op == "**" else [])
    return LOCAL_DERIVATIVES[v._op](v.data, *args)


def draw_value_graph(root: Value | Tensor, ax: Axes | Figure | None = None, show_grad: bool = True,
                     show_derivatives: bool = True, title: str | None = None) -> Axes:
    """Draw the expression graph that computed ``root``: a box per ``Value``, an oval per operation.

    A box reads the value's ``label`` (when set), ``data`` and, with ``show_grad``, ``grad``; the
    arrow from a value into an operation carries d(result)/d(value) with ``show_derivatives``.
    Constants appear as inputs, each next to its first use. A ``Tensor`` root is drawn by
    ``draw_tensor_graph``.
    """
    if isinstance(root, Tensor):
        return draw_tensor_graph(root, ax=ax, title=title)
    if not isinstance(root, Value):
        raise TypeError(f"draw_value_graph needs a Value (or a Tensor), got {type(root).__name__}")
    nodes, edges = [], []
    for i, v in enumerate(dependency_order(root, attrgetter("_prev"))):
        lines = [v.label] if v.label else []
        lines.append(f"data {format_number(v.data)}")
        if show_grad:
            lines.append(f"grad {format_number(v.grad)}")
        kind = "output" if v is root else "inner" if v._prev else "input"
        name = v.label or f"v{i}"
        nodes.append(_Node(("value", id(v)), name, "\n".join(lines), kind))
        if not v._prev:
            continue
        op = f"**{format_number(v._k)}" if v._op == "**" else _OP_SYMBOLS.get(v._op, v._op)
        nodes.append(_Node(("op", id(v)), f"{name}.op", op, "op"))
        local = _value_derivatives(v) if show_derivatives else [None] * len(v._prev)
        for j, (parent, d) in enumerate(zip(v._prev, local)):
            label = None if d is None else format_number(d)
            edges.append(_Edge(("value", id(parent)), ("op", id(v)), f"{name}.{j}", label))
        edges.append(_Edge(("op", id(v)), ("value", id(v)), name))
    return _draw_scene(ax, _topological(nodes, edges), edges, False, title)


def draw_tensor_graph(root: Tensor, ax: Axes | Figure | None = None, show_grad: bool = False,
                      title: str | None = None) -> Axes:
    """Draw the graph that computed ``root``: a box per tensor (label and shape), an oval per op.

    Only tensors that require a gradient are part of the graph; constant inputs are left out. With
    ``show_grad`` a box also gives the norm of the tensor's ``grad``, once it has one.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_tensor_graph needs a Tensor, got {type(root).__name__}")
    nodes, edges = [], []
    for i, t in enumerate(dependency_order(root, attrgetter("_prev"))):
        lines = [t.label] if t.label else []
        lines.append(f"value {format_number(t.data.reshape(()))}" if t.ndim == 0 else f"shape {t.shape}")
        if show_grad and t.grad is not None:
            lines.append(f"|grad| {format_number(np.linalg.norm(t.grad))}")
        kind = "output" if t is root else "inner" if t._prev else "input"
        name = t.label or f"t{i}"
        nodes.append(_Node(("tensor", id(t)), name, "\n".join(lines), kind))
        if t._fn is None:
            continue
        nodes.append(_Node(("op", id(t)), f"{name}.op", t._fn.__name__, "op"))
        for j, parent in enumerate(t._prev):
            edges.append(_Edge(("tensor", id(parent)), ("op", id(t)), f"{name}.{j}"))
        edges.append(_Edge(("op", id(t)), ("tensor", id(t)), name))
    return _draw_scene(ax, _topological(nodes, edges), edges, False, title)


def _topological(nodes: list[_Node], edges: list[_Edge]) -> list[_Node]:
    """``nodes`` with each operation just before its result (the order dependency_order gives values)."""
    ops = {n.key[1]: n for n in nodes if n.kind == "op"}
    ordered = []
    for n in nodes:
        if n.kind != "op":
            if n.key[1] in ops:
                ordered.append(ops[n.key[1]])
            ordered.append(n)
    return ordered


# --- plots --------------------------------------------------------------------------------------


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.0)) -> Axes:
    if ax is None:
        return plt.subplots(figsize=figsize)[1]
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax


def plot_loss_curves(history: Mapping[str, Sequence[float]], ax: Axes | None = None, log: bool = False) -> Axes:
    """Training loss (``history["loss"]``, one value per epoch) and, if present, ``history["val_loss"]``."""
    if "loss" not in history:
        raise KeyError(f"history needs a 'loss' list; it has {sorted(history)}")
    ax = _axes(ax)
    loss = np.asarray(history["loss"], dtype=float)
    ax.plot(np.arange(1, len(loss) + 1), loss, color=_CLASS_COLOURS[0], linewidth=1.8, label="training loss")
    if history.get("val_loss") is not None:
        val = np.asarray(history["val_loss"], dtype=float)
        ax.plot(np.arange(1, len(val) + 1), val, color=_CLASS_COLOURS[1], linewidth=1.8, label="validation loss")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(True, alpha=0.3)
    ax.legend(frameon=False)
    return ax


def plot_decision_boundary(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray,
                           ax: Axes | None = None, resolution: int = 200) -> Axes:
    """Regions where ``predict`` chooses each class, with the points ``X`` (N, 2) coloured by ``y`` (N,).

    ``predict`` maps an (M, 2) array of points to M class indices; it is called once, on a
    ``resolution`` x ``resolution`` grid covering the data with a margin.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2), got {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},) to match X, got {y.shape}")
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    ax = _axes(ax, (5.0, 5.0))
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * np.maximum(hi - lo, 1e-9)
    gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    classes = np.asarray(predict(grid))
    if classes.shape != (len(grid),):
        raise ValueError(f"predict must return one class index per point, shape ({len(grid)},); got {classes.shape}")
    n_classes = int(max(classes.max(), y.max())) + 1
    colours = [_CLASS_COLOURS[k % len(_CLASS_COLOURS)] for k in range(n_classes)]
    pale = ListedColormap([_blend(c, 0.25) for c in colours])
    ax.contourf(gx, gy, classes.reshape(gx.shape), levels=np.arange(n_classes + 1) - 0.5, cmap=pale)
    ax.scatter(X[:, 0], X[:, 1], c=[colours[int(k)] for k in y], s=14, edgecolors="white", linewidths=0.4)
    ax.set_xlim(gx.min(), gx.max())
    ax.set_ylim(gy.min(), gy.max())
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _blend(colour: str, amount: float) -> tuple[float, float, float, float]:
    """``colour`` mixed with white: ``amount`` of the colour, the rest white."""
    r, g, b, _ = to_rgba(colour)
    return (1 - amount + amount * r, 1 - amount + amount * g, 1 - amount + amount * b, 1.0)


def plot_grad_norms(norms_by_label: Mapping[str, Sequence[float]], ax: Axes | None = None, log: bool = True) -> Axes:
    """Gradient norm of each layer (first layer on the left), one line per network.

    On a log scale a zero norm cannot be shown and leaves a gap in its line.
    """
    if not norms_by_label:
        raise ValueError("norms_by_label is empty: give at least one network's per-layer norms")
    ax = _axes(ax)
    for i, (label, norms) in enumerate(norms_by_label.items()):
        norms = np.asarray(norms, dtype=float)
        if norms.ndim != 1 or np.any(norms < 0) or not np.all(np.isfinite(norms)):
            raise ValueError(f"norms for {label!r} must be a list of finite non-negative numbers")
        if log:
            norms = np.where(norms > 0, norms, np.nan)
        ax.plot(np.arange(1, len(norms) + 1), norms, marker="o", linewidth=1.8,
                color=_CLASS_COLOURS[i % len(_CLASS_COLOURS)], label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("layer (input side on the left)")
    ax.set_ylabel("gradient norm")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(frameon=False)
    return ax


def plot_error_vs_h(f: Callable[[float], float], df: Callable[[float], float], x: float,
                    hs: Sequence[float] | None = None, ax: Axes | None = None) -> Axes:
    """Error of the one-sided and the central difference quotients of ``f`` at ``x`` against the step h.

    One-sided: (f(x+h) - f(x)) / h, truncation error O(h). Central: (f(x+h) - f(x-h)) / 2h, O(h^2).
    Both lose to round-off, about eps |f| / h, as h shrinks: the plot is a V on log-log axes. The
    best h of each is marked. An error of exactly zero cannot be drawn on a log scale and is left out.
    """
    hs = np.logspace(-16, 0, 81) if hs is None else np.asarray(hs, dtype=float)
    if hs.ndim != 1 or len(hs) == 0 or np.any(hs <= 0):
        raise ValueError("hs must be a non-empty list of positive step sizes")
    exact = float(df(x))
    one_sided = np.array([abs((f(x + h) - f(x)) / h - exact) for h in hs])
    central = np.array([abs((f(x + h) - f(x - h)) / (2 * h) - exact) for h in hs])
    ax = _axes(ax)
    for errors, label, colour in ((one_sided, "one-sided (f(x+h) - f(x)) / h", _CLASS_COLOURS[0]),
                                  (central, "central (f(x+h) - f(x-h)) / 2h", _CLASS_COLOURS[1])):
        shown = np.where(errors > 0, errors, np.nan)
        ax.loglog(hs, shown, marker=".", linewidth=1.4, color=colour, label=label)
        if np.any(np.isfinite(shown)):
            best = int(np.nanargmin(shown))
            ax.plot(hs[best], shown[best], "o", markersize=9, markerfacecolor="none", color=colour)
    ax.set_xlabel("step h")
    ax.set_ylabel("|numerical - exact derivative|")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False)
    return ax


def plot_path_counts(depths: Sequence[int], paths: Sequence[float], factored: Sequence[float],
                     ax: Axes | None = None, ylabel: str = "terms",
                     labels: tuple[str, str] = ("sum over paths", "factored (each edge once)")) -> Axes:
    """Cost of the literal sum over paths against the factored sum, by depth, on a log scale.

    ``paths`` and ``factored`` are counts (or times) for each entry of ``depths``.
    """
    depths, paths, factored = (np.asarray(a, dtype=float) for a in (depths, paths, factored))
    if not (depths.shape == paths.shape == factored.shape and depths.ndim == 1):
        raise ValueError(f"depths, paths and factored must be lists of one length; got shapes "
                         f"{depths.shape}, {paths.shape}, {factored.shape}")
    ax = _axes(ax)
    ax.semilogy(depths, paths, marker="o", linewidth=1.8, color=_CLASS_COLOURS[1], label=labels[0])
    ax.semilogy(depths, factored, marker="s", linewidth=1.8, color=_CLASS_COLOURS[0], label=labels[1])
    ax.set_xlabel("depth (number of stages)")
    ax.set_ylabel(ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False)
    return ax
