"""Plots of training and of the lessons' measurements; each returns the Axes it drew on."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, to_rgba
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .style import _CLASS_COLOURS


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
                           ax: Axes | None = None, resolution: int = 200, X_val: np.ndarray | None = None,
                           y_val: np.ndarray | None = None, legend: bool = False,
                           class_names: Sequence[str] | None = None) -> Axes:
    """Regions where ``predict`` chooses each class, with the points ``X`` (N, 2) coloured by ``y`` (N,).

    ``predict`` maps an (M, 2) array of points to M class indices; it is called once, on a
    ``resolution`` x ``resolution`` grid covering the data with a margin. Validation points
    ``X_val``, ``y_val`` (optional) are drawn as triangles over the training points' circles.
    ``legend`` adds a legend to the right of the axes: one entry per class (``class_names``, by
    default "class 0", "class 1", ...) and, with validation points, one per marker.
    """
    X, y = _points("X", X, y)
    shown = [X]
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if X_val is not None:
        X_val, y_val = _points("X_val", X_val, y_val)
        shown.append(X_val)
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    ax = _axes(ax, (5.0, 5.0))
    every = np.concatenate(shown)
    lo, hi = every.min(axis=0), every.max(axis=0)
    pad = 0.1 * np.maximum(hi - lo, 1e-9)
    gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    classes = np.asarray(predict(grid))
    if classes.shape != (len(grid),):
        raise ValueError(f"predict must return one class index per point, shape ({len(grid)},); got {classes.shape}")
    n_classes = int(max(classes.max(), y.max(), -1 if y_val is None else y_val.max())) + 1
    if class_names is not None and len(class_names) < n_classes:
        raise ValueError(f"class_names names {len(class_names)} classes, but there are {n_classes}")
    colours = [_CLASS_COLOURS[k % len(_CLASS_COLOURS)] for k in range(n_classes)]
    pale = ListedColormap([_blend(c, 0.25) for c in colours])
    ax.contourf(gx, gy, classes.reshape(gx.shape), levels=np.arange(n_classes + 1) - 0.5, cmap=pale)
    ax.scatter(X[:, 0], X[:, 1], c=[colours[int(k)] for k in y], s=14, edgecolors="white", linewidths=0.4)
    if X_val is not None:
        ax.scatter(X_val[:, 0], X_val[:, 1], c=[colours[int(k)] for k in y_val], s=30, marker="^",
                   edgecolors="black", linewidths=0.6)
    ax.set_xlim(gx.min(), gx.max())
    ax.set_ylim(gy.min(), gy.max())
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    if legend:
        names = class_names or [f"class {k}" for k in range(n_classes)]
        handles = [Patch(facecolor=_blend(c, 0.25), edgecolor=c, label=str(name)) for c, name in zip(colours, names)]
        if X_val is not None:
            handles += [Line2D([], [], linestyle="", marker="o", markersize=5, color="#718096", label="training point"),
                        Line2D([], [], linestyle="", marker="^", markersize=6, color="#718096",
                               markeredgecolor="black", label="validation point")]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=9)
    return ax


def _points(name: str, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as an (N, 2) float array and ``y`` as its (N,) labels, or a ValueError naming ``name``."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2), got {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"{'y' if name == 'X' else 'y_val'} must have shape ({len(X)},) to match {name}, got {y.shape}")
    return X, y


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


def plot_grad_norm_history(norms_per_step: Sequence[Sequence[float]], ax: Axes | None = None, window: int = 1,
                           labels: Sequence[str] | None = None, log: bool = True) -> Axes:
    """Each layer's gradient norm over training: ``norms_per_step[t][l]`` is layer l's norm at step t.

    With ``window`` > 1 each layer's raw curve is drawn faint and its moving average over the last
    ``window`` steps (fewer at the start) on top; on a log axis the average is taken of the
    logarithms (a geometric mean), so that one spike does not lift the whole window. ``labels``
    names the layers (by default "layer 1", "layer 2", ..., input side first).
    """
    norms = np.asarray(norms_per_step, dtype=float)
    if norms.ndim != 2 or len(norms) == 0 or norms.shape[1] == 0:
        raise ValueError(f"norms_per_step must be a (steps, layers) table of norms, got shape {norms.shape}")
    if np.any(norms < 0) or not np.all(np.isfinite(norms)) or (log and np.any(norms == 0)):
        raise ValueError("gradient norms must be finite and non-negative (and positive on a log axis)")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive whole number of steps, got {window!r}")
    names = [f"layer {l + 1}" for l in range(norms.shape[1])] if labels is None else list(labels)
    if len(names) != norms.shape[1]:
        raise ValueError(f"{len(names)} labels for {norms.shape[1]} layers")
    ax = _axes(ax)
    steps = np.arange(1, len(norms) + 1)
    for l, name in enumerate(names):
        colour = _CLASS_COLOURS[l % len(_CLASS_COLOURS)]
        if window == 1:
            ax.plot(steps, norms[:, l], linewidth=1.5, color=colour, label=name)
            continue
        ax.plot(steps, norms[:, l], linewidth=0.8, color=colour, alpha=0.3)
        ax.plot(steps, moving_average(norms[:, l], window, geometric=log), linewidth=2.0, color=colour,
                label=f"{name} ({window}-step average)")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("gradient norm")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(frameon=False)
    return ax


def moving_average(values: Sequence[float], window: int, geometric: bool = False) -> np.ndarray:
    """Mean of each value and the ``window - 1`` before it (fewer at the start); ``geometric``
    averages the logarithms instead (the values must then be positive)."""
    v = np.asarray(values, dtype=float)
    if geometric:
        v = np.log(v)
    total = np.cumsum(np.concatenate([[0.0], v]))
    counts = np.minimum(np.arange(1, len(v) + 1), window)
    ends = np.arange(1, len(v) + 1)
    mean = (total[ends] - total[ends - counts]) / counts
    return np.exp(mean) if geometric else mean


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
