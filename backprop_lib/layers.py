"""Backpropagation through the layers of modern networks (lesson 08).

Each operation is a ``Function`` whose ``backward`` (a vector-Jacobian product) sits beside its
``forward``; the functions below them (``softmax``, ``conv2d``, ...) check their arguments and call
``apply``. Arrays keep their dtype: float32 in gives float32 out and float32 gradients.

- ``softmax`` and ``logsumexp``: the VJP p * (g - sum(g * p)) never builds the Jacobian
  diag(p) - p p^T. ``log_softmax`` is the tensor engine's.
- ``conv2d``: cross-correlation, as deep-learning libraries define it. ``im2col`` copies every
  receptive field into a column, so the convolution becomes a matrix product and the matmul VJPs
  of lesson 05 do the work; the only new VJP is that of ``im2col``, which is ``col2im``: each patch's
  gradient added back where the patch came from (overlapping patches accumulate).
- ``max_pool2d``, ``avg_pool2d``: the max gate of lesson 03 in every window, and its average.
- ``layer_norm``, ``batch_norm``: the backward through the mean and the variance, written out.
- ``dropout``: a seeded mask saved for backward, scaled by 1 / (1 - p) at training time.
- ``attention``: one head, A = softmax(Q K^T / sqrt(d)), out = A V, made of the ops above.
- Modules: ``Conv2d``, ``MaxPool2d``, ``AvgPool2d``, ``LayerNorm``, ``BatchNorm``, ``Dropout``,
  ``Flatten``, ``Residual``, ``SelfAttention``; ``set_training`` switches ``BatchNorm`` and
  ``Dropout`` between training and evaluation.

Images are N, C, H, W (batch, channels, height, width); filters are F, C, KH, KW.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .function import Context, Function
from .nn import Module, init_std
from .tensor import LogSoftmax, Tensor

Pair = int | tuple[int, int]  # a size or step for both axes, or (height, width)


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _pair(op: str, name: str, value: Any, minimum: int = 1) -> tuple[int, int]:
    """``value`` (an int, or a pair of ints for height and width) as a pair, each at least ``minimum``."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum
                              for v in items):
        kind = "a positive integer" if minimum else "an integer >= 0"
        raise ValueError(f"{op}: {name} must be {kind} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def _rank(op: str, name: str, x: Tensor, ndim: int, layout: str) -> None:
    if x.ndim != ndim:
        raise ValueError(f"{op} needs {name} of shape {layout}, got shape {x.shape}")


# --- softmax and log-sum-exp --------------------------------------------------------------------------


def _axis(op: str, axis: Any, shape: tuple[int, ...]) -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -len(shape) <= axis < len(shape):
        raise ValueError(f"{op}: axis {axis!r} does not exist for x of shape {shape}")
    return int(axis) % len(shape)


class SoftmaxFunction(Function):
    """p = exp(x) / sum(exp(x)) along ``axis``, computed as exp(log_softmax(x)) with the tensor
    engine's log softmax, which subtracts the max first so that nothing overflows.

    VJP: the Jacobian of one row is diag(p) - p p^T, so J^T g = p * g - p (p . g)
    = p * (g - sum(g * p)): two elementwise products and a sum, never the n x n matrix.
    """

    @staticmethod
    def forward(ctx, x, axis=-1):
        p = np.exp(LogSoftmax.forward(Context(), x, axis=axis))
        ctx.save_for_backward(p)
        ctx.axis = axis
        return p

    @staticmethod
    def backward(ctx, g):
        (p,) = ctx.saved_tensors
        return p * (g - (g * p).sum(axis=ctx.axis, keepdims=True))


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Softmax of ``x`` (any shape) along ``axis``: entries in (0, 1) that sum to 1; same shape."""
    x = _tensor(x)
    return SoftmaxFunction.apply(x, axis=_axis("softmax", axis, x.shape))


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """log softmax(x) = x - logsumexp(x) along ``axis``, computed stably (the tensor engine's op)."""
    x = _tensor(x)
    return x.log_softmax(axis=_axis("log_softmax", axis, x.shape))


class LogSumExpFunction(Function):
    """log sum(exp(x)) = m + log sum(exp(x - m)) with m = max x, which never overflows.

    VJP: d/dx_i log sum exp(x) = exp(x_i) / sum exp(x) = softmax(x)_i, so dx = g * softmax(x).
    A row of nothing but -inf gives -inf, as in PyTorch, and a gradient of 0 (PyTorch's is nan).
    """

    @staticmethod
    def forward(ctx, x, axis=-1, keepdims=False):
        x = np.asarray(x)
        m = x.max(axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # a row of -inf would give -inf - -inf = nan
        with np.errstate(divide="ignore"):  # the log of a row of -inf's zero sum is the -inf wanted
            out = m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(x, out)
        ctx.axis = axis
        return out if keepdims else np.squeeze(out, axis=axis)

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        g = g.reshape(out.shape)  # put the reduced axis back, if it was dropped
        with np.errstate(invalid="ignore"):
            p = np.exp(x - out)
        return g * np.where(np.isnan(p), 0, p)


def logsumexp(x: Any, axis: int = -1, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) along ``axis``, stably; ``x`` (..., n, ...) -> the axis removed (or kept as 1)."""
    x = _tensor(x)
    if x.size == 0:
        raise ValueError(f"logsumexp needs at least one entry, got x of shape {x.shape}")
    return LogSumExpFunction.apply(x, axis=_axis("logsumexp", axis, x.shape), keepdims=bool(keepdims))


# --- convolution through im2col ------------------------------------------------------------------------


def _output_size(op: str, shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
                 padding: tuple[int, int] = (0, 0)) -> tuple[int, int]:
    """OH = (H + 2 ph - KH) // sh + 1, and OW likewise; an error if the kernel does not fit."""
    (h, w), (kh, kw) = shape[2:], kernel
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    if kh > hp or kw > wp:
        padded = f"padded input {hp}x{wp} (x of shape {shape}, padding {padding})" if any(padding) \
            else f"input {h}x{w} (x of shape {shape})"
        raise ValueError(f"{op}: the kernel {kh}x{kw} is larger than the {padded}")
    return (hp - kh) // stride[0] + 1, (wp - kw) // stride[1] + 1


def _pad(x: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    ph, pw = padding
    if not ph and not pw:
        return x
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Every window of ``x`` (N, C, H, W) as a view (N, C, OH, OW, KH, KW), copying nothing."""
    return sliding_window_view(x, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]


def _add_windows(d: np.ndarray, shape: tuple[int, ...], stride: tuple[int, int]) -> np.ndarray:
    """The adjoint of ``_windows``: add every window's gradient ``d`` (N, C, OH, OW, KH, KW) back into
    an array of ``shape`` (N, C, H, W) at the place the window came from.

    A pixel in several windows collects from each: the accumulation of a value used more than once.
    One strided slice per kernel offset (i, j) holds that offset of every window, so KH * KW
    vectorised additions do the scatter-add that ``np.add.at`` would do element by element.
    """
    out = np.zeros(shape, dtype=d.dtype)
    oh, ow, kh, kw = d.shape[2:]
    sh, sw = stride
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += d[:, :, :, :, i, j]
    return out


def _im2col(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
            ) -> np.ndarray:
    windows = _windows(_pad(x, padding), kernel, stride)  # (N, C, OH, OW, KH, KW)
    n, c, oh, ow, kh, kw = windows.shape
    return windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)


def _col2im(cols: np.ndarray, shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
            padding: tuple[int, int], out_size: tuple[int, int]) -> np.ndarray:
    (n, c, h, w), (ph, pw) = shape, padding
    windows = cols.reshape(n, c, *kernel, *out_size).transpose(0, 1, 4, 5, 2, 3)  # (N, C, OH, OW, KH, KW)
    padded = _add_windows(windows, (n, c, h + 2 * ph, w + 2 * pw), stride)
    return padded[:, :, ph:ph + h, pw:pw + w]


def _conv_args(op: str, kernel: Pair, stride: Pair, padding: Pair) -> tuple[tuple[int, int], ...]:
    return _pair(op, "kernel", kernel), _pair(op, "stride", stride), _pair(op, "padding", padding, minimum=0)


def im2col(x: np.ndarray, kernel: Pair, stride: Pair = 1, padding: Pair = 0) -> np.ndarray:
    """Copy every receptive field of ``x`` (N, C, H, W) into a column: (N, C * KH * KW, OH * OW).

    Column r * OW + c of image n holds the padded input's window at output position (r, c),
    flattened channel by channel (PyTorch's ``unfold`` gives the same array). A convolution with
    filters ``w`` (F, C, KH, KW) is then one matrix product per image, ``w.reshape(F, -1) @ cols``.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"im2col needs x of shape (N, C, H, W), got shape {x.shape}")
    kernel, stride, padding = _conv_args("im2col", kernel, stride, padding)
    _output_size("im2col", x.shape, kernel, stride, padding)
    return _im2col(x, kernel, stride, padding)


def col2im(cols: np.ndarray, shape: tuple[int, int, int, int], kernel: Pair, stride: Pair = 1,
           padding: Pair = 0) -> np.ndarray:
    """The adjoint of ``im2col``: add each column of ``cols`` (N, C * KH * KW, OH * OW) back onto the
    window it came from in an input of ``shape`` (N, C, H, W), then drop the padding.

    Not an inverse: a pixel that lies in k windows receives the sum of k entries (PyTorch's ``fold``).
    """
    cols, shape = np.asarray(cols), tuple(shape)
    if len(shape) != 4:
        raise ValueError(f"col2im needs the shape (N, C, H, W) of the input, got {shape}")
    kernel, stride, padding = _conv_args("col2im", kernel, stride, padding)
    oh, ow = _output_size("col2im", shape, kernel, stride, padding)
    expected = (shape[0], shape[1] * kernel[0] * kernel[1], oh * ow)
    if cols.shape != expected:
        raise ValueError(f"col2im: cols of shape {cols.shape} do not come from an input of shape {shape} "
                         f"with kernel {kernel}, stride {stride}, padding {padding}: expected {expected}")
    return _col2im(cols, shape, kernel, stride, padding, (oh, ow))


class Im2ColFunction(Function):
    """cols = im2col(x): a copy, entry by entry, so its VJP sends each entry's gradient back to
    where it was copied from, adding where windows overlap: dx = col2im(dcols)."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding):
        cols = _im2col(x, kernel, stride, padding)
        ctx.shape, ctx.kernel, ctx.stride, ctx.padding = x.shape, kernel, stride, padding
        ctx.out_size = _output_size("im2col", x.shape, kernel, stride, padding)
        return cols

    @staticmethod
    def backward(ctx, g):
        return _col2im(g, ctx.shape, ctx.kernel, ctx.stride, ctx.padding, ctx.out_size)


def conv2d(x: Any, w: Any, b: Any = None, stride: Pair = 1, padding: Pair = 0) -> Tensor:
    """Cross-correlation of ``x`` (N, C, H, W) with filters ``w`` (F, C, KH, KW), plus ``b`` (F,):

        y[n, f, r, c] = b[f] + sum over ch, i, j of w[f, ch, i, j] * xp[n, ch, r * sh + i, c * sw + j]

    where xp is ``x`` with ``padding`` zeros on each side; ``y`` is (N, F, OH, OW) with
    OH = (H + 2 ph - KH) // sh + 1 (OW likewise). ``stride`` and ``padding`` are an int or a pair
    (height, width).

    Built as W @ im2col(x) + b with W = w.reshape(F, C * KH * KW), a matrix product broadcast over
    the images, so the tensor engine's VJPs do the backward pass: dW = dY_n cols_n^T summed over
    the images (the filter is used at every position of every image: a fan-out), db = dY summed
    likewise, and dcols = W^T dY, which col2im adds back into dx.
    """
    x, w = _tensor(x), _tensor(w)
    _rank("conv2d", "x", x, 4, "(N, C, H, W)")
    _rank("conv2d", "w", w, 4, "(F, C, KH, KW)")
    f, c, kh, kw = w.shape
    if x.shape[1] != c:
        raise ValueError(f"conv2d: x of shape {x.shape} has {x.shape[1]} channels but w of shape {w.shape} "
                         f"expects {c}")
    if b is not None:
        b = _tensor(b)
        if b.shape != (f,):
            raise ValueError(f"conv2d needs b of shape ({f},) for w of shape {w.shape}, got {b.shape}")
    stride, padding = _pair("conv2d", "stride", stride), _pair("conv2d", "padding", padding, minimum=0)
    if not kh or not kw:
        raise ValueError(f"conv2d: w of shape {w.shape} has an empty kernel")
    oh, ow = _output_size("conv2d", x.shape, (kh, kw), stride, padding)
    cols = Im2ColFunction.apply(x, kernel=(kh, kw), stride=stride, padding=padding)  # (N, C * KH * KW, OH * OW)
    y = w.reshape(f, c * kh * kw) @ cols  # (N, F, OH * OW)
    if b is not None:
        y = y + b.reshape(f, 1)
    return y.reshape(x.shape[0], f, oh, ow)


# --- pooling --------------------------------------------------------------------------------------------


def _pool_args(op: str, x: Tensor, kernel: Pair, stride: Pair | None) -> dict[str, Any]:
    _rank(op, "x", x, 4, "(N, C, H, W)")
    kernel = _pair(op, "kernel", kernel)
    stride = kernel if stride is None else _pair(op, "stride", stride)
    _output_size(op, x.shape, kernel, stride)
    return {"kernel": kernel, "stride": stride}


class MaxPool2dFunction(Function):
    """y = the largest entry of each window; VJP: the whole gradient to the window's winner.

    On a tie the first of the tied entries in row-major order within the window wins, as in
    PyTorch (and a nan wins over any number). A pixel that wins in several overlapping windows
    collects each window's gradient.
    """

    @staticmethod
    def forward(ctx, x, kernel, stride):
        windows = _windows(np.asarray(x), kernel, stride)
        rows = windows.reshape(windows.shape[:4] + (-1,))
        ctx.winner = np.argmax(rows, axis=-1)[..., None]
        ctx.shape, ctx.windows_shape, ctx.stride = x.shape, windows.shape, stride
        return np.take_along_axis(rows, ctx.winner, axis=-1)[..., 0]

    @staticmethod
    def backward(ctx, g):
        d = np.zeros(ctx.windows_shape[:4] + (math.prod(ctx.windows_shape[4:]),), dtype=g.dtype)
        np.put_along_axis(d, ctx.winner, g[..., None], axis=-1)
        return _add_windows(d.reshape(ctx.windows_shape), ctx.shape, ctx.stride)


class AvgPool2dFunction(Function):
    """y = the mean of each window; VJP: each window's gradient spread evenly, g / (KH * KW)."""

    @staticmethod
    def forward(ctx, x, kernel, stride):
        windows = _windows(np.asarray(x), kernel, stride)
        ctx.shape, ctx.windows_shape, ctx.stride = x.shape, windows.shape, stride
        return windows.mean(axis=(-2, -1))

    @staticmethod
    def backward(ctx, g):
        kh, kw = ctx.windows_shape[4:]
        share = np.broadcast_to((g / (kh * kw))[..., None, None], ctx.windows_shape)
        return _add_windows(share, ctx.shape, ctx.stride)


def max_pool2d(x: Any, kernel: Pair, stride: Pair | None = None) -> Tensor:
    """Max over each KH x KW window of ``x`` (N, C, H, W), moved by ``stride`` (default: the kernel,
    so windows do not overlap); (N, C, OH, OW) with OH = (H - KH) // sh + 1. No padding; rows and
    columns that no window reaches get no gradient. Ties: see ``MaxPool2dFunction``."""
    x = _tensor(x)
    return MaxPool2dFunction.apply(x, **_pool_args("max_pool2d", x, kernel, stride))


def avg_pool2d(x: Any, kernel: Pair, stride: Pair | None = None) -> Tensor:
    """Mean over each KH x KW window of ``x`` (N, C, H, W); shapes as in ``max_pool2d``."""
    x = _tensor(x)
    return AvgPool2dFunction.apply(x, **_pool_args("avg_pool2d", x, kernel, stride))


# --- normalisation --------------------------------------------------------------------------------------


def _normalization_backward(dxhat: np.ndarray, xc: np.ndarray, inv_std: np.ndarray, axes: tuple[int, ...]
                            ) -> np.ndarray:
    """dL/dx for xhat = (x - mu) / sqrt(var + eps), where mu and var are the mean and the (biased)
    variance of x over ``axes`` (m entries each), given dxhat = dL/dxhat, xc = x - mu and
    inv_std = 1 / sqrt(var + eps).

    x reaches xhat along three paths, and their gradients add up:
      through var = mean((x - mu)^2):  dvar = sum(dxhat * xc) * (-1/2) (var + eps)^(-3/2)
                                       dx  += dvar * 2 xc / m
      through mu = mean(x):            dmu = -sum(dxhat) / sqrt(var + eps) + dvar * (-2 / m) sum(xc)
                                       dx  += dmu / m        (the sum(xc) term is 0: xc has mean 0)
      directly:                        dx  += dxhat / sqrt(var + eps)
    """
    m = math.prod(xc.shape[a] for a in axes)
    dvar = (dxhat * xc).sum(axis=axes, keepdims=True) * (-0.5 * inv_std ** 3)
    dmu = dxhat.sum(axis=axes, keepdims=True) * -inv_std
    return dxhat * inv_std + dvar * (2 / m) * xc + dmu / m


def _affine_grads(ctx, g: np.ndarray, xhat: np.ndarray, axes: tuple[int, ...]) -> tuple:
    """dgamma = sum(g * xhat) and dbeta = sum(g) over ``axes``, for those inputs that need them."""
    shape = ctx.affine_shape
    need_gamma, need_beta = ctx.needs_input_grad[1:3]
    dgamma = (g * xhat).sum(axis=axes).reshape(shape) if need_gamma else None
    dbeta = g.sum(axis=axes).reshape(shape) if need_beta else None
    return dgamma, dbeta


class LayerNormFunction(Function):
    """y = gamma * (x - mu) / sqrt(var + eps) + beta, mu and var over the last axis of each row.

    Every example is normalised on its own, so training and evaluation are the same. VJP: see
    ``_normalization_backward`` for dx; dgamma = sum over rows of g * xhat, dbeta = sum of g.
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, eps):
        x = np.asarray(x)
        xc = x - x.mean(axis=-1, keepdims=True)
        inv_std = 1 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + eps)
        xhat = xc * inv_std
        ctx.save_for_backward(xc, inv_std, xhat, gamma)
        ctx.affine_shape = x.shape[-1:]
        y = xhat if gamma is None else xhat * gamma
        return y if beta is None else y + beta

    @staticmethod
    def backward(ctx, g):
        xc, inv_std, xhat, gamma = ctx.saved_tensors
        dxhat = g if gamma is None else g * gamma
        dx = _normalization_backward(dxhat, xc, inv_std, (-1,)) if ctx.needs_input_grad[0] else None
        return (dx, *_affine_grads(ctx, g, xhat, tuple(range(g.ndim - 1))))


def _eps(op: str, eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 < eps < math.inf:
        raise ValueError(f"{op}: eps must be a positive number, got {eps!r}")
    return float(eps)


def _momentum(op: str, momentum: Any) -> float:
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
        raise ValueError(f"{op}: momentum must lie in [0, 1], got {momentum!r}")
    return float(momentum)


def _affine(op: str, name: str, value: Any, size: int, where: str) -> Tensor | None:
    if value is None:
        return None
    value = _tensor(value)
    if value.shape != (size,):
        raise ValueError(f"{op} needs {name} of shape ({size},) for {where}, got {value.shape}")
    return value


def layer_norm(x: Any, gamma: Any = None, beta: Any = None, eps: float = 1e-5) -> Tensor:
    """Normalise each row of ``x`` (..., D) over its last axis to mean 0 and variance 1, then scale by
    ``gamma`` (D,) and shift by ``beta`` (D,) (either may be None: 1 and 0); same shape as ``x``."""
    x = _tensor(x)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(f"layer_norm needs x of shape (..., D) with D >= 1, got shape {x.shape}")
    where = f"x of shape {x.shape}"
    gamma = _affine("layer_norm", "gamma", gamma, x.shape[-1], where)
    beta = _affine("layer_norm", "beta", beta, x.shape[-1], where)
    return LayerNormFunction.apply(x, gamma, beta, eps=_eps("layer_norm", eps))


class BatchNormFunction(Function):
    """y = gamma * (x - mu) / sqrt(var + eps) + beta per channel (axis 1), mu and var over the batch
    and every spatial position.

    Training: mu and var are the batch's (var biased), and the running statistics move towards
    them: running = (1 - momentum) * running + momentum * batch statistic, with the unbiased
    variance for ``running_var`` (as in PyTorch). The batch statistics depend on x, so the VJP goes
    through them (``_normalization_backward``). Evaluation: mu and var are the running statistics,
    constants, so dx = g * gamma / sqrt(var + eps).
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean, running_var, training, momentum, eps):
        x = np.asarray(x)
        axes = (0, *range(2, x.ndim))
        channels = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        if training:
            mu = x.mean(axis=axes, keepdims=True)
            xc = x - mu
            var = (xc * xc).mean(axis=axes, keepdims=True)
            m = x.size // x.shape[1]
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mu.reshape(-1)
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += momentum * var.reshape(-1) * (m / (m - 1))
        else:
            xc = x - running_mean.reshape(channels).astype(x.dtype, copy=False)
            var = running_var.reshape(channels).astype(x.dtype, copy=False)
        inv_std = 1 / np.sqrt(var + eps)
        xhat = xc * inv_std
        ctx.save_for_backward(xc, inv_std, xhat, None if gamma is None else gamma.reshape(channels))
        ctx.training, ctx.axes, ctx.affine_shape = training, axes, x.shape[1:2]
        y = xhat if gamma is None else xhat * gamma.reshape(channels)
        return y if beta is None else y + beta.reshape(channels)

    @staticmethod
    def backward(ctx, g):
        xc, inv_std, xhat, gamma = ctx.saved_tensors
        dxhat = g if gamma is None else g * gamma
        dx = None
        if ctx.needs_input_grad[0]:
            dx = _normalization_backward(dxhat, xc, inv_std, ctx.axes) if ctx.training else dxhat * inv_std
        return (dx, *_affine_grads(ctx, g, xhat, ctx.axes), None, None)


def _running(name: str, value: Any, size: int, where: str, training: bool) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise ValueError(f"batch_norm: {name} is a statistic, not a parameter; it cannot require a gradient")
        value = value.data
    if training and not isinstance(value, np.ndarray):
        raise TypeError(f"batch_norm: {name} is updated in place in training, so it must be a numpy array "
                        f"(or a Tensor), got {type(value).__name__}")
    value = np.asarray(value)
    if value.shape != (size,):
        raise ValueError(f"batch_norm needs {name} of shape ({size},) for {where}, got {value.shape}")
    return value


def batch_norm(x: Any, gamma: Any = None, beta: Any = None, running_mean: Any = None, running_var: Any = None,
               training: bool = True, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation of ``x`` (N, C) or (N, C, H, W) per channel C; same shape as ``x``.

    ``gamma``, ``beta`` (C,) scale and shift (None: 1 and 0). ``running_mean``, ``running_var`` (C,)
    are numpy arrays (or Tensors): updated in place when ``training`` (or left out there, as None),
    used instead of the batch's statistics in evaluation. See ``BatchNormFunction``.
    """
    x = _tensor(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm needs x of shape (N, C) or (N, C, ...), got shape {x.shape}")
    c, where = x.shape[1], f"x of shape {x.shape}"
    gamma, beta = _affine("batch_norm", "gamma", gamma, c, where), _affine("batch_norm", "beta", beta, c, where)
    running_mean = _running("running_mean", running_mean, c, where, training)
    running_var = _running("running_var", running_var, c, where, training)
    if training and x.size // max(c, 1) < 2:
        raise ValueError(f"batch_norm in training needs more than one value per channel, got x of shape {x.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm in evaluation needs running_mean and running_var")
    return BatchNormFunction.apply(x, gamma, beta, running_mean, running_var, training=bool(training),
                                   momentum=_momentum("batch_norm", momentum), eps=_eps("batch_norm", eps))


# --- dropout ---------------------------------------------------------------------------------------------


class DropoutFunction(Function):
    """y = x * mask / (1 - p), each entry of the mask 1 with probability 1 - p, so E[y] = x.

    The scaled mask is saved, and the VJP is the same product: dx = g * mask / (1 - p); a dropped
    unit gets no gradient.
    """

    @staticmethod
    def forward(ctx, x, p, rng):
        x = np.asarray(x)
        scale = np.where(rng.random(x.shape) >= p, 1 / (1 - p), 0).astype(x.dtype)
        ctx.save_for_backward(scale)
        return x * scale

    @staticmethod
    def backward(ctx, g):
        (scale,) = ctx.saved_tensors
        return g * scale


def _generator(op: str, rng: np.random.Generator | None, seed: int | None) -> np.random.Generator:
    if rng is not None and seed is not None:
        raise ValueError(f"give {op} either seed or rng, not both")
    if rng is None:
        return np.random.default_rng(seed)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{op}: rng must be a numpy Generator, got {type(rng).__name__}")
    return rng


def _probability(p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
        raise ValueError(f"dropout: p must lie in [0, 1), got {p!r}")
    return float(p)


def dropout(x: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None,
            seed: int | None = None) -> Tensor:
    """Zero each entry of ``x`` (any shape) with probability ``p`` and scale the rest by 1 / (1 - p).

    The mask comes from ``rng``, or from ``np.random.default_rng(seed)``: the same seed drops the
    same entries. In evaluation (``training=False``), and for p = 0, ``x`` is returned unchanged.
    """
    x, p = _tensor(x), _probability(p)
    rng = _generator("dropout", rng, seed)
    if not training or p == 0:
        return x
    return DropoutFunction.apply(x, p=p, rng=rng)


# --- attention --------------------------------------------------------------------------------------------


def attention(q: Any, k: Any, v: Any, scale: bool = True) -> tuple[Tensor, Tensor]:
    """One attention head: A = softmax(Q K^T / sqrt(d)) over the keys, out = A V.

    ``q`` (..., T, d), ``k`` (..., S, d), ``v`` (..., S, dv) -> ``out`` (..., T, dv) and the weights
    ``A`` (..., T, S), each row of A summing to 1. Without the 1 / sqrt(d) (``scale=False``) the
    scores of random d-dimensional vectors grow like sqrt(d), the softmax saturates towards one-hot
    rows, and its gradient p * (g - sum(g * p)) vanishes. Every gradient comes from the VJPs of the
    matmuls and of the softmax.
    """
    q, k, v = _tensor(q), _tensor(k), _tensor(v)
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.ndim < 2:
            raise ValueError(f"attention needs {name} with at least 2 dimensions (..., positions, features), "
                             f"got shape {t.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"attention needs q (..., T, d), k (..., S, d) and v (..., S, dv), got shapes "
                         f"{q.shape}, {k.shape} and {v.shape}")
    axes = (*range(k.ndim - 2), k.ndim - 1, k.ndim - 2)
    scores = q @ k.transpose(axes)
    if scale:
        scores = scores / math.sqrt(q.shape[-1])
    weights = softmax(scores, axis=-1)
    return weights @ v, weights


# --- modules ----------------------------------------------------------------------------------------------


def _weights(shape: tuple[int, ...], std: float, seed: int | None, rng: np.random.Generator | None, dtype,
             who: str) -> Tensor:
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"{who} needs a floating-point dtype, got {np.dtype(dtype)}")
    w = _generator(who, rng, seed).standard_normal(shape) * std
    return Tensor(w.astype(dtype, copy=False), requires_grad=True)


def _count(who: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, got {value!r}")
    return int(value)


class Conv2d(Module):
    """A convolutional layer: ``conv2d(x, weight, bias, stride, padding)``.

    ``x`` (N, in_channels, H, W) -> (N, out_channels, OH, OW). ``weight`` (out_channels,
    in_channels, KH, KW) is drawn as in ``nn.Linear`` with fan_in = in_channels * KH * KW and
    fan_out = out_channels * KH * KW (``init``: "he", "xavier", "normal" or a standard deviation);
    ``bias`` (out_channels,) starts at zero.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Pair, stride: Pair = 1, padding: Pair = 0,
                 bias: bool = True, init: str | float = "he", seed: int | None = None,
                 rng: np.random.Generator | None = None, dtype=np.float64):
        self.in_channels = _count("Conv2d", "in_channels", in_channels)
        self.out_channels = _count("Conv2d", "out_channels", out_channels)
        self.kernel_size = _pair("Conv2d", "kernel_size", kernel_size)
        self.stride = _pair("Conv2d", "stride", stride)
        self.padding = _pair("Conv2d", "padding", padding, minimum=0)
        area = self.kernel_size[0] * self.kernel_size[1]
        std = init_std(init, self.in_channels * area, self.out_channels * area)
        self.weight = _weights((self.out_channels, self.in_channels, *self.kernel_size), std, seed, rng, dtype,
                               "Conv2d")
        self.bias = Tensor(np.zeros(self.out_channels, dtype=dtype), requires_grad=True) if bias else None

    def forward(self, x: Any) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None})")


class _Pool2d(Module):
    pool = staticmethod(max_pool2d)

    def __init__(self, kernel_size: Pair, stride: Pair | None = None):
        who = type(self).__name__
        self.kernel_size = _pair(who, "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else _pair(who, "stride", stride)

    def forward(self, x: Any) -> Tensor:
        return self.pool(x, self.kernel_size, self.stride)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2d(_Pool2d):
    """``max_pool2d(x, kernel_size, stride)``: (N, C, H, W) -> (N, C, OH, OW)."""


class AvgPool2d(_Pool2d):
    """``avg_pool2d(x, kernel_size, stride)``: (N, C, H, W) -> (N, C, OH, OW)."""

    pool = staticmethod(avg_pool2d)


class LayerNorm(Module):
    """``layer_norm`` over the last axis, of size ``features``, with learned ``gamma`` (ones) and
    ``beta`` (zeros) of shape (features,)."""

    def __init__(self, features: int, eps: float = 1e-5, dtype=np.float64):
        self.features = _count("LayerNorm", "features", features)
        self.eps = _eps("LayerNorm", eps)
        self.gamma = Tensor(np.ones(self.features, dtype=dtype), requires_grad=True)
        self.beta = Tensor(np.zeros(self.features, dtype=dtype), requires_grad=True)

    def forward(self, x: Any) -> Tensor:
        return layer_norm(x, self.gamma, self.beta, self.eps)

    def __repr__(self) -> str:
        return f"LayerNorm({self.features}, eps={self.eps:g})"


class BatchNorm(Module):
    """``batch_norm`` of (N, C) or (N, C, H, W) inputs with C = ``channels``: learned ``gamma``
    (ones) and ``beta`` (zeros), and the statistics ``running_mean`` (zeros) and ``running_var``
    (ones), numpy arrays updated in training. ``training`` (True at first) chooses the mode; see
    ``set_training``."""

    def __init__(self, channels: int, momentum: float = 0.1, eps: float = 1e-5, dtype=np.float64):
        self.channels = _count("BatchNorm", "channels", channels)
        self.momentum, self.eps = _momentum("BatchNorm", momentum), _eps("BatchNorm", eps)
        self.gamma = Tensor(np.ones(self.channels, dtype=dtype), requires_grad=True)
        self.beta = Tensor(np.zeros(self.channels, dtype=dtype), requires_grad=True)
        self.running_mean = np.zeros(self.channels, dtype=dtype)
        self.running_var = np.ones(self.channels, dtype=dtype)
        self.training = True

    def forward(self, x: Any) -> Tensor:
        return batch_norm(x, self.gamma, self.beta, self.running_mean, self.running_var, self.training,
                          self.momentum, self.eps)

    def __repr__(self) -> str:
        return f"BatchNorm({self.channels}, momentum={self.momentum:g}, eps={self.eps:g}, training={self.training})"


class Dropout(Module):
    """``dropout(x, p)`` in training, the identity in evaluation (``training``, see ``set_training``).

    Masks come from the layer's own generator, ``rng`` or ``np.random.default_rng(seed)``: a new
    mask at every call, the same sequence of masks for the same seed.
    """

    def __init__(self, p: float = 0.5, seed: int | None = None, rng: np.random.Generator | None = None):
        self.p = _probability(p)
        self.rng = _generator("Dropout", rng, seed)
        self.training = True

    def forward(self, x: Any) -> Tensor:
        return dropout(x, self.p, self.training, rng=self.rng)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p:g}, training={self.training})"


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...): the bridge from convolutions to ``nn.Linear``."""

    def forward(self, x: Any) -> Tensor:
        x = _tensor(x)
        if x.ndim == 0:
            raise ValueError("Flatten needs x with a batch axis, got a 0-dimensional tensor")
        return x.reshape(x.shape[0], -1)

    def __repr__(self) -> str:
        return "Flatten()"


class Residual(Module):
    """y = x + F(x) for a module F that keeps the shape: an add gate, so dL/dx is dL/dy unchanged
    plus what flows back through F."""

    def __init__(self, fn: Module):
        if not isinstance(fn, Module):
            raise TypeError(f"Residual wraps a Module, got a {type(fn).__name__}")
        self.fn = fn

    def forward(self, x: Any) -> Tensor:
        x = _tensor(x)
        fx = self.fn(x)
        if fx.shape != x.shape:
            raise ValueError(f"Residual: {self.fn!r} turned shape {x.shape} into {fx.shape}; "
                             f"x + F(x) needs them equal")
        return x + fx

    def __repr__(self) -> str:
        return f"Residual({self.fn!r})"


class SelfAttention(Module):
    """One self-attention head: Q = x Wq, K = x Wk, V = x Wv, then ``attention(Q, K, V, scale)``.

    ``x`` (..., T, d_model) -> (..., T, d_v). ``Wq``, ``Wk`` (d_model, d_k) and ``Wv`` (d_model, d_v)
    are drawn as in ``nn.Linear`` (``init``, default "xavier"; d_k and d_v default to d_model).
    ``scale=False`` drops the 1 / sqrt(d_k). After each call, ``attention_weights`` holds that call's
    attention matrix A (..., T, T) as a numpy array, to look at.
    """

    def __init__(self, d_model: int, d_k: int | None = None, d_v: int | None = None, scale: bool = True,
                 init: str | float = "xavier", seed: int | None = None, rng: np.random.Generator | None = None,
                 dtype=np.float64):
        self.d_model = _count("SelfAttention", "d_model", d_model)
        self.d_k = self.d_model if d_k is None else _count("SelfAttention", "d_k", d_k)
        self.d_v = self.d_model if d_v is None else _count("SelfAttention", "d_v", d_v)
        self.scale = bool(scale)
        rng = _generator("SelfAttention", rng, seed)
        for name, width in (("Wq", self.d_k), ("Wk", self.d_k), ("Wv", self.d_v)):
            std = init_std(init, self.d_model, width)
            setattr(self, name, _weights((self.d_model, width), std, None, rng, dtype, "SelfAttention"))
        self.attention_weights: np.ndarray | None = None

    def forward(self, x: Any) -> Tensor:
        x = _tensor(x)
        if x.ndim < 2 or x.shape[-1] != self.d_model:
            raise ValueError(f"{self!r} needs x of shape (..., T, {self.d_model}), got shape {x.shape}")
        out, weights = attention(x @ self.Wq, x @ self.Wk, x @ self.Wv, scale=self.scale)
        self.attention_weights = weights.data
        return out

    def __repr__(self) -> str:
        return f"SelfAttention(d_model={self.d_model}, d_k={self.d_k}, d_v={self.d_v}, scale={self.scale})"


def set_training(model: Module, training: bool = True) -> Module:
    """Set ``training`` on ``model`` and every submodule that has the flag (``BatchNorm``,
    ``Dropout``); returns ``model``. ``set_training(model, False)`` before evaluating."""
    for m in model.modules():
        if hasattr(m, "training"):
            m.training = bool(training)
    return model
