"""Every Tensor op, and a small MLP with cross-entropy, against PyTorch on the CPU.

float64: forward values and gradients agree to rel_error < 1e-12 where both compute the same
formula (integer-valued inputs make sums and products exact, so no summation order matters);
float32: the same to float32 accuracy, and every array stays float32.
"""
import numpy as np
import pytest
from torch_support import F, needs_torch, torch

from backprop_lib import Tensor, Value, cross_entropy, mse
from backprop_lib.gradcheck import rel_error
from backprop_lib.optim import SGD

pytestmark = needs_torch


def compare(ours_fn, torch_fn, arrays, dtype=np.float64, tol=1e-12, seed=0):
    """Run both libraries on the same inputs and upstream gradient; compare outputs and gradients."""
    arrays = [np.asarray(a, dtype=dtype) for a in arrays]
    ours = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours_fn(*ours), torch_fn(*theirs)
    assert y.shape == tuple(ty.shape)
    assert y.dtype == dtype
    assert rel_error(y.data, ty.detach().numpy()) < tol
    upstream = np.random.default_rng(seed).integers(-3, 4, y.shape).astype(dtype)
    y.backward(upstream)
    ty.backward(torch.tensor(upstream))
    for i, (a, t) in enumerate(zip(ours, theirs)):
        assert a.grad.dtype == dtype and a.grad.shape == a.data.shape
        assert rel_error(a.grad, t.grad.numpy()) < tol, f"gradient of input {i}"


def ints(*shape, seed=0, low=-4, high=5):
    return np.random.default_rng(seed).integers(low, high, shape).astype(float)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def positive(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


CASES = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, [randn(2, 3), randn(3, seed=1)]),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, [randn(4, 1), randn(1, 3, seed=1)]),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, [randn(2, 3), randn(2, 1, seed=1)]),
    "div": (lambda a, b: a / b, lambda a, b: a / b, [randn(2, 3), positive(3, seed=1)]),
    "rdiv": (lambda a: 2.0 / a, lambda a: 2.0 / a, [positive(2, 3)]),
    "rsub": (lambda a: 2.0 - a, lambda a: 2.0 - a, [randn(2, 3)]),
    "neg": (lambda a: -a, lambda a: -a, [randn(2, 3)]),
    "pow2": (lambda a: a**2, lambda a: a**2, [randn(2, 3)]),
    "pow_half": (lambda a: a**0.5, lambda a: a**0.5, [positive(2, 3)]),
    "pow_neg": (lambda a: a**-1.5, lambda a: a**-1.5, [positive(2, 3)]),
    "matmul": (lambda a, b: a @ b, lambda a, b: a @ b, [ints(3, 4), ints(4, 2, seed=1)]),
    "matmul_vec_left": (lambda a, b: a @ b, lambda a, b: a @ b, [ints(4), ints(4, 2, seed=1)]),
    "matmul_vec_right": (lambda a, b: a @ b, lambda a, b: a @ b, [ints(3, 4), ints(4, seed=1)]),
    "matmul_dot": (lambda a, b: a @ b, lambda a, b: a @ b, [ints(4), ints(4, seed=1)]),
    "matmul_batched": (lambda a, b: a @ b, lambda a, b: a @ b, [ints(5, 3, 4), ints(4, 2, seed=1)]),
    "matmul_batch_broadcast": (lambda a, b: a @ b, lambda a, b: a @ b, [ints(2, 1, 3, 4), ints(3, 4, 2, seed=1)]),
    "sum": (lambda a: a.sum(), lambda a: a.sum(), [ints(2, 3, 4)]),
    "sum_axis": (lambda a: a.sum(axis=1), lambda a: a.sum(dim=1), [ints(2, 3, 4)]),
    "sum_axes_keepdims": (
        lambda a: a.sum(axis=(0, -1), keepdims=True),
        lambda a: a.sum(dim=(0, -1), keepdim=True),
        [ints(2, 3, 4)],
    ),
    "mean": (lambda a: a.mean(), lambda a: a.mean(), [ints(2, 3, 4)]),
    "mean_axis_keepdims": (
        lambda a: a.mean(axis=-1, keepdims=True),
        lambda a: a.mean(dim=-1, keepdim=True),
        [ints(2, 3, 4)],
    ),
    "max_axis": (lambda a: a.max(axis=1), lambda a: a.max(dim=1).values, [randn(3, 5)]),
    "max_axis_keepdims": (
        lambda a: a.max(axis=0, keepdims=True),
        lambda a: a.max(dim=0, keepdim=True).values,
        [randn(3, 5)],
    ),
    "max_all": (lambda a: a.max(), lambda a: a.max(), [randn(3, 5)]),
    "relu": (lambda a: a.relu(), lambda a: torch.relu(a), [ints(3, 4)]),  # integers: some entries are exactly 0
    "sigmoid": (lambda a: a.sigmoid(), lambda a: torch.sigmoid(a), [randn(3, 4) * 4]),
    "tanh": (lambda a: a.tanh(), lambda a: torch.tanh(a), [randn(3, 4)]),
    "exp": (lambda a: a.exp(), lambda a: torch.exp(a), [randn(3, 4)]),
    "log": (lambda a: a.log(), lambda a: torch.log(a), [positive(3, 4)]),
    "reshape": (lambda a: a.reshape(4, -1), lambda a: a.reshape(4, -1), [randn(2, 3, 2)]),
    "T": (lambda a: a.T, lambda a: a.T, [randn(2, 3)]),
    "transpose": (lambda a: a.transpose(2, 0, 1), lambda a: a.permute(2, 0, 1), [randn(2, 3, 4)]),
    "transpose_negative": (lambda a: a.transpose(-1, 0, 1), lambda a: a.permute(-1, 0, 1), [randn(2, 3, 4)]),
    "slice": (lambda a: a[1:, ::2], lambda a: a[1:, ::2], [randn(3, 4)]),
    "int_index": (lambda a: a[-1], lambda a: a[-1], [randn(3, 4)]),
    "fancy_repeated": (lambda a: a[[0, 2, 0, 0]], lambda a: a[[0, 2, 0, 0]], [randn(3, 4)]),
    "fancy_pairs": (lambda a: a[[0, 1, 1], [3, 3, 0]], lambda a: a[[0, 1, 1], [3, 3, 0]], [randn(3, 4)]),
    "max_axes": (lambda a: a.max(axis=(0, 2)), lambda a: a.amax(dim=(0, 2)), [randn(3, 4, 2)]),
    "max_axes_keepdims": (
        lambda a: a.max(axis=(-1, 0), keepdims=True),
        lambda a: a.amax(dim=(-1, 0), keepdim=True),
        [randn(3, 4, 2)],
    ),
    "max_axis_of_empty_rows": (lambda a: a.max(axis=1), lambda a: a.max(dim=1).values, [randn(0, 3)]),
    "tensor_index_in_tuple": (
        lambda a: a[:, Tensor([0, 0, 2])],
        lambda a: a[:, torch.tensor([0, 0, 2])],
        [randn(3, 4)],
    ),
    "log_softmax": (lambda a: a.log_softmax(), lambda a: F.log_softmax(a, dim=-1), [randn(4, 5) * 3]),
    "log_softmax_of_empty_rows": (lambda a: a.log_softmax(), lambda a: F.log_softmax(a, dim=-1), [randn(2, 0)]),
    "log_softmax_axis0": (lambda a: a.log_softmax(axis=0), lambda a: F.log_softmax(a, dim=0), [randn(4, 5) * 3]),
    "mse": (lambda a, b: mse(a, b), lambda a, b: F.mse_loss(a, b), [randn(4, 3), randn(4, 3, seed=1)]),
}

TARGETS = np.array([0, 2, 1, 2, 4, 3])
CASES["cross_entropy"] = (
    lambda a: cross_entropy(a, TARGETS),
    lambda a: F.cross_entropy(a, torch.tensor(TARGETS)),
    [randn(6, 5) * 2],
)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float64_matches_torch(name):
    ours, theirs, arrays = CASES[name]
    compare(ours, theirs, arrays)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_matches_torch_and_stays_float32(name):
    ours, theirs, arrays = CASES[name]
    compare(ours, theirs, arrays, dtype=np.float32, tol=1e-5)


def test_max_ties_follow_torch_on_an_axis():
    # torch.max(dim) sends the gradient to the index it returns; with ties, both pick the first
    x = np.array([[1.0, 5.0, 5.0], [7.0, 2.0, 7.0]])
    compare(lambda a: a.max(axis=1), lambda a: a.max(dim=1).values, [x])


def test_relu_of_nan_matches_torch_in_tensor_and_value():
    x = np.array([np.nan, -1.0, 0.0, 2.0])
    ours, theirs = Tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours.relu(), torch.relu(theirs)
    y.backward(np.ones(4))
    ty.backward(torch.ones(4, dtype=torch.float64))
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())
    values = [Value(xi) for xi in x]
    for v, out, g in zip(values, y.data, theirs.grad.numpy()):
        r = v.relu()
        r.backward()
        np.testing.assert_array_equal([r.data, v.grad], [out, g])


@pytest.mark.parametrize("x, f", [(0.0, lambda a: a**0.5), (0.0, lambda a: a**0.25), (0.0, lambda a: a**-1),
                                  (1000.0, lambda a: a.exp()), (10.0, lambda a: a**400), (-10.0, lambda a: a**401),
                                  (1000.0, lambda a: a.sigmoid()), (-1000.0, lambda a: a.tanh())])
def test_value_gives_inf_where_torch_does(x, f):
    v, t = Value(x), torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out, tout = f(v), f(t)
    out.backward()
    tout.backward()
    assert out.data == tout.item() and v.grad == t.grad.item()


def test_value_refuses_log_of_zero_and_division_by_zero_where_torch_gives_inf():
    # the two deliberate differences the engine's docstring states
    zero = torch.tensor(0.0, dtype=torch.float64)
    assert zero.log().item() == -np.inf and (1.0 / zero).item() == np.inf
    with pytest.raises(ValueError, match="non-positive"):
        Value(0.0).log()
    with pytest.raises(ZeroDivisionError):
        1.0 / Value(0.0)


@pytest.mark.parametrize("scalar", [np.float64(2.0), np.int64(3), 2.5])
@pytest.mark.parametrize("op", [lambda t, s: t / s, lambda t, s: s / t, lambda t, s: t * s, lambda t, s: s - t,
                                lambda t, s: t + s, lambda t, s: t**s])
def test_a_scalar_keeps_float32_as_in_torch(op, scalar):
    x = np.array([1.0, 2.0, 4.0], np.float32)
    ours, theirs = op(Tensor(x), scalar), op(torch.tensor(x), scalar)
    assert theirs.dtype == torch.float32 and ours.dtype == np.float32
    assert rel_error(ours.data, theirs.numpy()) < 1e-6


@pytest.mark.parametrize("f, raises", [(lambda w: (w**2).sum(), True), (lambda w: (w * w).sum(), True),
                                       (lambda w: w.log().sum(), True), (lambda w: (w + 1).sum(), False),
                                       (lambda w: w.exp().sum(), False)])
def test_backward_after_an_optimiser_step_raises_where_torch_does(f, raises):
    w0 = np.array([1.0, 2.0, 3.0])
    w, tw = Tensor(w0.copy(), requires_grad=True), torch.tensor(w0, requires_grad=True)
    loss, tloss = f(w), f(tw)
    loss.backward()
    tloss.backward(retain_graph=True)
    SGD([w], lr=0.1).step()
    torch.optim.SGD([tw], lr=0.1).step()
    if raises:
        with pytest.raises(RuntimeError, match="changed in place"):
            loss.backward()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            tloss.backward()
    else:
        loss.backward()
        tloss.backward()
        assert rel_error(w.grad, tw.grad.numpy()) < 1e-12


def mlp_ours(x, params, y):
    W1, b1, W2, b2 = params
    return cross_entropy((x @ W1 + b1).relu() @ W2 + b2, y)


def mlp_torch(x, params, y):
    W1, b1, W2, b2 = params
    return F.cross_entropy(torch.relu(x @ W1 + b1) @ W2 + b2, y)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_mlp_with_cross_entropy_matches_torch(dtype, tol):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 4)).astype(dtype)
    y = rng.integers(0, 3, 16)
    shapes = [(4, 8), (8,), (8, 3), (3,)]
    init = [(rng.standard_normal(s) * 0.7).astype(dtype) for s in shapes]
    ours = [Tensor(p.copy(), requires_grad=True) for p in init]
    theirs = [torch.tensor(p, requires_grad=True) for p in init]
    loss = mlp_ours(Tensor(x), ours, y)
    tloss = mlp_torch(torch.tensor(x), theirs, torch.tensor(y))
    assert loss.dtype == dtype
    assert rel_error(loss.item(), tloss.item()) < tol
    loss.backward()
    tloss.backward()
    for p, t in zip(ours, theirs):
        assert p.grad.dtype == dtype
        # a norm-wise comparison: BLAS may sum in another order, which moves tiny entries relatively
        diff = np.linalg.norm(p.grad - t.grad.numpy()) / np.linalg.norm(t.grad.numpy())
        assert diff < tol
