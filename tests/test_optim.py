"""Optimisers, schedules and clipping: hand-computed first steps, torch trajectories, properties."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backprop_lib.optim import (
    SGD, Adam, CosineAnnealingLR, ExponentialLR, Optimizer, RMSprop, StepLR,
    clip_grad_norm_, clip_grad_value_, total_grad_norm,
)
from backprop_lib.tensor import Tensor

P0 = [1.0, -2.0]
G1 = np.array([0.5, -1.0])
G2 = np.array([1.0, 2.0])


def two_steps(make_optimizer, p0=P0, grads=(G1, G2)):
    """Run one parameter through the given gradients; return its value after each step."""
    p = Tensor(np.array(p0), requires_grad=True)
    opt = make_optimizer([p])
    seen = []
    for g in grads:
        p.grad = np.array(g, dtype=float)
        opt.step()
        seen.append(p.data.copy())
    return seen


def assert_steps(seen, *expected):
    for got, want in zip(seen, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


# --- the formulas, on numbers worked by hand ------------------------------------------------------


def test_sgd_is_theta_minus_lr_times_grad():
    assert_steps(two_steps(lambda ps: SGD(ps, lr=0.1)), [0.95, -1.9], [0.85, -2.1])


def test_sgd_momentum_uses_v_equals_mu_v_plus_g_starting_from_g():
    # v1 = g1 = [0.5, -1]; v2 = 0.9 v1 + g2 = [1.45, 1.1]
    assert_steps(two_steps(lambda ps: SGD(ps, lr=0.1, momentum=0.9)), [0.95, -1.9], [0.805, -2.01])


def test_sgd_nesterov_steps_along_g_plus_mu_v():
    # d1 = g1 + 0.9 g1 = [0.95, -1.9]; d2 = g2 + 0.9 [1.45, 1.1] = [2.305, 2.99]
    assert_steps(two_steps(lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True)),
                 [0.905, -1.81], [0.6745, -2.109])


def test_sgd_weight_decay_adds_lambda_theta_to_the_gradient():
    # d1 = g1 + 0.1 [1, -2] = [0.6, -1.2]; d2 = g2 + 0.1 [0.94, -1.88] = [1.094, 1.812]
    assert_steps(two_steps(lambda ps: SGD(ps, lr=0.1, weight_decay=0.1)), [0.94, -1.88], [0.8306, -2.0612])


def test_rmsprop_divides_by_the_running_rms():
    # s1 = 0.25 g1^2 = [0.0625, 0.25], sqrt = 0.5 |g1|: the first step is 2 lr sign(g1).
    # s2 = 0.75 s1 + 0.25 g2^2 = [0.296875, 1.1875].
    first = np.array([0.8, -1.8])
    second = first - 0.1 * np.array([1 / math.sqrt(0.296875), 2 / math.sqrt(1.1875)])
    assert_steps(two_steps(lambda ps: RMSprop(ps, lr=0.1, alpha=0.75, eps=0.0)), first, second)


def test_adam_first_step_is_lr_times_sign_and_second_is_bias_corrected():
    # m2 = 0.9 * 0.1 g1 + 0.1 g2 = [0.145, 0.11]; v2 = 0.999 * 0.001 g1^2 + 0.001 g2^2 = [0.00124975, 0.004999]
    m_hat = np.array([0.145, 0.11]) / (1 - 0.9 ** 2)
    v_hat = np.array([0.00124975, 0.004999]) / (1 - 0.999 ** 2)
    first = np.array([0.9, -1.9])
    second = first - 0.1 * m_hat / np.sqrt(v_hat)
    assert_steps(two_steps(lambda ps: Adam(ps, lr=0.1, eps=0.0)), first, second)


def test_adam_eps_is_added_after_the_square_root():
    (p1,) = two_steps(lambda ps: Adam(ps, lr=0.1, eps=0.5), grads=(G1,))
    np.testing.assert_allclose(p1, np.array(P0) - 0.1 * G1 / (np.abs(G1) + 0.5), rtol=1e-13)


# --- what step() may and may not touch ---------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda ps: RMSprop(ps, lr=0.1),
    lambda ps: Adam(ps, lr=0.1),
])
def test_step_updates_data_in_place_and_never_writes_to_a_gradient(make):
    p = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    data = p.data
    opt = make([p])
    for _ in range(3):
        grad = np.array([0.3, -0.2, 0.1])
        p.grad = grad
        opt.step()
        assert p.grad is grad
        np.testing.assert_array_equal(grad, [0.3, -0.2, 0.1])
    assert p.data is data
    assert not np.allclose(data, [1.0, 2.0, 3.0])


def test_parameters_without_a_gradient_are_skipped():
    a = Tensor(np.array([1.0]), requires_grad=True)
    b = Tensor(np.array([1.0]), requires_grad=True)
    opt = Adam([a, b], lr=0.1)
    a.grad = np.array([5.0])
    opt.step()
    assert b.data[0] == 1.0 and a.data[0] == pytest.approx(0.9)
    b.grad = np.array([5.0])
    opt.step()
    assert b.data[0] == pytest.approx(0.9)  # b's first step is bias-corrected as a first step


def test_zero_grad_sets_every_gradient_to_none():
    ps = [Tensor(np.ones(2), requires_grad=True) for _ in range(2)]
    for p in ps:
        p.grad = np.ones(2)
    SGD(ps, lr=1.0).zero_grad()
    assert all(p.grad is None for p in ps)


def test_float32_parameters_stay_float32():
    p = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    p.grad = np.full(3, 0.5, dtype=np.float32)
    Adam([p], lr=0.1).step()
    assert p.data.dtype == np.float32


def test_lr_is_a_mutable_attribute():
    p1, _ = two_steps(lambda ps: SGD(ps, lr=0.1))
    p = Tensor(np.array(P0), requires_grad=True)
    opt = SGD([p], lr=0.1)
    p.grad = G1
    opt.step()
    opt.lr = 0.2
    p.grad = G2
    opt.step()
    np.testing.assert_allclose(p.data, p1 - 0.2 * G2)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, 5, elements=st.floats(-1e3, 1e3)), arrays(np.float64, 5, elements=st.floats(-1e3, 1e3)),
       st.floats(1e-4, 1.0))
def test_plain_sgd_step_is_exactly_p_minus_lr_g(p0, g, lr):
    p = Tensor(p0.copy(), requires_grad=True)
    p.grad = g
    SGD([p], lr=lr).step()
    np.testing.assert_array_equal(p.data, p0 - lr * g)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, 5, elements=st.floats(-1e3, 1e3)), st.floats(1e-4, 1.0))
def test_adam_first_step_never_moves_a_coordinate_more_than_lr(g, lr):
    p = Tensor(np.zeros(5), requires_grad=True)
    p.grad = g
    Adam([p], lr=lr).step()
    assert np.all(np.abs(p.data) <= lr * (1 + 1e-12))
    np.testing.assert_allclose(p.data, -lr * g / (np.abs(g) + 1e-8), rtol=1e-12, atol=1e-300)


# --- the same trajectories as torch.optim ----------------------------------------------------------------

rng = np.random.default_rng(7)
SHAPES = [(3, 4), (4,)]
INITIAL = [rng.standard_normal(s) for s in SHAPES]
SHIFT = [rng.standard_normal(s) for s in SHAPES]
CURVATURE = [rng.uniform(0.5, 2.0, s) for s in SHAPES]


def gradient(i, value):
    """Gradient of the quadratic sum(SHIFT * p + CURVATURE * p^2 / 2): depends on where p is."""
    return SHIFT[i] + CURVATURE[i] * value


def torch_trajectory(torch, make_torch, steps):
    ps = [torch.tensor(p0.copy(), dtype=torch.float64, requires_grad=True) for p0 in INITIAL]
    opt = make_torch(ps)
    out = []
    for _ in range(steps):
        for i, p in enumerate(ps):
            p.grad = torch.from_numpy(gradient(i, p.detach().numpy()))
        opt.step()
        out.append([p.detach().numpy().copy() for p in ps])
    return out


def our_trajectory(make, steps):
    ps = [Tensor(p0.copy(), requires_grad=True) for p0 in INITIAL]
    opt = make(ps)
    out = []
    for _ in range(steps):
        for i, p in enumerate(ps):
            p.grad = gradient(i, p.data)
        opt.step()
        out.append([p.data.copy() for p in ps])
    return out


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.5, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.1, alpha=0.9, eps=1e-6)),
    ("Adam", dict(lr=0.001)),
    ("Adam", dict(lr=0.1, betas=(0.8, 0.99), eps=1e-6)),
]


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_trajectory_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = {"SGD": SGD, "RMSprop": RMSprop, "Adam": Adam}[name]
    theirs = getattr(torch.optim, name)
    want = torch_trajectory(torch, lambda ps: theirs(ps, **kwargs, foreach=False), steps=8)
    got = our_trajectory(lambda ps: ours(ps, **kwargs), steps=8)
    for step, (g, w) in enumerate(zip(got, want)):
        for a, b in zip(g, w):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"step {step + 1}")


@pytest.mark.parametrize("ours, theirs, kwargs", [
    (StepLR, "StepLR", dict(step_size=3, gamma=0.5)),
    (ExponentialLR, "ExponentialLR", dict(gamma=0.9)),
    (CosineAnnealingLR, "CosineAnnealingLR", dict(T_max=10)),
    (CosineAnnealingLR, "CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
])
def test_schedules_match_torch(ours, theirs, kwargs):
    torch = pytest.importorskip("torch")
    opt_t = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    sched_t = getattr(torch.optim.lr_scheduler, theirs)(opt_t, **kwargs)
    opt = SGD([Tensor(np.zeros(1), requires_grad=True)], lr=0.5)
    sched = ours(opt, **kwargs)
    for epoch in range(25):
        assert opt.lr == pytest.approx(sched_t.get_last_lr()[0], rel=1e-9, abs=1e-15), f"epoch {epoch}"
        opt_t.step()
        sched_t.step()
        sched.step()


def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    grads = [np.arange(6.0).reshape(2, 3), np.array([-4.0, 2.0])]
    ps_t = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(ps_t, grads):
        p.grad = torch.from_numpy(g.copy())
    ps = [Tensor(np.zeros(g.shape), requires_grad=True) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = g.copy()
    want = torch.nn.utils.clip_grad_norm_(ps_t, 2.0).item()
    assert clip_grad_norm_(ps, 2.0) == pytest.approx(want, rel=1e-14)
    for p, p_t in zip(ps, ps_t):
        np.testing.assert_allclose(p.grad, p_t.grad.numpy(), rtol=1e-14)


# --- schedules and clipping on hand-computed numbers ---------------------------------------------------------


def lrs(make_schedule, epochs):
    opt = SGD([Tensor(np.zeros(1), requires_grad=True)], lr=1.0)
    sched = make_schedule(opt)
    out = [opt.lr]
    for _ in range(epochs):
        sched.step()
        assert sched.get_lr() == opt.lr
        out.append(opt.lr)
    return out


def test_step_lr_divides_every_step_size_epochs():
    assert lrs(lambda o: StepLR(o, step_size=2, gamma=0.5), 5) == [1, 1, 0.5, 0.5, 0.25, 0.25]


def test_exponential_lr_multiplies_every_epoch():
    assert lrs(lambda o: ExponentialLR(o, gamma=0.5), 3) == [1, 0.5, 0.25, 0.125]


def test_cosine_annealing_reaches_eta_min_at_t_max_and_climbs_back():
    got = lrs(lambda o: CosineAnnealingLR(o, T_max=4, eta_min=0.0), 6)
    c = math.cos(math.pi / 4)
    np.testing.assert_allclose(got, [1, (1 + c) / 2, 0.5, (1 - c) / 2, 0, (1 - c) / 2, 0.5], atol=1e-15)


def test_cosine_annealing_with_eta_min_ends_there():
    assert lrs(lambda o: CosineAnnealingLR(o, T_max=3, eta_min=0.1), 3)[-1] == pytest.approx(0.1)


def test_clip_grad_norm_rescales_a_3_4_gradient_to_the_max_norm():
    p = Tensor(np.zeros(2), requires_grad=True)
    original = np.array([3.0, 4.0])
    p.grad = original
    assert clip_grad_norm_([p], 1.0) == 5.0
    np.testing.assert_allclose(p.grad, [3 / (5 + 1e-6), 4 / (5 + 1e-6)], rtol=1e-15)
    assert p.grad is not original and original.tolist() == [3.0, 4.0]


def test_clip_grad_norm_leaves_small_gradients_alone_and_skips_missing_ones():
    p, q = Tensor(np.zeros(2), requires_grad=True), Tensor(np.zeros(1), requires_grad=True)
    grad = np.array([0.3, 0.4])
    p.grad = grad
    assert clip_grad_norm_([p, q], 1.0) == pytest.approx(0.5)
    assert p.grad is grad and q.grad is None


def test_clip_grad_norm_treats_all_parameters_as_one_vector():
    ps = [Tensor(np.zeros(1), requires_grad=True) for _ in range(2)]
    ps[0].grad, ps[1].grad = np.array([6.0]), np.array([8.0])
    assert total_grad_norm(ps) == 10.0
    clip_grad_norm_(ps, 5.0)
    np.testing.assert_allclose([ps[0].grad[0], ps[1].grad[0]], [3.0, 4.0], rtol=1e-6)


def test_clip_grad_norm_refuses_a_diverged_gradient():
    p = Tensor(np.zeros(2), requires_grad=True)
    p.grad = np.array([np.inf, 1.0])
    with pytest.raises(FloatingPointError, match="diverged"):
        clip_grad_norm_([p], 1.0)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, 4, elements=st.floats(-1e6, 1e6)), st.floats(1e-3, 1e3))
def test_clipped_norm_never_exceeds_max_norm_and_direction_is_kept(g, max_norm):
    p = Tensor(np.zeros(4), requires_grad=True)
    p.grad = g.copy()
    before = clip_grad_norm_([p], max_norm)
    assert before == pytest.approx(np.linalg.norm(g))
    assert np.linalg.norm(p.grad) <= max_norm * (1 + 1e-12)
    np.testing.assert_allclose(p.grad * np.linalg.norm(g), g * np.linalg.norm(p.grad), rtol=1e-9, atol=1e-9)


def test_clip_grad_value_clamps_entries_into_a_new_array():
    p = Tensor(np.zeros(3), requires_grad=True)
    original = np.array([-3.0, 0.5, 2.0])
    p.grad = original
    clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [-1.0, 0.5, 1.0]
    assert original.tolist() == [-3.0, 0.5, 2.0]


# --- bad input is refused with a message that names it ---------------------------------------------------------


def param():
    return [Tensor(np.zeros(1), requires_grad=True)]


@pytest.mark.parametrize("make, message", [
    (lambda: SGD(param(), lr=0.0), "lr"),
    (lambda: SGD(param(), lr=-0.1), "lr"),
    (lambda: SGD(param(), lr=float("nan")), "lr"),
    (lambda: SGD(param(), lr=0.1, momentum=1.0), "momentum"),
    (lambda: SGD(param(), lr=0.1, momentum=-0.1), "momentum"),
    (lambda: SGD(param(), lr=0.1, nesterov=True), "nesterov"),
    (lambda: SGD(param(), lr=0.1, weight_decay=-1.0), "weight_decay"),
    (lambda: RMSprop(param(), alpha=1.0), "alpha"),
    (lambda: RMSprop(param(), eps=-1.0), "eps"),
    (lambda: Adam(param(), betas=(0.9, 1.0)), r"betas\[1\]"),
    (lambda: Adam(param(), betas=0.9), "betas"),
    (lambda: Adam(param(), eps=-1e-8), "eps"),
    (lambda: SGD([], lr=0.1), "empty"),
    (lambda: SGD(param() * 2, lr=0.1), "twice"),
    (lambda: StepLR(SGD(param(), lr=0.1), step_size=0), "step_size"),
    (lambda: StepLR(SGD(param(), lr=0.1), step_size=2, gamma=0.0), "gamma"),
    (lambda: ExponentialLR(SGD(param(), lr=0.1), gamma=-0.5), "gamma"),
    (lambda: CosineAnnealingLR(SGD(param(), lr=0.1), T_max=2.5), "T_max"),
    (lambda: CosineAnnealingLR(SGD(param(), lr=0.1), T_max=5, eta_min=-1.0), "eta_min"),
    (lambda: clip_grad_norm_(param(), 0.0), "max_norm"),
    (lambda: clip_grad_value_(param(), -1.0), "clip_value"),
])
def test_bad_arguments_raise_value_errors_naming_them(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_non_tensors_and_non_optimizers_are_type_errors():
    with pytest.raises(TypeError, match="parameter 1 is a ndarray"):
        SGD([Tensor(np.zeros(1)), np.zeros(1)], lr=0.1)
    with pytest.raises(TypeError, match="wraps an Optimizer"):
        StepLR("sgd", step_size=1)


def test_a_gradient_of_the_wrong_shape_is_refused_not_broadcast():
    p = Tensor(np.zeros((2, 3)), requires_grad=True)
    p.grad = np.ones(3)
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*gradient has shape \(3,\)"):
        SGD([p], lr=0.1).step()


def test_the_base_class_has_no_update_rule():
    opt = Optimizer(param(), lr=0.1)
    opt.params[0].grad = np.ones(1)
    with pytest.raises(NotImplementedError):
        opt.step()
