"""The synthetic data sets: shapes, the curves they sample, determinism, splitting, bad input."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from backprop_lib import datasets


@pytest.mark.parametrize("make", [datasets.spirals, datasets.moons, datasets.regression_1d])
def test_same_seed_same_data_other_seed_other_data(make):
    X1, y1 = make(seed=3)
    X2, y2 = make(seed=3)
    X3, _ = make(seed=4)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_spirals_shapes_dtypes_and_balanced_classes():
    X, y = datasets.spirals(n_per_class=50, n_classes=4)
    assert X.shape == (200, 2) and X.dtype == np.float64
    assert y.shape == (200,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [50, 50, 50, 50]


def test_spirals_without_noise_lie_on_their_arms():
    n = 30
    X, y = datasets.spirals(n_per_class=n, n_classes=3, noise=0.0)
    r = np.linspace(0, 1, n)
    for k in range(3):
        arm = X[y == k]
        np.testing.assert_allclose(np.hypot(arm[:, 0], arm[:, 1]), r, atol=1e-15)
        t = np.linspace(4 * k, 4 * (k + 1), n)
        np.testing.assert_allclose(arm, np.stack([r * np.sin(t), r * np.cos(t)], axis=1), atol=1e-15)


def test_spirals_noise_moves_the_angle_not_the_radius():
    X, y = datasets.spirals(n_per_class=40, noise=0.5)
    for k in range(3):
        arm = X[y == k]
        np.testing.assert_allclose(np.hypot(arm[:, 0], arm[:, 1]), np.linspace(0, 1, 40), atol=1e-12)


def test_moons_without_noise_lie_on_two_unit_half_circles():
    X, y = datasets.moons(n=101, noise=0.0)
    assert X.shape == (101, 2) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [50, 51]
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert np.all(upper[:, 1] >= 0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)
    assert np.all(lower[:, 1] <= 0.5 + 1e-15)


def test_moons_noise_has_the_stated_standard_deviation():
    clean, _ = datasets.moons(n=4000, noise=0.0, seed=1)
    noisy, _ = datasets.moons(n=4000, noise=0.3, seed=1)
    assert np.std(noisy - clean) == pytest.approx(0.3, rel=0.03)


def test_regression_1d_samples_sin_on_sorted_inputs():
    x, y = datasets.regression_1d(n=64, noise=0.0)
    assert x.shape == y.shape == (64, 1) and x.dtype == y.dtype == np.float64
    assert np.all(np.diff(x[:, 0]) >= 0) and x.min() >= -math.pi and x.max() <= math.pi
    np.testing.assert_array_equal(y, np.sin(x))
    _, noisy = datasets.regression_1d(n=64, noise=0.1)
    assert 0 < np.max(np.abs(noisy - y)) < 0.5


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 300), st.floats(0.05, 0.95), st.integers(0, 2 ** 32 - 1))
def test_split_partitions_the_rows_and_keeps_pairs_together(n, fraction, seed):
    n_val = round(fraction * n)
    assume(0 < n_val < n)  # otherwise one part would be empty: that refusal is tested below
    X = np.arange(2 * n).reshape(n, 2)
    y = np.arange(n) * 10
    X_tr, y_tr, X_val, y_val = datasets.train_val_split(X, y, fraction, seed=seed)
    assert len(X_val) == len(y_val) == n_val and len(X_tr) == len(y_tr) == n - n_val
    assert sorted(np.concatenate([y_tr, y_val]).tolist()) == y.tolist()
    assert np.array_equal(X_tr[:, 0] * 5, y_tr) and np.array_equal(X_val[:, 0] * 5, y_val)


def test_split_is_deterministic_and_shuffles():
    X, y = datasets.spirals(n_per_class=20)
    a = datasets.train_val_split(X, y, seed=1)
    b = datasets.train_val_split(X, y, seed=1)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert len(set(a[3].tolist())) > 1  # class-sorted rows are mixed before the cut


@pytest.mark.parametrize("make, message", [
    (lambda: datasets.spirals(n_per_class=0), "n_per_class"),
    (lambda: datasets.spirals(n_classes=2.0), "n_classes"),
    (lambda: datasets.spirals(noise=-0.1), "noise"),
    (lambda: datasets.moons(n=1), "n must be an integer >= 2"),
    (lambda: datasets.moons(noise=float("nan")), "noise"),
    (lambda: datasets.regression_1d(n=-5), "n must be"),
    (lambda: datasets.regression_1d(noise=True), "noise"),
    (lambda: datasets.train_val_split(np.zeros((5, 2)), np.zeros(4)), r"\(5, 2\) and \(4,\)"),
    (lambda: datasets.train_val_split(np.zeros((5, 2)), np.zeros(5), val_fraction=1.0), "val_fraction"),
    (lambda: datasets.train_val_split(np.zeros((3, 2)), np.zeros(3), val_fraction=0.1), "both must be at least 1"),
])
def test_bad_arguments_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()
