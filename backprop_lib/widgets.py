"""Interactive explorers for the lessons (ipywidgets 8; any matplotlib backend, inline included).

Each explorer owns its controls and one matplotlib ``Figure``. Whenever a control changes it
redraws the figure and shows it as a PNG in an ``ipywidgets.Output`` (``.plot``). The figure is
never registered with pyplot, so none is left open, and no interactive backend is needed.

A cell that ends with an explorer displays it (``.widget`` is the container). The controls are
attributes and ``.summary`` is an HTML line saying what is shown, so code (a test, a browser
script) can drive an explorer and read the result without looking at pixels.
"""
from __future__ import annotations

import base64
import html
import io
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from . import datasets, layers, nn, optim, viz
from .graph import Expression, Graph, Step
from .tensor import Tensor

_RENDER_DPI = 150  # rendered sharper than shown, so the image stays crisp on high-density screens
_SHOWN_DPI = 100
_COLUMN_PX = 700
_DEFAULT_RANGE = (-5.0, 5.0, 0.1)


def _show(output: widgets.Output, figure: Figure, description: str) -> None:
    """Put ``figure`` into ``output`` as a PNG (replacing what was there)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_RENDER_DPI)
    width, height = (float(x) * _SHOWN_DPI for x in figure.get_size_inches())
    shrink = min(1.0, _COLUMN_PX / width)  # a wide figure is shown at a notebook column's width
    width, height = round(width * shrink), round(height * shrink)
    output.outputs = ({
        "output_type": "display_data",
        "data": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"), "text/plain": description},
        "metadata": {"image/png": {"width": width, "height": height}},
    },)


class _Explorer:
    """Displays as its ``widget``, so a notebook cell can end with the explorer itself.

    Subclasses keep their named controls in ``_controls`` and redraw in ``_update``, which returns
    at once while ``_paused`` (so that ``set`` moves several controls with a single redraw).
    """

    widget: widgets.Widget
    _controls: dict[str, widgets.ValueWidget]
    _paused: bool = False

    def _update(self, change: Any = None) -> None:
        raise NotImplementedError

    def _wire(self, rows: list[widgets.Widget]) -> None:
        """Observe every control, lay out the controls above ``rows``, and draw the first time."""
        for control in self._controls.values():
            control.observe(self._update, names="value")
        controls = widgets.HBox(list(self._controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([controls, *rows])
        self._update()

    @property
    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self._controls.items()}

    def set(self, **values: Any) -> None:
        """Move several controls at once, redrawing once."""
        unknown = [n for n in values if n not in self._controls]
        if unknown:
            raise ValueError(f"no control named {unknown}; the controls are {list(self._controls)}")
        self._paused = True
        try:
            for name, value in values.items():
                self._controls[name].value = value
        finally:
            self._paused = False
        self._update()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # The live view, and what a stored notebook shows before its kernel runs: a hint rather than
        # the widget's repr. (An _ipython_display_ method would take precedence over this one.)
        # A static picture of the current state rides along, so that a reader without a kernel (a
        # stored notebook on a website, in a viewer) sees the explorer's first figure; a live
        # JupyterLab shows the widget instead, since it prefers the widget view.
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"{type(self).__name__}: run this cell to use the interactive explorer."
        picture = [out for out in getattr(self, "plot", widgets.Output()).outputs if "image/png" in out.get("data", {})]
        if not picture:
            return bundle
        bundle["image/png"] = picture[-1]["data"]["image/png"]
        # shown at the figure's own size (it is rendered sharper than that), as the live view shows it
        return bundle, {"image/png": dict(picture[-1].get("metadata", {}).get("image/png", {}))}


class GraphExplorer(_Explorer):
    """A slider per input of ``expression``; the graph is redrawn with values and edge derivatives.

    ``ranges`` maps an input to ``(min, max, step)`` (default -5 to 5 by 0.1), ``initial`` to its
    starting value (default 1). With ``output`` (a node name) each box also shows d output / d node
    from a reverse sweep, and the summary reads e.g. ``e = 6, de/da = 2, de/db = 5``.

    Attributes: ``sliders`` (input name -> FloatSlider), ``summary`` (HTML), ``graph`` (the Graph
    shown, ``None`` while the inputs are outside the expression's domain), ``plot`` (Output),
    ``figure``, ``widget``.
    """

    def __init__(self, expression: Expression, ranges: Mapping[str, tuple[float, float, float]] | None = None,
                 initial: Mapping[str, float] | None = None, output: str | None = None, title: str | None = None):
        if not isinstance(expression, Expression):
            raise TypeError(f"GraphExplorer needs a backprop_lib.graph.Expression, got {type(expression).__name__}")
        names = expression.inputs
        ranges, initial = dict(ranges or {}), dict(initial or {})
        for what, given in (("ranges", ranges), ("initial", initial)):
            unknown = [n for n in given if n not in names]
            if unknown:
                raise ValueError(f"{what} names {unknown}, which are not inputs of the expression (inputs: {names})")
        if output is not None and output not in expression.operations and output not in names:
            raise ValueError(f"output {output!r} is not a node of the expression (nodes: "
                             f"{names + list(expression.operations)})")
        self.expression = expression
        self.output = output
        self.title = title
        self.sliders: dict[str, widgets.FloatSlider] = {}
        for name in names:
            low, high, step = (float(v) for v in ranges.get(name, _DEFAULT_RANGE))
            if not (low < high and step > 0):
                raise ValueError(f"range of {name} must be (min, max, step) with min < max and step > 0, "
                                 f"got {ranges[name]}")
            value = float(initial.get(name, min(max(1.0, low), high)))
            if not low <= value <= high:
                raise ValueError(f"initial value {name} = {value} lies outside its range [{low}, {high}]")
            # Redraw on release: a drag would otherwise queue one redraw per step it passes.
            self.sliders[name] = widgets.FloatSlider(value=value, min=low, max=high, step=step, description=name,
                                                     readout_format=".2f", continuous_update=False)
        self.summary = widgets.HTML()
        self.plot = widgets.Output()
        self.figure = Figure()
        self.graph: Graph | None = None
        self._controls = self.sliders
        self._wire([self.summary, self.plot])

    def _update(self, change: Any = None) -> None:
        if self._paused:
            return
        values = self.values
        try:
            graph = self.expression.evaluate(**values)
        except (ArithmeticError, ValueError) as error:
            self.graph = None
            at = ", ".join(f"{n} = {viz.format_number(v)}" for n, v in values.items())
            self.summary.value = (f'<span style="color:#c53030">cannot evaluate at {html.escape(at)}: '
                                  f"{html.escape(str(error) or type(error).__name__)}</span>")
            self.plot.outputs = ()
            return
        self.graph = graph
        out = self.output
        if out is None:
            parts = [f"{n} = {viz.format_number(graph.values[n])}" for n in graph.outputs]
            viz.draw_graph(graph, ax=self.figure, title=self.title)
        else:
            grads = graph.reverse_mode(out)
            parts = [f"{out} = {viz.format_number(graph.values[out])}"]
            parts += [f"d{out}/d{n} = {viz.format_number(grads[n])}" for n in self.sliders]
            label = "d" + str(out).replace("{", "{{").replace("}", "}}") + "/d{node} = {grad}"
            viz.draw_graph(graph, ax=self.figure, grads=grads, grad_label=label, title=self.title)
        self.summary.value = html.escape(", ".join(parts))
        _show(self.plot, self.figure, ", ".join(parts))


def _describe(step: Step, mode: str, start: Any) -> str:
    """The chain rule at one node of a sweep, symbolically then with numbers, e.g.
    ``de/db = de/dc · ∂c/∂b + de/dd · ∂d/∂b = 2 × 1 + 3 × 1 = 5`` (∂: local, d: total derivative).
    """
    node = step.node
    total = f"d{node}/d{start}" if mode == "forward" else f"d{start}/d{node}"
    if node == start:
        return f"{total} = 1 (the start)"
    if not step.terms:
        source, target = (start, node) if mode == "forward" else (node, start)
        return f"{total} = 0 (no path from {source} to {target})"
    if mode == "forward":
        symbols = [f"∂{node}/∂{u} · d{u}/d{start}" for u, _, _ in step.terms]
        numbers_ = [f"{viz.format_number(d)} × {viz.format_number(t)}" for _, d, t in step.terms]
    else:
        symbols = [f"d{start}/d{v} · ∂{v}/∂{node}" for v, _, _ in step.terms]
        numbers_ = [f"{viz.format_number(t)} × {viz.format_number(d)}" for _, d, t in step.terms]
    return f"{total} = {' + '.join(symbols)} = {' + '.join(numbers_)} = {viz.format_number(step.total)}"


class SweepStepper(_Explorer):
    """Step through a forward sweep (from an input) or a reverse sweep (from an output) node by node.

    ``mode`` is ``"forward"`` (default start: the first input) or ``"reverse"`` (default start: the
    last output). The current node is highlighted with the edges whose terms it merges; the nodes
    already visited show their totals. The summary reads e.g.
    ``step 4/5: de/db = de/dc · ∂c/∂b + de/dd · ∂d/∂b = 2 × 1 + 3 × 1 = 5``.

    Attributes: ``steps`` (the sweep's Steps), ``slider`` (IntSlider, 1 to the number of steps),
    ``prev_button``, ``next_button``, ``summary`` (HTML), ``plot`` (Output), ``figure``, ``widget``.
    """

    def __init__(self, graph: Graph, mode: str = "forward", start: Any = None):
        if not isinstance(graph, Graph):
            raise TypeError(f"SweepStepper needs a backprop_lib.graph.Graph, got {type(graph).__name__}")
        if mode not in ("forward", "reverse"):
            raise ValueError(f"mode must be 'forward' or 'reverse', got {mode!r}")
        if not graph.nodes:
            raise ValueError("SweepStepper needs a graph with at least one node")
        if start is None:
            start = graph.inputs[0] if mode == "forward" else graph.outputs[-1]
        if start not in graph.succ:
            raise KeyError(f"start node {start!r} is not in the graph (nodes: {graph.nodes})")
        self.graph, self.mode, self.start = graph, mode, start
        self.steps = graph.forward_steps(start) if mode == "forward" else graph.reverse_steps(start)
        n = len(self.steps)
        self.slider = widgets.IntSlider(value=1, min=1, max=n, description="step", continuous_update=False)
        self.prev_button = widgets.Button(description="Prev", icon="arrow-left", layout=widgets.Layout(width="90px"))
        self.next_button = widgets.Button(description="Next", icon="arrow-right", layout=widgets.Layout(width="90px"))
        self.prev_button.on_click(lambda _: self._move(-1))
        self.next_button.on_click(lambda _: self._move(+1))
        self.summary = widgets.HTML()
        self.plot = widgets.Output()
        self.figure = Figure()
        self.slider.observe(self._update, names="value")
        controls = widgets.HBox([self.prev_button, self.slider, self.next_button])
        self.widget = widgets.VBox([controls, self.summary, self.plot])
        self._update()

    @property
    def current(self) -> Step:
        """The step the slider points at."""
        return self.steps[self.slider.value - 1]

    def _move(self, by: int) -> None:
        self.slider.value = min(max(self.slider.value + by, self.slider.min), self.slider.max)

    def _update(self, change: Any = None) -> None:
        i, n = self.slider.value, len(self.steps)
        step = self.current
        if self.mode == "forward":
            lit = {step.node} | {(u, step.node) for u, _, _ in step.terms}
            label = "d{node}/d" + _braced(self.start) + " = {grad}"
        else:
            lit = {step.node} | {(step.node, v) for v, _, _ in step.terms}
            label = "d" + _braced(self.start) + "/d{node} = {grad}"
        done = {s.node: s.total for s in self.steps[:i]}
        text = f"step {i}/{n}: {_describe(step, self.mode, self.start)}"
        viz.draw_graph(self.graph, ax=self.figure, grads=done, grad_label=label, highlight=lit,
                       title=f"{self.mode} mode from {self.start}")
        self.summary.value = html.escape(text)
        self.prev_button.disabled = i == 1
        self.next_button.disabled = i == n
        _show(self.plot, self.figure, text)


def _braced(name: Any) -> str:
    """``name`` made safe to sit inside a ``str.format`` template."""
    return str(name).replace("{", "{{").replace("}", "}}")


class TrainingExplorer(_Explorer):
    """Train a small MLP on a 2-D data set and look at its loss curve and decision boundary.

    Controls: learning rate (log scale), hidden layers, units per hidden layer, activation,
    optimiser (Adam, or SGD with momentum 0.9), epochs, and a Train button; training is full-batch
    and seeded, so the same settings give the same result. The summary reads e.g.
    ``final loss 0.123, accuracy 95.0%``. Before the first training the untrained network's
    boundary is shown.

    Attributes: ``learning_rate``, ``depth``, ``width``, ``activation``, ``optimizer``, ``epochs``,
    ``train_button``, ``summary`` (HTML), ``plot`` (Output), ``figure``, ``widget``, and after
    training ``model`` and ``history``. ``train()`` is what the button runs.
    """

    def __init__(self, dataset: str = "spirals", learning_rate: float = 0.02, depth: int = 2, width: int = 32,
                 activation: str = "relu", optimizer: str = "adam", epochs: int = 200, seed: int = 0):
        if dataset == "spirals":
            self.X, self.y = datasets.spirals(n_per_class=100, n_classes=3, noise=0.2, seed=seed)
        elif dataset == "moons":
            self.X, self.y = datasets.moons(n=200, noise=0.15, seed=seed)
        else:
            raise ValueError(f"dataset must be 'spirals' or 'moons', got {dataset!r}")
        if not (isinstance(learning_rate, numbers.Real) and 1e-4 <= learning_rate <= 1):
            raise ValueError(f"learning_rate must lie in [1e-4, 1], got {learning_rate!r}")
        self.dataset, self.seed = dataset, seed
        self.n_classes = int(self.y.max()) + 1
        self.learning_rate = widgets.FloatLogSlider(value=learning_rate, base=10, min=-4, max=0, step=0.1,
                                                    description="learning rate", readout_format=".3g")
        self.depth = widgets.IntSlider(value=depth, min=1, max=6, description="hidden layers")
        self.width = widgets.IntSlider(value=width, min=2, max=64, step=2, description="units")
        self.activation = widgets.Dropdown(options=["relu", "sigmoid", "tanh"], value=activation,
                                           description="activation")
        self.optimizer = widgets.Dropdown(options=[("Adam", "adam"), ("SGD + momentum", "sgd")], value=optimizer,
                                          description="optimiser")
        self.epochs = widgets.IntSlider(value=epochs, min=10, max=1000, step=10, description="epochs")
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.train_button.on_click(lambda _: self.train())
        for control in (self.learning_rate, self.depth, self.width, self.activation, self.optimizer, self.epochs):
            control.style.description_width = "initial"
        self.summary = widgets.HTML()
        self.plot = widgets.Output()
        self.figure = Figure(figsize=(7.0, 3.4))  # a notebook column
        self.model: nn.MLP = self._new_model()
        self.history: dict[str, list[float]] = {"loss": []}
        controls = widgets.HBox(
            [self.learning_rate, self.depth, self.width, self.activation, self.optimizer, self.epochs,
             self.train_button], layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([controls, self.summary, self.plot])
        self._redraw(f"untrained network: accuracy {self._accuracy():.1%}; press Train")

    def _new_model(self) -> nn.MLP:
        sizes = [2] + [self.width.value] * self.depth.value + [self.n_classes]
        return nn.MLP(sizes, activation=self.activation.value, seed=self.seed)

    def _accuracy(self) -> float:
        return nn.accuracy(self.model(Tensor(self.X)), self.y)

    def train(self) -> None:
        """Train a fresh network with the current settings, then redraw."""
        self.model = self._new_model()
        params = self.model.parameters()
        lr = self.learning_rate.value
        opt = optim.Adam(params, lr) if self.optimizer.value == "adam" else optim.SGD(params, lr, momentum=0.9)
        self.train_button.disabled = True
        self.summary.value = "training..."
        try:
            self.history = nn.train(self.model, self.X, self.y, nn.CrossEntropyLoss(), opt, self.epochs.value,
                                    seed=self.seed)
        except FloatingPointError:
            self.history = {"loss": []}
            self._redraw(f"the loss diverged at learning rate {lr:.3g}: try a smaller one")
            return
        finally:
            self.train_button.disabled = False
        loss = self.history["loss"][-1]
        self._redraw(f"final loss {loss:.3f}, accuracy {self._accuracy():.1%}")

    def _predict(self, points: np.ndarray) -> np.ndarray:
        return np.argmax(self.model(Tensor(points)).data, axis=1)

    def _redraw(self, text: str) -> None:
        fig = self.figure
        fig.clear()
        # Fixed margins: tight_layout would cost more than the whole training run.
        loss_ax, boundary_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.15, top=0.88, wspace=0.22)
        if self.history["loss"]:
            viz.plot_loss_curves(self.history, ax=loss_ax, log=True)
        else:
            loss_ax.text(0.5, 0.5, "no training yet", ha="center", va="center", transform=loss_ax.transAxes,
                         color="#718096")
            loss_ax.set_xlabel("epoch")
            loss_ax.set_ylabel("loss")
        loss_ax.set_title("training loss")
        viz.plot_decision_boundary(self._predict, self.X, self.y, ax=boundary_ax, resolution=150)
        layers = self.depth.value
        boundary_ax.set_title(f"{layers} hidden layer{'s' * (layers != 1)} of {self.width.value}, "
                              f"{self.activation.value}")
        self.summary.value = html.escape(text)
        _show(self.plot, fig, text)


def _control(name: str, spec: Any) -> widgets.ValueWidget:
    """An ipywidgets control from a widget (used as it is), ``(min, max, step[, value])`` or options."""
    if isinstance(spec, widgets.ValueWidget):
        if not spec.description:
            spec.description = name
        return spec
    if isinstance(spec, tuple) and len(spec) in (3, 4) and all(isinstance(v, numbers.Real) for v in spec):
        low, high, step = spec[:3]
        value = spec[3] if len(spec) == 4 else low
        if not (low < high and step > 0 and low <= value <= high):
            raise ValueError(f"control {name}: need min < max, step > 0 and min <= value <= max, got {spec}")
        kind = widgets.IntSlider if all(isinstance(v, numbers.Integral) for v in spec) else widgets.FloatSlider
        return kind(value=value, min=low, max=high, step=step, description=name, continuous_update=False)
    if isinstance(spec, (list, tuple)) and spec:
        return widgets.Dropdown(options=list(spec), description=name)
    raise TypeError(f"control {name}: expected an ipywidgets control, (min, max, step[, value]) or a list of "
                    f"options, got {spec!r}")


class Explorer(_Explorer):
    """A generic explorer: ``draw(figure, **values)`` redraws whenever a control changes.

    ``controls`` maps a name to an ipywidgets control (``FloatSlider``, ``IntSlider``,
    ``FloatLogSlider``, ``Dropdown``, ...), to ``(min, max, step[, value])`` (an int or float slider)
    or to a list of options (a dropdown); each control's value reaches ``draw`` under its name.
    ``draw`` draws on the cleared ``figure`` and returns the summary line (plain text).

    Attributes: ``controls`` (name -> control), ``summary`` (HTML), ``plot`` (Output), ``figure``,
    ``widget``; ``values`` and ``set(**values)`` read and move the controls from code.
    """

    def __init__(self, draw: Callable[..., str | None], controls: Mapping[str, Any],
                 figsize: tuple[float, float] = (6.4, 4.0)):
        if not callable(draw):
            raise TypeError(f"draw must be a function draw(figure, **values), got {type(draw).__name__}")
        if not controls:
            raise ValueError("an explorer needs at least one control")
        self.draw = draw
        self.controls = {name: _control(name, spec) for name, spec in controls.items()}
        self.summary = widgets.HTML()
        self.plot = widgets.Output()
        self.figure = Figure(figsize=figsize)
        self._controls = self.controls
        self._wire([self.summary, self.plot])

    def _update(self, change: Any = None) -> None:
        if self._paused:
            return
        self.figure.clear()
        try:
            text = self.draw(self.figure, **self.values) or ""
        except Exception as error:  # shown beside the controls: a callback's traceback would go unseen
            self.summary.value = (f'<span style="color:#c53030">{html.escape(type(error).__name__)}: '
                                  f"{html.escape(str(error))}</span>")
            self.plot.outputs = ()
            return
        self.summary.value = html.escape(text)
        _show(self.plot, self.figure, text)


_FILTERS = ("vertical edges", "horizontal edges", "blur")


def _filter(name: str, size: int) -> np.ndarray:
    """A ``size`` x ``size`` filter: an edge detector (weights rising from -1 to 1 across the
    columns or the rows; a single 0 for size 1) or a blur (every weight 1 / size^2)."""
    if name == "blur":
        return np.full((size, size), 1.0 / size**2)
    ramp = np.linspace(-1.0, 1.0, size) if size > 1 else np.zeros(1)
    columns = np.tile(ramp, (size, 1))
    return columns if name == "vertical edges" else columns.T.copy()


class ConvolutionExplorer(_Explorer):
    """Slide a square filter over an image: the output, and which input pixels one output's
    gradient reaches.

    Controls: ``kernel`` (size, 1 to 5), ``stride`` (1 to 3), ``padding`` (0 to 2), ``filter``
    ("vertical edges", "horizontal edges", "blur"), and ``row``, ``col``: the output position whose
    gradient is followed (their range follows the output's size). The default image is an 8x8
    handwritten digit from ``datasets.digits``.

    Four panels: the zero-padded input with the window of the chosen output; the output; dL/dx for
    an upstream gradient that is 1 at the chosen output and 0 elsewhere (the filter's weights, laid
    over the window's pixels: one output's gradient reaches exactly those); and how many outputs
    each input pixel feeds, which is dL/dx for an upstream of all ones through an all-ones filter.
    The gradients come from ``layers.conv2d``'s backward pass and ``layers.col2im``.

    Attributes after each redraw: ``weights`` (K, K), ``output`` (OH, OW), ``grad`` (H, W),
    ``reach`` (H, W) booleans (the input pixels inside the window), ``uses`` (H, W) integers;
    ``summary`` (HTML), ``plot`` (Output), ``figure``, ``widget``, and the controls.
    """

    def __init__(self, image: Any = None, kernel: int = 3, stride: int = 1, padding: int = 0,
                 filter: str = "vertical edges"):
        if image is None:
            images, labels = datasets.digits("test")
            image = images[int(np.flatnonzero(labels == 2)[0]), 0]
        image = np.asarray(image, dtype=float)
        if image.ndim != 2 or min(image.shape) < 5 or max(image.shape) > 32:
            raise ValueError(f"ConvolutionExplorer needs a 2-D image of 5x5 to 32x32 pixels, got shape {image.shape}")
        if filter not in _FILTERS:
            raise ValueError(f"filter must be one of {_FILTERS}, got {filter!r}")
        self.image = image
        self.kernel = widgets.IntSlider(value=kernel, min=1, max=5, description="kernel")
        self.stride = widgets.IntSlider(value=stride, min=1, max=3, description="stride")
        self.padding = widgets.IntSlider(value=padding, min=0, max=2, description="padding")
        self.filter = widgets.Dropdown(options=list(_FILTERS), value=filter, description="filter")
        self.row = widgets.IntSlider(value=0, min=0, max=0, description="output row")
        self.col = widgets.IntSlider(value=0, min=0, max=0, description="output col")
        for name, control, value in (("kernel", self.kernel, kernel), ("stride", self.stride, stride),
                                     ("padding", self.padding, padding)):
            if control.value != value:  # ipywidgets clamps silently; a wrong setting should be said
                raise ValueError(f"{name} must lie in [{control.min}, {control.max}], got {value!r}")
        for control in (self.kernel, self.stride, self.padding, self.filter, self.row, self.col):
            control.style.description_width = "initial"
        self.summary = widgets.HTML()
        self.plot = widgets.Output()
        self.figure = Figure(figsize=(7.0, 6.2))
        self._controls = {"kernel": self.kernel, "stride": self.stride, "padding": self.padding,
                          "filter": self.filter, "row": self.row, "col": self.col}
        self._wire([self.summary, self.plot])

    def set(self, **values: Any) -> None:
        """Move several controls at once: the geometry first, so that the output position is
        checked against the output's new size."""
        position = {name: values.pop(name) for name in ("row", "col") if name in values}
        if values:
            super().set(**values)
        if position:
            super().set(**position)

    def _out_size(self) -> tuple[int, int]:
        k, s, p = self.kernel.value, self.stride.value, self.padding.value
        h, w = self.image.shape
        return (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1

    def _update(self, change: Any = None) -> None:
        if self._paused:
            return
        oh, ow = self._out_size()
        self._paused = True  # the position sliders clamp themselves to the new size: one redraw only
        try:
            self.row.max, self.col.max = oh - 1, ow - 1
        finally:
            self._paused = False
        k, s, p = self.kernel.value, self.stride.value, self.padding.value
        r, c = self.row.value, self.col.value
        h, w = self.image.shape
        self.weights = _filter(self.filter.value, k)
        x = Tensor(self.image[None, None], requires_grad=True)
        y = layers.conv2d(x, self.weights[None, None], stride=s, padding=p)
        upstream = np.zeros(y.shape)
        upstream[0, 0, r, c] = 1.0
        y.backward(upstream)
        self.output, self.grad = y.data[0, 0], x.grad[0, 0]
        one = np.zeros((1, k * k, oh * ow))
        one[0, :, r * ow + c] = 1.0
        self.reach = layers.col2im(one, (1, 1, h, w), k, s, p)[0, 0] > 0
        self.uses = np.rint(layers.col2im(np.ones((1, k * k, oh * ow)), (1, 1, h, w), k, s, p)[0, 0]).astype(int)
        unused = int(np.count_nonzero(self.uses == 0))
        text = (f"kernel {k}x{k}, stride {s}, padding {p}: input {h}x{w} → output {oh}x{ow}; "
                f"the gradient of output ({r}, {c}) reaches {int(self.reach.sum())} input pixels; "
                f"each input pixel feeds {self.uses.min()} to {self.uses.max()} outputs")
        if unused:
            text += f" ({unused} pixel{'s' * (unused != 1)} feed none and always get a zero gradient)"
        self._draw(k, s, p, r, c)
        self.summary.value = html.escape(text)
        _show(self.plot, self.figure, text)

    def _draw(self, k: int, s: int, p: int, r: int, c: int) -> None:
        fig = self.figure
        fig.clear()
        (ax_in, ax_out), (ax_grad, ax_uses) = fig.subplots(2, 2)
        fig.subplots_adjust(left=0.04, right=0.98, bottom=0.03, top=0.92, wspace=0.12, hspace=0.25)
        h, w = self.image.shape
        padded = np.full((h + 2 * p, w + 2 * p), np.nan)
        padded[p:p + h, p:p + w] = self.image
        greys = _cmap("Greys", bad="#f3e6c8")
        ax_in.imshow(padded, cmap=greys, vmin=0, vmax=max(float(np.nanmax(padded)), 1e-12),
                     extent=(-p - 0.5, w + p - 0.5, h + p - 0.5, -p - 0.5))
        ax_in.add_patch(Rectangle((c * s - p - 0.5, r * s - p - 0.5), k, k, fill=False, edgecolor="#dd6b20",
                                  linewidth=2.5))
        ax_in.set_title(f"input {h}x{w}" + (f", padded by {p} (beige)" if p else "") + ", window", fontsize=10)
        limit = max(float(np.abs(self.output).max()), 1e-12)
        ax_out.imshow(self.output, cmap=_cmap("RdBu_r"), vmin=-limit, vmax=limit)
        ax_out.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="#dd6b20", linewidth=2.5))
        ax_out.set_title(f"output {self.output.shape[0]}x{self.output.shape[1]} ({self.filter.value})", fontsize=10)
        limit = max(float(np.abs(self.grad).max()), 1e-12)
        ax_grad.imshow(self.grad, cmap=_cmap("RdBu_r"), vmin=-limit, vmax=limit)
        for i, j in zip(*np.nonzero(self.reach)):
            ax_grad.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#dd6b20", linewidth=1))
        ax_grad.set_title(f"dL/dx for dL/dy = 1 at output ({r}, {c})", fontsize=10)
        ax_uses.imshow(self.uses, cmap=_cmap("Blues"), vmin=0, vmax=max(int(self.uses.max()), 1) * 1.4)
        for (i, j), n in np.ndenumerate(self.uses):
            ax_uses.text(j, i, str(n), ha="center", va="center", fontsize=8,
                         color="#c53030" if n == 0 else "#1a202c")
        ax_uses.set_title("outputs each input pixel feeds", fontsize=10)
        for ax in (ax_in, ax_out, ax_grad, ax_uses):
            ax.set_xticks([])
            ax.set_yticks([])


def _cmap(name: str, bad: str | None = None) -> Any:
    """A copy of a matplotlib colour map, with ``bad`` as the colour of nan cells."""
    cmap = matplotlib.colormaps[name]
    return cmap.with_extremes(bad=bad) if bad is not None else cmap


__all__ = ["ConvolutionExplorer", "Explorer", "GraphExplorer", "SweepStepper", "TrainingExplorer"]
