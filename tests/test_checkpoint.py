"""Lesson 07: what reverse mode costs. The order of a chain of Jacobians, gradient checkpointing
(memory against recomputation) and backpropagation through time."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_lib import Tensor
from backprop_lib.checkpoint import (
    CheckpointReport,
    bptt_grad_norms,
    chain_cost,
    checkpointed_backward,
    multiply_chain,
    plain_backward,
    rnn_unroll,
    traced_peak,
)
from backprop_lib.gradcheck import numerical_gradient

# --- the order of a chain of Jacobians -------------------------------------------------------------------


def test_chain_cost_worked_example():
    # |x| = 4, |z1| = 3, |z2| = 2, a scalar loss: dl/dz2 (1x2) dz2/dz1 (2x3) dz1/dx (3x4)
    # from the loss:  (1x2)(2x3) = 1*2*3 = 6,  then (1x3)(3x4) = 1*3*4 = 12:  18
    # from the input: (2x3)(3x4) = 2*3*4 = 24, then (1x2)(2x4) = 1*2*4 = 8:   32
    assert chain_cost([4, 3, 2, 1], "reverse") == 18
    assert chain_cost([4, 3, 2, 1], "forward") == 32


def test_chain_cost_course_example():
    sizes = [1000, 500, 200, 10, 1]  # x, z1, z2, z3, loss
    assert chain_cost(sizes) == 10 * 200 + 200 * 500 + 500 * 1000 == 602_000
    assert chain_cost(sizes, "forward") == 200 * 500 * 1000 + 10 * 200 * 1000 + 1 * 10 * 1000 == 102_010_000


def test_a_single_jacobian_needs_no_product():
    assert chain_cost([7, 1], "reverse") == chain_cost([7, 1], "forward") == 0


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=6))
def test_chain_cost_counts_the_products_that_multiply_chain_performs(sizes):
    rng = np.random.default_rng(len(sizes))
    jacobians = [rng.standard_normal((sizes[i], sizes[i - 1])) for i in range(len(sizes) - 1, 0, -1)]
    rev, rev_cost = multiply_chain(jacobians, "reverse")
    fwd, fwd_cost = multiply_chain(jacobians, "forward")
    np.testing.assert_allclose(rev, fwd, rtol=1e-10, atol=1e-10)
    assert rev.shape == (sizes[-1], sizes[0])
    assert rev_cost == chain_cost(sizes, "reverse")
    assert fwd_cost == chain_cost(sizes, "forward")


def test_chain_cost_bad_input():
    with pytest.raises(ValueError, match="positive integers"):
        chain_cost([3])
    with pytest.raises(ValueError, match="positive integers"):
        chain_cost([3, 0, 1])
    with pytest.raises(ValueError, match="order"):
        chain_cost([3, 2, 1], "sideways")
    with pytest.raises(ValueError, match=r"\(1, 2\) and \(3, 4\)"):
        multiply_chain([np.ones((1, 2)), np.ones((3, 4))])


# --- gradient checkpointing ---------------------------------------------------------------------------


DEPTH, WIDTH, BATCH = 12, 5, 3


def deep_chain(seed=0):
    rng = np.random.default_rng(seed)
    weights = [Tensor(rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH), requires_grad=True)
               for _ in range(DEPTH)]
    layers = [lambda h, W=W: (h @ W).tanh() for W in weights]
    x = Tensor(rng.standard_normal((BATCH, WIDTH)), requires_grad=True)
    return weights, layers, x


def loss_fn(h):
    return (h * h).mean()


def reference_gradients(seed=0):
    weights, layers, x = deep_chain(seed)
    report = plain_backward(layers, x, loss_fn)
    return report, [W.grad for W in weights], x.grad


def test_plain_backward_stores_every_activation():
    report, _, _ = reference_gradients()
    assert report == CheckpointReport(loss=report.loss, stored_elements=13 * 15, recomputed_layers=0)


@pytest.mark.parametrize("every", [1, 2, 3, 4, 5, 6, 11, 12, 20])
def test_checkpointing_gives_exactly_the_plain_gradients(every):
    plain, ref_w, ref_x = reference_gradients()
    weights, layers, x = deep_chain()
    report = checkpointed_backward(layers, x, loss_fn, every=every)
    assert report.loss == plain.loss
    for W, g in zip(weights, ref_w):
        np.testing.assert_array_equal(W.grad, g)
    np.testing.assert_array_equal(x.grad, ref_x)


def test_checkpointing_every_4_of_12_layers_worked_numbers():
    # activations of 3 x 5 = 15 elements; segments [0-3], [4-7], [8-11].
    # forward keeps the inputs of the first two segments (2 activations) and the last segment
    # with its graph (its input and 4 outputs): 7 activations = 105 elements, against 13 = 195.
    # backward recomputes the first two segments: 8 layers run twice.
    weights, layers, x = deep_chain()
    report = checkpointed_backward(layers, x, loss_fn, every=4)
    assert (report.stored_elements, report.recomputed_layers) == (105, 8)


@pytest.mark.parametrize("every", range(2, DEPTH))
def test_checkpointing_stores_fewer_elements_and_recomputes_layers(every):
    weights, layers, x = deep_chain()
    report = checkpointed_backward(layers, x, loss_fn, every=every)
    assert report.stored_elements < (DEPTH + 1) * BATCH * WIDTH
    last_segment = DEPTH - (DEPTH - 1) // every * every
    assert report.recomputed_layers == DEPTH - last_segment


def test_one_segment_is_the_plain_backward():
    weights, layers, x = deep_chain()
    report = checkpointed_backward(layers, x, loss_fn, every=DEPTH)
    assert (report.stored_elements, report.recomputed_layers) == (195, 0)


def test_an_array_input_is_a_constant():
    _, ref_w, _ = reference_gradients()
    weights, layers, x = deep_chain()
    checkpointed_backward(layers, x.data, loss_fn, every=5)
    np.testing.assert_array_equal(weights[0].grad, ref_w[0])


def test_checkpointed_gradients_accumulate_like_plain_ones():
    _, ref_w, _ = reference_gradients()
    weights, layers, x = deep_chain()
    checkpointed_backward(layers, x, loss_fn, every=3)
    checkpointed_backward(layers, x, loss_fn, every=3)
    np.testing.assert_allclose(weights[0].grad, 2 * ref_w[0], rtol=1e-15)


def test_checkpointing_bad_input():
    weights, layers, x = deep_chain()
    with pytest.raises(ValueError, match="every must be a positive integer"):
        checkpointed_backward(layers, x, loss_fn, every=0)
    with pytest.raises(ValueError, match="layers is empty"):
        checkpointed_backward([], x, loss_fn, every=2)
    with pytest.raises(TypeError, match=r"layers\[1\] returned a ndarray"):
        plain_backward([layers[0], lambda h: h.data], x, loss_fn)
    with pytest.raises(TypeError, match=r"layers\[1\] returned a ndarray"):
        checkpointed_backward([layers[0], lambda h: h.data, layers[2]], x, loss_fn, every=2)
    with pytest.raises(ValueError, match=r"single-element Tensor, got \(3, 5\)"):
        plain_backward(layers, x, lambda h: h * 2.0)


# --- the model's peak against the memory the engine really uses ------------------------------------------

# A net big enough that the arrays dwarf Python's bookkeeping: one activation is 256 KiB.
MEASURED_WIDTH, MEASURED_BATCH = 32, 1024
ACTIVATION = MEASURED_WIDTH * MEASURED_BATCH * 8


def measured_peak(depth, every=None, seed=1):
    """(the model's peak, the measured peak), both in bytes. The input and the parameters'
    gradients (1/32 of an activation per layer) are allocated inside the measured call."""
    rng = np.random.default_rng(seed)
    params = [(Tensor(rng.standard_normal((MEASURED_WIDTH, MEASURED_WIDTH)) / np.sqrt(MEASURED_WIDTH),
                      requires_grad=True), Tensor(np.zeros(MEASURED_WIDTH), requires_grad=True))
              for _ in range(depth)]
    layers = [lambda h, W=W, b=b: (h @ W + b).tanh() for W, b in params]
    x = rng.standard_normal((MEASURED_BATCH, MEASURED_WIDTH))
    if every is None:
        report, peak = traced_peak(lambda: plain_backward(layers, x.copy(), loss_fn))
    else:
        report, peak = traced_peak(lambda: checkpointed_backward(layers, x.copy(), loss_fn, every=every))
    return report.stored_elements * 8, peak


def test_plain_backward_uses_the_memory_of_its_model():
    # the model: the input and every layer's output, 17 activations. Measured on top of it: the
    # gradient being carried back and a temporary of one backward rule. Before the engine freed
    # what backward does not need (pre-activations, the gradients of intermediate tensors) the
    # peak was about 5 times the model.
    model, peak = measured_peak(16)
    assert model == 17 * ACTIVATION
    assert peak <= 1.3 * model


@pytest.mark.parametrize("every", [2, 3, 4, 8])
def test_checkpointed_backward_uses_the_memory_of_its_model(every):
    # the model counts the checkpoints and one segment; a segment's backward also holds the
    # gradient that arrives at its output (and the copy backward() makes of it), about three
    # activations beyond the model whatever the depth.
    model, peak = measured_peak(16, every)
    assert peak <= 1.6 * model


def test_the_peak_grows_by_one_activation_per_layer():
    (_, shallow), (_, deep) = measured_peak(8), measured_peak(16)
    assert 0.9 <= (deep - shallow) / (8 * ACTIVATION) <= 1.2


def test_traced_peak_counts_what_a_call_allocates_and_returns_its_result():
    result, peak = traced_peak(lambda: np.ones(1 << 17).sum())
    assert result == 1 << 17 and 1 << 20 <= peak < 1.1 * (1 << 20)


# --- backpropagation through time ------------------------------------------------------------------------

H, D, T = 4, 3, 10


def rnn_data(seed=0):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((H, H)))[0]  # orthogonal: scaling it scales every singular value
    return Q, rng.standard_normal((H, D)), rng.standard_normal((T, D)), np.zeros(H)


def test_norms_shrink_backwards_in_time_for_small_weights():
    Q, W_xh, xs, h0 = rnn_data()
    norms = bptt_grad_norms(0.5 * Q, W_xh, xs, h0)
    assert norms[-1] == pytest.approx(2.0)  # d sum(h_T) / d h_T is all ones: norm sqrt(4)
    # each step back multiplies by W_hh^T (singular values 0.5) and tanh' <= 1
    assert np.all(norms[:-1] <= 0.5 * norms[1:] * (1 + 1e-12))
    assert norms[0] < 2.0 * 0.5**9 * (1 + 1e-12)


def test_norms_grow_backwards_in_time_for_large_weights():
    Q, W_xh, xs, h0 = rnn_data()
    norms = bptt_grad_norms(1.5 * Q, W_xh, xs, h0, activation="identity")
    np.testing.assert_allclose(norms, 2.0 * 1.5 ** np.arange(T - 1, -1, -1), rtol=1e-12)


def test_truncation_stops_the_gradient_at_the_detached_states():
    Q, W_xh, xs, h0 = rnn_data()
    full = bptt_grad_norms(1.5 * Q, W_xh, xs, h0, activation="identity")
    cut = bptt_grad_norms(1.5 * Q, W_xh, xs, h0, activation="identity", truncate=4)
    # detached after steps 4 and 8: only h_9 and h_10 still reach the loss on h_10
    np.testing.assert_array_equal(cut[:8], np.zeros(8))
    np.testing.assert_array_equal(cut[8:], full[8:])


def test_truncation_with_a_loss_on_every_step_keeps_each_window():
    Q, W_xh, xs, h0 = rnn_data()
    cut = bptt_grad_norms(0.9 * Q, W_xh, xs, h0, truncate=5,
                          loss_fn=lambda states: sum(h.sum() for h in states))
    assert np.all(cut > 0)
    assert cut[4] == pytest.approx(2.0)  # the last step of a window only feels its own loss term


def test_shared_weights_get_the_gradient_of_every_step():
    Q, W_xh, xs, h0 = rnn_data()

    def loss_at(W_hh):
        states = rnn_unroll(W_hh, W_xh, xs[:5], h0 + 0.1)
        return (states[-1] * states[-1]).sum()

    W = Tensor(0.8 * Q, requires_grad=True)
    loss_at(W).backward()
    numeric = numerical_gradient(lambda w: loss_at(Tensor(w)).item(), 0.8 * Q)
    np.testing.assert_allclose(W.grad, numeric, rtol=1e-6, atol=1e-9)


def test_bptt_leaves_the_callers_weights_alone():
    Q, W_xh, xs, h0 = rnn_data()
    W = Tensor(0.5 * Q, requires_grad=True)
    bptt_grad_norms(W, W_xh, xs, h0)
    assert W.grad is None


def test_rnn_bad_input_names_the_shapes():
    Q, W_xh, xs, h0 = rnn_data()
    with pytest.raises(ValueError, match=r"h0 has shape \(3,\) but W_hh has shape \(4, 4\)"):
        rnn_unroll(Q, W_xh, xs, np.zeros(3))
    with pytest.raises(ValueError, match=r"W_xh has shape \(3, 3\) but W_hh has shape \(4, 4\)"):
        rnn_unroll(Q, np.zeros((3, 3)), xs, h0)
    with pytest.raises(ValueError, match=r"xs\[0\] has shape \(2,\) but W_xh has shape \(4, 3\)"):
        rnn_unroll(Q, W_xh, [np.zeros(2)], h0)
    with pytest.raises(ValueError, match="square"):
        rnn_unroll(np.zeros((4, 3)), W_xh, xs, h0)
    with pytest.raises(ValueError, match="activation must be one of"):
        rnn_unroll(Q, W_xh, xs, h0, activation="softplus")
    with pytest.raises(ValueError, match="truncate"):
        rnn_unroll(Q, W_xh, xs, h0, truncate=0)
    with pytest.raises(ValueError, match="xs is empty"):
        bptt_grad_norms(Q, W_xh, [], h0)
