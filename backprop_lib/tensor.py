"""The tensor engine: ``Tensor`` on numpy arrays, one vector-Jacobian product per op (lesson 05).

Every operation is a ``Function`` whose ``backward`` is a VJP: it receives the upstream gradient
dL/dY (the shape of the output) and returns dL/dX = J^T dL/dY for each input, without building
the Jacobian J. The engine (``Tensor.backward``) walks the graph in reverse topological order,
undoes broadcasting by summing each gradient down to its input's shape (``unbroadcast``), and adds
up the gradients of values used more than once.

Only tensors with ``requires_grad=True``, and what is computed from them, enter the graph: a
network's input data never gets a gradient, so no work is spent on one.

A backward pass needs the arrays its forward pass saved. Every in-place change the library makes
to a tensor (an optimiser's step) gives it a new version, ``_version``, read from a clock that all
tensors share (the number of such changes so far), so that a node notes a single number: the
clock when it was recorded. ``backward()`` raises a ``RuntimeError`` if an input whose array a
node saved has a newer version than the node, as PyTorch does. PyTorch saves only what the
needed gradients read, so it lets ``x @ W`` with a constant ``x`` through a step of ``W``; here
MatMul and Mul keep both operands, and the check refuses that too. Writes to ``.data`` by user
code (``w.data[0] += h`` in a gradient check) are not counted: they change what an old graph
computes without a word.

The graph holds what backward needs and nothing more (lesson 07). Its nodes are the operations'
contexts, as PyTorch's ``grad_fn`` nodes are: a tensor points at the context that made it, and a
context at its inputs' contexts (or, for a leaf, the leaf tensor itself), never at an
intermediate tensor. So the output arrays of ``h @ W`` and of ``+ b`` in ``(h @ W + b).tanh()``
are freed as soon as the expression is done: only the arrays a backward rule saved stay alive.
A context keeps a weak reference to its output tensor, so backward still gives ``.grad`` to every
intermediate tensor the program holds, and to no other: the gradient of a tensor nobody can read
is freed once it has been passed on to the inputs.
"""
from __future__ import annotations

import math
import numbers
import weakref
from operator import attrgetter
from typing import Any

import numpy as np

from .function import Context, Function
from .graph import dependency_order

_inputs_of = attrgetter("_inputs")


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` down to ``shape``: the inverse of numpy broadcasting ``shape`` up to ``grad.shape``.

    Leading axes that broadcasting added are summed away; axes where ``shape`` has 1 are summed
    with ``keepdims``. Raises ``ValueError`` naming both shapes when ``shape`` could not have been
    broadcast to ``grad.shape``.
    """
    grad = np.asarray(grad)
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0 and shape and grad.shape[extra:] == shape:  # the common case: a bias added to every row
        return grad.sum(axis=tuple(range(extra)))
    if extra < 0 or any(n not in (1, m) for n, m in zip(shape, grad.shape[extra:])):
        raise ValueError(f"a gradient of shape {grad.shape} does not fit an input of shape {shape}")
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    return out.reshape(shape)


def _unpromoting(x: Any) -> Any:
    """A numpy scalar as the Python number it holds: as in PyTorch, a scalar never changes a tensor's dtype."""
    return x.item() if isinstance(x, np.generic) else x


def _to_array(data: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        return data.data
    arr = np.asarray(data)
    kind = arr.dtype.kind
    if kind == "f":
        return arr
    if kind in "iub":
        return arr.astype(np.float64)
    raise TypeError(f"Tensor needs real numbers, got an array of dtype {arr.dtype} from {type(data).__name__}")


class Tensor:
    """A numpy array in a computational graph, with a PyTorch-like interface.

    ``Tensor(array_like, requires_grad=False)``; integer and boolean data become float64, float32
    stays float32, and a Python or numpy scalar on the other side of an operator keeps it so
    (``x / np.float64(2)`` is float32 for a float32 ``x``). A numpy array is used as it is, not
    copied (like ``torch.from_numpy``). ``.grad`` is ``None`` until ``backward()`` reaches the
    tensor, then an array of ``.data``'s shape and dtype.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "label", "_version", "__weakref__")
    _is_node = True
    _inputs = ()  # a tensor is a node of the graph only as a leaf: a context stands for the others
    _clock = 0  # in-place changes made so far to any tensor: where versions come from
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data: Any, requires_grad: bool = False, label: str = ""):
        self.data = _to_array(data)
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self.label = label
        self._version = 0

    @classmethod
    def _from_function(cls, out: Any, fn: type, ctx: Context, parents: tuple) -> Tensor:
        """The output of ``fn``, and its context as the graph's node: the operation, its inputs'
        nodes, a weak reference back to the output, and the output's shape and dtype (which
        backward checks gradients against without keeping the array)."""
        t = object.__new__(cls)
        t.data = data = out if isinstance(out, np.ndarray) else np.asarray(out)
        t.grad = None
        t.requires_grad = True
        t._ctx = ctx
        t.label = ""
        t._version = 0
        ctx._fn = fn
        n = len(parents)  # one or two for almost every operation: unpacked, a third of a comprehension's cost
        if n == 1:
            (p,) = parents
            ctx._inputs = (p._ctx or p,)
        elif n == 2:
            p, q = parents
            ctx._inputs = (p._ctx or p, q._ctx or q)
        else:
            ctx._inputs = tuple([p._ctx or p for p in parents])
        ctx._output = weakref.ref(t)
        ctx._shape = data.shape
        ctx._dtype = data.dtype
        ctx._recorded_at = Tensor._clock
        return t

    def _bump_version(self) -> None:
        """Give the tensor a new version: its data has just been changed in place."""
        Tensor._clock += 1
        self._version = Tensor._clock

    # --- array-like conveniences ----------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def _fn(self) -> type | None:
        """The ``Function`` that computed this tensor, None for a leaf."""
        return None if self._ctx is None else self._ctx._fn

    @property
    def _prev(self) -> tuple[Tensor, ...]:
        """The tensors requiring a gradient that this one was computed from, for drawing the graph.

        An input that the program no longer holds is gone, arrays and all; it is stood in for by a
        tensor of its shape and dtype whose values are nan, kept as long as anything holds it.
        """
        return () if self._ctx is None else tuple(map(_tensor_of, self._ctx._inputs))

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}{flag})"

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item() needs a single-element tensor, this one has shape {self.shape}")
        return float(self.data.reshape(()))

    def numpy(self) -> np.ndarray:
        return self.data

    def detach(self) -> Tensor:
        """The same data, outside the graph."""
        return Tensor(self.data)

    # --- operators --------------------------------------------------------------------------------

    def __add__(self, other): return Add.apply(self, _unpromoting(other))
    def __radd__(self, other): return Add.apply(_unpromoting(other), self)
    def __sub__(self, other): return Sub.apply(self, _unpromoting(other))
    def __rsub__(self, other): return Sub.apply(_unpromoting(other), self)
    def __mul__(self, other): return Mul.apply(self, _unpromoting(other))
    def __rmul__(self, other): return Mul.apply(_unpromoting(other), self)
    def __truediv__(self, other): return Div.apply(self, _unpromoting(other))
    def __rtruediv__(self, other): return Div.apply(_unpromoting(other), self)
    def __matmul__(self, other): return MatMul.apply(self, other)
    def __rmatmul__(self, other): return MatMul.apply(other, self)
    def __neg__(self): return Neg.apply(self)
    def __getitem__(self, index): return GetItem.apply(self, index=index)

    def __pow__(self, k: float) -> Tensor:
        if isinstance(k, (Tensor, bool)) or not isinstance(k, numbers.Real):
            raise TypeError(f"Tensor ** k needs a number k, got {type(k).__name__}")
        return Pow.apply(self, k=_unpromoting(k))

    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        return Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        return Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis`` (None for all, an int or a tuple of ints); see ``Max`` for ties."""
        return Max.apply(self, axis=axis, keepdims=keepdims)

    def relu(self) -> Tensor: return ReLU.apply(self)
    def sigmoid(self) -> Tensor: return Sigmoid.apply(self)
    def tanh(self) -> Tensor: return Tanh.apply(self)
    def exp(self) -> Tensor: return Exp.apply(self)
    def log(self) -> Tensor: return Log.apply(self)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return LogSoftmax.apply(self, axis=axis)

    def reshape(self, *shape) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, shape=shape)

    def transpose(self, *axes) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return Transpose.apply(self, axes=axes or None)

    @property
    def T(self) -> Tensor:
        return Transpose.apply(self, axes=None)

    # --- reverse mode -------------------------------------------------------------------------------

    def backward(self, grad: Any = None) -> None:
        """Accumulate dL/d(leaf) into ``.grad`` of every leaf that requires a gradient.

        ``grad`` is dL/d(self); it may be omitted only for a single-element tensor (then it is 1).
        Intermediate tensors that the program still holds get this call's gradient in ``.grad``
        (replaced, not accumulated), so calling ``backward`` twice gives leaves exactly twice the
        gradient. The gradient of an intermediate tensor that nothing holds any more is dropped
        as soon as it has been passed on: nobody could read it.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: "
                               "create its inputs with requires_grad=True")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a single-element tensor, but this one has "
                    f"shape {self.shape}: pass grad=dL/d(this tensor) of that shape")
            grad = np.ones(self.data.shape, self.data.dtype)
        else:
            grad = np.array(grad.data if isinstance(grad, Tensor) else grad, dtype=self.data.dtype)  # a copy
            if grad.shape != self.shape:
                raise ValueError(f"backward(): gradient of shape {grad.shape} given for a tensor of shape {self.shape}")
        root = self._ctx or self
        topo = dependency_order(root, _inputs_of)
        clock = Tensor._clock
        grads = {root: grad}
        del grad
        for node in reversed(topo):
            g = grads.pop(node)
            inputs = node._inputs
            if not inputs:  # a leaf tensor
                node.grad = g if node.grad is None else _add(node.grad, g)
                continue
            held = node._output()
            if held is not None:
                held.grad = g
            fn = node._fn
            if node._recorded_at != clock and node.saved_tensors:  # a tensor changed in place since forward
                _check_saved_inputs(node)
            out = fn.backward(node, g)
            if not isinstance(out, tuple):
                out = (out,)
            for parent, slot in zip(inputs, node.grad_slots):
                try:
                    pg = out[slot]
                except IndexError:
                    pg = None
                if pg is None:
                    raise RuntimeError(f"{fn.__name__}.backward returned no gradient for input {slot}, which requires one")
                # the common case (an owned array of the right shape and dtype for an intermediate
                # node) needs no call; everything else goes through _fit
                if parent._inputs:
                    if pg.__class__ is not np.ndarray or pg.shape != parent._shape or pg.dtype != parent._dtype:
                        pg = _fit(pg, parent._shape, parent._dtype, False, fn, slot, g)
                else:
                    pg = _fit(pg, parent.data.shape, parent.data.dtype, True, fn, slot, g)
                acc = grads.get(parent)
                grads[parent] = pg if acc is None else _add(acc, pg)
            out = pg = acc = None  # hold no gradient past its node: a deep graph frees them as it goes


def _tensor_of(node: Context | Tensor) -> Tensor:
    """The tensor a node of the graph stands for: a leaf itself, else its output or a stand-in."""
    if not node._inputs:
        return node
    t = node._output()
    if t is None:
        t = Tensor(np.broadcast_to(np.array(np.nan, node._dtype), node._shape), requires_grad=True)
        t._ctx = node
        node._output = weakref.ref(t)  # the same stand-in for every consumer while it is held
    return t


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a + b, an array even where both are 0-d (numpy's sum of those is a numpy scalar)."""
    total = a + b
    return total if total.__class__ is np.ndarray else np.asarray(total)


def _check_saved_inputs(ctx: Context) -> None:
    """Raise if an input whose array the node's forward saved was changed in place since."""
    for parent, slot in zip(ctx._inputs, ctx.grad_slots):
        t = parent._output() if parent._inputs else parent
        if t is not None and t._version > ctx._recorded_at and any(
                isinstance(s, np.ndarray) and np.shares_memory(s, t.data) for s in ctx.saved_tensors):
            name = f" '{t.label}'" if t.label else ""
            raise RuntimeError(
                f"backward through {ctx._fn.__name__}: its input {slot}, the tensor{name} of shape "
                f"{t.shape}, was changed in place after the forward pass saved it, by an optimiser "
                f"step or another in-place update; run the forward pass again after changing it")


def _fit(pg: Any, shape: tuple[int, ...], dtype: np.dtype, leaf: bool, fn: type, slot: int,
         upstream: np.ndarray) -> np.ndarray:
    """Check a returned gradient, undo broadcasting, match dtype; a leaf never gets an alias."""
    if not isinstance(pg, np.ndarray):
        pg = np.asarray(pg)
    if pg.shape != shape:
        try:
            pg = unbroadcast(pg, shape)
        except ValueError:
            raise ValueError(
                f"{fn.__name__}.backward returned a gradient of shape {pg.shape} for input {slot}, "
                f"whose shape is {shape}") from None
    elif leaf and (pg is upstream or pg.base is not None):
        pg = pg.copy()  # a leaf's .grad is its own array, not a view of another node's gradient
    if pg.dtype != dtype:
        pg = pg.astype(dtype)
    return pg


def tensor(data: Any, requires_grad: bool = False) -> Tensor:
    """``Tensor(data, requires_grad)`` with a copy of ``data``, like ``torch.tensor``."""
    return Tensor(np.array(_to_array(data), copy=True), requires_grad=requires_grad)


# --- the operations: forward and its VJP side by side ------------------------------------------------


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return np.add(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, -g


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.divide(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = g / b if need_a else None
        gb = -g * a / (np.multiply(b, b)) if need_b else None
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    @staticmethod
    def forward(ctx, a, k):
        ctx.save_for_backward(a)
        ctx.k = k
        return np.power(a, k)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        k = ctx.k
        if k == 0:  # a ** 0 is constant; 0 * a ** -1 would be nan at a = 0
            return np.zeros_like(g)
        return g * (k * np.power(a, k - 1))


def _check_matmul_shapes(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    """Raise a ``ValueError`` naming matmul and both shapes when ``A @ B`` is undefined for them."""
    if not a_shape or not b_shape:
        raise ValueError(f"matmul needs arrays of at least 1 dimension, got shapes {a_shape} and {b_shape}")
    inner_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if a_shape[-1] != inner_b:
        raise ValueError(f"matmul of shapes {a_shape} and {b_shape}: inner dimensions {a_shape[-1]} and {inner_b} differ")
    if len(a_shape) > 2 and len(b_shape) > 2:
        try:
            np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
        except ValueError:
            raise ValueError(f"matmul of shapes {a_shape} and {b_shape}: batch dimensions {a_shape[:-2]} "
                             f"and {b_shape[:-2]} do not broadcast") from None


class MatMul(Function):
    """Y = A B. dL/dA = dL/dY B^T and dL/dB = A^T dL/dY: no Jacobian is ever formed."""

    @staticmethod
    def forward(ctx, a, b):
        a, b = np.asarray(a), np.asarray(b)
        _check_matmul_shapes(a.shape, b.shape)
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:
            return (g @ b.T if need_a else None), (a.T @ g if need_b else None)
        if a.ndim == 1 and b.ndim == 1:
            return (g * b if need_a else None), (g * a if need_b else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if need_a:
            ga = g2 @ np.swapaxes(b2, -1, -2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if need_b:
            gb = np.swapaxes(a2, -1, -2) @ g2
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb


def _norm_axis(axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple of ints) as the tuple of axes it names, each in 0..ndim-1."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    if any(not -ndim <= a < ndim for a in axes) or len({a % ndim for a in axes}) != len(axes):
        raise ValueError(f"axis {axis} does not name distinct axes of a tensor with {ndim} dimensions")
    return tuple(a % ndim for a in axes)


def _expand_like(g: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """Put back the reduced axes of ``g`` (as size 1) so that it broadcasts against ``shape``."""
    if not keepdims and shape:
        g = np.expand_dims(g, _norm_axis(axis, len(shape)))
    return g


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        a = np.asarray(a)
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return np.broadcast_to(_expand_like(g, ctx.shape, ctx.axis, ctx.keepdims), ctx.shape)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        a = np.asarray(a)
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        out = a.mean(axis=axis, keepdims=keepdims)
        ctx.count = a.size // max(np.size(out), 1) if a.size else 1
        return out

    @staticmethod
    def backward(ctx, g):
        g = _expand_like(g, ctx.shape, ctx.axis, ctx.keepdims) / ctx.count
        return np.broadcast_to(g, ctx.shape)


class Max(Function):
    """Maximum over an axis or several; the whole gradient goes to the winner.

    On a tie the winner is the first of the tied entries in row-major order (PyTorch's
    ``max(dim)`` also picks one, while its ``amax`` splits the gradient among the ties). A
    zero-length axis that is kept gives an empty result; reducing over one raises ``ValueError``.
    """

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        a = np.asarray(a)
        axes = tuple(sorted(_norm_axis(axis, a.ndim)))
        empty = [i for i in axes if a.shape[i] == 0]
        if empty:
            raise ValueError(f"max over axis={axis} of a tensor of shape {a.shape}: axis {empty[0]} is empty, "
                             f"and the max of no numbers is undefined")
        kept = [i for i in range(a.ndim) if i not in axes]
        # the reduced axes moved to the end and flattened into one: the winner is an index along it
        order = kept + list(axes)
        moved = np.transpose(a, order)
        rows = moved.reshape(moved.shape[:len(kept)] + (math.prod(a.shape[i] for i in axes),))
        ctx.idx = np.expand_dims(np.argmax(rows, axis=-1), -1)
        ctx.order, ctx.moved_shape, ctx.rows_shape = order, moved.shape, rows.shape
        out = np.take_along_axis(rows, ctx.idx, axis=-1)
        return out.reshape([1 if i in axes else n for i, n in enumerate(a.shape)] if keepdims else rows.shape[:-1])

    @staticmethod
    def backward(ctx, g):
        grad = np.zeros(ctx.rows_shape, dtype=g.dtype)
        np.put_along_axis(grad, ctx.idx, g.reshape(ctx.idx.shape), axis=-1)
        return np.transpose(grad.reshape(ctx.moved_shape), np.argsort(ctx.order))


class ReLU(Function):
    """max(x, 0); nan stays nan and passes its gradient, as in PyTorch (and ``Value.relu``)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a <= 0)
        return np.maximum(a, 0)

    @staticmethod
    def backward(ctx, g):
        (blocked,) = ctx.saved_tensors
        return np.where(blocked, 0, g)  # not g * (a > 0), which would give -0.0 for a negative g


def _sigmoid(a: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    """The derivative s (1 - s) is taken on the output s, not on the input."""

    @staticmethod
    def forward(ctx, a):
        s = _sigmoid(np.asarray(a))
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        grad = g * s
        grad *= 1 - s  # in place: one temporary the size of s fewer at the peak of a backward pass
        return grad


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        t = np.tanh(a)
        ctx.save_for_backward(t)
        return t

    @staticmethod
    def backward(ctx, g):
        (t,) = ctx.saved_tensors
        grad = np.multiply(t, t, out=np.empty_like(t))  # an array even for a 0-d t, unlike t * t
        np.subtract(1, grad, out=grad)  # in place: one temporary the size of t fewer at the peak
        grad *= g
        return grad


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        e = np.exp(a)
        ctx.save_for_backward(e)
        return e

    @staticmethod
    def backward(ctx, g):
        (e,) = ctx.saved_tensors
        return g * e


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        a = np.asarray(a)
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {a.shape} ({a.size} elements) to {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Transpose(Function):
    @staticmethod
    def forward(ctx, a, axes=None):
        a = np.asarray(a)
        out = np.transpose(a, axes)
        ctx.axes = None if axes is None else tuple(ax % a.ndim for ax in axes)  # argsort needs them >= 0
        return out

    @staticmethod
    def backward(ctx, g):
        axes = ctx.axes
        return np.transpose(g, None if axes is None else np.argsort(axes))


def _is_basic_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


class GetItem(Function):
    """Slicing and indexing; repeated fancy indices add up their gradients."""

    @staticmethod
    def forward(ctx, a, index):
        a = np.asarray(a)
        if isinstance(index, Tensor):
            index = index.data.astype(np.intp)
        elif isinstance(index, tuple):
            index = tuple(i.data.astype(np.intp) if isinstance(i, Tensor) else i for i in index)
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        return a[index]

    @staticmethod
    def backward(ctx, g):
        grad = np.zeros(ctx.shape, dtype=ctx.dtype)
        if _is_basic_index(ctx.index):
            grad[ctx.index] = g
        else:
            np.add.at(grad, ctx.index, g)
        return grad


class LogSoftmax(Function):
    """log softmax(x) = x - logsumexp(x); VJP: g - softmax(x) * sum(g).

    An input with no entries (a zero-length axis, the softmax axis included) gives an empty
    result of its shape, as in PyTorch.
    """

    @staticmethod
    def forward(ctx, a, axis=-1):
        a = np.asarray(a)
        if a.size:
            shifted = a - a.max(axis=axis, keepdims=True)
            out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        else:  # nothing to normalise, and the max that the shift needs is undefined
            _norm_axis(axis, a.ndim)  # an axis that does not exist is still refused
            out = np.empty_like(a)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g - np.exp(out) * g.sum(axis=ctx.axis, keepdims=True)


class CrossEntropy(Function):
    """Mean over the batch of -log softmax(logits)[target]; VJP: (softmax - onehot) / N."""

    @staticmethod
    def forward(ctx, logits, targets):
        if ctx.needs_input_grad[1]:
            raise TypeError("cross_entropy: targets are class indices and cannot require a gradient")
        logits = np.asarray(logits)
        t = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
        if logits.ndim != 2:
            raise ValueError(f"cross_entropy needs logits of shape (N, C), got {logits.shape}")
        n, c = logits.shape
        if c == 0:
            raise ValueError(f"cross_entropy needs at least one class, got logits of shape {logits.shape}")
        if t.shape != (n,):
            raise ValueError(f"cross_entropy needs targets of shape ({n},) for logits {logits.shape}, got {t.shape}")
        if t.dtype.kind == "f" and np.any(t != np.round(t)):
            raise ValueError("cross_entropy targets must be class indices (whole numbers)")
        t = t.astype(np.intp, copy=False)
        if n and (t.min() < 0 or t.max() >= c):
            raise ValueError(f"cross_entropy targets must lie in 0..{c - 1}, got {t.min()}..{t.max()}")
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        loss = np.log(total[:, 0]) - shifted[rows, t]
        ctx.save_for_backward(exp / total, t)
        return loss.sum() / n if n else np.asarray(np.nan, dtype=logits.dtype)

    @staticmethod
    def backward(ctx, g):
        probs, t = ctx.saved_tensors
        n = len(t)
        grad = probs.copy()
        grad[np.arange(n), t] -= 1
        grad *= g / n
        return grad, None


class MSE(Function):
    """Mean of (prediction - target)^2; VJP: 2 (prediction - target) / n."""

    @staticmethod
    def forward(ctx, pred, target):
        pred, target = np.asarray(pred), np.asarray(target)
        if pred.shape != target.shape:
            raise ValueError(f"mse: prediction has shape {pred.shape} but target has shape {target.shape}")
        diff = pred - target
        ctx.save_for_backward(diff)
        return np.mean(diff * diff)

    @staticmethod
    def backward(ctx, g):
        (diff,) = ctx.saved_tensors
        grad = diff * (2 * g / diff.size)
        need_p, need_t = ctx.needs_input_grad
        return (grad if need_p else None), (-grad if need_t else None)


def cross_entropy(logits: Tensor, targets: Any) -> Tensor:
    """Mean cross-entropy of ``logits`` (N, C) against integer class ``targets`` (N,)."""
    return CrossEntropy.apply(logits, targets)


def mse(pred: Tensor, target: Any) -> Tensor:
    """Mean squared error between ``pred`` and ``target`` (same shapes)."""
    return MSE.apply(pred, target)
