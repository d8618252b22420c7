"""What reverse mode costs in time and memory (lesson 07).

- ``chain_cost`` and ``multiply_chain``: the multiply-adds of a chain of Jacobians, multiplied from
  the loss side (vector times matrix) or from the input side (matrix times matrix).
- ``plain_backward`` and ``checkpointed_backward``: backward needs the activations that forward
  stored, so memory grows with depth; checkpointing keeps every k-th activation and recomputes
  the rest, trading time for memory. ``traced_peak`` measures the memory a call really uses, to
  set beside their model.
- ``rnn_unroll`` and ``bptt_grad_norms``: backpropagation through time in a recurrent net whose
  weights are shared by every step, and how the gradient shrinks or grows with the number of steps.
"""
from __future__ import annotations

import numbers
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from .tensor import Tensor


# --- the cost of a chain of Jacobians --------------------------------------------------------------------


def _check_sizes(sizes: Sequence[int]) -> list[int]:
    sizes = list(sizes)
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
        raise ValueError(f"sizes must be at least two positive integers [|x|, |z1|, ..., 1], got {sizes}")
    return [int(s) for s in sizes]


def chain_cost(sizes: Sequence[int], order: Literal["reverse", "forward"] = "reverse") -> int:
    """Multiply-adds to multiply the chain dl/dz_k dz_k/dz_(k-1) ... dz1/dx in the given order.

    ``sizes = [s_0, s_1, ..., s_k, s_(k+1)] = [|x|, |z1|, ..., |zk|, 1]``; the Jacobian dz_i/dz_(i-1)
    is s_i x s_(i-1), and an (a x b) times (b x c) product costs a b c multiply-adds.

    - "reverse" starts from the loss side: every product is a row vector (1 x s_i) times a matrix,
      cost sum_{i=1..k} s_(k+1) s_i s_(i-1) (= sum of s_i s_(i-1) for a scalar loss).
    - "forward" starts from the input side: every product is matrix times matrix,
      cost sum_{i=2..k+1} s_i s_(i-1) s_0.

    Example with three layers, sizes = [1000, 500, 200, 10, 1]:
    reverse = 10*200 + 200*500 + 500*1000 = 602,000;
    forward = 200*500*1000 + 10*200*1000 + 1*10*1000 = 102,010,000.
    """
    s = _check_sizes(sizes)
    if order == "reverse":
        return sum(s[-1] * s[i] * s[i - 1] for i in range(1, len(s) - 1))
    if order == "forward":
        return sum(s[i] * s[i - 1] * s[0] for i in range(2, len(s)))
    raise ValueError(f'order must be "reverse" or "forward", got {order!r}')


def multiply_chain(jacobians: Sequence[np.ndarray], order: Literal["reverse", "forward"] = "reverse") -> tuple[np.ndarray, int]:
    """Multiply the chain ``jacobians[0] @ jacobians[1] @ ... @ jacobians[-1]`` in the given order.

    ``jacobians`` are written as in the chain rule, loss side first: [dl/dz_k, ..., dz1/dx].
    "reverse" multiplies from the left (loss side), "forward" from the right (input side).
    Returns the product and the multiply-adds spent, counted from the shapes actually multiplied.
    """
    if order not in ("reverse", "forward"):
        raise ValueError(f'order must be "reverse" or "forward", got {order!r}')
    mats = [np.atleast_2d(np.asarray(j, dtype=np.float64)) for j in jacobians]
    if not mats or any(m.ndim != 2 for m in mats):
        raise ValueError("jacobians must be a non-empty list of matrices")
    for left, right in zip(mats, mats[1:]):
        if left.shape[1] != right.shape[0]:
            raise ValueError(f"Jacobians of shapes {left.shape} and {right.shape} do not chain: "
                             f"{left.shape[1]} columns against {right.shape[0]} rows")
    cost = 0
    if order == "reverse":
        product = mats[0]
        for m in mats[1:]:
            cost += product.shape[0] * product.shape[1] * m.shape[1]
            product = product @ m
    else:
        product = mats[-1]
        for m in reversed(mats[:-1]):
            cost += m.shape[0] * m.shape[1] * product.shape[1]
            product = m @ product
    return product, cost


# --- gradient checkpointing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointReport:
    """The loss, the most activation elements held for backward at any one time, and the layers
    run a second time to recompute activations that were not kept."""

    loss: float
    stored_elements: int
    recomputed_layers: int


Layer = Callable[[Tensor], Tensor]


def _as_tensor(a: Any) -> Tensor:
    """Tensors as they are; arrays become constant Tensors."""
    return a if isinstance(a, Tensor) else Tensor(np.asarray(a, dtype=np.float64))


def _check_layers(layers: Sequence[Layer]) -> list[Layer]:
    layers = list(layers)
    if not layers:
        raise ValueError("layers is empty: give at least one layer")
    for i, layer in enumerate(layers):
        if not callable(layer):
            raise TypeError(f"layers[{i}] is a {type(layer).__name__}, not a callable on Tensors")
    return layers


def _apply(layers: Sequence[Layer], i: int, h: Tensor) -> Tensor:
    out = layers[i](h)
    if not isinstance(out, Tensor):
        raise TypeError(f"layers[{i}] returned a {type(out).__name__}, not a Tensor")
    return out


def _forward(layers: Sequence[Layer], indices: range, h: Tensor) -> tuple[Tensor, int]:
    """The output of the layers at ``indices`` run from ``h``, with their graph, and the elements
    that graph keeps for backward by the model: ``h`` and every layer's output.

    Only the output is returned, not the activations on the way: a list of them would keep their
    tensors, and with them their gradients, alive for the whole backward pass.
    """
    stored = h.size
    for i in indices:
        h = _apply(layers, i, h)
        stored += h.size
    return h, stored


def _loss(loss_fn: Callable[[Tensor], Tensor], out: Tensor) -> Tensor:
    loss = loss_fn(out)
    if not isinstance(loss, Tensor) or loss.size != 1:
        shape = loss.shape if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"loss_fn must return a single-element Tensor, got {shape}")
    if not loss.requires_grad:
        raise ValueError("the loss does not depend on any Tensor that requires grad")
    return loss


def _elements(tensors: Sequence[Tensor]) -> int:
    return sum(t.size for t in tensors)


T = TypeVar("T")


def traced_peak(fn: Callable[[], T]) -> tuple[T, int]:
    """Run ``fn()`` once; its result and the most bytes it had allocated at any one time.

    Measured with ``tracemalloc``, which sees every allocation that Python and numpy make, above
    what was allocated before the call: the memory a model like ``stored_elements`` is about.
    Tracing slows allocation down, so time ``fn`` in a separate run.
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return result, peak


def plain_backward(layers: Sequence[Layer], x: Any, loss_fn: Callable[[Tensor], Tensor]) -> CheckpointReport:
    """Forward through every layer keeping all activations, then one backward call.

    Stores x and every layer's output: sum_{i=0..L} |a_i| elements (a_0 = x), the model that
    ``stored_elements`` reports. Gradients accumulate into the layers' parameters (and into x if
    it requires grad), as usual.
    """
    layers = _check_layers(layers)
    out, stored = _forward(layers, range(len(layers)), _as_tensor(x))
    loss = _loss(loss_fn, out)
    del out  # a tensor still held during backward gets a .grad, which nothing here reads
    loss.backward()
    return CheckpointReport(loss.item(), stored, 0)


def _restart(h: Tensor, x: Tensor) -> Tensor:
    """The input of a recomputed segment: x itself for the first (its gradient belongs to the
    caller), a fresh leaf elsewhere, so that the segment's backward stops there."""
    return x if h is x else Tensor(h.data, requires_grad=True)


def _segment_backward(layers: Sequence[Layer], segment: range, start: Tensor, upstream: np.ndarray) -> int:
    """Recompute ``segment`` from ``start`` and carry ``upstream`` = dL/d(its output) back to
    ``start.grad``; the elements the segment kept. Its graph goes when this returns."""
    out, stored = _forward(layers, segment, start)
    out.backward(grad=upstream)
    return stored


def checkpointed_backward(layers: Sequence[Layer], x: Any, loss_fn: Callable[[Tensor], Tensor],
                          every: int) -> CheckpointReport:
    """The gradients of ``plain_backward``, keeping only the input of every ``every``-th layer.

    The layers are cut into segments of ``every`` layers. Forward keeps the input of each segment
    (a checkpoint, without the graph that produced it) and runs the last segment with its graph.
    Backward goes through the segments from last to first: each is recomputed from its
    checkpoint, and ``backward(grad=...)`` on its output carries dL/d(its output) back to
    dL/d(its input), which becomes the upstream gradient of the segment before.

    ``stored_elements`` is the model's peak: the checkpoints still held plus the input and outputs
    of the segment being worked on, at most (S + every) d elements with L layers of equal width d
    and S segments, instead of (L + 1) d. Every layer outside the last segment runs twice.
    """
    layers = _check_layers(layers)
    if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}")
    x = _as_tensor(x)
    segments = [range(s, min(s + every, len(layers))) for s in range(0, len(layers), every)]
    checkpoints = []
    h = x
    for segment in segments[:-1]:
        checkpoints.append(h)
        for i in segment:
            h = _apply(layers, i, h).detach()  # the layer's graph is dropped with its undetached output
    start = _restart(h, x)
    del h  # the last checkpoint lives on as the start of the last segment only
    out, stored = _forward(layers, segments[-1], start)
    peak = _elements(checkpoints) + stored
    loss = _loss(loss_fn, out)
    del out
    loss.backward()
    value = loss.item()
    del loss  # and with it the last segment's graph, before the first recomputation
    upstream = start.grad
    recomputed = 0
    for segment in reversed(segments[:-1]):
        if upstream is None:  # no gradient reaches this segment, nor any before it
            break
        start = _restart(checkpoints.pop(), x)
        stored = _segment_backward(layers, segment, start, upstream)
        recomputed += len(segment)
        peak = max(peak, _elements(checkpoints) + stored)
        upstream = start.grad
    return CheckpointReport(value, peak, recomputed)


# --- backpropagation through time ---------------------------------------------------------------------------

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": Tensor.tanh,
    "sigmoid": Tensor.sigmoid,
    "relu": Tensor.relu,
    "identity": lambda h: h,
}


def rnn_unroll(W_hh: Any, W_xh: Any, xs: Sequence[Any], h0: Any, activation: str = "tanh",
               truncate: int | None = None) -> list[Tensor]:
    """Hidden states [h_1, ..., h_T] of h_t = act(W_hh h_(t-1) + W_xh x_t), one step per x_t.

    Shapes: W_hh (H, H), W_xh (H, D), h0 (H,), each x_t (D,). The same weight tensors serve every
    step, so their gradients sum the contributions of all steps. With ``truncate=k`` the state
    passed on after steps k, 2k, ... is detached: backward stops there (truncated BPTT).
    Arrays become constant Tensors; pass Tensors with requires_grad to train the weights.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if truncate is not None and (isinstance(truncate, bool) or not isinstance(truncate, numbers.Integral) or truncate < 1):
        raise ValueError(f"truncate must be a positive integer or None, got {truncate!r}")
    act = ACTIVATIONS[activation]
    W_hh, W_xh, h = _as_tensor(W_hh), _as_tensor(W_xh), _as_tensor(h0)
    if W_hh.ndim != 2 or W_hh.shape[0] != W_hh.shape[1]:
        raise ValueError(f"W_hh must be square (H, H), got shape {W_hh.shape}")
    n = W_hh.shape[0]
    if h.shape != (n,):
        raise ValueError(f"h0 has shape {h.shape} but W_hh has shape {W_hh.shape}: h0 must be ({n},)")
    if W_xh.ndim != 2 or W_xh.shape[0] != n:
        raise ValueError(f"W_xh has shape {W_xh.shape} but W_hh has shape {W_hh.shape}: W_xh must be ({n}, D)")
    states = []
    for t, x in enumerate(xs, start=1):
        x = _as_tensor(x)
        if x.shape != (W_xh.shape[1],):
            raise ValueError(f"xs[{t - 1}] has shape {x.shape} but W_xh has shape {W_xh.shape}: "
                             f"each x_t must be ({W_xh.shape[1]},)")
        h = act(W_hh @ h + W_xh @ x)
        states.append(h)
        if truncate is not None and t % truncate == 0:
            h = h.detach()
    return states


def bptt_grad_norms(W_hh: Any, W_xh: Any, xs: Sequence[Any], h0: Any, activation: str = "tanh",
                    truncate: int | None = None,
                    loss_fn: Callable[[list[Tensor]], Tensor] | None = None) -> np.ndarray:
    """||dL/dh_t|| for t = 1..T after one backward through the unrolled net, shape (T,).

    The loss is ``loss_fn(states)``, by default sum(h_T), so that dL/dh_t measures how much step t
    still influences the end: it is multiplied by W_hh^T and act' once per step back, shrinking
    when they are small and growing when they are large. A step that no gradient reaches (cut
    off by ``truncate``) has norm 0. The caller's tensors are not touched: the backward runs on
    fresh tensors sharing their data.
    """
    W_hh = Tensor(_as_tensor(W_hh).data, requires_grad=True)
    W_xh = Tensor(_as_tensor(W_xh).data, requires_grad=True)
    states = rnn_unroll(W_hh, W_xh, xs, _as_tensor(h0).detach(), activation, truncate)
    if not states:
        raise ValueError("xs is empty: unroll at least one step")
    loss = states[-1].sum() if loss_fn is None else loss_fn(states)
    if not isinstance(loss, Tensor) or loss.size != 1:
        raise ValueError("loss_fn must return a single-element Tensor")
    loss.backward()
    return np.array([0.0 if h.grad is None else float(np.linalg.norm(h.grad)) for h in states])
