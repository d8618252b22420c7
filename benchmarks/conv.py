"""conv2d through the library against the same convolution written directly in numpy, side by side:
``python benchmarks/conv.py`` (also part of ``python benchmarks/run.py``).

A batch of 64 digits (1 x 8 x 8) through 16 filters of 3 x 3, padding 1, as in the first layer of
lesson 08's network, forward and backward (dx, dw and db). The numpy side is what a careful
student writes: im2col with ``sliding_window_view``, one matrix product broadcast over the images,
and col2im as one strided addition per kernel offset. The library's ``conv2d`` does the same
arithmetic through ``Im2ColFunction`` and the tensor engine's matmul, so the two must agree to
rounding before they are timed; the ratio is what the graph costs. PyTorch's CPU ``conv2d`` is
timed against the same numpy code, for reference, with its own number of threads and with one.

Before timing, one 16 MB array is made and freed. glibc's allocator maps fresh pages for every
array larger than its threshold, which starts at 128 KB and rises to the size of the largest such
array freed so far, and it hands the top of its heap back to the system when more than twice the
threshold is free there. A step here allocates arrays of 0.5 MB, so whether a step's 2 MB are
faulted in again at every step depends on where the process stands in that sequence (the numpy step
stays below the threshold, the library's graph goes above it), not on either side's arithmetic. Any
program that has held a few megabytes, a data set or a larger batch, has already passed that point;
so has ``run.py`` by the time it gets here.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backprop_lib import Tensor, datasets  # noqa: E402
from backprop_lib.layers import conv2d  # noqa: E402
from run import report, side_by_side  # noqa: E402

BATCH, FILTERS, KERNEL, PADDING = 64, 16, 3, 1


def numpy_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """y (N, F, H, W) of a stride-1 convolution with ``PADDING``, and what backward needs."""
    n, c, h, wd = x.shape
    f, _, k, _ = w.shape
    xp = np.zeros((n, c, h + 2 * PADDING, wd + 2 * PADDING), dtype=x.dtype)
    xp[:, :, PADDING:PADDING + h, PADDING:PADDING + wd] = x
    oh, ow = h + 2 * PADDING - k + 1, wd + 2 * PADDING - k + 1
    windows = sliding_window_view(xp, (k, k), axis=(2, 3))  # (N, C, OH, OW, K, K)
    cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * k * k, oh * ow)
    y = (w.reshape(f, -1) @ cols + b[:, None]).reshape(n, f, oh, ow)
    return y, (cols, xp.shape)


def numpy_backward(g: np.ndarray, w: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx, dw, db from the upstream gradient ``g`` (N, F, OH, OW)."""
    cols, padded = cache
    n, c = padded[:2]
    f, _, k, _ = w.shape
    oh, ow = g.shape[2:]
    g2 = g.reshape(n, f, oh * ow)
    dw = (g2 @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    db = g2.sum(axis=(0, 2))
    dcols = (w.reshape(f, -1).T @ g2).reshape(n, c, k, k, oh, ow)
    dxp = np.zeros(padded, dtype=g.dtype)
    for i in range(k):
        for j in range(k):
            dxp[:, :, i:i + oh, j:j + ow] += dcols[:, :, i, j]
    return dxp[:, :, PADDING:-PADDING, PADDING:-PADDING], dw, db


def repeated(f: Callable[[], object], times: int) -> Callable[[], None]:
    """``f`` called ``times`` times, each result dropped at once (20 graphs kept alive would be 27 MB)."""

    def run() -> None:
        for _ in range(times):
            f()

    return run


def bench_conv2d(repeats: int) -> list[tuple]:
    allocator_warm_up = np.ones(1 << 21)  # 16 MB, made and freed: see the module's docstring
    del allocator_warm_up
    X, _ = datasets.digits("train")
    x = X[:BATCH]
    rng = np.random.default_rng(0)
    w = rng.standard_normal((FILTERS, 1, KERNEL, KERNEL)) * np.sqrt(2 / KERNEL**2)
    b = rng.standard_normal(FILTERS) * 0.1
    g = rng.standard_normal((BATCH, FILTERS, 8, 8))
    xt, wt, bt = (Tensor(a.copy(), requires_grad=True) for a in (x, w, b))

    def library_forward():
        return conv2d(xt, wt, bt, padding=PADDING)

    def library_step():
        for t in (xt, wt, bt):
            t.grad = None
        library_forward().backward(g)

    def numpy_step():
        y, cache = numpy_forward(x, w, b)
        return numpy_backward(g, w, cache)

    # the same arithmetic: the two must agree before they are timed
    library_step()
    assert np.allclose(library_forward().data, numpy_forward(x, w, b)[0], rtol=1e-12, atol=1e-12)
    for ours, theirs in zip((xt.grad, wt.grad, bt.grad), numpy_step()):
        assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-12)

    inner = 20
    shape = f"B={BATCH}, {FILTERS} 3x3 filters on 1x8x8, padding 1"
    rows = []
    t_lib, t_np = side_by_side(repeated(library_forward, inner), repeated(lambda: numpy_forward(x, w, b), inner),
                               repeats)
    rows.append((f"conv2d forward / numpy, {shape}", t_lib / t_np, "<= 1.50",
                 f"library {t_lib / inner * 1e6:.0f} us, numpy {t_np / inner * 1e6:.0f} us"))
    t_lib, t_np = side_by_side(repeated(library_step, inner), repeated(numpy_step, inner), repeats)
    rows.append((f"conv2d forward+backward / numpy, {shape}", t_lib / t_np, "<= 1.50",
                 f"library {t_lib / inner * 1e6:.0f} us, numpy {t_np / inner * 1e6:.0f} us"))
    rows.extend(torch_rows(x, w, b, g, numpy_step, inner, repeats, shape))
    return rows


def torch_rows(x, w, b, g, numpy_step, inner: int, repeats: int, shape: str) -> list[tuple]:
    """PyTorch with its own number of threads, then with one (numpy runs these small products on one)."""
    try:
        import torch
    except ImportError:
        return [("PyTorch conv2d forward+backward / numpy", None, None, "torch not installed")]
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tg = torch.tensor(g)

    def torch_step():
        for t in (tx, tw, tb):
            t.grad = None
        torch.nn.functional.conv2d(tx, tw, tb, padding=PADDING).backward(tg)

    rows, threads = [], torch.get_num_threads()
    try:
        for n in dict.fromkeys((threads, 1)):
            torch.set_num_threads(n)
            t_torch, t_np = side_by_side(repeated(torch_step, inner), repeated(numpy_step, inner), repeats)
            rows.append((f"PyTorch ({n} thread{'s' if n > 1 else ''}) conv2d forward+backward / numpy, {shape}",
                         t_torch / t_np, "reference",
                         f"PyTorch {t_torch / inner * 1e6:.0f} us, numpy {t_np / inner * 1e6:.0f} us"))
    finally:
        torch.set_num_threads(threads)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run, not a measurement")
    args = parser.parse_args(argv)
    report(bench_conv2d(3 if args.quick else 15))
    return 0


if __name__ == "__main__":
    sys.exit(main())
