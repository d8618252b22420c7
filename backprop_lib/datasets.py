"""Small synthetic data sets made with numpy: seeded, so every run sees the same points (lesson 06);
and one real data set, the 8x8 handwritten digits shipped in ``backprop_lib/data`` (lesson 08).

Classification sets return ``X`` float64 of shape (N, 2) and ``y`` int64 of shape (N,), with the
rows grouped by class (class 0 first); ``train_val_split`` shuffles.
"""
from __future__ import annotations

import gzip
import math
import numbers
from importlib import resources

import numpy as np


def _count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _noise(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {value!r}")
    return float(value)


def spirals(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, seed: int | None = 0
            ) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the CS231n toy set); not linearly separable.

    Point i of class k has radius r_i = i / (n_per_class - 1), running from 0 to 1, and angle
    t_i = 4k + 4 r_i + noise * N(0, 1) (radians); it sits at (r_i sin t_i, r_i cos t_i).
    Returns ``X`` (n_classes * n_per_class, 2) and ``y`` (n_classes * n_per_class,).
    """
    n_per_class = _count("n_per_class", n_per_class)
    n_classes = _count("n_classes", n_classes)
    noise = _noise(noise)
    rng = np.random.default_rng(seed)
    r = np.linspace(0.0, 1.0, n_per_class)
    X = np.empty((n_classes * n_per_class, 2))
    for k in range(n_classes):
        t = np.linspace(4.0 * k, 4.0 * (k + 1), n_per_class) + noise * rng.standard_normal(n_per_class)
        rows = slice(k * n_per_class, (k + 1) * n_per_class)
        X[rows, 0] = r * np.sin(t)
        X[rows, 1] = r * np.cos(t)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    return X, y


def moons(n: int = 200, noise: float = 0.1, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles of radius 1, plus Gaussian noise of standard deviation ``noise``.

    Class 0: the upper half circle centred at (0, 0), (cos s, sin s) for s in [0, pi].
    Class 1: the lower half circle centred at (1, 0.5), (1 - cos s, 0.5 - sin s).
    ``n // 2`` points per class, evenly spaced in s, so an odd ``n`` gives class 1 one more point.
    """
    n = _count("n", n, minimum=2)
    noise = _noise(noise)
    rng = np.random.default_rng(seed)
    n0 = n // 2
    s0 = np.linspace(0.0, math.pi, n0)
    s1 = np.linspace(0.0, math.pi, n - n0)
    X = np.concatenate([
        np.stack([np.cos(s0), np.sin(s0)], axis=1),
        np.stack([1.0 - np.cos(s1), 0.5 - np.sin(s1)], axis=1),
    ])
    X += noise * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(n - n0, dtype=np.int64)])
    return X, y


def regression_1d(n: int = 100, noise: float = 0.1, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Samples of y = sin(x) + noise * N(0, 1), with x uniform on [-pi, pi] and sorted (for plotting).

    Returns ``x`` (n, 1) and ``y`` (n, 1), both float64.
    """
    n = _count("n", n)
    noise = _noise(noise)
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-math.pi, math.pi, n))
    y = np.sin(x) + noise * rng.standard_normal(n)
    return x[:, None], y[:, None]


def train_val_split(X, y, val_fraction: float = 0.2, seed: int | None = 0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle the rows and hold out ``round(val_fraction * N)`` of them for validation.

    Returns ``(X_train, y_train, X_val, y_val)``; row i of ``X`` stays paired with row i of ``y``.
    Both parts must be non-empty.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(f"train_val_split needs X and y with the same number of rows, got shapes {X.shape} and {y.shape}")
    if (isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real)
            or not 0 < val_fraction < 1):
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction!r}")
    n = len(X)
    n_val = round(val_fraction * n)
    if not 0 < n_val < n:
        raise ValueError(f"val_fraction={val_fraction} of {n} rows leaves {n_val} for validation "
                         f"and {n - n_val} for training; both must be at least 1")
    order = np.random.default_rng(seed).permutation(n)
    val, tr = order[:n_val], order[n_val:]
    return X[tr], y[tr], X[val], y[val]


DIGITS_FILE = "data/digits.csv.gz"
DIGITS_SPLITS = ("all", "train", "test")


def digits(split: str = "all", dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 handwritten digits of the UCI "Optical Recognition of Handwritten Digits" data set
    (Alpaydin and Kaynak, 1998; CC BY 4.0, see ``backprop_lib/data/README.md``).

    Returns ``X`` of shape (N, 1, 8, 8) and ``dtype``, each image's pixels in [0, 1] (the stored
    counts 0..16 of ink in 4x4 blocks, divided by 16), and ``y`` int64 of shape (N,), the digits
    0..9. ``split`` chooses the images, always in the file's order:

    - ``"all"``: all 1,797;
    - ``"test"``: the held-out set, every fifth image of each digit (its 5th, 10th, 15th, ... in
      the file), 355 images, 34 to 36 of each digit;
    - ``"train"``: the other 1,442.

    The split is a fixed rule rather than a random draw, so it is the same everywhere.
    """
    if split not in DIGITS_SPLITS:
        raise ValueError(f"digits: split must be one of {DIGITS_SPLITS}, got {split!r}")
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"digits needs a floating-point dtype, got {np.dtype(dtype)}")
    with resources.files(__package__).joinpath(DIGITS_FILE).open("rb") as f, gzip.open(f, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    pixels, y = table[:, :-1], table[:, -1]
    if split != "all":
        rank = np.empty(len(y), dtype=np.int64)  # each image's position among the images of its digit
        for digit in range(10):
            where = np.flatnonzero(y == digit)
            rank[where] = np.arange(len(where))
        keep = (rank % 5 == 4) == (split == "test")
        pixels, y = pixels[keep], y[keep]
    X = (pixels / 16).astype(dtype).reshape(-1, 1, 8, 8)
    return X, y
