"""The modular API: ``Function`` with a context object, as in PyTorch (lesson 04).

A ``Function`` subclass pairs a static ``forward(ctx, *inputs)``, which computes the output from
plain numbers or arrays and stashes what backward will need with ``ctx.save_for_backward``, with a
static ``backward(ctx, grad_output)``, which returns one gradient per input (``None`` for an input
that needs none). ``MyFunction.apply(*inputs)`` runs forward and records the node in the graph.

The same ``Function`` works on ``Value`` (numbers in, numbers out) and on ``Tensor`` (numpy arrays
in, arrays out): ``apply`` asks the type of its node arguments to build the output node.
"""
from __future__ import annotations

from typing import Any


class Context:
    """What forward leaves for backward.

    ``save_for_backward(*xs)`` stores values, read back as ``saved_tensors``;
    ``needs_input_grad[i]`` says whether input ``i`` needs a gradient, so backward can skip work.
    Any other attribute (``ctx.axis = 1``) may be set freely for non-array data; names starting
    with an underscore belong to the engine, which makes the context of a ``Tensor`` operation its
    node in the graph (see ``backprop_lib.tensor``).
    """

    # the engine's fields have slots of their own (cheaper to set and to free, and an operation that
    # saves nothing then needs no dictionary at all); what forward sets goes into __dict__
    __slots__ = ("__dict__", "needs_input_grad", "grad_slots",
                 "_fn", "_inputs", "_output", "_shape", "_dtype", "_recorded_at")
    saved_tensors: tuple = ()

    def save_for_backward(self, *xs: Any) -> None:
        self.saved_tensors = xs


class Function:
    """Base class of differentiable operations; subclass it and define forward and backward."""

    @staticmethod
    def forward(ctx: Context, *inputs: Any) -> Any:
        raise NotImplementedError("a Function subclass must define forward(ctx, *inputs)")

    @staticmethod
    def backward(ctx: Context, grad_output: Any) -> Any:
        raise NotImplementedError("a Function subclass must define backward(ctx, grad_output)")

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Any:
        """Run ``forward`` on the raw data of ``inputs`` and record the result in the graph.

        ``options`` (such as ``axis=0``) go to ``forward`` unchanged and are not differentiated.
        Only inputs that require a gradient become parents of the output node; when none does,
        the output is a plain constant node and no graph is kept.
        """
        node_type = None
        raw, needs, slots, parents = [], [], [], []
        for i, x in enumerate(inputs):  # one pass: this runs for every operation of every forward pass
            kind = type(x)
            if kind is node_type or getattr(kind, "_is_node", False):
                if node_type is None:
                    node_type = kind
                elif kind is not node_type:
                    raise TypeError(f"{cls.__name__}.apply: cannot mix {node_type.__name__} and {kind.__name__}")
                raw.append(x.data)
                if x.requires_grad:
                    needs.append(True)
                    slots.append(i)
                    parents.append(x)
                    continue
            else:
                raw.append(x)
            needs.append(False)
        if node_type is None:
            raise TypeError(f"{cls.__name__}.apply needs at least one Value or Tensor input")
        ctx = Context()
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *raw, **options)
        if not slots:
            return node_type(out)
        ctx.grad_slots = tuple(slots)
        return node_type._from_function(out, cls, ctx, tuple(parents))
