"""Exercise 08: backpropagation through the layers of modern networks.

Images are (N, C, H, W) and filters (F, C, KH, KW), as in ``backprop_lib.layers``; the convolution
is a cross-correlation, as deep-learning libraries define it. Every case is drawn so that the
usual mistakes give numbers of their own: the kernels are random (so flipping one changes it),
batches hold several images and several filters, strides and paddings vary (with rows and columns
that no window reaches), the max-pooling inputs have no ties (and where windows overlap, one pixel
wins several of them), two layer-norm cases have a large eps, and the attention cases have d > 1
and some have T == S, where a missing transpose still runs. A mistake that a case cannot tell
apart from the right answer (a batch sum with one image) gives no wrong answer there.

The references are written here with whole-array numpy (windows by ``sliding_window_view``,
products by ``einsum``), not with the library's layers, and each mistake is the reference with one
step done the wrong way.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .ex05 import _numbers, _part, _shape_error
from .probes.ex08 import PROBES
from .spec import Case, Exercise, Mistake, Outcome, Question

Inputs = Mapping[str, Any]
Result = Callable[[Inputs], dict]

# The lesson's numbers: softmax([1, 2, 3]), and the 1-D convolution of x = [1, 2, 3, 4] with w = [1, 0, -1].
LESSON_LOGITS = np.array([1.0, 2.0, 3.0])
LESSON_X = np.array([1.0, 2.0, 3.0, 4.0])
LESSON_W = np.array([1.0, 0.0, -1.0])


def _parts(name: str, feedback: str, wrong: Mapping[str, Callable[[Inputs], Any]], right: Result) -> Mistake:
    """The mistake that shows in any one of the outputs ``wrong`` names (each ``wrong[key](inputs)``),
    whatever the others are; the wrong answer it stands for has all of them wrong."""
    parts = [_part(name, feedback, key, fn, right) for key, fn in wrong.items()]
    return Mistake(name, feedback, lambda outcome, inputs: any(p.matches(outcome, inputs) for p in parts),
                   lambda i: {**right(i), **{key: fn(i) for key, fn in wrong.items()}})


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: int) -> np.ndarray:
    """Every window of ``x`` (N, C, H, W) as a view (N, C, OH, OW, KH, KW)."""
    return sliding_window_view(x, kernel, axis=(2, 3))[:, :, ::stride, ::stride]


def _add_back(d: np.ndarray, shape: tuple[int, ...], stride: int) -> np.ndarray:
    """Each window's gradient ``d`` (N, C, OH, OW, KH, KW) added into an array of ``shape`` where the
    window came from: overlapping windows accumulate."""
    out = np.zeros(shape)
    oh, ow, kh, kw = d.shape[2:]
    for a in range(kh):
        for b in range(kw):
            out[:, :, a:a + stride * oh:stride, b:b + stride * ow:stride] += d[:, :, :, :, a, b]
    return out


def _one_image(i: Inputs) -> None:
    if len(i["x"]) == 1:
        raise ValueError("with one image the batch sum has one term")


# --- softmax_vjp(p, g) ---------------------------------------------------------------------------------


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_vjp(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    return p * (g - (g * p).sum(axis=-1, keepdims=True))


def _softmax_cases(rng: np.random.Generator) -> list[Case]:
    cases = [Case("softmax_vjp with p = softmax([1, 2, 3]) and g = [1, 0, 0] (the first row of the Jacobian)",
                  {"p": _softmax(LESSON_LOGITS), "g": np.array([1.0, 0.0, 0.0])})]
    for k, shape in enumerate([(3, 5), (6,), (4, 3), (2, 3, 4)]):
        cases.append(Case(f"softmax_vjp on rows of p of shape {shape}",
                          {"p": _softmax(_numbers(rng, shape, 2.0)), "g": _numbers(rng, shape, 2.0)}, visible=k < 1))
    return cases


def _dx(result: Callable[[Inputs], np.ndarray]) -> Result:
    return lambda i: {"dx": result(i)}


def _every_entry(i: Inputs) -> np.ndarray:
    p, g = i["p"], i["g"]
    if p.ndim == 1:
        raise ValueError("one row: the sum over every entry is the sum over the row")
    return p * (g - (g * p).sum())


def _broadcast_error(feedback: str) -> Mistake:
    def matches(outcome: Outcome, inputs: Inputs) -> bool:
        return bool(outcome.error) and outcome.error[0] == "ValueError" and "broadcast" in outcome.error[1]

    return Mistake("a row sum without keepdims", feedback, matches)


SOFTMAX_VJP = Question(
    id="08.softmax_vjp",
    points=2,
    credit="case",
    title="The VJP of softmax without its Jacobian",
    cases=_softmax_cases,
    probe=PROBES["08.softmax_vjp"],
    reference=_dx(lambda i: _softmax_vjp(i["p"], i["g"])),
    mistakes=(
        Mistake.answer("softmax's VJP taken as p * g",
                       "softmax is not elementwise: every output depends on every input through the shared "
                       "sum, so its Jacobian diag(p) - p p^T has off-diagonal terms. The VJP is "
                       "p * (g - sum(g * p)), with the sum over each row.", _dx(lambda i: i["p"] * i["g"])),
        Mistake.answer("only the diagonal of the Jacobian",
                       "g * p * (1 - p) keeps the diagonal p_i (1 - p_i) of diag(p) - p p^T and drops the terms "
                       "-p_i p_j: each output also feels the gradients of the others, p * (g - sum(g * p)).",
                       _dx(lambda i: i["g"] * i["p"] * (1 - i["p"]))),
        Mistake.answer("the sum is not weighted by p",
                       "(p p^T)^T g = p (p . g): the sum that is subtracted is sum(g * p), the upstream "
                       "gradient weighted by the probabilities, not sum(g).",
                       _dx(lambda i: i["p"] * (i["g"] - i["g"].sum(axis=-1, keepdims=True)))),
        Mistake.answer("the factor p left out",
                       "J^T g = diag(p) g - p (p . g) = p * (g - sum(g * p)): both terms carry the factor p.",
                       _dx(lambda i: i["g"] - (i["g"] * i["p"]).sum(axis=-1, keepdims=True))),
        Mistake.answer("summed over every entry instead of each row",
                       "each row of p is a softmax of its own: the sum(g * p) that row subtracts runs over "
                       "that row only, (g * p).sum(axis=-1, keepdims=True).", _dx(_every_entry)),
        _broadcast_error("(g * p).sum(axis=-1) drops the summed axis, so it no longer lines up with the rows "
                         "of p: sum with keepdims=True, one number per row kept as a column."),
    ),
)


# --- conv2d_backward(x, w, grad_out, stride, padding) -> (dx, dw, db) --------------------------------------


def _pad(x: np.ndarray, p: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def _conv_windows(i: Inputs) -> np.ndarray:
    return _windows(_pad(i["x"], i["padding"]), i["w"].shape[2:], i["stride"])


def _padded_shape(i: Inputs) -> tuple[int, ...]:
    (n, c, h, w), p = i["x"].shape, i["padding"]
    return n, c, h + 2 * p, w + 2 * p


def _padded_dx(i: Inputs, w: np.ndarray | None = None) -> np.ndarray:
    """The gradient of the padded input: each window gets sum over f of grad_out * w[f], added back."""
    d = np.einsum("nfrc,fkab->nkrcab", i["grad_out"], i["w"] if w is None else w)
    return _add_back(d, _padded_shape(i), i["stride"])


def _crop(i: Inputs, dxp: np.ndarray) -> np.ndarray:
    p, (h, w) = i["padding"], i["x"].shape[2:]
    return dxp[:, :, p:p + h, p:p + w]


def _conv(i: Inputs) -> dict[str, np.ndarray]:
    g = i["grad_out"]
    return {"dx": _crop(i, _padded_dx(i)), "dw": np.einsum("nfrc,nkrcab->fkab", g, _conv_windows(i)),
            "db": g.sum(axis=(0, 2, 3))}


def _padded(i: Inputs) -> None:
    if not i["padding"]:
        raise ValueError("no padding to crop")


def _uncropped(i: Inputs) -> np.ndarray:
    _padded(i)
    return _padded_dx(i)


def _cropped_at(i: Inputs, start: int) -> np.ndarray:
    _padded(i)
    h, w = i["x"].shape[2:]
    return _padded_dx(i)[:, :, start:start + h, start:start + w]


def _last_position(i: Inputs, images: slice) -> np.ndarray:
    """dw from the last output position of ``images`` only: a loop that assigns dw instead of adding."""
    g = i["grad_out"]
    if g.shape[2] * g.shape[3] == 1:
        raise ValueError("one output position")
    return np.einsum("nf,nkab->fkab", g[images, :, -1, -1], _conv_windows(i)[images, :, -1, -1])


def _last_position_of_last_image(i: Inputs) -> np.ndarray:
    _one_image(i)
    return _last_position(i, slice(-1, None))


def _dw_of_image(i: Inputs, n: int) -> np.ndarray:
    _one_image(i)
    return np.einsum("frc,krcab->fkab", i["grad_out"][n], _conv_windows(i)[n])


def _dw_averaged(i: Inputs) -> np.ndarray:
    _one_image(i)
    return _conv(i)["dw"] / len(i["x"])


def _overlapping(i: Inputs) -> None:
    if all(i["stride"] >= k for k in i["w"].shape[2:]):
        raise ValueError("windows that do not overlap")


def _assigned_by_position(i: Inputs) -> np.ndarray:
    """dx by a loop over output positions that sets each window's gradient instead of adding it."""
    _overlapping(i)
    w, g, s = i["w"], i["grad_out"], i["stride"]
    kh, kw = w.shape[2:]
    dxp = np.zeros(_padded_shape(i))
    for r in range(g.shape[2]):
        for c in range(g.shape[3]):
            dxp[:, :, r * s:r * s + kh, c * s:c * s + kw] = np.einsum("nf,fkab->nkab", g[:, :, r, c], w)
    return _crop(i, dxp)


def _assigned_by_filter(i: Inputs) -> np.ndarray:
    """dx by loops over images, filters and positions that set each window's gradient instead of adding it."""
    if len(i["w"]) == 1:
        _overlapping(i)
    w, g, s = i["w"], i["grad_out"], i["stride"]
    kh, kw = w.shape[2:]
    dxp = np.zeros(_padded_shape(i))
    for n in range(g.shape[0]):
        for f in range(g.shape[1]):
            for r in range(g.shape[2]):
                for c in range(g.shape[3]):
                    dxp[n, :, r * s:r * s + kh, c * s:c * s + kw] = g[n, f, r, c] * w[f]
    return _crop(i, dxp)


def _conv_case(rng: np.random.Generator, x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: int,
               padding: int, visible: bool = False) -> Case:
    (n, _, h, w), (f, _, kh, kw) = x_shape, w_shape
    out = (n, f, (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1)
    inputs = {"x": _numbers(rng, x_shape), "w": _numbers(rng, w_shape), "grad_out": _numbers(rng, out),
              "stride": stride, "padding": padding}
    return Case(f"conv2d_backward with x {x_shape}, w {w_shape}, stride {stride}, padding {padding}", inputs,
                visible=visible)


def _conv_cases(rng: np.random.Generator) -> list[Case]:
    def size(low: int, high: int) -> int:
        return int(rng.integers(low, high + 1))

    lesson = Case("conv2d_backward on the lesson's 1-D example: x = [1, 2, 3, 4], w = [1, 0, -1], "
                  "grad_out = [1, 1], as arrays of shape (1, 1, 1, 4), (1, 1, 1, 3), (1, 1, 1, 2)",
                  {"x": LESSON_X.reshape(1, 1, 1, 4), "w": LESSON_W.reshape(1, 1, 1, 3),
                   "grad_out": np.ones((1, 1, 1, 2)), "stride": 1, "padding": 0})
    return [
        lesson,
        _conv_case(rng, (2, 2, size(4, 5), size(6, 7)), (3, 2, 3, 2), 1, 0, visible=True),
        _conv_case(rng, (2, 3, size(5, 6), size(7, 8)), (2, 3, 3, 3), 2, 1, visible=True),
        _conv_case(rng, (3, 1, size(3, 4), size(5, 6)), (2, 1, 3, 3), 1, 1),
        _conv_case(rng, (2, 2, 6, 2 * size(2, 4)), (3, 2, 2, 2), 2, 0),
        _conv_case(rng, (2, 2, 6, 7), (2, 2, 3, 2), 2, 0),
        _conv_case(rng, (2, 2, size(5, 6), size(6, 7)), (2, 2, 3, 3), 3, 2),
    ]


FLIPPED = ("dx spreads grad_out[n, f, r, c] * w[f, :, i, j] back onto the padded pixel (r * stride + i, "
           "c * stride + j), the very pixel w[f, :, i, j] multiplied in the forward pass. Written as a "
           "'full' convolution that is a correlation with the kernel rotated by 180 degrees; dw is a plain "
           "correlation of the input with grad_out, never flipped.")
CROPPED = ("work out the gradient of the PADDED input, then cut `padding` rows and columns off EACH side: "
           "dx = dxp[:, :, p:p + H, p:p + W], the shape of x. The zeros added around x are not inputs, so "
           "their gradient is dropped.")
POSITIONS = ("the filter is used at every output position, a fan-out, so dw is the SUM over positions (and "
             "over the images) of grad_out[n, f, r, c] * window: add with dw += ..., do not assign dw = ....")
BATCH = ("every image uses the same filters, so dw sums the contributions of ALL the images of the batch: "
         "add each image's into dw.")
BIAS = ("b[f] is added at every position of every image, so db[f] sums grad_out[:, f] over the batch and "
        "both spatial axes: grad_out.sum(axis=(0, 2, 3)), of shape (F,).")
ASSIGNED = ("windows overlap when the stride is smaller than the kernel, and a pixel in several windows "
            "receives a gradient from each: add into dx (dx[..., window] += ...), as col2im does.")


_conv_part = functools.partial(_part, right=_conv)  # a mistake in one of dx, dw, db


CONV2D_BACKWARD = Question(
    id="08.conv2d_backward",
    points=4,
    credit="output",
    title="Backward of a 2-D convolution with stride and padding: dx, dw and db",
    cases=_conv_cases,
    probe=PROBES["08.conv2d_backward"],
    reference=_conv,
    mistakes=(
        _conv_part("dx with the kernel flipped the wrong way", FLIPPED, "dx",
                   lambda i: _crop(i, _padded_dx(i, i["w"][:, :, ::-1, ::-1]))),
        _conv_part("dw flipped", FLIPPED, "dw", lambda i: _conv(i)["dw"][:, :, ::-1, ::-1]),
        _conv_part("padding cropped wrongly", CROPPED, "dx", _uncropped),
        _conv_part("padding cropped wrongly", CROPPED, "dx", lambda i: _cropped_at(i, 0)),
        _conv_part("padding cropped wrongly", CROPPED, "dx", lambda i: _cropped_at(i, 2 * i["padding"])),
        _conv_part("filter gradient not summed over positions", POSITIONS, "dw",
                   lambda i: _last_position(i, slice(None))),
        _conv_part("filter gradient not summed over positions", POSITIONS, "dw", _last_position_of_last_image),
        _conv_part("filter gradient not summed over the batch", BATCH, "dw", lambda i: _dw_of_image(i, -1)),
        _conv_part("filter gradient not summed over the batch", BATCH, "dw", lambda i: _dw_of_image(i, 0)),
        _conv_part("filter gradient averaged over the batch",
                   "sum the images' contributions to dw, do not average them: any 1/N of a mean loss is "
                   "already in grad_out.", "dw", _dw_averaged),
        _conv_part("bias gradient summed over the wrong axes", BIAS, "db", lambda i: i["grad_out"].sum(axis=(2, 3))),
        _conv_part("bias gradient summed over the wrong axes", BIAS, "db", lambda i: i["grad_out"].sum(axis=0)),
        _conv_part("dx assigned instead of added where windows overlap", ASSIGNED, "dx", _assigned_by_position),
        _conv_part("dx assigned instead of added where windows overlap", ASSIGNED, "dx", _assigned_by_filter),
    ),
)


# --- max_pool_backward(x, grad_out, size, stride) -> dx ----------------------------------------------------


def _pool_windows(i: Inputs) -> np.ndarray:
    return _windows(i["x"], (i["size"], i["size"]), i["stride"])


def _pooled(share: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[Inputs], np.ndarray]:
    """dx when each window sends back ``share(windows, g)`` (N, C, OH, OW, k, k), added up."""
    def dx(i: Inputs) -> np.ndarray:
        windows = _pool_windows(i)
        g = i["grad_out"][..., None, None]
        return _add_back(np.broadcast_to(share(windows, g), windows.shape), i["x"].shape, i["stride"])
    return dx


def _winner(windows: np.ndarray) -> np.ndarray:
    return windows == windows.max(axis=(-2, -1), keepdims=True)


def _pool_assigned(i: Inputs) -> np.ndarray:
    x, g, k, s = i["x"], i["grad_out"], i["size"], i["stride"]
    if k <= s:
        raise ValueError("windows that do not overlap")
    windows, dx = _pool_windows(i), np.zeros(x.shape)
    for r in range(g.shape[2]):
        for c in range(g.shape[3]):
            dx[:, :, r * s:r * s + k, c * s:c * s + k] = _winner(windows[:, :, r, c]) * g[:, :, r, c, None, None]
    return dx


def _distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Numbers with two decimals, no two alike: no window has a tie."""
    return rng.choice(np.arange(-999, 1000), size=int(np.prod(shape)), replace=False).reshape(shape) / 100


def _pool_case(rng: np.random.Generator, shape: tuple[int, ...], size: int, stride: int,
               visible: bool = False) -> Case:
    x = _distinct(rng, shape)
    n, c, h, w = shape
    out = (n, c, (h - size) // stride + 1, (w - size) // stride + 1)
    overlap = ""
    if size > stride:  # the pixel (stride, stride) lies in four windows: let it win them all
        x[:, :, stride, stride] = x.max() + 1
        overlap = ", one pixel winning four overlapping windows"
    return Case(f"max_pool_backward with x {shape}, size {size}, stride {stride}{overlap}",
                {"x": x, "grad_out": _numbers(rng, out), "size": size, "stride": stride}, visible=visible)


def _pool_cases(rng: np.random.Generator) -> list[Case]:
    return [_pool_case(rng, (1, 1, 4, 4), 2, 2, visible=True),
            _pool_case(rng, (2, 3, 4, 6), 2, 2, visible=True),
            _pool_case(rng, (2, 2, 5, 7), 3, 2, visible=True),
            _pool_case(rng, (2, 2, 5, 7), 2, 2),
            _pool_case(rng, (1, 3, 4, 5), 2, 1),
            _pool_case(rng, (3, 1, 6, 7), 3, 3),
            _pool_case(rng, (2, 2, 7, 6), 3, 2)]


MAX_POOL_BACKWARD = Question(
    id="08.max_pool_backward",
    points=2,
    credit="case",
    title="Backward of max pooling: the max gate in every window",
    cases=_pool_cases,
    probe=PROBES["08.max_pool_backward"],
    reference=_dx(_pooled(lambda windows, g: _winner(windows) * g)),
    mistakes=(
        Mistake.answer("the gradient sent to every element of the window",
                       "max pooling is lesson 03's max gate: only the winner of the window affected the output, "
                       "so the whole gradient goes to the winner and 0 to the rest.",
                       _dx(_pooled(lambda windows, g: g))),
        Mistake.answer("the gradient split evenly over the window",
                       "g / (size * size) everywhere is the backward of AVERAGE pooling; max pooling sends the "
                       "whole gradient to the largest entry of the window and 0 to the others.",
                       _dx(_pooled(lambda windows, g: g / (windows.shape[-1] * windows.shape[-2])))),
        Mistake.answer("the upstream gradient is not used",
                       "the mask of winners is only the local derivative: multiply it by the window's upstream "
                       "gradient, its entry of grad_out.", _dx(_pooled(lambda windows, g: 1.0 * _winner(windows)))),
        Mistake.answer("dx assigned instead of added where windows overlap",
                       "when the stride is smaller than the window, a pixel can win several windows and then "
                       "receives the gradient of each: add into dx (dx[..., window] += ...), do not assign.",
                       _dx(_pool_assigned)),
    ),
)


# --- layer_norm_backward(x, gamma, grad_out, eps) -> (dx, dgamma, dbeta) -----------------------------------


def _normalised(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """xhat and 1 / sqrt(var + eps), over the last axis."""
    xc = x - x.mean(axis=-1, keepdims=True)
    inv_std = 1 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + eps)
    return xc * inv_std, inv_std


def _layer_norm(i: Inputs, mean_term: bool = True, var_term: bool = True, gamma: bool = True,
                eps: float | None = None) -> dict[str, np.ndarray]:
    x, g = i["x"], i["grad_out"]
    xhat, inv_std = _normalised(x, i["eps"] if eps is None else eps)
    dxhat = g * i["gamma"] if gamma else g
    dx = dxhat
    if mean_term:
        dx = dx - dxhat.mean(axis=-1, keepdims=True)
    if var_term:
        dx = dx - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)
    rows = tuple(range(x.ndim - 1))
    return {"dx": dx * inv_std, "dgamma": (g * xhat).sum(axis=rows), "dbeta": g.sum(axis=rows)}


def _other_eps(i: Inputs) -> dict[str, np.ndarray]:
    """The gradients with eps left out where the case has the default eps, with the default elsewhere."""
    return _layer_norm(i, eps=0.0 if i["eps"] == 1e-5 else 1e-5)


def _leading_axis_only(i: Inputs, key: str) -> np.ndarray:
    if i["x"].ndim < 3:
        raise ValueError("one leading axis: summing it is right")
    g = i["grad_out"]
    return (g * _normalised(i["x"], i["eps"])[0] if key == "dgamma" else g).sum(axis=0)


def _ln_cases(rng: np.random.Generator) -> list[Case]:
    def case(shape: tuple[int, ...], eps: float, scale: float = 2.0, visible: bool = False) -> Case:
        inputs = {"x": _numbers(rng, shape, scale), "gamma": _numbers(rng, shape[-1:], 1.5),
                  "grad_out": _numbers(rng, shape), "eps": eps}
        return Case(f"layer_norm_backward with x {shape}, eps = {eps:g}", inputs, visible=visible)

    return [case((2, 3, 5), 1e-5, visible=True), case((3, 4), 0.1, scale=0.5, visible=True),
            case((4, 6), 1e-5), case((6, 3), 1e-5), case((1, 7), 1e-5), case((3, 2, 4), 0.05, scale=0.4)]


ROWS = ("gamma and beta are shared by every row (every example, every position), a fan-out: dgamma and "
        "dbeta sum over ALL the leading axes, (grad_out * xhat).sum(axis=tuple(range(x.ndim - 1))), to "
        "gamma's shape (D,).")


_ln_part = functools.partial(_part, right=_layer_norm)  # a mistake in one of dx, dgamma, dbeta


LAYER_NORM_BACKWARD = Question(
    id="08.layer_norm_backward",
    points=3,
    credit="output",
    title="Backward of layer normalisation through the mean and the variance",
    cases=_ln_cases,
    probe=PROBES["08.layer_norm_backward"],
    reference=_layer_norm,
    mistakes=(
        _ln_part("the mean term forgotten",
                 "mu = mean(x) depends on every x_j, so each x_j also moves xhat through mu: subtract "
                 "mean(dxhat) over the row, dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sigma.",
                 "dx", lambda i: _layer_norm(i, mean_term=False)["dx"]),
        _ln_part("the variance term forgotten",
                 "var = mean((x - mu)^2) depends on every x_j too: the path through the variance gives "
                 "- xhat * mean(dxhat * xhat), so dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sigma.",
                 "dx", lambda i: _layer_norm(i, var_term=False)["dx"]),
        _ln_part("the mean and the variance treated as constants",
                 "dx = dxhat / sigma only holds if mu and sigma did not depend on x. They do: add the paths "
                 "through both, dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sigma.",
                 "dx", lambda i: _layer_norm(i, mean_term=False, var_term=False)["dx"]),
        _ln_part("gamma left out of dx",
                 "y = gamma * xhat + beta, so the gradient reaching xhat is dxhat = grad_out * gamma: start "
                 "the backward through the normalisation from that, not from grad_out.",
                 "dx", lambda i: _layer_norm(i, gamma=False)["dx"]),
        _ln_part("dgamma from x instead of xhat",
                 "gamma multiplies the NORMALISED input: dgamma = sum of grad_out * xhat, with "
                 "xhat = (x - mu) / sqrt(var + eps), not grad_out * x.",
                 "dgamma", lambda i: (i["grad_out"] * i["x"]).sum(axis=tuple(range(i["x"].ndim - 1)))),
        _parts("dgamma and dbeta not summed over every row", ROWS,
               {"dgamma": lambda i: i["grad_out"] * _normalised(i["x"], i["eps"])[0],
                "dbeta": lambda i: i["grad_out"]}, _layer_norm),
        _parts("dgamma and dbeta not summed over every row", ROWS,
               {"dgamma": lambda i: _leading_axis_only(i, "dgamma"), "dbeta": lambda i: _leading_axis_only(i, "dbeta")},
               _layer_norm),
        Mistake.answer("eps ignored",
                       "use the eps you are given, inside the square root: xhat = (x - mu) / sqrt(var + eps). "
                       "Leaving it out changes every gradient a little, and a fixed 1e-5 is wrong when the "
                       "caller passes another eps.", _other_eps, rtol=1e-9, atol=1e-12),
    ),
)


# --- attention_backward(Q, K, V, grad_out) -> (dQ, dK, dV) -------------------------------------------------


def _weights_and_dz(i: Inputs, scale: bool = True, scale_back: bool = True, axis: int = -1,
                    vjp: Callable[[np.ndarray, np.ndarray], np.ndarray] = _softmax_vjp) -> tuple[np.ndarray, ...]:
    """A and the gradient of Q K^T, dZ / sqrt(d) with dZ that of the scores Z = Q K^T / sqrt(d), with
    one step changed as the flags say."""
    Q, K, V, G = i["Q"], i["K"], i["V"], i["grad_out"]
    c = 1 / np.sqrt(Q.shape[-1]) if scale else 1.0
    A = _softmax(Q @ K.T * c, axis=axis)
    return A, vjp(A, G @ V.T) * (c if scale_back else 1.0)


def _attention(i: Inputs, **how: Any) -> dict[str, np.ndarray]:
    """The gradients of out = softmax(Q K^T / sqrt(d)) V (``how``: see ``_weights_and_dz``)."""
    A, dQK = _weights_and_dz(i, **how)
    return {"dQ": dQK @ i["K"], "dK": dQK.T @ i["Q"], "dV": A.T @ i["grad_out"]}


def _attention_case(rng: np.random.Generator, t: int, s: int, d: int, dv: int, visible: bool = False) -> Case:
    inputs = {"Q": _numbers(rng, (t, d), 1.5), "K": _numbers(rng, (s, d), 1.5), "V": _numbers(rng, (s, dv)),
              "grad_out": _numbers(rng, (t, dv))}
    return Case(f"attention_backward with T = {t} queries, S = {s} keys, d = {d}, dv = {dv}", inputs,
                visible=visible)


def _attention_cases(rng: np.random.Generator) -> list[Case]:
    return [_attention_case(rng, 3, 4, 2, 3, visible=True), _attention_case(rng, 4, 4, 3, 2, visible=True),
            _attention_case(rng, 5, 3, 4, 2), _attention_case(rng, 4, 4, 6, 3), _attention_case(rng, 2, 5, 3, 4),
            _attention_case(rng, 1, 3, 2, 2)]


def _self_attention(i: Inputs) -> None:
    if len(i["Q"]) != len(i["K"]):
        raise ValueError("T != S: the product does not run")


def _dk_untransposed(i: Inputs) -> np.ndarray:
    _self_attention(i)
    return _weights_and_dz(i)[1] @ i["Q"]


def _dv_untransposed(i: Inputs) -> np.ndarray:
    _self_attention(i)
    return _weights_and_dz(i)[0] @ i["grad_out"]


def _scores(name: str, feedback: str, **how: Any) -> Mistake:
    """The mistake whose dQ and dK come from ``_attention(inputs, **how)`` (dV may be right or not)."""
    return _parts(name, feedback, {key: lambda i, key=key: _attention(i, **how)[key] for key in ("dQ", "dK")},
                  _attention)


ATTENTION_BACKWARD = Question(
    id="08.attention_backward",
    builds_on=("08.softmax_vjp",),
    points=3,
    credit="output",
    title="Backward of one attention head: dQ, dK and dV",
    cases=_attention_cases,
    probe=PROBES["08.attention_backward"],
    reference=_attention,
    mistakes=(
        _scores("the 1/sqrt(d) scale missing in backward",
                "the scores are Z = Q K^T / sqrt(d), so the gradient reaching Q K^T is dZ / sqrt(d): "
                "dQ = (dZ / sqrt(d)) K and dK = (dZ / sqrt(d))^T Q.", scale_back=False),
        _scores("softmax's VJP taken as p * g",
                "softmax mixes its inputs: from dA = grad_out V^T, the gradient of the scores is "
                "A * (dA - sum(dA * A, over each row)) (your softmax_vjp), not A * dA.",
                vjp=lambda p, g: p * g),
        _part("the 1/sqrt(d) scale left out of the forward pass",
              "A = softmax(Q K^T / sqrt(d)): divide the scores by sqrt(d) BEFORE the softmax (d = Q.shape[-1]), "
              "then dV = A^T grad_out.", "dV", lambda i: _attention(i, scale=False)["dV"], _attention),
        _part("softmax over the wrong axis",
              "each query's row of scores is a softmax over the KEYS: normalise along the last axis, "
              "so that every row of A sums to 1.", "dV", lambda i: _attention(i, axis=0)["dV"], _attention),
        _part("dV without the transpose of A",
              "out = A V, so dV = A^T grad_out: (S, T) @ (T, dv) gives V's shape (S, dv). A @ grad_out only "
              "runs when T == S, as here, and is wrong even then.", "dV", _dv_untransposed, _attention),
        _part("dK without the transpose of dZ",
              "for the scores Z = Q K^T / sqrt(d), dK = dZ^T Q / sqrt(d): (S, T) @ (T, d) gives K's shape (S, d). "
              "dZ @ Q only runs when T == S, as here, and is wrong even then.", "dK", _dk_untransposed, _attention),
        _shape_error("a product raised a shape error: each gradient has the shape of its value, dQ (T, d), "
                     "dK (S, d) and dV (S, dv); let the shapes tell you where a transpose goes: "
                     "dV = A^T grad_out, dA = grad_out V^T, dQ = dZ K / sqrt(d) and dK = dZ^T Q / sqrt(d), "
                     "with dZ the gradient of the scores."),
    ),
)


EXERCISE = Exercise(
    number="08",
    title="Backpropagation through the layers of modern networks",
    notebook="08_modern_layers",
    questions=(SOFTMAX_VJP, CONV2D_BACKWARD, MAX_POOL_BACKWARD, LAYER_NORM_BACKWARD, ATTENTION_BACKWARD),
)
