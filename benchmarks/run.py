"""Engine benchmarks, measured side by side in one run: ``python benchmarks/run.py``.

Each comparison times both contenders in alternation (A, B, A, B, ...) and reports the ratio of
their medians, so that a busy machine slows both alike. Goals come from the design's speed budget.
``--quick`` runs fewer repeats (a smoke run, not a measurement).
"""
from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backprop_lib import Tensor, Value, cross_entropy  # noqa: E402


def side_by_side(a: Callable[[], object], b: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of ``a`` and of ``b``, timed in alternation after one warm-up call each."""
    a()
    b()
    ta, tb = [], []
    for _ in range(repeats):
        for f, times in ((a, ta), (b, tb)):
            gc.collect()
            start = time.perf_counter()
            f()
            times.append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb)


# --- Value against micrograd ----------------------------------------------------------------------


def scalar_mlp(value_cls, sizes: list[int], seed: int = 0):
    rng = random.Random(seed)
    return [
        [([value_cls(rng.uniform(-1, 1)) for _ in range(n_in)], value_cls(0.0)) for _ in range(n_out)]
        for n_in, n_out in zip(sizes, sizes[1:])
    ]


def scalar_step(value_cls, model, xs, ys, lr: float = 0.05) -> float:
    """One full step of micrograd's demo: forward, hinge loss, backward, SGD update."""
    params = [p for layer in model for w, b in layer for p in (*w, b)]
    for p in params:
        p.grad = 0.0
    losses = []
    for x, y in zip(xs, ys):
        act = [value_cls(v) for v in x]
        for i, layer in enumerate(model):
            act = [sum((wi * ai for wi, ai in zip(w, act)), b) for w, b in layer]
            if i < len(model) - 1:
                act = [a.relu() for a in act]
        losses.append((1 + -y * act[0]).relu())
    loss = sum(losses) * (1.0 / len(losses))
    loss.backward()
    for p in params:
        p.data -= lr * p.grad
    return loss.data


def bench_value_vs_micrograd(repeats: int) -> list[tuple]:
    try:
        from micrograd.engine import Value as MicroValue
    except ImportError:
        return [("Value MLP step vs micrograd", None, None, "micrograd not installed (pip install -e '.[bench]')")]
    rng = random.Random(1)
    xs = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(32)]
    ys = [1.0 if x0 * x1 > 0 else -1.0 for x0, x1 in xs]
    ours, theirs = scalar_mlp(Value, [2, 16, 16, 1]), scalar_mlp(MicroValue, [2, 16, 16, 1])
    steps = 5  # each timed call runs several steps, so that each engine pays for its own garbage
    t_ours, t_micro = side_by_side(
        lambda: [scalar_step(Value, ours, xs, ys) for _ in range(steps)],
        lambda: [scalar_step(MicroValue, theirs, xs, ys) for _ in range(steps)],
        repeats,
    )
    speedup = t_micro / t_ours
    return [("Value MLP step (2-16-16-1, 32 points): speed-up over micrograd", speedup, ">= 1.5",
             f"ours {t_ours / steps * 1e3:.1f} ms, micrograd {t_micro / steps * 1e3:.1f} ms per step")]


# --- deep chains ------------------------------------------------------------------------------


def chain_backward_seconds(n: int) -> float:
    x = Value(0.5)
    y = x
    for _ in range(n):
        y = y * 1.0000001
    start = time.perf_counter()
    y.backward()
    return time.perf_counter() - start


def bench_chain(repeats: int) -> list[tuple]:
    small = statistics.median(chain_backward_seconds(250_000) for _ in range(max(1, repeats // 4)))
    large = statistics.median(chain_backward_seconds(1_000_000) for _ in range(max(1, repeats // 4)))
    return [("Value chain backward, 1M nodes / 250k nodes", large / small, "~4 (linear)",
             f"250k: {small:.2f} s, 1M: {large:.2f} s")]


# --- Tensor against hand-written numpy ----------------------------------------------------------------


def init_params(sizes: tuple[int, int, int], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    d, h, c = sizes
    return [rng.normal(0, np.sqrt(2 / d), (d, h)), np.zeros(h), rng.normal(0, np.sqrt(2 / h), (h, c)), np.zeros(c)]


def numpy_step(params: list[np.ndarray], X: np.ndarray, y: np.ndarray, lr: float) -> float:
    """Forward, softmax cross-entropy, backward and SGD by hand: what a careful student writes."""
    W1, b1, W2, b2 = params
    h = X @ W1 + b1
    a = np.maximum(h, 0)
    s = a @ W2 + b2
    shifted = s - s.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = np.mean(np.log(total[:, 0]) - shifted[rows, y])
    ds = e / total
    ds[rows, y] -= 1
    ds /= len(y)
    dW2 = a.T @ ds
    db2 = ds.sum(axis=0)
    dh = (ds @ W2.T) * (h > 0)
    dW1 = X.T @ dh
    db1 = dh.sum(axis=0)
    W1 -= lr * dW1
    b1 -= lr * db1
    W2 -= lr * dW2
    b2 -= lr * db2
    return float(loss)


def tensor_step(params: list[Tensor], X: Tensor, y: np.ndarray, lr: float) -> float:
    W1, b1, W2, b2 = params
    loss = cross_entropy((X @ W1 + b1).relu() @ W2 + b2, y)
    loss.backward()
    for p in params:
        p.data -= lr * p.grad
        p.grad = None
    return loss.item()


def bench_tensor_vs_numpy(repeats: int) -> list[tuple]:
    rows = []
    for batch, sizes, goal in ((32, (2, 16, 2), 2.0), (256, (784, 256, 10), 1.10)):
        rng = np.random.default_rng(1)
        X = rng.normal(size=(batch, sizes[0]))
        y = rng.integers(0, sizes[2], size=batch)
        np_params = init_params(sizes)
        t_params = [Tensor(p.copy(), requires_grad=True) for p in init_params(sizes)]
        Xt = Tensor(X)
        # identical arithmetic: the two must agree before they are timed
        for _ in range(3):
            ln, lt = numpy_step(np_params, X, y, 0.01), tensor_step(t_params, Xt, y, 0.01)
            assert abs(ln - lt) <= 1e-12 * max(1.0, abs(ln)), (ln, lt)
        inner = 200 if batch == 32 else 5
        t_tensor, t_numpy = side_by_side(
            lambda: [tensor_step(t_params, Xt, y, 0.01) for _ in range(inner)],
            lambda: [numpy_step(np_params, X, y, 0.01) for _ in range(inner)],
            repeats,
        )
        name = f"Tensor MLP step / numpy step, B={batch} ({'-'.join(map(str, sizes))})"
        rows.append((name, t_tensor / t_numpy, f"<= {goal:.2f}",
                     f"Tensor {t_tensor / inner * 1e6:.0f} us, numpy {t_numpy / inner * 1e6:.0f} us"))
    return rows


def bench_backward_vs_forward(repeats: int) -> list[tuple]:
    rng = np.random.default_rng(2)
    sizes = (784, 256, 10)
    params = [Tensor(p, requires_grad=True) for p in init_params(sizes)]
    X, y = Tensor(rng.normal(size=(256, 784))), rng.integers(0, 10, size=256)
    W1, b1, W2, b2 = params
    holder = {}

    def forward():
        holder["loss"] = cross_entropy((X @ W1 + b1).relu() @ W2 + b2, y)

    def backward():
        for p in params:
            p.grad = None
        holder["loss"].backward()

    forward()
    fwd, bwd = side_by_side(forward, backward, repeats)
    return [("Tensor backward / forward, B=256 (784-256-10)", bwd / fwd, "<= 3",
             f"forward {fwd * 1e3:.2f} ms, backward {bwd * 1e3:.2f} ms")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run, not a measurement")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 15
    print(f"machine: {platform.machine()}, {platform.processor() or 'unknown cpu'}, "
          f"python {platform.python_version()}, numpy {np.__version__}")
    from conv import bench_conv2d  # here, not above: conv.py imports side_by_side from this module

    rows = []
    for bench in (bench_value_vs_micrograd, bench_chain, bench_tensor_vs_numpy, bench_backward_vs_forward,
                  bench_conv2d):
        rows.extend(bench(repeats))
    report(rows)
    return 0


def report(rows: list[tuple]) -> None:
    """Print (name, ratio, goal, detail) rows as a table; a ratio of None is shown as n/a."""
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'ratio':>7}  {'goal':>12}  detail")
    for name, ratio, goal, detail in rows:
        shown = "n/a" if ratio is None else f"{ratio:.2f}"
        print(f"{name:<{width}}  {shown:>7}  {goal or '':>12}  {detail}")


if __name__ == "__main__":
    sys.exit(main())
