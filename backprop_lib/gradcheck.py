"""Numerical gradients and how to compare them with analytic ones (lesson 03).

Central differences, (f(t + h) - f(t - h)) / (2h), have error O(h^2) where one-sided differences
have O(h); all arithmetic is float64 so that round-off (which grows like eps / h) stays far below
the truncation error at the default h = 1e-5.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TINY = 1e-300


def _as_float64_array(x) -> np.ndarray:
    # Always a copy, so the caller's array is never touched; C order, so that a flat view of it
    # reaches every entry (a transposed input would otherwise flatten into a copy).
    arr = np.array(x, dtype=np.float64, order="C")
    return arr


def numerical_gradient(f: Callable, x, h: float = 1e-5):
    """Central-difference gradient of a scalar function ``f`` at ``x``.

    ``x`` is a number or an array of any shape; the result has the same shape (a float for a
    number). ``f`` receives float64 arrays (or floats) and must return a scalar.
    """
    if h <= 0:
        raise ValueError(f"h must be positive, got {h}")
    if np.ndim(x) == 0:
        x0 = float(x)
        return (float(f(x0 + h)) - float(f(x0 - h))) / (2 * h)
    t = _as_float64_array(x)
    grad = np.empty_like(t)
    flat, gflat = t.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = float(f(t))
        flat[i] = old - h
        minus = float(f(t))
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad


def numerical_vjp(f: Callable, x, upstream, h: float = 1e-5) -> np.ndarray:
    """Numerical vector-Jacobian product: the gradient of ``sum(f(x) * upstream)`` at ``x``.

    ``upstream`` has the shape of ``f(x)``; the result has the shape of ``x``.
    """
    up = np.asarray(upstream, dtype=np.float64)

    def projected(t):
        y = np.asarray(f(t), dtype=np.float64)
        if y.shape != up.shape:
            raise ValueError(f"f(x) has shape {y.shape} but upstream has shape {up.shape}")
        return float(np.sum(y * up))

    return numerical_gradient(projected, x, h)


def rel_error(a, b) -> float:
    """Largest elementwise relative error |a - b| / max(|a| + |b|, tiny).

    Two zeros agree exactly (error 0). Shapes must match (a scalar matches a scalar).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    err = np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), TINY)
    return float(np.max(err))


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of ``check_gradient``: the worst entry, where it is, and both values there."""

    ok: bool
    max_rel_error: float
    worst_index: tuple[int, ...]
    analytic: float
    numeric: float
    tolerance: float

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        return (
            f"gradcheck {verdict}: max relative error {self.max_rel_error:.2e} "
            f"(tolerance {self.tolerance:.0e}) at index {self.worst_index}: "
            f"analytic {self.analytic:.6g}, numeric {self.numeric:.6g}"
        )


def check_gradient(f: Callable, x, analytic, h: float = 1e-5, tol: float = 1e-6) -> GradcheckResult:
    """Compare an analytic gradient of scalar ``f`` at ``x`` with central differences.

    Returns the worst relative error and its index; ``ok`` says whether it is within ``tol``.
    """
    numeric = np.asarray(numerical_gradient(f, x, h), dtype=np.float64)
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"analytic gradient has shape {analytic.shape}, x has shape {numeric.shape}")
    if numeric.size == 0:
        return GradcheckResult(True, 0.0, (), 0.0, 0.0, tol)
    err = np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), TINY)
    flat = int(np.argmax(err))
    idx = tuple(int(i) for i in np.unravel_index(flat, err.shape)) if err.ndim else ()
    worst = float(err.reshape(-1)[flat])
    return GradcheckResult(
        ok=worst <= tol,
        max_rel_error=worst,
        worst_index=idx,
        analytic=float(analytic.reshape(-1)[flat]),
        numeric=float(numeric.reshape(-1)[flat]),
        tolerance=tol,
    )
