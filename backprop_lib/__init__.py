"""backprop_lib: the library behind the backpropagation course.

Layers, in the order the course builds them (each imports only from those above it):

- ``graph``: computational graphs with edge derivatives, paths, forward and reverse sweeps (01-02)
- ``gates``, ``gradcheck``: flat forward/backward gates and numerical gradient checks (03)
- ``engine``: ``Value``, the scalar autograd engine (04)
- ``function``: ``Function`` with ``ctx.save_for_backward`` (04)
- ``tensor``: ``Tensor`` on numpy arrays, one VJP per op (05)
- ``nn``, ``optim``, ``datasets``: layers, losses, optimisers, schedules, data sets (06)
- ``modes``, ``checkpoint``: dual numbers, Jacobians both ways, Hessian-vector products; the cost of
  Jacobian chains, gradient checkpointing, backpropagation through time (07)
- ``layers``: softmax, convolution, pooling, normalisation, dropout, residual blocks, attention;
  ``datasets.digits``, real 8x8 handwritten digits (08)
- ``viz``, ``widgets``: matplotlib drawings and ipywidgets explorers (import them explicitly)
"""
from . import checkpoint, datasets, gradcheck, layers, modes, nn, optim
from .engine import Value
from .function import Context, Function
from .graph import Expression, Graph, count_paths, forward_mode, reverse_mode, sum_over_paths, topological_order
from .tensor import Tensor, cross_entropy, mse, unbroadcast

__all__ = [
    "checkpoint",
    "datasets",
    "layers",
    "modes",
    "nn",
    "optim",
    "Context",
    "Expression",
    "Function",
    "Graph",
    "Tensor",
    "Value",
    "count_paths",
    "cross_entropy",
    "forward_mode",
    "gradcheck",
    "mse",
    "reverse_mode",
    "sum_over_paths",
    "topological_order",
    "unbroadcast",
]
__version__ = "0.1.0"
