"""Lesson 08's layers: the course plan's worked numbers, a gradient check beside every backward rule,
PyTorch in float64 for every op, dtypes kept, bad input, the digits, and a small convolutional net
that learns them."""
import math
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_lib import Function, Tensor, cross_entropy, datasets, layers, nn
from backprop_lib.gradcheck import check_gradient, numerical_vjp, rel_error
from backprop_lib.layers import (attention, avg_pool2d, batch_norm, col2im, conv2d, dropout, im2col, layer_norm,
                                 log_softmax, logsumexp, max_pool2d, softmax)
from backprop_lib.optim import Adam

from torch_support import F, needs_torch, torch


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def positive(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


# --- the worked numbers of the course plan --------------------------------------------------------------------


def test_softmax_of_1_2_3_and_its_vjp_is_the_first_row_of_the_jacobian():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    p = softmax(x)
    assert np.round(p.data, 3).tolist() == [0.090, 0.245, 0.665]
    p.backward([1.0, 0.0, 0.0])
    jacobian = np.diag(p.data) - np.outer(p.data, p.data)
    np.testing.assert_allclose(x.grad, jacobian[0], rtol=1e-15, atol=1e-17)


def test_logsumexp_neither_overflows_nor_fails_on_a_row_of_minus_infinity():
    assert logsumexp([1000.0, 1000.0]).item() == pytest.approx(1000 + math.log(2), rel=1e-15)
    x = Tensor([[-np.inf, -np.inf], [0.0, math.log(3)]], requires_grad=True)
    y = logsumexp(x)
    assert y.data[0] == -np.inf and y.data[1] == pytest.approx(math.log(4), rel=1e-15)
    y.backward([1.0, 1.0])
    np.testing.assert_allclose(x.grad, [[0, 0], [0.25, 0.75]], rtol=1e-15)


def test_one_dimensional_convolution_through_conv2d_with_height_1():
    x = Tensor(np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 1, 4), requires_grad=True)
    w = Tensor(np.array([1.0, 0.0, -1.0]).reshape(1, 1, 1, 3), requires_grad=True)
    y = conv2d(x, w)
    assert y.data.reshape(-1).tolist() == [-2.0, -2.0]
    y.backward(np.ones((1, 1, 1, 2)))
    assert w.grad.reshape(-1).tolist() == [3.0, 5.0, 7.0]
    assert x.grad.reshape(-1).tolist() == [1.0, 1.0, -1.0, -1.0]


@given(n=st.integers(3, 9), k=st.integers(1, 3), seed=st.integers(0, 1000))
@settings(max_examples=25, deadline=None)
def test_the_input_gradient_is_a_full_convolution_with_the_flipped_kernel(n, k, seed):
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((1, 1, 1, n)), requires_grad=True)
    w = Tensor(rng.standard_normal((1, 1, 1, k)), requires_grad=True)
    g = rng.standard_normal(n - k + 1)
    y = conv2d(x, w)
    np.testing.assert_allclose(y.data.reshape(-1), np.correlate(x.data.reshape(-1), w.data.reshape(-1), "valid"))
    y.backward(g.reshape(1, 1, 1, -1))
    # np.convolve flips its second argument: the "full" convolution of the gradient with the kernel
    np.testing.assert_allclose(x.grad.reshape(-1), np.convolve(g, w.data.reshape(-1), "full"), rtol=1e-12)
    np.testing.assert_allclose(w.grad.reshape(-1), np.correlate(x.data.reshape(-1), g, "valid"), rtol=1e-12)


def test_im2col_puts_each_window_in_a_column_and_col2im_counts_the_overlaps():
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 1, 4)
    assert im2col(x, (1, 3))[0].T.tolist() == [[1, 2, 3], [2, 3, 4]]
    assert col2im(np.ones((1, 3, 2)), (1, 1, 1, 4), (1, 3)).reshape(-1).tolist() == [1, 2, 2, 1]
    # with padding 1 and stride 2 on a 3x3 image, the four 3x3 windows meet at the centre
    counts = col2im(np.ones((1, 9, 4)), (1, 1, 3, 3), 3, stride=2, padding=1)
    assert counts[0, 0].tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]


@given(data=st.data())
@settings(max_examples=25, deadline=None)
def test_col2im_is_the_adjoint_of_im2col(data):
    # <im2col(x), c> = <x, col2im(c)> for all x and c: what makes col2im the VJP of im2col
    kernel, stride = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)), label="kernel"), \
        data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)), label="stride")
    padding = data.draw(st.tuples(st.integers(0, 2), st.integers(0, 2)), label="padding")
    shape = (2, 2, data.draw(st.integers(3, 6)), data.draw(st.integers(3, 6)))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    x = rng.standard_normal(shape)
    cols = im2col(x, kernel, stride, padding)
    c = rng.standard_normal(cols.shape)
    assert np.vdot(cols, c) == pytest.approx(np.vdot(x, col2im(c, shape, kernel, stride, padding)), rel=1e-12)


def direct_conv2d(x, w, b, stride, padding):
    """The definition, one output at a time."""
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, f, (kh, kw) = len(x), len(w), w.shape[2:]
    oh, ow = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    y = np.empty((n, f, oh, ow))
    for i in range(n):
        for j in range(f):
            for r in range(oh):
                for c in range(ow):
                    y[i, j, r, c] = b[j] + np.sum(w[j] * xp[i, :, r * sh:r * sh + kh, c * sw:c * sw + kw])
    return y


@given(data=st.data())
@settings(max_examples=30, deadline=None)
def test_conv2d_is_the_cross_correlation_of_its_definition(data):
    kh, kw, sh, sw, ph, pw = (data.draw(st.integers(lo, hi)) for lo, hi in
                              ((1, 3), (1, 3), (1, 3), (1, 3), (0, 2), (0, 2)))
    h = data.draw(st.integers(max(1, kh - 2 * ph), 7))
    w_ = data.draw(st.integers(max(1, kw - 2 * pw), 7))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    x, w, b = rng.standard_normal((2, 3, h, w_)), rng.standard_normal((4, 3, kh, kw)), rng.standard_normal(4)
    y = conv2d(x, w, b, stride=(sh, sw), padding=(ph, pw))
    np.testing.assert_allclose(y.data, direct_conv2d(x, w, b, (sh, sw), (ph, pw)), rtol=1e-12, atol=1e-12)


def test_max_pool_sends_the_whole_gradient_to_the_winner_and_the_first_tie_wins():
    x = Tensor(np.array([[1.0, 5.0, 2.0, 2.0],
                         [3.0, 0.0, 2.0, 2.0]]).reshape(1, 1, 2, 4), requires_grad=True)
    y = max_pool2d(x, 2)
    assert y.data.reshape(-1).tolist() == [5.0, 2.0]
    y.backward(np.array([10.0, 20.0]).reshape(1, 1, 1, 2))
    assert x.grad[0, 0].tolist() == [[0, 10, 20, 0], [0, 0, 0, 0]]


def test_overlapping_max_windows_add_up_at_a_pixel_that_wins_twice():
    x = Tensor(np.array([0.0, 9.0, 0.0, 1.0]).reshape(1, 1, 1, 4), requires_grad=True)
    y = max_pool2d(x, (1, 2), stride=1)
    assert y.data.reshape(-1).tolist() == [9.0, 9.0, 1.0]
    y.backward(np.ones((1, 1, 1, 3)))
    assert x.grad.reshape(-1).tolist() == [0.0, 2.0, 0.0, 1.0]


def test_average_pooling_spreads_the_gradient_evenly():
    x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    y = avg_pool2d(x, 2)
    assert y.data[0, 0].tolist() == [[2.5, 4.5], [10.5, 12.5]]
    y.backward(np.array([[4.0, 8.0], [12.0, 16.0]]).reshape(1, 1, 2, 2))
    assert x.grad[0, 0].tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]


def test_dropout_keeps_scales_and_saves_its_mask():
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    y = dropout(x, 0.25, seed=3)
    kept = y.data != 0
    assert set(np.unique(y.data)) == {0.0, 1 / 0.75}
    assert abs(kept.mean() - 0.75) < 0.01 and abs(y.data.mean() - 1) < 0.02
    y.backward(np.full(x.shape, 2.0))
    np.testing.assert_array_equal(x.grad, np.where(kept, 2 / 0.75, 0.0))
    assert np.array_equal(dropout(x, 0.25, seed=3).data, y.data)
    assert not np.array_equal(dropout(x, 0.25, seed=4).data, y.data)
    assert dropout(x, 0.25, training=False) is x and dropout(x, 0.0, seed=1) is x


def test_layer_norm_gives_each_row_mean_0_and_variance_1():
    y = layer_norm(randn(4, 6) * 3 + 5).data
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), 1, rtol=1e-4)


def test_batch_norm_normalises_each_channel_and_moves_the_running_statistics():
    x = randn(8, 3, 4, 4) * np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1) + 4
    mean, var = np.zeros(3), np.ones(3)
    y = batch_norm(x, running_mean=mean, running_var=var, training=True, momentum=0.25).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)
    np.testing.assert_allclose(mean, 0.25 * x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(var, 0.75 + 0.25 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-12)
    evaluated = batch_norm(x, running_mean=mean, running_var=var, training=False).data
    shape = (1, 3, 1, 1)
    np.testing.assert_allclose(evaluated, (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5))


def test_a_residual_connection_passes_the_gradient_through_unchanged_plus_the_branch():
    x = Tensor(randn(2, 3), requires_grad=True)
    branch = nn.Linear(3, 3, seed=0)
    g = randn(2, 3, seed=1)
    layers.Residual(branch)(x).backward(g)
    np.testing.assert_allclose(x.grad, g + g @ branch.weight.data.T, rtol=1e-12)


def test_without_the_scale_attention_saturates_and_the_softmax_passes_back_almost_nothing():
    d = 256
    q, k, v = randn(8, d, seed=1), randn(8, d, seed=2), randn(8, d, seed=3)
    upstream = randn(8, 8, seed=4)
    peaks, passed = {}, {}
    for scale in (True, False):
        out, weights = attention(q, k, v, scale=scale)
        np.testing.assert_allclose(weights.data.sum(axis=-1), 1, rtol=1e-12)
        np.testing.assert_allclose(out.data, weights.data @ v, rtol=1e-12)
        scores = Tensor(q @ k.T / (math.sqrt(d) if scale else 1), requires_grad=True)
        softmax(scores).backward(upstream)
        peaks[scale] = np.median(weights.data.max(axis=-1))
        passed[scale] = np.median(np.linalg.norm(scores.grad, axis=-1))
    assert peaks[True] < 0.5 and peaks[False] > 0.999  # scores of std sqrt(d) = 16: rows nearly one-hot
    assert passed[False] < 1e-2 * passed[True]


# --- a gradient check beside every backward rule (float64) --------------------------------------------------


def gradcheck(f, *arrays, tol=1e-6):
    """Each input's gradient from backward against central differences of sum(f(...) * upstream)."""
    leaves = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    upstream = randn(*f(*leaves).shape, seed=1)
    f(*leaves).backward(upstream)
    for i, leaf in enumerate(leaves):
        def loss(t, i=i):
            return np.sum(f(*(Tensor(t) if j == i else Tensor(other.data) for j, other in enumerate(leaves))).data
                          * upstream)

        result = check_gradient(loss, leaf.data, leaf.grad, tol=tol)
        assert result.ok, f"input {i}: {result}"


RUNNING = (positive(3, seed=7) - 1, positive(3, seed=8))  # statistics that evaluation reads and never changes

GRADCHECKS = {
    "softmax": (lambda x: softmax(x), [randn(3, 5) * 2]),
    "softmax_axis0": (lambda x: softmax(x, axis=0), [randn(4, 3)]),
    "logsumexp": (lambda x: logsumexp(x), [randn(3, 5) * 2]),
    "logsumexp_axis0_keepdims": (lambda x: logsumexp(x, axis=0, keepdims=True), [randn(4, 3)]),
    "im2col": (lambda x: layers.Im2ColFunction.apply(x, kernel=(2, 3), stride=(2, 1), padding=(1, 0)),
               [randn(2, 2, 5, 4)]),
    "conv2d": (lambda x, w, b: conv2d(x, w, b), [randn(2, 3, 5, 4), randn(4, 3, 3, 2, seed=1), randn(4, seed=2)]),
    "conv2d_stride2_padding1": (lambda x, w, b: conv2d(x, w, b, stride=2, padding=1),
                                [randn(2, 2, 6, 5), randn(3, 2, 3, 3, seed=1), randn(3, seed=2)]),
    "conv2d_stride_and_padding_pairs": (lambda x, w: conv2d(x, w, stride=(1, 3), padding=(2, 0)),
                                        [randn(1, 2, 4, 7), randn(2, 2, 3, 2, seed=1)]),
    "conv2d_stride3_leaves_columns": (lambda x, w: conv2d(x, w, stride=3), [randn(2, 1, 7, 8), randn(2, 1, 2, 2)]),
    "max_pool2d": (lambda x: max_pool2d(x, 2), [randn(2, 3, 4, 6)]),
    "max_pool2d_overlapping": (lambda x: max_pool2d(x, 3, stride=(2, 1)), [randn(2, 2, 7, 5)]),
    "avg_pool2d": (lambda x: avg_pool2d(x, 2), [randn(2, 3, 5, 4)]),
    "avg_pool2d_overlapping": (lambda x: avg_pool2d(x, (2, 3), stride=1), [randn(1, 2, 4, 5)]),
    "layer_norm": (lambda x, g, b: layer_norm(x, g, b), [randn(3, 2, 5), positive(5, seed=1), randn(5, seed=2)]),
    "layer_norm_plain": (lambda x: layer_norm(x, eps=1e-3), [randn(4, 6)]),
    "batch_norm_training_2d": (lambda x, g, b: batch_norm(x, g, b, training=True),
                               [randn(6, 3), positive(3, seed=1), randn(3, seed=2)]),
    "batch_norm_training_4d": (lambda x, g, b: batch_norm(x, g, b, training=True),
                               [randn(3, 3, 2, 3), positive(3, seed=1), randn(3, seed=2)]),
    "batch_norm_evaluation": (lambda x, g, b: batch_norm(x, g, b, *RUNNING, training=False),
                              [randn(3, 3, 2, 2), positive(3, seed=1), randn(3, seed=2)]),
    "dropout": (lambda x: dropout(x, 0.4, seed=5), [randn(4, 5)]),
    "attention": (lambda q, k, v: attention(q, k, v)[0], [randn(2, 3, 4), randn(2, 5, 4, seed=1), randn(2, 5, 2, seed=2)]),
    "attention_unscaled": (lambda q, k, v: attention(q, k, v, scale=False)[0],
                           [randn(3, 4) * 0.5, randn(3, 4, seed=1) * 0.5, randn(3, 2, seed=2)]),
}

# which of GRADCHECKS reach each Function of the layers module: a new Function must be added here
CHECKED_BY = {
    "SoftmaxFunction": "softmax", "LogSumExpFunction": "logsumexp", "Im2ColFunction": "im2col",
    "MaxPool2dFunction": "max_pool2d", "AvgPool2dFunction": "avg_pool2d", "LayerNormFunction": "layer_norm",
    "BatchNormFunction": "batch_norm_training_2d", "DropoutFunction": "dropout",
}


def test_every_function_of_the_layers_module_is_gradient_checked():
    functions = {name for name, obj in vars(layers).items()
                 if isinstance(obj, type) and issubclass(obj, Function) and obj.__module__ == layers.__name__}
    assert functions == set(CHECKED_BY)
    assert set(CHECKED_BY.values()) <= set(GRADCHECKS)


@pytest.mark.parametrize("name", sorted(GRADCHECKS))
def test_gradcheck(name):
    f, arrays = GRADCHECKS[name]
    gradcheck(f, *arrays)


def test_batch_norm_in_evaluation_leaves_its_statistics_alone_and_training_moves_them():
    mean, var = RUNNING[0].copy(), RUNNING[1].copy()
    batch_norm(randn(4, 3), running_mean=mean, running_var=var, training=False)
    assert np.array_equal(mean, RUNNING[0]) and np.array_equal(var, RUNNING[1])
    batch_norm(randn(4, 3), running_mean=mean, running_var=var, training=True)
    assert not np.array_equal(mean, RUNNING[0]) and not np.array_equal(var, RUNNING[1])


@pytest.mark.parametrize("make", [lambda: nn.Sequential(layers.Conv2d(2, 3, 3, padding=1, seed=0), nn.ReLU(),
                                                        layers.BatchNorm(3), layers.MaxPool2d(2), layers.Flatten(),
                                                        nn.Linear(12, 4, seed=1)),
                                  lambda: nn.Sequential(layers.LayerNorm(5), layers.SelfAttention(5, d_k=3, seed=2),
                                                        layers.Residual(nn.Linear(5, 5, seed=3)))],
                         ids=["conv_net", "attention_block"])
def test_module_parameters_gradcheck(make):
    model = make()
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2, 4, 4)) if isinstance(model[0], layers.Conv2d) else rng.standard_normal((2, 4, 5))
    for p in model.parameters():  # move gamma and beta off their initial 1 and 0
        p.data += 0.1 * rng.standard_normal(p.shape)
    up = rng.standard_normal(model(Tensor(x)).shape)
    model.zero_grad()
    model(Tensor(x)).backward(up)
    for p in model.parameters():
        def output(values, p=p):
            saved, p.data = p.data, values
            try:
                return model(Tensor(x)).data
            finally:
                p.data = saved

        assert rel_error(p.grad, numerical_vjp(output, p.data, up)) < 1e-6


# --- PyTorch in float64: every op, forward and gradients ----------------------------------------------------


def close(ours, theirs, tol=1e-12):
    """Norm-wise: the libraries may add in another order, which moves tiny entries relatively."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape
    assert np.linalg.norm(ours - theirs) <= tol * max(np.linalg.norm(theirs), 1e-300)


def against_torch(ours_fn, torch_fn, arrays, seed=2):
    ours = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    y, ty = ours_fn(*ours), torch_fn(*theirs)
    close(y.data, ty.detach().numpy())
    upstream = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(upstream)
    ty.backward(torch.tensor(upstream))
    for i, (a, t) in enumerate(zip(ours, theirs)):
        assert a.grad.dtype == np.float64, f"input {i}"
        close(a.grad, t.grad.numpy())


TORCH = {
    "softmax": (lambda x: softmax(x), lambda x: torch.softmax(x, -1), [randn(3, 5) * 3]),
    "softmax_axis1_of_3d": (lambda x: softmax(x, axis=1), lambda x: torch.softmax(x, 1), [randn(2, 4, 3)]),
    "log_softmax": (lambda x: log_softmax(x, axis=0), lambda x: F.log_softmax(x, 0), [randn(4, 3) * 3]),
    "logsumexp": (lambda x: logsumexp(x, axis=-1, keepdims=True),
                  lambda x: torch.logsumexp(x, -1, keepdim=True), [randn(3, 5) * 3]),
    "im2col": (lambda x: im2col_op(x, (2, 3), (2, 1), (1, 2)), lambda x: F.unfold(x, (2, 3), stride=(2, 1), padding=(1, 2)),
               [randn(2, 3, 5, 4)]),
    "conv2d": (lambda x, w, b: conv2d(x, w, b), lambda x, w, b: F.conv2d(x, w, b),
               [randn(2, 3, 6, 5), randn(4, 3, 3, 2, seed=1), randn(4, seed=2)]),
    "conv2d_stride2_padding1": (lambda x, w, b: conv2d(x, w, b, 2, 1), lambda x, w, b: F.conv2d(x, w, b, 2, 1),
                                [randn(2, 2, 7, 6), randn(3, 2, 3, 3, seed=1), randn(3, seed=2)]),
    "conv2d_pairs_no_bias": (lambda x, w: conv2d(x, w, stride=(3, 1), padding=(0, 2)),
                             lambda x, w: F.conv2d(x, w, stride=(3, 1), padding=(0, 2)),
                             [randn(2, 2, 8, 5), randn(3, 2, 2, 3, seed=1)]),
    "max_pool2d": (lambda x: max_pool2d(x, 2), lambda x: F.max_pool2d(x, 2), [randn(2, 3, 4, 5)]),
    "max_pool2d_overlapping": (lambda x: max_pool2d(x, 3, 2), lambda x: F.max_pool2d(x, 3, 2), [randn(2, 2, 7, 8)]),
    "max_pool2d_pairs": (lambda x: max_pool2d(x, (2, 3), (1, 2)), lambda x: F.max_pool2d(x, (2, 3), (1, 2)),
                         [randn(1, 2, 5, 7)]),
    "max_pool2d_ties": (lambda x: max_pool2d(x, 2, 1), lambda x: F.max_pool2d(x, 2, 1),
                        [np.random.default_rng(0).integers(0, 3, (2, 2, 5, 5))]),
    "avg_pool2d": (lambda x: avg_pool2d(x, 2), lambda x: F.avg_pool2d(x, 2), [randn(2, 3, 4, 5)]),
    "avg_pool2d_overlapping": (lambda x: avg_pool2d(x, 3, 1), lambda x: F.avg_pool2d(x, 3, 1), [randn(2, 2, 5, 4)]),
    "layer_norm": (lambda x, g, b: layer_norm(x, g, b), lambda x, g, b: F.layer_norm(x, (6,), g, b),
                   [randn(2, 3, 6) * 2 + 1, positive(6, seed=1), randn(6, seed=2)]),
    "layer_norm_plain": (lambda x: layer_norm(x), lambda x: F.layer_norm(x, (6,)), [randn(4, 6)]),
    "batch_norm_training": (lambda x, g, b: batch_norm(x, g, b, training=True),
                            lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True),
                            [randn(4, 3, 2, 3) * 2 + 1, positive(3, seed=1), randn(3, seed=2)]),
    "batch_norm_training_2d": (lambda x, g, b: batch_norm(x, g, b, training=True),
                               lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True),
                               [randn(5, 4), positive(4, seed=1), randn(4, seed=2)]),
    "batch_norm_evaluation": (lambda x, g, b: batch_norm(x, g, b, *RUNNING, training=False),
                              lambda x, g, b: F.batch_norm(x, *map(torch.tensor, RUNNING), g, b, training=False),
                              [randn(4, 3, 2, 2), positive(3, seed=1), randn(3, seed=2)]),
    "attention": (lambda q, k, v: attention(q, k, v)[0], lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
                  [randn(2, 3, 4), randn(2, 5, 4, seed=1), randn(2, 5, 3, seed=2)]),
    "attention_unscaled": (lambda q, k, v: attention(q, k, v, scale=False)[0],
                           lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=1.0),
                           [randn(3, 4), randn(3, 4, seed=1), randn(3, 2, seed=2)]),
}


def im2col_op(x, kernel, stride, padding):
    return layers.Im2ColFunction.apply(x, kernel=kernel, stride=stride, padding=padding)


@needs_torch
@pytest.mark.parametrize("name", sorted(TORCH))
def test_float64_matches_torch(name):
    ours, theirs, arrays = TORCH[name]
    against_torch(ours, theirs, arrays)


@needs_torch
def test_col2im_is_torch_fold():
    c = randn(2, 12, 9)  # 2 channels of 2x3 windows at 3x3 positions
    theirs = F.fold(torch.tensor(c), (4, 5), (2, 3), stride=(2, 1), padding=(1, 0)).numpy()
    close(col2im(c, (2, 2, 4, 5), (2, 3), stride=(2, 1), padding=(1, 0)), theirs)


@needs_torch
def test_batch_norm_running_statistics_match_torch():
    x = randn(6, 3, 2, 2) * 3 + 2
    ours, theirs = (np.zeros(3), np.ones(3)), (torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    for _ in range(3):
        batch_norm(x, running_mean=ours[0], running_var=ours[1], training=True, momentum=0.3)
        F.batch_norm(torch.tensor(x), *theirs, training=True, momentum=0.3)
    for a, t in zip(ours, theirs):
        close(a, t.numpy())


@needs_torch
def test_dropout_scales_as_torch_does():
    x = np.ones((100, 100))
    ours = dropout(x, 0.3, seed=0).data
    theirs = F.dropout(torch.tensor(x), 0.3, training=True).numpy()
    assert set(np.unique(ours)) == set(np.unique(theirs)) == {0.0, 1 / 0.7}
    assert F.dropout(torch.tensor(x), 0.3, training=False).numpy().tolist() == dropout(x, 0.3, training=False).data.tolist()


@needs_torch
def test_a_small_convolutional_net_matches_torch():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((4, 1, 8, 8)), rng.integers(0, 10, 4)
    model = nn.Sequential(layers.Conv2d(1, 4, 3, padding=1, seed=0), nn.ReLU(), layers.MaxPool2d(2),
                          layers.Flatten(), nn.Linear(64, 10, seed=1))
    conv, linear = model[0], model[4]
    tw, tb, tW, tB = (torch.tensor(p.data, requires_grad=True) for p in model.parameters())
    loss = cross_entropy(model(Tensor(x)), y)
    hidden = F.max_pool2d(torch.relu(F.conv2d(torch.tensor(x), tw, tb, padding=1)), 2).flatten(1)
    tloss = F.cross_entropy(hidden @ tW + tB, torch.tensor(y))
    close(loss.item(), tloss.item())
    loss.backward()
    tloss.backward()
    for p, t in zip((conv.weight, conv.bias, linear.weight, linear.bias), (tw, tb, tW, tB)):
        close(p.grad, t.grad.numpy())


# --- float32 in, float32 out and float32 gradients -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GRADCHECKS))
def test_float32_stays_float32(name):
    f, arrays = GRADCHECKS[name]
    leaves = [Tensor(np.asarray(a, dtype=np.float32), requires_grad=True) for a in arrays]
    out = f(*leaves)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert all(leaf.grad.dtype == np.float32 for leaf in leaves)


def test_float32_modules_keep_float32_and_so_do_the_running_statistics():
    model = nn.Sequential(layers.Conv2d(1, 2, 3, dtype=np.float32, seed=0), layers.BatchNorm(2, dtype=np.float32),
                          layers.Dropout(0.5, seed=0), layers.Flatten(), layers.LayerNorm(16, dtype=np.float32))
    out = model(np.ones((3, 1, 4, 6), dtype=np.float32))
    assert out.dtype == np.float32 and model[1].running_var.dtype == np.float32
    attention_head = layers.SelfAttention(4, dtype=np.float32, seed=0)
    assert attention_head(np.ones((2, 3, 4), dtype=np.float32)).dtype == np.float32


# --- modules ------------------------------------------------------------------------------------------------


def test_conv2d_module_shapes_parameters_and_initialisation():
    conv = layers.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), seed=0)
    assert [p.shape for p in conv.parameters()] == [(8, 3, 3, 5), (8,)]
    assert conv(np.zeros((2, 3, 9, 9))).shape == (2, 8, 5, 5)
    assert abs(conv.weight.data.std() - math.sqrt(2 / 45)) < 0.03
    assert layers.Conv2d(1, 2, 3, bias=False, seed=0).bias is None
    assert repr(conv) == "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2), bias=True)"


def test_set_training_switches_batch_norm_and_dropout():
    model = nn.Sequential(layers.BatchNorm(2), layers.Dropout(0.5, seed=0))
    x = randn(4, 2) + 3
    layers.set_training(model, False)
    assert not model[0].training and not model[1].training
    np.testing.assert_allclose(model(x).data, x / np.sqrt(1 + 1e-5))  # running statistics 0 and 1, no dropout
    assert model[0].running_mean.tolist() == [0, 0]
    layers.set_training(model, True)
    model(x)
    assert model[0].running_mean.tolist() != [0, 0]


def test_dropout_module_draws_a_new_mask_each_call_and_the_same_sequence_for_a_seed():
    x = np.ones((10, 10))
    first, second = layers.Dropout(0.5, seed=1), layers.Dropout(0.5, seed=1)
    a, b = first(x).data, first(x).data
    assert not np.array_equal(a, b)
    assert np.array_equal(second(x).data, a) and np.array_equal(second(x).data, b)


def test_self_attention_shapes_parameters_and_weights():
    head = layers.SelfAttention(6, d_k=4, d_v=3, seed=0)
    assert [name for name, _ in head.named_parameters()] == ["Wq", "Wk", "Wv"]
    assert head(randn(2, 5, 6)).shape == (2, 5, 3)
    assert head.attention_weights.shape == (2, 5, 5)
    np.testing.assert_allclose(head.attention_weights.sum(axis=-1), 1, rtol=1e-12)


def test_flatten_pools_and_reprs():
    assert layers.Flatten()(np.zeros((2, 3, 4, 5))).shape == (2, 60)
    assert layers.AvgPool2d(2)(np.ones((1, 1, 4, 4))).shape == (1, 1, 2, 2)
    assert repr(layers.MaxPool2d(3, 1)) == "MaxPool2d(kernel_size=(3, 3), stride=(1, 1))"
    assert repr(layers.AvgPool2d(2)) == "AvgPool2d(kernel_size=(2, 2), stride=(2, 2))"


# --- bad input: clear errors naming the op and the shapes ---------------------------------------------------

X4 = np.zeros((2, 3, 5, 5))
W4 = np.zeros((4, 3, 3, 3))

BAD = [
    (lambda: conv2d(np.zeros((3, 5, 5)), W4), r"conv2d needs x of shape \(N, C, H, W\), got shape \(3, 5, 5\)"),
    (lambda: conv2d(X4, np.zeros((4, 3, 3))), r"conv2d needs w of shape \(F, C, KH, KW\), got shape \(4, 3, 3\)"),
    (lambda: conv2d(X4, np.zeros((4, 2, 3, 3))),
     r"conv2d: x of shape \(2, 3, 5, 5\) has 3 channels but w of shape \(4, 2, 3, 3\) expects 2"),
    (lambda: conv2d(X4, np.zeros((4, 3, 6, 3))), r"conv2d: the kernel 6x3 is larger than the input 5x5"),
    (lambda: conv2d(X4, np.zeros((4, 3, 8, 3)), padding=1),
     r"conv2d: the kernel 8x3 is larger than the padded input 7x7 \(x of shape \(2, 3, 5, 5\), padding \(1, 1\)\)"),
    (lambda: conv2d(X4, np.zeros((4, 3, 0, 3))), r"conv2d: w of shape \(4, 3, 0, 3\) has an empty kernel"),
    (lambda: conv2d(X4, W4, stride=0), r"conv2d: stride must be a positive integer or a pair of them, got 0"),
    (lambda: conv2d(X4, W4, stride=(1, -2)), r"conv2d: stride must be a positive integer"),
    (lambda: conv2d(X4, W4, padding=-1), r"conv2d: padding must be an integer >= 0 or a pair of them, got -1"),
    (lambda: conv2d(X4, W4, np.zeros(3)), r"conv2d needs b of shape \(4,\) for w of shape \(4, 3, 3, 3\), got \(3,\)"),
    (lambda: im2col(np.zeros((5, 5)), 3), r"im2col needs x of shape \(N, C, H, W\), got shape \(5, 5\)"),
    (lambda: col2im(np.zeros((1, 9, 8)), (1, 1, 5, 5), 3),
     r"col2im: cols of shape \(1, 9, 8\) do not come from an input of shape \(1, 1, 5, 5\) with kernel \(3, 3\), "
     r"stride \(1, 1\), padding \(0, 0\): expected \(1, 9, 9\)"),
    (lambda: max_pool2d(np.zeros((2, 3, 4)), 2), r"max_pool2d needs x of shape \(N, C, H, W\), got shape \(2, 3, 4\)"),
    (lambda: max_pool2d(X4, 0), r"max_pool2d: kernel must be a positive integer"),
    (lambda: max_pool2d(X4, 2, stride=-1), r"max_pool2d: stride must be a positive integer"),
    (lambda: avg_pool2d(X4, 6), r"avg_pool2d: the kernel 6x6 is larger than the input 5x5 \(x of shape \(2, 3, 5, 5\)\)"),
    (lambda: layer_norm(np.zeros((2, 4)), np.ones(3)), r"layer_norm needs gamma of shape \(4,\) for x of shape \(2, 4\)"),
    (lambda: layer_norm(np.zeros((2, 4)), eps=0), r"layer_norm: eps must be a positive number"),
    (lambda: batch_norm(np.zeros(4)), r"batch_norm needs x of shape \(N, C\) or \(N, C, ...\), got shape \(4,\)"),
    (lambda: batch_norm(np.zeros((1, 3))), r"batch_norm in training needs more than one value per channel"),
    (lambda: batch_norm(np.zeros((4, 3)), training=False), r"batch_norm in evaluation needs running_mean"),
    (lambda: batch_norm(np.zeros((4, 3)), running_mean=np.zeros(2)),
     r"batch_norm needs running_mean of shape \(3,\) for x of shape \(4, 3\), got \(2,\)"),
    (lambda: batch_norm(np.zeros((4, 3)), momentum=1.5), r"batch_norm: momentum must lie in \[0, 1\], got 1.5"),
    (lambda: dropout(np.zeros(3), 1.0), r"dropout: p must lie in \[0, 1\), got 1.0"),
    (lambda: dropout(np.zeros(3), -0.1), r"dropout: p must lie in \[0, 1\), got -0.1"),
    (lambda: softmax(np.zeros((2, 3)), axis=2), r"softmax: axis 2 does not exist for x of shape \(2, 3\)"),
    (lambda: logsumexp(np.zeros((2, 0))), r"logsumexp needs at least one entry"),
    (lambda: attention(np.zeros((3, 4)), np.zeros((5, 3)), np.zeros((5, 2))),
     r"attention needs q \(..., T, d\), k \(..., S, d\) and v \(..., S, dv\), got shapes \(3, 4\), \(5, 3\)"),
    (lambda: attention(np.zeros(4), np.zeros((5, 4)), np.zeros((5, 2))), r"attention needs q with at least 2"),
    (lambda: layers.Residual(nn.Linear(3, 2, seed=0))(np.zeros((1, 3))), r"Residual: .* turned shape \(1, 3\) into"),
    (lambda: layers.SelfAttention(4)(np.zeros((2, 5))), r"needs x of shape \(..., T, 4\), got shape \(2, 5\)"),
    (lambda: layers.Conv2d(0, 2, 3), r"Conv2d: in_channels must be a positive integer, got 0"),
    (lambda: layers.Conv2d(1, 2, (3, 0)), r"Conv2d: kernel_size must be a positive integer or a pair of them"),
    (lambda: layers.MaxPool2d(-2), r"MaxPool2d: kernel_size must be a positive integer"),
    (lambda: layers.Conv2d(1, 2, 3)(np.zeros((1, 2, 5, 5))), r"conv2d: x of shape \(1, 2, 5, 5\) has 2 channels"),
    (lambda: layers.Dropout(1), r"dropout: p must lie in \[0, 1\), got 1"),
    (lambda: layers.BatchNorm(3, momentum=-1), r"BatchNorm: momentum must lie in \[0, 1\]"),
]


@pytest.mark.parametrize("call, message", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_running_statistics_must_be_arrays_that_can_change_in_place():
    with pytest.raises(TypeError, match="batch_norm: running_mean is updated in place"):
        batch_norm(np.zeros((4, 3)), running_mean=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="running_var is a statistic, not a parameter"):
        batch_norm(np.zeros((4, 3)), running_var=Tensor(np.ones(3), requires_grad=True))


# --- the digits ---------------------------------------------------------------------------------------------


def test_digits_all_train_and_test():
    X, y = datasets.digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1 and np.all(X * 16 == np.round(X * 16))
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    X_train, y_train = datasets.digits("train")
    X_test, y_test = datasets.digits("test", dtype=np.float32)
    assert (len(X_train), len(X_test)) == (1442, 355) and X_test.dtype == np.float32
    assert np.bincount(y_test).tolist() == [35, 36, 35, 36, 36, 36, 36, 35, 34, 36]
    # every fifth image of each digit, in the file's order
    for digit in range(10):
        images = X[y == digit]
        np.testing.assert_array_equal(X_test[y_test == digit], images[4::5].astype(np.float32))
        np.testing.assert_array_equal(X_train[y_train == digit], np.delete(images, np.s_[4::5], axis=0))


def test_digits_bad_split():
    with pytest.raises(ValueError, match=r"digits: split must be one of \('all', 'train', 'test'\), got 'val'"):
        datasets.digits("val")


def test_the_digits_ship_with_their_licence_and_as_package_data():
    readme = resources.files("backprop_lib").joinpath("data/README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in readme and "10.24432/C50P49" in readme and "Alpaydin" in readme
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = pyproject["tool"]["setuptools"]["package-data"]["backprop_lib"]
    assert {"data/digits.csv.gz", "data/README.md"} <= set(shipped)


def test_a_small_convolutional_net_learns_the_digits():
    X_train, y_train = datasets.digits("train")
    X_test, y_test = datasets.digits("test")
    rng = np.random.default_rng(0)
    model = nn.Sequential(layers.Conv2d(1, 16, 3, padding=1, rng=rng), nn.ReLU(), layers.MaxPool2d(2),
                          layers.Flatten(), nn.Linear(16 * 4 * 4, 10, rng=rng))
    history = nn.train(model, X_train, y_train, nn.CrossEntropyLoss(), Adam(model.parameters(), lr=0.01),
                       epochs=15, batch_size=32, seed=0)
    assert history["loss"][-1] < history["loss"][0] / 10
    assert nn.accuracy(model(Tensor(X_test)), y_test) >= 0.97
