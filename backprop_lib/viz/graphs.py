"""Drawings of computational graphs: an edge-dict ``Graph``, or the graph behind a ``Value`` or a
``Tensor``.

Box sizes are computed in points from the text they hold, so labels fit their boxes whatever the
size of the axes. ``ax`` may be an Axes, ``None`` (a new pyplot figure) or a ``Figure``, which is
cleared and resized to fit the graph: that is how the widgets redraw into one figure.
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import ArrowStyle, FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path
from matplotlib.textpath import TextToPath

from ..engine import LOCAL_DERIVATIVES, Value
from ..graph import Graph, dependency_order
from ..tensor import Tensor
from .layout import _Layout, _layered
from .style import PALETTE, format_number

_OP_SYMBOLS = {"*": "×", "-": "−", "/": "÷"}


# Sizes in points, at scale 1.
_NODE_FONT = 11.0
_EDGE_FONT = 10.0
_TITLE_FONT = 12.0
_LINESPACING = 1.3
_PAD_X, _PAD_Y = 8.0, 5.0
_MIN_BOX_W = 36.0
_GAP_X, _GAP_Y = 48.0, 20.0
_GAP_X_COMPACT = 30.0  # no oval between two boxes: a shorter arrow reads as well
_MARGIN = 10.0
_MAX_SCALE = 1.25  # a big axes may enlarge a small graph a little, no more
_MAX_FIG_IN = (13.0, 9.0)


_WIDENINGS = 3


# Where along an edge's curve a label may go, in order of preference.
_LABEL_SPOTS = (0.5, 0.38, 0.62, 0.26, 0.74, 0.14, 0.86)


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
                title: str | None, max_width: float | None = None, min_gap: float = _GAP_X) -> Axes:
    """Lay out and draw boxes and arrows; all geometry is in points, scaled to fit the axes."""
    if not nodes:
        ax, _ = _fit_axes(ax, (0.0, 0.0, 72.0, 36.0), title, max_width)
        return ax
    layout = _layered([n.key for n in nodes], [(e.source, e.target) for e in edges], align_inputs)
    size = {n.key: _box_size(n) for n in nodes}
    label_w = max((_text_size(e.label, _EDGE_FONT)[0] for e in edges if e.label), default=0.0)
    gap_x = max(min_gap, label_w + 28.0)
    geometry = _geometry(nodes, edges, layout, size, gap_x)
    for _ in range(_WIDENINGS):  # wider gaps between layers leave more room for crowded labels
        if not geometry.clashes:
            break
        gap_x *= 1.4
        wider = _geometry(nodes, edges, layout, size, gap_x)
        if wider.clashes < geometry.clashes:
            geometry = wider
    ax, s = _fit_axes(ax, geometry.bounds, title, max_width)

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


def _fit_axes(ax: Axes | Figure | None, bounds: tuple, title: str | None,
              max_width: float | None = None) -> tuple[Axes, float]:
    """The axes to draw on and the scale (points per layout point) that fits ``bounds`` into it.

    A figure made here is at most ``max_width`` inches wide (by default ``_MAX_FIG_IN[0]``).
    """
    x0, y0, x1, y1 = bounds
    need_w, need_h = x1 - x0, y1 - y0
    if not isinstance(ax, Axes):
        title_in = 0.35 if title else 0.0
        widest = _MAX_FIG_IN[0] if max_width is None else max_width
        shrink = min(1.0, widest * 72 / need_w, _MAX_FIG_IN[1] * 72 / need_h)
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
                     show_derivatives: bool = True, title: str | None = None, compact: bool = False,
                     max_width: float | None = None) -> Axes:
    """Draw the expression graph that computed ``root``: a box per ``Value``, an oval per operation.

    A box reads the value's ``label`` (when set), ``data`` and, with ``show_grad``, ``grad``; the
    arrow from a value into an operation carries d(result)/d(value) with ``show_derivatives``.
    Constants appear as inputs, each next to its first use. ``compact`` writes each operation into
    its result's box (``s = ÷``) instead of an oval of its own, so an arrow runs from value to value
    and carries d(result)/d(value), as in lesson 01's graphs; it halves the width. ``max_width`` caps
    the width in inches of a figure made here (the drawing shrinks to fit). A ``Tensor`` root is
    drawn by ``draw_tensor_graph``.
    """
    if isinstance(root, Tensor):
        return draw_tensor_graph(root, ax=ax, title=title, compact=compact, max_width=max_width)
    if not isinstance(root, Value):
        raise TypeError(f"draw_value_graph needs a Value (or a Tensor), got {type(root).__name__}")
    nodes, edges = [], []
    for i, v in enumerate(dependency_order(root, attrgetter("_prev"))):
        op = (f"**{format_number(v._k)}" if v._op == "**" else _OP_SYMBOLS.get(v._op, v._op)) if v._prev else ""
        head = (f"{v.label} = {op}" if v.label else op) if compact and op else v.label
        lines = [head] if head else []
        lines.append(f"data {format_number(v.data)}")
        if show_grad:
            lines.append(f"grad {format_number(v.grad)}")
        kind = "output" if v is root else "inner" if v._prev else "input"
        name = v.label or f"v{i}"
        nodes.append(_Node(("value", id(v)), name, "\n".join(lines), kind))
        if not v._prev:
            continue
        target = ("value", id(v)) if compact else ("op", id(v))
        if not compact:
            nodes.append(_Node(target, f"{name}.op", op, "op"))
        local = _value_derivatives(v) if show_derivatives else [None] * len(v._prev)
        for j, (parent, d) in enumerate(zip(v._prev, local)):
            label = None if d is None else format_number(d)
            edges.append(_Edge(("value", id(parent)), target, f"{name}.{j}", label))
        if not compact:
            edges.append(_Edge(target, ("value", id(v)), name))
    return _draw_scene(ax, _topological(nodes, edges), edges, False, title, max_width,
                       _GAP_X_COMPACT if compact else _GAP_X)


def draw_tensor_graph(root: Tensor, ax: Axes | Figure | None = None, show_grad: bool = False,
                      title: str | None = None, constants: Iterable[tuple[Tensor, Tensor]] = (),
                      compact: bool = False, max_width: float | None = None) -> Axes:
    """Draw the graph that computed ``root``: a box per tensor (label and shape), an oval per op.

    Only tensors that require a gradient are recorded by the engine, so a constant input (data, a
    mask) is drawn only when it is named in ``constants``: pairs ``(constant, result)`` of the
    constant and a tensor of the graph computed from it; it becomes an input box (reading
    ``no grad``) with an arrow into that result's operation. With ``show_grad`` a box also gives
    the norm of the tensor's ``grad``, once it has one. ``compact`` writes each operation into its
    result's box (``Z = Add``) instead of an oval of its own, which halves the width; ``max_width``
    caps the width in inches of a figure made here (the drawing shrinks to fit).
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_tensor_graph needs a Tensor, got {type(root).__name__}")
    order = dependency_order(root, attrgetter("_prev"))
    ids = {id(t) for t in order}
    fed: dict[int, list[Tensor]] = {}
    for constant, result in constants:
        if not isinstance(constant, Tensor) or not isinstance(result, Tensor):
            raise TypeError("constants holds (constant, result) pairs of Tensors")
        if id(result) not in ids or result._fn is None:
            raise ValueError(f"a constant feeds {result.label or 'a tensor'!r}, which is not computed in this graph")
        if id(constant) in ids:
            raise ValueError(f"{constant.label or 'a constant'!r} is already in the graph: it requires a gradient")
        fed.setdefault(id(result), []).append(constant)
    nodes, edges = [], []
    for i, t in enumerate(order):
        name = t.label or f"t{i}"
        for j, constant in enumerate(fed.get(id(t), ())):
            c_name = constant.label or f"{name}.c{j}"
            nodes.append(_Node(("tensor", id(constant)), c_name, _tensor_text(constant, False) + "\nno grad", "input"))
            target = ("tensor", id(t)) if compact else ("op", id(t))
            edges.append(_Edge(("tensor", id(constant)), target, f"{name}.c{j}"))
        text = _tensor_text(t, show_grad)
        kind = "output" if t is root else "inner" if t._prev else "input"
        if t._fn is not None and compact:
            head, _, rest = text.partition("\n") if t.label else ("", "", text)
            text = f"{head + ' = ' if head else ''}{t._fn.__name__}\n{rest}"
        nodes.append(_Node(("tensor", id(t)), name, text, kind))
        if t._fn is None:
            continue
        target = ("tensor", id(t))
        if not compact:
            nodes.append(_Node(("op", id(t)), f"{name}.op", t._fn.__name__, "op"))
            edges.append(_Edge(("op", id(t)), target, name))
            target = ("op", id(t))
        for j, parent in enumerate(t._prev):
            edges.append(_Edge(("tensor", id(parent)), target, f"{name}.{j}"))
    return _draw_scene(ax, _topological(nodes, edges), edges, False, title, max_width,
                       _GAP_X_COMPACT if compact else _GAP_X)


def _tensor_text(t: Tensor, show_grad: bool) -> str:
    """A tensor's box: its label, its shape (a scalar's value) and, with ``show_grad``, |grad|."""
    lines = [t.label] if t.label else []
    lines.append(f"value {format_number(t.data.reshape(()))}" if t.ndim == 0 else f"shape {t.shape}")
    if show_grad and t.grad is not None:
        lines.append(f"|grad| {format_number(np.linalg.norm(t.grad))}")
    return "\n".join(lines)


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
