"""Explorers: drive the controls as a student would and read what each explorer shows."""
import base64
import re

import matplotlib

matplotlib.use("Agg")  # before pyplot: tests draw off-screen

import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from backprop_lib import viz, widgets  # noqa: E402
from backprop_lib.graph import LESSON01, Expression, staged_graph  # noqa: E402


@pytest.fixture(autouse=True)
def no_figures_left():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before, "an explorer left a pyplot figure open"
    plt.close("all")


def shown_png(explorer) -> bytes:
    (output,) = explorer.plot.outputs
    return base64.b64decode(output["data"]["image/png"])


def node_label(figure, node) -> str:
    (ax,) = figure.axes
    return next(t.get_text() for t in ax.texts if t.get_gid() == f"node-label:{node}")


def node_colour(figure, node) -> str:
    (ax,) = figure.axes
    return to_hex(next(p for p in ax.patches if p.get_gid() == f"node:{node}").get_facecolor())


# --- GraphExplorer -------------------------------------------------------------------------------


def test_graph_explorer_shows_the_lesson01_numbers_and_follows_the_sliders():
    explorer = widgets.GraphExplorer(LESSON01, initial={"a": 2, "b": 1}, output="e")
    assert set(explorer.sliders) == {"a", "b"}
    assert explorer.summary.value == "e = 6, de/da = 2, de/db = 5"
    assert explorer.graph.values == {"a": 2, "b": 1, "c": 3, "d": 2, "e": 6}
    assert shown_png(explorer).startswith(b"\x89PNG")
    assert node_label(explorer.figure, "b") == "b\n1\nde/db = 5"

    explorer.sliders["a"].value = 3
    assert explorer.summary.value == "e = 8, de/da = 2, de/db = 6"
    assert explorer.graph.values["e"] == 8
    assert explorer.graph.edges[("d", "e")] == 4  # de/dd = c = a + b
    assert node_label(explorer.figure, "e").startswith("e (×)\n8")

    explorer.set(a=-1, b=0.5)
    assert explorer.values == {"a": -1, "b": 0.5}
    assert explorer.summary.value == "e = -0.75, de/da = 1.5, de/db = 1"


def test_graph_explorer_without_an_output_reports_the_outputs():
    explorer = widgets.GraphExplorer(LESSON01, ranges={"a": (0, 4, 0.5)}, initial={"a": 2, "b": 1})
    assert explorer.summary.value == "e = 6"
    assert (explorer.sliders["a"].min, explorer.sliders["a"].max, explorer.sliders["a"].step) == (0, 4, 0.5)
    assert (explorer.sliders["b"].min, explorer.sliders["b"].max) == (-5, 5)
    assert node_label(explorer.figure, "a") == "a\n2"


def test_graph_explorer_reports_a_point_outside_the_domain_and_recovers():
    explorer = widgets.GraphExplorer(Expression({"y": ("log", "x")}), initial={"x": 1}, output="y")
    assert explorer.summary.value == "y = 0, dy/dx = 1"
    explorer.sliders["x"].value = -2
    assert "cannot evaluate at x = -2" in explorer.summary.value
    assert explorer.graph is None and explorer.plot.outputs == ()
    explorer.sliders["x"].value = 2
    assert explorer.summary.value == "y = 0.693, dy/dx = 0.5"


def test_graph_explorer_rejects_bad_settings():
    with pytest.raises(ValueError, match="not inputs"):
        widgets.GraphExplorer(LESSON01, ranges={"z": (0, 1, 0.1)})
    with pytest.raises(ValueError, match="output 'q'"):
        widgets.GraphExplorer(LESSON01, output="q")
    with pytest.raises(ValueError, match="outside its range"):
        widgets.GraphExplorer(LESSON01, ranges={"a": (0, 1, 0.1)}, initial={"a": 2})
    with pytest.raises(ValueError, match="min < max"):
        widgets.GraphExplorer(LESSON01, ranges={"a": (1, 0, 0.1)})
    with pytest.raises(TypeError, match="Expression"):
        widgets.GraphExplorer(LESSON01.evaluate(a=1, b=1))
    explorer = widgets.GraphExplorer(LESSON01)
    with pytest.raises(ValueError, match="no control named"):
        explorer.set(c=1)


def test_an_explorer_displays_as_its_widget():
    explorer = widgets.GraphExplorer(LESSON01)
    bundle, _ = explorer._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == explorer.widget.model_id
    assert explorer.plot in explorer.widget.children


def test_an_explorer_carries_a_static_picture_of_what_it_shows_for_readers_without_a_kernel():
    explorer = widgets.GraphExplorer(LESSON01)
    bundle, metadata = explorer._repr_mimebundle_()
    assert bundle["image/png"] == explorer.plot.outputs[-1]["data"]["image/png"]
    width = round(explorer.figure.get_size_inches()[0] * 100)
    assert metadata["image/png"]["width"] == width <= 700
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert "run this cell" in bundle["text/plain"]


# --- SweepStepper --------------------------------------------------------------------------------


def test_reverse_sweep_step_by_step():
    stepper = widgets.SweepStepper(LESSON01.evaluate(a=2, b=1), mode="reverse", start="e")
    assert (stepper.slider.min, stepper.slider.max) == (1, 5)
    seen = []
    for i in range(1, 6):
        stepper.slider.value = i
        seen.append(stepper.summary.value)
    assert seen == [
        "step 1/5: de/de = 1 (the start)",
        "step 2/5: de/dd = de/de · ∂e/∂d = 1 × 3 = 3",
        "step 3/5: de/dc = de/de · ∂e/∂c = 1 × 2 = 2",
        "step 4/5: de/db = de/dc · ∂c/∂b + de/dd · ∂d/∂b = 2 × 1 + 3 × 1 = 5",
        "step 5/5: de/da = de/dc · ∂c/∂a = 2 × 1 = 2",
    ]


def test_forward_sweep_with_the_buttons():
    stepper = widgets.SweepStepper(LESSON01.evaluate(a=2, b=1), mode="forward", start="b")
    assert stepper.prev_button.disabled and not stepper.next_button.disabled
    seen = [stepper.summary.value]
    for _ in range(4):
        stepper.next_button.click()
        seen.append(stepper.summary.value)
    assert seen == [
        "step 1/5: da/db = 0 (no path from b to a)",
        "step 2/5: db/db = 1 (the start)",
        "step 3/5: dc/db = ∂c/∂a · da/db + ∂c/∂b · db/db = 1 × 0 + 1 × 1 = 1",
        "step 4/5: dd/db = ∂d/∂b · db/db = 1 × 1 = 1",
        "step 5/5: de/db = ∂e/∂c · dc/db + ∂e/∂d · dd/db = 2 × 1 + 3 × 1 = 5",
    ]
    assert stepper.next_button.disabled and not stepper.prev_button.disabled
    stepper.next_button.click()  # already at the end: stays there
    assert stepper.slider.value == 5
    stepper.prev_button.click()
    assert stepper.current.node == "d"


def test_stepper_highlights_the_current_node_and_labels_the_nodes_done():
    stepper = widgets.SweepStepper(LESSON01.evaluate(a=2, b=1), mode="reverse", start="e")
    stepper.slider.value = 4  # at b, merging the paths through c and d
    fig = stepper.figure
    assert node_colour(fig, "b") == viz.PALETTE["highlight"]
    assert node_colour(fig, "a") == viz.PALETTE["input"]
    (ax,) = fig.axes
    edges = {p.get_gid(): to_hex(p.get_edgecolor()) for p in ax.patches if p.get_gid().startswith("edge:")}
    assert edges["edge:b->c"] == edges["edge:b->d"] == viz.PALETTE["highlight_edge"]
    assert edges["edge:a->c"] == viz.PALETTE["edge"]
    assert node_label(fig, "b") == "b\n1\nde/db = 5"
    assert node_label(fig, "c") == "c (+)\n3\nde/dc = 2"
    assert node_label(fig, "a") == "a\n2"  # not reached yet
    assert ax.get_title() == "reverse mode from e"


def test_stepper_on_a_graph_without_values():
    stepper = widgets.SweepStepper(staged_graph(2, 3, [1, 2, 3, 4, 5, 6]), mode="reverse")
    assert stepper.start == "X2"
    stepper.slider.value = stepper.slider.max
    assert stepper.current.node == "X0" and stepper.current.total == 90  # (1 + 2 + 3)(4 + 5 + 6)
    assert stepper.summary.value == (
        "step 9/9: dX2/dX0 = dX2/dX0.0 · ∂X0.0/∂X0 + dX2/dX0.1 · ∂X0.1/∂X0 + dX2/dX0.2 · ∂X0.2/∂X0"
        " = 15 × 1 + 15 × 2 + 15 × 3 = 90")
    assert node_label(stepper.figure, "X1") == "X1\ndX2/dX1 = 15"


def test_stepper_defaults_and_bad_settings():
    graph = LESSON01.evaluate(a=2, b=1)
    assert widgets.SweepStepper(graph).start == "a"
    assert widgets.SweepStepper(graph, mode="reverse").start == "e"
    with pytest.raises(ValueError, match="mode"):
        widgets.SweepStepper(graph, mode="sideways")
    with pytest.raises(KeyError, match="'z'"):
        widgets.SweepStepper(graph, start="z")


# --- TrainingExplorer ----------------------------------------------------------------------------


def test_training_explorer_trains_on_a_click():
    explorer = widgets.TrainingExplorer("moons", epochs=60)
    assert explorer.summary.value.startswith("untrained network: accuracy ")
    assert explorer.history == {"loss": []}
    before = shown_png(explorer)
    explorer.train_button.click()
    match = re.fullmatch(r"final loss (\d+\.\d{3}), accuracy (\d+\.\d)%", explorer.summary.value)
    assert match, explorer.summary.value
    assert float(match.group(1)) == pytest.approx(explorer.history["loss"][-1], abs=5e-4)
    assert float(match.group(2)) > 90
    assert len(explorer.history["loss"]) == 60
    assert shown_png(explorer) != before
    loss_ax, boundary_ax = explorer.figure.axes
    assert list(loss_ax.lines[0].get_ydata()) == explorer.history["loss"]
    assert boundary_ax.get_title() == "2 hidden layers of 32, relu"


def test_training_explorer_follows_its_controls():
    explorer = widgets.TrainingExplorer("spirals", epochs=20)
    explorer.depth.value = 3
    explorer.width.value = 8
    explorer.activation.value = "tanh"
    explorer.optimizer.value = "sgd"
    explorer.learning_rate.value = 0.1
    explorer.train()
    assert [layer.weight.shape for layer in explorer.model.layers] == [(2, 8), (8, 8), (8, 8), (8, 3)]
    assert explorer.model.activation == "tanh"
    assert explorer.history["lr"] == [pytest.approx(0.1)] * 20
    assert explorer.figure.axes[1].get_title() == "3 hidden layers of 8, tanh"


def test_training_explorer_reports_divergence(monkeypatch):
    explorer = widgets.TrainingExplorer("moons", epochs=10)

    def diverge(*args, **kwargs):
        raise FloatingPointError("the loss became nan")

    monkeypatch.setattr(widgets.nn, "train", diverge)
    explorer.train()
    assert explorer.summary.value.startswith("the loss diverged at learning rate 0.02")
    assert not explorer.train_button.disabled


def test_training_explorer_rejects_unknown_settings():
    with pytest.raises(ValueError, match="dataset"):
        widgets.TrainingExplorer("circles")
    with pytest.raises(ValueError, match="learning_rate"):
        widgets.TrainingExplorer(learning_rate=5.0)


def test_generic_explorer_redraws_and_reports_what_it_shows() -> None:
    calls = []

    def draw(figure, k, scale):
        calls.append((k, scale))
        ax = figure.subplots()
        ax.plot(range(k), [scale * i for i in range(k)])
        return f"k = {k}, slope {scale:g}"

    explorer = widgets.Explorer(draw, {"k": (2, 10, 1, 4), "scale": (0.5, 2.0, 0.5)})
    assert isinstance(explorer.controls["k"], ipywidgets.IntSlider)
    assert isinstance(explorer.controls["scale"], ipywidgets.FloatSlider)
    assert explorer.summary.value == "k = 4, slope 0.5"
    explorer.controls["k"].value = 7
    assert explorer.summary.value == "k = 7, slope 0.5"
    explorer.set(k=3, scale=2.0)
    assert calls[-1] == (3, 2.0) and len(calls) == 3
    assert explorer.plot.outputs[0]["data"]["text/plain"] == "k = 3, slope 2"


def test_generic_explorer_shows_errors_instead_of_raising() -> None:
    def draw(figure, x):
        if x < 0:
            raise ValueError("x must not be negative")
        return f"x = {x}"

    explorer = widgets.Explorer(draw, {"x": (-1.0, 1.0, 0.5, 0.0)})
    explorer.controls["x"].value = -1.0
    assert "ValueError: x must not be negative" in explorer.summary.value
    assert explorer.plot.outputs == ()
    with pytest.raises(ValueError, match="min < max"):
        widgets.Explorer(draw, {"x": (1.0, -1.0, 0.5)})
    with pytest.raises(TypeError, match="expected an ipywidgets control"):
        widgets.Explorer(draw, {"x": "slider"})


def test_a_stored_explorer_shows_a_hint_not_a_widget_repr() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    explorer = widgets.Explorer(lambda figure, n: f"n = {n}", {"n": ["a", "b"]})
    assert isinstance(explorer.controls["n"], ipywidgets.Dropdown)
    # what IPython stores when a cell displays the explorer (its value, or display(explorer))
    data, _ = InteractiveShell.instance().display_formatter.format(explorer)
    assert data["text/plain"] == "Explorer: run this cell to use the interactive explorer."
    assert "application/vnd.jupyter.widget-view+json" in data


# --- ConvolutionExplorer -------------------------------------------------------------------------


def test_convolution_explorer_shows_the_output_and_where_one_output_gradient_goes() -> None:
    import numpy as np

    from backprop_lib import datasets, layers

    explorer = widgets.ConvolutionExplorer()
    images, labels = datasets.digits("test")
    assert np.array_equal(explorer.image, images[np.flatnonzero(labels == 2)[0], 0])
    assert explorer.summary.value == (
        "kernel 3x3, stride 1, padding 0: input 8x8 → output 6x6; the gradient of output (0, 0) reaches 9 input "
        "pixels; each input pixel feeds 1 to 9 outputs")
    assert explorer.weights.tolist() == [[-1, 0, 1]] * 3
    expected = layers.conv2d(explorer.image[None, None], explorer.weights[None, None]).data[0, 0]
    assert np.allclose(explorer.output, expected)
    # one output's gradient: the filter's weights laid over its window, zero elsewhere
    assert np.array_equal(explorer.reach[:3, :3], np.ones((3, 3), bool)) and explorer.reach.sum() == 9
    assert np.array_equal(explorer.grad[:3, :3], explorer.weights) and not explorer.grad[3:].any()
    assert explorer.uses[0].tolist() == [1, 2, 3, 3, 3, 3, 2, 1]
    assert (explorer.row.max, explorer.col.max) == (5, 5)
    assert shown_png(explorer).startswith(b"\x89PNG")
    assert len(explorer.figure.axes) == 4

    explorer.set(row=4, col=2)
    assert np.array_equal(np.argwhere(explorer.reach)[[0, -1]], [[4, 2], [6, 4]])
    assert "the gradient of output (4, 2) reaches 9 input pixels" in explorer.summary.value


def test_convolution_explorer_follows_stride_padding_and_filter() -> None:
    import numpy as np

    explorer = widgets.ConvolutionExplorer(np.arange(49.0).reshape(7, 7), kernel=2, stride=3)
    assert explorer.summary.value.startswith("kernel 2x2, stride 3, padding 0: input 7x7 → output 2x2;")
    assert "each input pixel feeds 0 to 1 outputs (33 pixels feed none and always get a zero gradient)" \
        in explorer.summary.value
    explorer.set(col=1)
    assert explorer.summary.value.count("output (0, 1) reaches 4 input pixels") == 1
    # padding: the window of output (0, 0) hangs over the edge, so fewer real pixels receive its gradient
    explorer.set(kernel=3, stride=1, padding=2, row=0, col=0)
    assert explorer.output.shape == (9, 9) and (explorer.row.max, explorer.col.max) == (8, 8)
    assert explorer.reach.sum() == 1 and explorer.reach[0, 0]
    assert explorer.uses.min() == explorer.uses.max() == 9
    explorer.set(row=8)
    explorer.padding.value = 0  # the output shrinks to 5x5: the chosen row follows it
    assert explorer.row.value == 4 and explorer.output.shape == (5, 5)
    explorer.filter.value = "blur"
    assert np.allclose(explorer.weights, 1 / 9) and np.isclose(explorer.output[0, 0], 8.0)
    explorer.filter.value = "horizontal edges"
    assert explorer.weights[:, 0].tolist() == [-1, 0, 1]
    explorer.set(kernel=1)
    assert explorer.weights.tolist() == [[0.0]] and "feeds 1 to 1 outputs" in explorer.summary.value


def test_convolution_explorer_rejects_bad_settings() -> None:
    import numpy as np

    with pytest.raises(ValueError, match="2-D image"):
        widgets.ConvolutionExplorer(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="filter"):
        widgets.ConvolutionExplorer(filter="sharpen")
    with pytest.raises(ValueError, match="kernel must lie in"):
        widgets.ConvolutionExplorer(kernel=7)
    with pytest.raises(ValueError, match="no control named"):
        widgets.ConvolutionExplorer().set(dilation=2)


def test_a_wide_explorer_figure_is_shown_at_column_width_and_keeps_its_proportions():
    from backprop_lib.graph import Expression

    chain = {"v1": ("+", "x", "y")} | {f"v{i}": ("*", f"v{i - 1}", "y") for i in range(2, 12)}
    explorer = widgets.GraphExplorer(Expression(chain))
    inches = explorer.figure.get_size_inches()
    assert inches[0] * 100 > 700  # drawn wider than a column
    shown = explorer.plot.outputs[-1]["metadata"]["image/png"]
    assert shown["width"] <= 700
    assert abs(shown["height"] / shown["width"] - inches[1] / inches[0]) < 0.01
