"""Exercise 08: right answers pass and every known mistake is named (test_course.py grades the master
and the blank exercise)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backprop_lib import Context, Tensor, layers
from backprop_lib.gradcheck import numerical_vjp
from backprop_lib.grading import EXERCISES, check, find_question
from backprop_lib.grading.judge import judge
from backprop_lib.grading.plain import dumps
from backprop_lib.grading.protocol import loads
from backprop_lib.grading.runner import grade_notebook
from backprop_lib.grading.spec import Outcome
from notebook_text import find_notebook

EXERCISE = EXERCISES["08"]


# --- right answers, written as a student might: loops over the output positions ---------------------------


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_vjp(p, g):
    return p * (g - (g * p).sum(axis=-1, keepdims=True))


def crop(dxp, p, H, W):
    return dxp[:, :, p:p + H, p:p + W]


def conv_by_position(x, w, grad_out, stride=1, padding=0, add_dx=True, add_dw=True, cropped=crop):
    """The master's way: one matrix product per output position, batch and filters at once."""
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    s, p = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros((F, C * KH * KW))
    for r in range(grad_out.shape[2]):
        for c in range(grad_out.shape[3]):
            rows, cols = slice(r * s, r * s + KH), slice(c * s, c * s + KW)
            g = grad_out[:, :, r, c]
            dw_here = g.T @ xp[:, :, rows, cols].reshape(N, -1)
            dw = dw + dw_here if add_dw else dw_here
            dx_here = (g @ w.reshape(F, -1)).reshape(N, C, KH, KW)
            dxp[:, :, rows, cols] = dxp[:, :, rows, cols] + dx_here if add_dx else dx_here
    return cropped(dxp, p, H, W), dw.reshape(w.shape), grad_out.sum(axis=(0, 2, 3))


def conv_by_filter(x, w, grad_out, stride=1, padding=0, add=True):
    """The naive loops: every image, filter and position on its own."""
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    s, p = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for r in range(grad_out.shape[2]):
                for c in range(grad_out.shape[3]):
                    rows, cols = slice(r * s, r * s + KH), slice(c * s, c * s + KW)
                    g = grad_out[n, f, r, c]
                    if add:
                        dw[f] += g * xp[n, :, rows, cols]
                        dxp[n, :, rows, cols] += g * w[f]
                    else:
                        dw[f] = g * xp[n, :, rows, cols]
                        dxp[n, :, rows, cols] = g * w[f]
    return crop(dxp, p, H, W), dw, grad_out.sum(axis=(0, 2, 3))


def conv2d_backward(x, w, grad_out, stride=1, padding=0):
    return conv_by_position(x, w, grad_out, stride, padding)


def winner(window):
    return window == window.max(axis=(2, 3), keepdims=True)


def pool(x, grad_out, size=2, stride=2, share=lambda window, g: winner(window) * g, add=True):
    dx = np.zeros_like(x)
    for r in range(grad_out.shape[2]):
        for c in range(grad_out.shape[3]):
            rows, cols = slice(r * stride, r * stride + size), slice(c * stride, c * stride + size)
            d = share(x[:, :, rows, cols], grad_out[:, :, r, c, None, None])
            dx[:, :, rows, cols] = dx[:, :, rows, cols] + d if add else d
    return dx


def max_pool_backward(x, grad_out, size=2, stride=2):
    return pool(x, grad_out, size, stride)


def layer_norm_steps(x, gamma, grad_out, eps=1e-5, mean_path=True, var_path=True, scaled=True, sums=None):
    """Backward step by step; the flags leave a path out, as students do."""
    D = x.shape[-1]
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = (xc ** 2).mean(axis=-1, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    xhat = xc * inv_std
    dxhat = grad_out * gamma if scaled else grad_out
    dxc = dxhat * inv_std
    if var_path:
        dxc = dxc + (dxhat * xc).sum(axis=-1, keepdims=True) * -0.5 * inv_std ** 3 * 2 * xc / D
    dx = dxc - dxc.mean(axis=-1, keepdims=True) if mean_path else dxc
    rows = tuple(range(x.ndim - 1)) if sums is None else sums(x)
    return dx, (grad_out * xhat).sum(axis=rows), grad_out.sum(axis=rows)


def layer_norm_backward(x, gamma, grad_out, eps=1e-5):
    return layer_norm_steps(x, gamma, grad_out, eps)


def attention_steps(Q, K, V, grad_out, scale_forward=True, scale_backward=True, axis=-1, vjp=softmax_vjp,
                    transpose_A=True, transpose_dZ=True):
    scale = 1 / np.sqrt(Q.shape[-1])
    A = softmax(Q @ K.T * (scale if scale_forward else 1.0), axis=axis)
    dV = (A.T if transpose_A else A) @ grad_out
    dZ = vjp(A, grad_out @ V.T) * (scale if scale_forward and scale_backward else 1.0)
    return dZ @ K, (dZ.T if transpose_dZ else dZ) @ Q, dV


def attention_backward(Q, K, V, grad_out):
    return attention_steps(Q, K, V, grad_out)


RIGHT = {"08.softmax_vjp": {"softmax_vjp": softmax_vjp},
         "08.conv2d_backward": {"conv2d_backward": conv2d_backward},
         "08.max_pool_backward": {"max_pool_backward": max_pool_backward},
         "08.layer_norm_backward": {"layer_norm_backward": layer_norm_backward},
         "08.attention_backward": {"attention_backward": attention_backward, "softmax": softmax,
                                   "softmax_vjp": softmax_vjp}}
ALSO_RIGHT = [("08.conv2d_backward", {"conv2d_backward": conv_by_filter})]


# --- wrong answers, one per known mistake -----------------------------------------------------------------


def conv_with(**how):
    return lambda x, w, g, stride=1, padding=0: conv_by_position(x, w, g, stride, padding, **how)


def conv_replacing(index, change):
    """The right gradients with the one at ``index`` (0 dx, 1 dw, 2 db) replaced by ``change(x, w, g, it)``."""
    def answer(x, w, g, stride=1, padding=0):
        grads = list(conv2d_backward(x, w, g, stride, padding))
        grads[index] = change(x, w, g, grads[index])
        return tuple(grads)
    return answer


def unflipped_dx(x, w, g, stride=1, padding=0):
    _, dw, db = conv2d_backward(x, w, g, stride, padding)
    return conv2d_backward(x, w[:, :, ::-1, ::-1], g, stride, padding)[0], dw, db


def dw_of_one_image(n):
    def answer(x, w, g, stride=1, padding=0):
        dx, _, db = conv2d_backward(x, w, g, stride, padding)
        return dx, conv2d_backward(x[n:n + 1 or None], w, g[n:n + 1 or None], stride, padding)[1], db
    return answer


def ln_with(**how):
    return lambda x, gamma, g, eps=1e-5: layer_norm_steps(x, gamma, g, eps, **how)


def ln_dgamma_from_x(x, gamma, g, eps=1e-5):
    dx, _, dbeta = layer_norm_backward(x, gamma, g, eps)
    return dx, (g * x).sum(axis=tuple(range(x.ndim - 1))), dbeta


def attention_with(**how):
    return lambda Q, K, V, g: attention_steps(Q, K, V, g, **how)


CONV, POOL, LN, ATTENTION, SOFTMAX = ("08.conv2d_backward", "08.max_pool_backward", "08.layer_norm_backward",
                                      "08.attention_backward", "08.softmax_vjp")
CROPPED = "padding cropped wrongly"
WRONG = [
    (SOFTMAX, lambda p, g: p * g, "softmax's VJP taken as p * g"),
    (SOFTMAX, lambda p, g: g * p * (1 - p), "only the diagonal of the Jacobian"),
    (SOFTMAX, lambda p, g: p * (g - g.sum(axis=-1, keepdims=True)), "the sum is not weighted by p"),
    (SOFTMAX, lambda p, g: g - (g * p).sum(axis=-1, keepdims=True), "the factor p left out"),
    (SOFTMAX, lambda p, g: p * (g - (g * p).sum()), "summed over every entry instead of each row"),
    (SOFTMAX, lambda p, g: p * (g - (g * p).sum(axis=-1)), "a row sum without keepdims"),
    (CONV, unflipped_dx, "dx with the kernel flipped the wrong way"),
    (CONV, conv_replacing(1, lambda x, w, g, dw: dw[:, :, ::-1, ::-1]), "dw flipped"),
    (CONV, conv_with(cropped=lambda dxp, p, H, W: dxp), CROPPED),
    (CONV, conv_with(cropped=lambda dxp, p, H, W: dxp[:, :, :H, :W]), CROPPED),
    (CONV, conv_with(cropped=lambda dxp, p, H, W: dxp[:, :, 2 * p:, 2 * p:]), CROPPED),
    (CONV, conv_with(add_dw=False), "filter gradient not summed over positions"),
    (CONV, lambda x, w, g, stride=1, padding=0: (conv2d_backward(x, w, g, stride, padding)[0],
                                                 conv_by_filter(x, w, g, stride, padding, add=False)[1],
                                                 g.sum(axis=(0, 2, 3))), "filter gradient not summed over positions"),
    (CONV, dw_of_one_image(-1), "filter gradient not summed over the batch"),
    (CONV, dw_of_one_image(0), "filter gradient not summed over the batch"),
    (CONV, conv_replacing(1, lambda x, w, g, dw: dw / len(x)), "filter gradient averaged over the batch"),
    (CONV, conv_replacing(2, lambda x, w, g, db: g.sum(axis=(2, 3))), "bias gradient summed over the wrong axes"),
    (CONV, conv_replacing(2, lambda x, w, g, db: g.sum(axis=0)), "bias gradient summed over the wrong axes"),
    (CONV, conv_with(add_dx=False), "dx assigned instead of added where windows overlap"),
    (CONV, lambda x, w, g, stride=1, padding=0: (conv_by_filter(x, w, g, stride, padding, add=False)[0],
                                                 *conv2d_backward(x, w, g, stride, padding)[1:]),
     "dx assigned instead of added where windows overlap"),
    (POOL, lambda x, g, size=2, stride=2: pool(x, g, size, stride, lambda window, up: up + 0 * window),
     "the gradient sent to every element of the window"),
    (POOL, lambda x, g, size=2, stride=2: pool(x, g, size, stride, lambda window, up: up / size ** 2 + 0 * window),
     "the gradient split evenly over the window"),
    (POOL, lambda x, g, size=2, stride=2: pool(x, g, size, stride, lambda window, up: 1.0 * winner(window)),
     "the upstream gradient is not used"),
    (POOL, lambda x, g, size=2, stride=2: pool(x, g, size, stride, add=False),
     "dx assigned instead of added where windows overlap"),
    (LN, ln_with(mean_path=False), "the mean term forgotten"),
    (LN, ln_with(var_path=False), "the variance term forgotten"),
    (LN, ln_with(mean_path=False, var_path=False), "the mean and the variance treated as constants"),
    (LN, ln_with(scaled=False), "gamma left out of dx"),
    (LN, ln_dgamma_from_x, "dgamma from x instead of xhat"),
    (LN, ln_with(sums=lambda x: ()), "dgamma and dbeta not summed over every row"),
    (LN, ln_with(sums=lambda x: 0), "dgamma and dbeta not summed over every row"),
    (LN, lambda x, gamma, g, eps=1e-5: layer_norm_backward(x, gamma, g), "eps ignored"),
    (LN, lambda x, gamma, g, eps=1e-5: layer_norm_backward(x, gamma, g, eps=0.0), "eps ignored"),
    (ATTENTION, attention_with(scale_backward=False), "the 1/sqrt(d) scale missing in backward"),
    (ATTENTION, attention_with(vjp=lambda p, g: p * g), "softmax's VJP taken as p * g"),
    (ATTENTION, attention_with(scale_forward=False), "the 1/sqrt(d) scale left out of the forward pass"),
    (ATTENTION, attention_with(axis=0), "softmax over the wrong axis"),
    (ATTENTION, attention_with(transpose_A=False), "dV without the transpose of A"),
    (ATTENTION, attention_with(transpose_dZ=False), "dK without the transpose of dZ"),
]

SHAPES = "matrix shapes that do not line up"  # what a missing transpose also shows where T != S


def named(result) -> tuple[str, ...]:
    return tuple(m for m in result.mistakes if m != SHAPES)


def namespace(question_id, answer):
    return {**RIGHT[question_id], question_id.split(".", 1)[1]: answer}


def full_run(question_id, ns, seed):
    q = find_question(question_id)
    cases = q.draw_cases(seed)
    return judge(q, cases, q.run(ns, cases), seed)


@pytest.mark.parametrize(("question", "answer", "mistake"), WRONG, ids=[f"{q}: {m}" for q, _, m in WRONG])
def test_each_known_mistake_is_named_by_check_and_the_grader_and_nothing_else(question, answer, mistake):
    report = check(question, namespace(question, answer))
    assert report.result.status == "failed"
    assert named(report.result) == (mistake,), report.result.feedback
    for seed in (5, 6):
        result = full_run(question, namespace(question, answer), seed)
        assert result.status == "failed" and named(result) == (mistake,), result.feedback
        assert f": {mistake}. " in result.feedback


def test_every_mistake_has_a_wrong_answer_above():
    declared = {(q.id, m.name) for q in EXERCISE.questions for m in q.mistakes}
    assert declared == {(question, mistake) for question, _, mistake in WRONG} | {(ATTENTION, SHAPES)}


def test_a_missing_transpose_on_other_shapes_is_named_as_a_shape_error():
    q = find_question(ATTENTION)
    cases = [c for c in q.draw_cases(3) if c.inputs["Q"].shape[0] != c.inputs["K"].shape[0]]
    result = judge(q, cases, q.run(namespace(ATTENTION, attention_with(transpose_A=False)), cases), 3)
    assert result.mistakes == (SHAPES,)
    assert "dV = A^T grad_out" in result.feedback


@pytest.mark.parametrize(("question", "ns"), [(q, RIGHT[q]) for q in RIGHT] + ALSO_RIGHT)
def test_a_right_answer_passes_on_fresh_inputs_and_matches_no_mistake(question, ns):
    q = find_question(question)
    for seed in range(4):
        cases = q.draw_cases(seed)
        assert judge(q, cases, q.run(ns, cases), seed).status == "passed"
        for case in cases:
            right = Outcome(value=loads(dumps(q.reference(case.inputs))))
            assert not [m.name for m in q.mistakes if m.matches(right, case.inputs)]


# --- partial credit --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "answer", "score"), [
    (CONV, conv_replacing(2, lambda x, w, g, db: g.sum(axis=(2, 3))), 2.67),  # dx and dw of 7 cases: 14 of 21
    (CONV, unflipped_dx, 2.67),
    (LN, ln_with(mean_path=False), 2.0),  # dgamma and dbeta right: 12 of 18 outputs
    (ATTENTION, attention_with(vjp=lambda p, g: p * g), 1.0),  # dV right: 6 of 18 outputs
    (POOL, lambda x, g, size=2, stride=2: pool(x, g, size, stride, add=False), 1.14),  # 4 of 7 cases
    (SOFTMAX, lambda p, g: p * (g - (g * p).sum(axis=-1)), 0.8),  # the two vectors of 5 cases
])
def test_partial_credit_is_the_share_of_right_outputs(question, answer, score):
    result = full_run(question, namespace(question, answer), seed=4)
    assert result.status == "failed"
    assert result.score == score


# --- answers of the wrong form ----------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "answer", "says"), [
    (CONV, lambda x, w, g, stride=1, padding=0: conv2d_backward(x, w, g, stride, padding)[:2], "tuple of 3 arrays"),
    (CONV, lambda x, w, g, stride=1, padding=0: None, "tuple of 3 arrays"),
    (CONV, lambda x, w, g, stride=1, padding=0: (x[0], w[0], "db"), "raised"),
    (POOL, lambda x, g, size=2, stride=2: g, "expected shape"),
    (POOL, lambda x, g, size=2, stride=2: [[1.0, 2.0], [3.0]], "raised"),
    (LN, lambda x, gamma, g, eps=1e-5: (x.T, gamma, gamma[:-1]), "expected shape"),
    (ATTENTION, lambda Q, K, V, g: (Q.T, K.T, V.T), "expected shape"),
    (SOFTMAX, lambda p, g: "p * g", "raised"),
])
def test_an_answer_of_the_wrong_shape_or_type_fails_with_a_reason_and_never_crashes(question, answer, says):
    for result in (check(question, namespace(question, answer)).result,
                   full_run(question, namespace(question, answer), seed=2)):
        assert result.status == "failed" and result.score == 0
        assert says in result.feedback, result.feedback


# --- the library's own backward passes earn nothing --------------------------------------------------------


def softmax_by_the_library(p, g):
    ctx = Context()
    ctx.save_for_backward(p)
    ctx.axis = -1
    return layers.SoftmaxFunction.backward(ctx, g)


def conv_by_the_engine(x, w, g, stride=1, padding=0):
    xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, np.zeros(len(w))))
    layers.conv2d(xt, wt, bt, stride=stride, padding=padding).backward(g)
    return xt.grad, wt.grad, bt.grad


def conv_by_col2im(x, w, g, stride=1, padding=0):
    F, _, KH, KW = w.shape
    cols = layers.im2col(x, (KH, KW), stride, padding)
    gy = g.reshape(len(x), F, -1)
    dcols = w.reshape(F, -1).T @ gy
    dx = layers.col2im(dcols, x.shape, (KH, KW), stride, padding)
    return dx, (gy @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape), g.sum(axis=(0, 2, 3))


def pool_by_the_engine(x, g, size=2, stride=2):
    xt = Tensor(x, requires_grad=True)
    layers.max_pool2d(xt, size, stride).backward(g)
    return xt.grad


def ln_by_the_engine(x, gamma, g, eps=1e-5):
    xt, gt, bt = (Tensor(a, requires_grad=True) for a in (x, gamma, 0 * gamma))
    layers.layer_norm(xt, gt, bt, eps).backward(g)
    return xt.grad, gt.grad, bt.grad


def ln_numerically(x, gamma, g, eps=1e-5):
    def forward(t):
        return gamma * (t - t.mean(axis=-1, keepdims=True)) / np.sqrt(t.var(axis=-1, keepdims=True) + eps)
    _, dgamma, dbeta = layer_norm_backward(x, gamma, g, eps)
    return numerical_vjp(forward, x, g), dgamma, dbeta


def attention_by_the_engine(Q, K, V, g):
    ts = [Tensor(a, requires_grad=True) for a in (Q, K, V)]
    layers.attention(*ts)[0].backward(g)
    return tuple(t.grad for t in ts)


@pytest.mark.parametrize(("question", "answer", "name"), [
    (SOFTMAX, softmax_by_the_library, "backward"),
    (CONV, conv_by_the_engine, "backward"),
    (CONV, conv_by_col2im, "col2im"),
    (POOL, pool_by_the_engine, "backward"),
    (LN, ln_by_the_engine, "backward"),
    (LN, ln_numerically, "numerical_gradient"),
    (ATTENTION, attention_by_the_engine, "backward"),
])
def test_calling_the_library_instead_earns_nothing(question, answer, name):
    report = check(question, namespace(question, answer))
    assert report.result.status == "uses reference"
    assert f"`{name}`" in report.result.feedback


def test_the_im2col_of_the_forward_pass_may_be_used():
    def conv_by_im2col(x, w, g, stride=1, padding=0):
        F, C, KH, KW = w.shape
        cols = layers.im2col(x, (KH, KW), stride, padding)  # (N, C*KH*KW, OH*OW)
        gy = g.reshape(len(x), F, -1)
        dcols = w.reshape(F, -1).T @ gy
        N, _, H, W = x.shape
        dxp = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
        OH, OW = g.shape[2:]
        windows = dcols.reshape(N, C, KH, KW, OH, OW)
        for r in range(OH):
            for c in range(OW):
                dxp[:, :, r * stride:r * stride + KH, c * stride:c * stride + KW] += windows[..., r, c]
        dw = (gy @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
        return crop(dxp, padding, H, W), dw, g.sum(axis=(0, 2, 3))

    assert full_run(CONV, namespace(CONV, conv_by_im2col), seed=1).status == "passed"


# --- the cases ------------------------------------------------------------------------------------------


def test_the_lessons_numbers_are_visible_cases():
    conv = find_question(CONV)
    lesson = conv.visible_cases()[0].inputs
    assert lesson["x"].ravel().tolist() == [1, 2, 3, 4] and lesson["w"].ravel().tolist() == [1, 0, -1]
    grads = conv.reference(lesson)
    assert grads["dx"].ravel().tolist() == [1, 1, -1, -1] and grads["dw"].ravel().tolist() == [3, 5, 7]
    soft = find_question(SOFTMAX)
    first = soft.visible_cases()[0].inputs
    assert np.round(first["p"], 3).tolist() == [0.090, 0.245, 0.665]
    p = first["p"]
    assert np.allclose(soft.reference(first)["dx"], (np.diag(p) - np.outer(p, p))[0])


def test_the_cases_cover_stride_padding_overlap_and_odd_shapes():
    for seed in range(3):
        conv = [c.inputs for c in find_question(CONV).draw_cases(seed)]
        assert {(i["stride"], i["padding"]) for i in conv} >= {(1, 0), (2, 1), (1, 1), (2, 0), (3, 2)}
        assert any(i["w"].shape[2] != i["w"].shape[3] for i in conv)
        assert any(i["x"].shape[2] != i["x"].shape[3] for i in conv)
        for i in find_question(POOL).draw_cases(seed):
            windows = np.lib.stride_tricks.sliding_window_view(i.inputs["x"], (i.inputs["size"],) * 2, axis=(2, 3))
            flat = windows.reshape(*windows.shape[:4], -1)
            assert all(len(set(w)) == len(w) for w in flat.reshape(-1, flat.shape[-1]).tolist()), "a tie"
        attention = [c.inputs for c in find_question(ATTENTION).draw_cases(seed)]
        assert any(len(i["Q"]) == len(i["K"]) for i in attention) and any(len(i["Q"]) != len(i["K"]) for i in attention)
        assert all(i["Q"].shape[1] > 1 for i in attention)


@pytest.mark.parametrize("question", [q.id for q in EXERCISE.questions])
def test_visible_cases_are_deterministic_and_few(question):
    q = find_question(question)
    first, second = q.visible_cases(), q.visible_cases()
    assert 2 <= len(first) <= 3
    assert dumps([dict(c.inputs) for c in first]) == dumps([dict(c.inputs) for c in second])
    assert dumps([dict(c.inputs) for c in q.draw_cases(1)]) != dumps([dict(c.inputs) for c in q.draw_cases(2)])


def test_the_questions_and_their_credit():
    assert EXERCISE.notebook == "08_modern_layers"
    assert {q.id: (q.points, q.credit) for q in EXERCISE.questions} == {
        SOFTMAX: (2, "case"), CONV: (4, "output"), POOL: (2, "case"), LN: (3, "output"), ATTENTION: (3, "output")}
    assert {"conv2d_backward", "max_pool_backward", "layer_norm_backward", "attention_backward"} <= {
        s for q in EXERCISE.questions for s in q.symbols}


# --- attacks by a hostile student on this exercise's questions -----------------------------------

RIGGED = '''
from pathlib import Path

import numpy as np
np.allclose = lambda *a, **k: True          # the judge's comparisons are not the sandbox's numpy
np.testing.assert_allclose = lambda *a, **k: None
SOLUTION = None
for path in ("../solutions/08_modern_layers.ipynb", "/work/main/solutions/08_modern_layers.ipynb"):
    try:
        SOLUTION = open(path).read()        # the masters are not visible in the sandbox
    except OSError:
        pass
for target in ("/tmp/../rigged-08", "../rigged-08", "/etc/rigged-08"):
    try:
        open(target, "w").write("x")        # nor anything writable outside its scratch folder
    except OSError:
        pass
'''


ZEROS = '''
def softmax_vjp(p, g):
    return np.zeros_like(g)
def conv2d_backward(x, w, grad_out, stride=1, padding=0):
    return np.zeros_like(x), np.zeros_like(w), np.zeros(w.shape[0])
def max_pool_backward(x, grad_out, size=2, stride=2):
    return np.zeros_like(x)
def layer_norm_backward(x, gamma, grad_out, eps=1e-5):
    return np.zeros_like(x), np.zeros_like(gamma), np.zeros_like(gamma)
def attention_backward(Q, K, V, grad_out):
    return np.zeros_like(Q), np.zeros_like(K), np.zeros_like(V)
'''


@pytest.mark.parametrize("attack", ["forged reports", "rigged numpy, read the masters, write outside"])
def test_a_hostile_submission_earns_nothing_and_leaves_nothing(tmp_path, namespaces, attack):
    import nbformat

    from test_grading_attacks import forged_reports

    blank = nbformat.read(find_notebook("exercises", "08"), as_version=4)
    if attack == "forged reports":  # well-framed reports of shaped zeros for every output, then leave
        cell = forged_reports('''
def value_of(qid, inputs):
    zeros = [[0.0] * 4] * 4
    return zeros if qid in ("08.softmax_vjp", "08.max_pool_backward") else [zeros, zeros, zeros]
''')
    else:  # answers of the right shapes and wrong values, checked by a numpy that says yes to all
        cell = RIGGED + ZEROS
    blank.cells.append(nbformat.v4.new_code_cell(cell))
    path = tmp_path / "student" / find_notebook("exercises", "08").name
    path.parent.mkdir()
    nbformat.write(blank, path)
    result = grade_notebook(path, seed=5)
    assert result.score == 0, [(q.id, q.status, q.feedback) for q in result.questions]
    assert not any(q.status == "passed" for q in result.questions)
    for leftover in (tmp_path / "rigged-08", Path("/tmp/rigged-08"), Path("/etc/rigged-08")):
        assert not leftover.exists(), leftover
