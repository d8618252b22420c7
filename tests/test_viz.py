"""Drawings: the layered layout, graph drawings with the worked numbers, and the plot helpers."""
import io
import math
import random

import matplotlib

matplotlib.use("Agg")  # before pyplot: tests draw off-screen

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from backprop_lib import Function, Tensor, Value, viz  # noqa: E402
from backprop_lib.graph import LESSON01, Expression, Graph, staged_graph  # noqa: E402

NEURON = Expression({"s0": ("*", "w0", "x0"), "s1": ("*", "w1", "x1"), "s2": ("+", "s0", "s1"),
                     "s3": ("+", "s2", "w2"), "L": ("sigmoid", "s3")})


@pytest.fixture(autouse=True)
def no_figures_left(monkeypatch):
    def refuse_show(*args, **kwargs):
        raise AssertionError("viz must never call plt.show()")

    monkeypatch.setattr(plt, "show", refuse_show)
    yield
    plt.close("all")


@pytest.fixture
def lesson01() -> Graph:
    return LESSON01.evaluate(a=2, b=1)


def by_gid(ax: Axes, prefix: str) -> dict:
    """Artists of ``ax`` whose gid starts with ``prefix:``, keyed by the rest of the gid."""
    found = {}
    for artist in list(ax.patches) + list(ax.texts):
        gid = artist.get_gid() or ""
        if gid.startswith(prefix + ":"):
            found[gid[len(prefix) + 1:]] = artist
    return found


def random_dag(rng: random.Random, n: int) -> Graph:
    edges = {}
    for v in range(1, n):
        for u in rng.sample(range(max(0, v - 6), v), k=min(v, rng.choice([1, 1, 2, 2, 3]))):
            edges[(f"n{u}", f"n{v}")] = round(rng.uniform(-3, 3), 2)
    return Graph(edges, {f"n{i}": round(rng.uniform(-5, 5), 3) for i in range(n)})


@st.composite
def dags(draw) -> Graph:
    n = draw(st.integers(2, 30))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), min_size=1, max_size=3 * n))
    edges = {(f"v{min(u, v)}", f"v{max(u, v)}"): 1.0 for u, v in pairs if u != v}
    if not edges:
        edges = {("v0", "v1"): 1.0}
    return Graph(edges)


def crossings(graph: Graph, pos: dict) -> int:
    count = 0
    edges = list(graph.edges)
    for i, (u1, v1) in enumerate(edges):
        for u2, v2 in edges[i + 1:]:
            same_layers = pos[u1][0] == pos[u2][0] and pos[v1][0] == pos[v2][0]
            if same_layers and (pos[u1][1] - pos[u2][1]) * (pos[v1][1] - pos[v2][1]) < 0:
                count += 1
    return count


# --- layout ---------------------------------------------------------------------------------------


def test_lesson01_layers_are_longest_paths_from_the_inputs(lesson01):
    pos = viz.layered_layout(lesson01)
    assert {n: x for n, (x, _) in pos.items()} == {"a": 0, "b": 0, "c": 1, "d": 1, "e": 2}
    assert pos["a"][1] > pos["b"][1]  # a above b: no crossing between a->c, b->c and b->d
    assert pos["c"][1] > pos["d"][1]
    assert crossings(lesson01, pos) == 0


@settings(max_examples=40, deadline=None)
@given(dags())
def test_every_edge_goes_to_a_higher_layer_and_layers_are_longest_paths(graph):
    pos = viz.layered_layout(graph)
    assert set(pos) == set(graph.nodes)
    for (u, v) in graph.edges:
        assert pos[u][0] < pos[v][0]
    for n in graph.nodes:
        preds = [u for u, _ in graph.pred[n]]
        assert pos[n][0] == (1 + max(pos[u][0] for u in preds) if preds else 0)
    by_layer = {}
    for x, y in pos.values():
        by_layer.setdefault(x, []).append(y)
    for ys in by_layer.values():
        ys.sort()
        assert all(b - a >= 1 - 1e-9 for a, b in zip(ys, ys[1:])), "nodes of one layer overlap"


@settings(max_examples=20, deadline=None)
@given(dags())
def test_layout_is_deterministic(graph):
    assert viz.layered_layout(graph) == viz.layered_layout(graph)


def test_inputs_can_sit_next_to_their_first_consumer():
    g = NEURON.evaluate(w0=2, x0=-1, w1=-3, x1=-2, w2=-3)
    assert viz.layered_layout(g)["w2"][0] == 0
    late = viz.layered_layout(g, align_inputs=False)
    assert late["w2"][0] == late["s3"][0] - 1
    assert all(late[u][0] < late[v][0] for u, v in g.edges)


def test_barycentre_ordering_removes_avoidable_crossings():
    # Listed so that the first-seen order crosses every edge: a->z, b->y, c->x.
    g = Graph({("a", "z"): 1, ("b", "y"): 1, ("c", "x"): 1, ("x", "out"): 1, ("y", "out"): 1, ("z", "out"): 1})
    assert crossings(g, viz.layered_layout(g)) == 0
    assert crossings(staged_graph(3, 3), viz.layered_layout(staged_graph(3, 3))) == 0


def test_layout_rejects_what_is_not_a_graph():
    with pytest.raises(TypeError, match="Graph"):
        viz.layered_layout({("a", "b"): 1.0})


# --- drawing the lesson-01 graph --------------------------------------------------------------------


def test_lesson01_drawing_has_one_box_and_label_per_node_and_one_arrow_per_edge(lesson01):
    ax = viz.draw_graph(lesson01)
    assert isinstance(ax, Axes)
    assert set(by_gid(ax, "node")) == {"a", "b", "c", "d", "e"}
    assert set(by_gid(ax, "edge")) == {"a->c", "b->c", "b->d", "c->e", "d->e"}
    labels = {n: t.get_text() for n, t in by_gid(ax, "node-label").items()}
    assert labels == {"a": "a\n2", "b": "b\n1", "c": "c (+)\n3", "d": "d (+)\n2", "e": "e (×)\n6"}
    derivatives = {e: t.get_text() for e, t in by_gid(ax, "edge-label").items()}
    assert derivatives == {"a->c": "1", "b->c": "1", "b->d": "1", "c->e": "2", "d->e": "3"}
    assert len(ax.texts) == 10


def test_gradients_join_the_labels(lesson01):
    grads = lesson01.reverse_mode("e")
    ax = viz.draw_graph(lesson01, grads=grads, grad_label="de/d{node} = {grad}")
    labels = {n: t.get_text() for n, t in by_gid(ax, "node-label").items()}
    assert labels["a"] == "a\n2\nde/da = 2"
    assert labels["b"] == "b\n1\nde/db = 5"
    assert labels["e"].endswith("de/de = 1")
    plain = viz.draw_graph(lesson01, grads={"b": 5})
    assert by_gid(plain, "node-label")["b"].get_text() == "b\n1\ngrad 5"


def test_values_can_be_replaced_and_edge_labels_left_out(lesson01):
    ax = viz.draw_graph(lesson01, values={"a": 0.123456, "e": -0.0}, edge_labels="none")
    labels = {n: t.get_text() for n, t in by_gid(ax, "node-label").items()}
    assert labels["a"] == "a\n0.123" and labels["e"] == "e (×)\n0" and labels["c"] == "c (+)"
    assert by_gid(ax, "edge-label") == {}


def test_highlight_colours_nodes_and_edges(lesson01):
    ax = viz.draw_graph(lesson01, highlight={"b", ("b", "d")})
    nodes, edges = by_gid(ax, "node"), by_gid(ax, "edge")
    assert to_hex(nodes["b"].get_facecolor()) == viz.PALETTE["highlight"]
    assert to_hex(nodes["a"].get_facecolor()) == viz.PALETTE["input"]
    assert to_hex(nodes["e"].get_facecolor()) == viz.PALETTE["output"]
    assert to_hex(edges["b->d"].get_edgecolor()) == viz.PALETTE["highlight_edge"]
    assert to_hex(edges["b->c"].get_edgecolor()) == viz.PALETTE["edge"]


def test_bad_arguments_are_named(lesson01):
    with pytest.raises(KeyError, match="'z'"):
        viz.draw_graph(lesson01, highlight={"z"})
    with pytest.raises(ValueError, match="edge_labels"):
        viz.draw_graph(lesson01, edge_labels="values")
    with pytest.raises(KeyError, match="grads"):
        viz.draw_graph(lesson01, grads={"q": 1.0})
    with pytest.raises(TypeError, match="Graph"):
        viz.draw_graph(LESSON01)
    with pytest.raises(TypeError, match="ax must be"):
        viz.draw_graph(lesson01, ax="left")


def test_drawing_into_an_axes_a_figure_or_nothing(lesson01):
    _, ax = plt.subplots(figsize=(4, 3))
    assert viz.draw_graph(lesson01, ax=ax) is ax
    reused = Figure()
    for a in (2, 3):
        drawn = viz.draw_graph(LESSON01.evaluate(a=a, b=1), ax=reused, title=f"a = {a}")
        assert drawn.figure is reused
    assert len(reused.axes) == 1  # the figure was cleared before the second drawing
    assert drawn.get_title() == "a = 3"
    assert "8" in by_gid(drawn, "node-label")["e"].get_text()
    before = plt.get_fignums()
    viz.draw_graph(lesson01)
    assert len(plt.get_fignums()) == len(before) + 1


def test_drawings_are_deterministic(lesson01):
    def png() -> bytes:
        buffer = io.BytesIO()
        fig = viz.draw_graph(lesson01, grads=lesson01.reverse_mode("e")).figure
        fig.savefig(buffer, format="png")
        plt.close(fig)
        return buffer.getvalue()

    assert png() == png()


def extents(ax: Axes) -> tuple[dict, dict, dict]:
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    boxes = {n: p.get_window_extent(renderer) for n, p in by_gid(ax, "node").items()}
    texts = {n: t.get_window_extent(renderer) for n, t in by_gid(ax, "node-label").items()}
    labels = {e: t.get_bbox_patch().get_window_extent(renderer) for e, t in by_gid(ax, "edge-label").items()}
    return boxes, texts, labels


@pytest.mark.parametrize("make", [
    lambda: LESSON01.evaluate(a=2, b=1),
    lambda: NEURON.evaluate(w0=2, x0=-1, w1=-3, x1=-2, w2=-3),
    lambda: staged_graph(3, 3, range(1, 10)),
    lambda: random_dag(random.Random(6), 30),
    lambda: random_dag(random.Random(19), 26),
])
def test_no_overlaps_and_every_label_inside_its_box(make):
    graph = make()
    ax = viz.draw_graph(graph, grads=graph.reverse_mode(graph.outputs[-1]))
    boxes, texts, labels = extents(ax)
    names = list(boxes)
    for i, a in enumerate(names):
        assert boxes[a].x0 <= texts[a].x0 and texts[a].x1 <= boxes[a].x1, f"text of {a} sticks out"
        assert boxes[a].y0 <= texts[a].y0 and texts[a].y1 <= boxes[a].y1, f"text of {a} sticks out"
        for b in names[i + 1:]:
            assert not boxes[a].overlaps(boxes[b]), f"boxes {a} and {b} overlap"
    edges = list(labels)
    for i, e in enumerate(edges):
        for f in edges[i + 1:]:
            assert not labels[e].overlaps(labels[f]), f"labels of {e} and {f} overlap"
        for n in names:
            assert not labels[e].overlaps(boxes[n]), f"label of {e} covers node {n}"


def test_small_axes_shrink_the_text_with_the_boxes():
    _, ax = plt.subplots(figsize=(3, 1.5))
    graph = NEURON.evaluate(w0=2, x0=-1, w1=-3, x1=-2, w2=-3)
    viz.draw_graph(graph, ax=ax)
    boxes, texts, _ = extents(ax)
    assert all(boxes[n].x0 <= texts[n].x0 and texts[n].x1 <= boxes[n].x1 for n in boxes)
    assert by_gid(ax, "node-label")["L"].get_fontsize() < 11


# --- Value and Tensor graphs -----------------------------------------------------------------------


def micrograd_example() -> Value:
    a, b, c, f = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c"), Value(-2.0, label="f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    L.backward()
    return L


def test_value_graph_has_a_box_per_value_and_an_oval_per_operation():
    ax = viz.draw_value_graph(micrograd_example())
    nodes = by_gid(ax, "node")
    assert len(nodes) == 7 + 3
    assert sorted(n for n in nodes if n.endswith(".op")) == ["L.op", "d.op", "e.op"]
    assert len(by_gid(ax, "edge")) == 3 * 3  # two inputs into each operation, one result out
    labels = {n: t.get_text() for n, t in by_gid(ax, "node-label").items()}
    assert labels["L"] == "L\ndata -8\ngrad 1"
    assert labels["a"] == "a\ndata 2\ngrad 6"
    assert labels["e.op"] == "×" and labels["d.op"] == "+"
    derivatives = {e: t.get_text() for e, t in by_gid(ax, "edge-label").items()}
    assert derivatives == {"e.0": "-3", "e.1": "2", "d.0": "1", "d.1": "1", "L.0": "-2", "L.1": "4"}


def test_value_graph_options():
    ax = viz.draw_value_graph(micrograd_example(), show_grad=False, show_derivatives=False)
    assert by_gid(ax, "node-label")["L"].get_text() == "L\ndata -8"
    assert by_gid(ax, "edge-label") == {}
    x = Value(3.0)
    y = x**2
    labels = {n: t.get_text() for n, t in by_gid(viz.draw_value_graph(y), "node-label").items()}
    assert labels["v1.op"] == "**2"
    assert {t.get_text() for t in by_gid(viz.draw_value_graph(y), "edge-label").values()} == {"6"}
    with pytest.raises(TypeError, match="Value"):
        viz.draw_value_graph(3.0)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        s = 1.0 / (1.0 + math.exp(-x))
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_output):
        (s,) = ctx.saved_tensors
        return grad_output * s * (1.0 - s)


def test_custom_sigmoid_node_versus_composed_sigmoid():
    x = Value(0.5, label="x")
    composed = 1 / (1 + (-x).exp())
    custom = Sigmoid.apply(x)
    composed_nodes = by_gid(viz.draw_value_graph(composed), "node")
    custom_ax = viz.draw_value_graph(custom)
    assert len(by_gid(custom_ax, "node")) == 3  # x, the Sigmoid operation, its result
    assert len(composed_nodes) == 11  # x, -x, exp(-x), 1, 1 + exp(-x), 1, s and 4 operations
    assert by_gid(custom_ax, "node-label")["v1.op"].get_text() == "Sigmoid"
    s = 1 / (1 + math.exp(-0.5))
    assert by_gid(custom_ax, "edge-label")["v1.0"].get_text() == f"{s * (1 - s):.3g}"


def test_compact_value_graph_writes_each_operation_into_its_result_and_fits_a_column():
    ax = viz.draw_value_graph(micrograd_example(), compact=True)
    labels = {n: t.get_text() for n, t in by_gid(ax, "node-label").items()}
    assert labels == {"a": "a\ndata 2\ngrad 6", "b": "b\ndata -3\ngrad -4", "c": "c\ndata 10\ngrad -2",
                      "e": "e = ×\ndata -6\ngrad -2", "d": "d = +\ndata 4\ngrad -2", "f": "f\ndata -2\ngrad 4",
                      "L": "L = ×\ndata -8\ngrad 1"}
    derivatives = {e: t.get_text() for e, t in by_gid(ax, "edge-label").items()}
    assert derivatives == {"e.0": "-3", "e.1": "2", "d.0": "1", "d.1": "1", "L.0": "-2", "L.1": "4"}
    assert len(by_gid(ax, "edge")) == 6  # value to value: no oval, no arrow out of one
    assert by_gid(viz.draw_value_graph(Value(3.0) ** 2, compact=True), "node-label")["v1"].get_text().startswith("**2\n")
    x = Value(1.0, label="x")
    e = x.exp()
    s = e / (1 + e)
    wide = viz.draw_value_graph(s)
    assert wide.figure.get_size_inches()[0] > 7.0
    ax = viz.draw_value_graph(s, compact=True, max_width=7.0)
    assert ax.figure.get_size_inches()[0] <= 7.0 and min(t.get_fontsize() for t in ax.texts) >= 9.0
    plt.close("all")


def test_tensor_graph_shows_operations_and_shapes():
    X = Tensor(np.ones((4, 3)))
    W = Tensor(np.ones((3, 2)), requires_grad=True, label="W")
    b = Tensor(np.zeros(2), requires_grad=True, label="b")
    loss = (X @ W + b).relu().sum()
    loss.label = "loss"
    loss.backward()
    ax = viz.draw_tensor_graph(loss, show_grad=True)
    labels = [t.get_text() for t in by_gid(ax, "node-label").values()]
    assert {"MatMul", "Add", "ReLU", "Sum"} <= set(labels)
    assert "W\nshape (3, 2)\n|grad| 9.8" in labels  # dL/dW = X^T 1: every entry 4, sqrt(6 * 16)
    assert "loss\nvalue 24\n|grad| 1" in labels
    assert len(by_gid(ax, "node")) == 2 + 4 + 4  # W and b, four results (loss among them), four ops
    assert len(by_gid(viz.draw_value_graph(loss), "node")) == len(by_gid(ax, "node"))
    with pytest.raises(TypeError, match="Tensor"):
        viz.draw_tensor_graph(Value(1.0))


def test_format_number_is_compact():
    assert [viz.format_number(x) for x in (6.0, -0.0, 0.7310585786, 1234567.0, -2)] == \
        ["6", "0", "0.731", "1.23e+06", "-2"]


# --- plots -----------------------------------------------------------------------------------------


def test_loss_curves():
    ax = viz.plot_loss_curves({"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0]})
    assert isinstance(ax, Axes)
    assert [list(line.get_ydata()) for line in ax.lines] == [[3.0, 2.0, 1.0], [3.5, 2.5, 2.0]]
    assert list(ax.lines[0].get_xdata()) == [1, 2, 3]
    assert len(viz.plot_loss_curves({"loss": [1.0, 0.5]}, log=True).lines) == 1
    with pytest.raises(KeyError, match="loss"):
        viz.plot_loss_curves({"val_loss": [1.0]})


def test_decision_boundary_calls_predict_once_on_a_grid():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    calls = []

    def predict(points):
        calls.append(points.shape)
        return (points[:, 1] > 0.5).astype(int)

    _, ax = plt.subplots()
    assert viz.plot_decision_boundary(predict, X, y, ax=ax, resolution=30) is ax
    assert calls == [(900, 2)]
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        viz.plot_decision_boundary(predict, X[:, :1], y)
    with pytest.raises(ValueError, match="y must have shape"):
        viz.plot_decision_boundary(predict, X, y[:3])
    with pytest.raises(ValueError, match="one class index per point"):
        viz.plot_decision_boundary(lambda p: np.zeros((len(p), 2)), X, y)


def test_grad_norms_one_line_per_network_on_a_log_scale():
    ax = viz.plot_grad_norms({"sigmoid": [1e-6, 1e-3, 1.0], "relu": [0.5, 0.7, 1.0]})
    assert [line.get_label() for line in ax.lines] == ["sigmoid", "relu"]
    assert ax.get_yscale() == "log"
    assert viz.plot_grad_norms({"relu": [1.0, 2.0]}, log=False).get_yscale() == "linear"
    with pytest.raises(ValueError, match="non-negative"):
        viz.plot_grad_norms({"bad": [1.0, -1.0]})
    with pytest.raises(ValueError, match="empty"):
        viz.plot_grad_norms({})


def test_error_vs_h_central_beats_one_sided():
    ax = viz.plot_error_vs_h(math.sin, math.cos, 1.0)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    one_sided, central = ax.lines[0].get_ydata(), ax.lines[2].get_ydata()  # lines 1, 3 mark the minima
    assert np.nanmin(central) < np.nanmin(one_sided) / 100
    h = ax.lines[0].get_xdata()
    i = int(np.argmin(abs(h - 1e-2)))  # where truncation dominates: error ~ h/2 |f''| vs ~ h^2/6 |f'''|
    assert one_sided[i] == pytest.approx(1e-2 / 2 * math.sin(1.0), rel=0.05)
    assert central[i] == pytest.approx(1e-4 / 6 * math.cos(1.0), rel=0.05)
    with pytest.raises(ValueError, match="positive"):
        viz.plot_error_vs_h(math.sin, math.cos, 1.0, hs=[1e-3, 0.0])


def test_path_counts_on_a_log_scale():
    depths = [1, 2, 3, 4]
    ax = viz.plot_path_counts(depths, [3**d for d in depths], [6 * d for d in depths])
    assert ax.get_yscale() == "log"
    assert list(ax.lines[0].get_ydata()) == [3, 9, 27, 81]
    with pytest.raises(ValueError, match="one length"):
        viz.plot_path_counts(depths, [1, 2], [1, 2, 3, 4])


def test_tensor_graph_draws_a_named_constant_as_an_input_of_its_operation():
    X = Tensor(np.ones((4, 3)), label="X")
    W = Tensor(np.ones((3, 2)), requires_grad=True, label="W")
    XW = X @ W
    XW.label = "XW"
    loss = XW.sum()
    plain = viz.draw_tensor_graph(loss)
    assert "X" not in by_gid(plain, "node")  # the engine records no constant
    ax = viz.draw_tensor_graph(loss, constants=[(X, XW)])
    assert by_gid(ax, "node-label")["X"].get_text() == "X\nshape (4, 3)\nno grad"
    assert len(by_gid(ax, "node")) == len(by_gid(plain, "node")) + 1
    assert len(by_gid(ax, "edge")) == len(by_gid(plain, "edge")) + 1
    with pytest.raises(ValueError, match="not computed in this graph"):
        viz.draw_tensor_graph(loss, constants=[(X, W)])
    with pytest.raises(ValueError, match="requires a gradient"):
        viz.draw_tensor_graph(loss, constants=[(W, XW)])
    with pytest.raises(TypeError, match="pairs"):
        viz.draw_tensor_graph(loss, constants=[(X.data, XW)])


def test_compact_tensor_graph_writes_each_operation_into_its_result_and_fits_a_column():
    X = Tensor(np.ones((5, 3)), label="X")
    W = Tensor(np.ones((3, 4)), requires_grad=True, label="W")
    b = Tensor(np.zeros(4), requires_grad=True, label="b")
    XW = X @ W
    XW.label = "XW"
    Z = XW + b
    Z.label = "Z"
    loss = Z.relu().mean()
    loss.label = "L"
    full = viz.draw_tensor_graph(loss, constants=[(X, XW)])
    ax = viz.draw_tensor_graph(loss, constants=[(X, XW)], compact=True, max_width=7.0)
    labels = {t.get_text() for t in by_gid(ax, "node-label").values()}
    assert {"XW = MatMul\nshape (5, 4)", "Z = Add\nshape (5, 4)", "ReLU\nshape (5, 4)", "L = Mean\nvalue 3"} <= labels
    assert len(by_gid(ax, "node")) == len(by_gid(full, "node")) - 4  # no ovals for the four operations
    assert ax.figure.get_size_inches()[0] <= 7.0
    assert min(t.get_fontsize() for t in ax.texts) >= 9.0
    wide = viz.draw_tensor_graph(loss, constants=[(X, XW)])
    assert wide.figure.get_size_inches()[0] > 7.0  # the full drawing would not fit
    plt.close("all")


def test_decision_boundary_with_validation_points_and_a_legend():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    X_val, y_val = np.array([[2.0, 2.0], [0.5, 0.2]]), np.array([1, 0])
    _, ax = plt.subplots()
    viz.plot_decision_boundary(lambda p: (p[:, 1] > 0.5).astype(int), X, y, ax=ax, resolution=20,
                               X_val=X_val, y_val=y_val, legend=True, class_names=["left", "right"])
    assert len(ax.collections) >= 2 and ax.get_xlim()[1] > 2.0  # the grid covers the validation points too
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["left", "right", "training point", "validation point"]
    _, bare = plt.subplots()
    viz.plot_decision_boundary(lambda p: (p[:, 1] > 0.5).astype(int), X, y, ax=bare, resolution=20)
    assert bare.get_legend() is None
    with pytest.raises(ValueError, match="both X_val and y_val"):
        viz.plot_decision_boundary(lambda p: np.zeros(len(p), int), X, y, X_val=X_val)
    with pytest.raises(ValueError, match="y_val must have shape"):
        viz.plot_decision_boundary(lambda p: np.zeros(len(p), int), X, y, X_val=X_val, y_val=y_val[:1])
    with pytest.raises(ValueError, match="class_names"):
        viz.plot_decision_boundary(lambda p: np.zeros(len(p), int), X, y, class_names=["only one"])
    plt.close("all")


def test_grad_norm_history_smooths_each_layer_with_a_moving_average():
    norms = [[1.0, 10.0], [100.0, 10.0], [1.0, 10.0], [100.0, 10.0]]
    ax = viz.plot_grad_norm_history(norms)
    assert [line.get_label() for line in ax.lines] == ["layer 1", "layer 2"]
    ax = viz.plot_grad_norm_history(norms, window=2, labels=["first", "last"])
    smooth = [line for line in ax.lines if line.get_label().endswith("(2-step average)")]
    assert [line.get_label() for line in smooth] == ["first (2-step average)", "last (2-step average)"]
    assert np.allclose(smooth[0].get_ydata(), [1.0, 10.0, 10.0, 10.0])  # geometric means on a log axis
    assert np.allclose(viz.moving_average([1.0, 3.0, 5.0, 7.0], 2), [1.0, 2.0, 4.0, 6.0])
    assert np.allclose(viz.moving_average([2.0, 8.0], 3, geometric=True), [2.0, 4.0])
    with pytest.raises(ValueError, match="window"):
        viz.plot_grad_norm_history(norms, window=0)
    with pytest.raises(ValueError, match="labels"):
        viz.plot_grad_norm_history(norms, labels=["one"])
    with pytest.raises(ValueError, match="positive on a log axis"):
        viz.plot_grad_norm_history([[0.0, 1.0]])
    with pytest.raises(ValueError, match="table"):
        viz.plot_grad_norm_history([1.0, 2.0])
    plt.close("all")
