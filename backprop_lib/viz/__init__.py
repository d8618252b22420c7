"""Drawings for the course: computational graphs and training plots, with matplotlib only.

- ``layout``: where the nodes of a graph go (layers left to right, few edge crossings).
- ``graphs``: boxes and arrows for an edge-dict ``Graph`` or the graph behind a ``Value`` or
  ``Tensor``, with values and derivatives on them.
- ``plots``: loss curves, decision boundaries, gradient norms and the lessons' measurements.
- ``style``: the course's colours and how numbers are written.

Every function returns the Axes it drew on and never calls ``plt.show()``. ``ax`` may be an Axes,
``None`` (a new pyplot figure) or, for the graph drawings, a ``Figure``, which is cleared and
resized to fit the graph: that is how the widgets redraw into one figure.
"""
from .graphs import draw_graph, draw_tensor_graph, draw_value_graph
from .layout import layered_layout
from .plots import (moving_average, plot_decision_boundary, plot_error_vs_h, plot_grad_norm_history, plot_grad_norms,
                    plot_loss_curves, plot_path_counts)
from .style import PALETTE, format_number

__all__ = ["PALETTE", "draw_graph", "draw_tensor_graph", "draw_value_graph", "format_number", "layered_layout",
           "moving_average", "plot_decision_boundary", "plot_error_vs_h", "plot_grad_norm_history", "plot_grad_norms",
           "plot_loss_curves", "plot_path_counts"]
