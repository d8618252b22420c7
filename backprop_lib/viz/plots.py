"""Plots of training and of the lessons' measurements; each returns the Axes it drew on."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, to_rgba

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
