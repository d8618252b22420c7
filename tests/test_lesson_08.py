"""Lesson 08 (backpropagation through the layers of modern networks): what its stored notebook must show.

Reads the committed notebook (no execution; nbval re-executes it separately), and recomputes the
course plan's worked numbers with the library, so that the lesson and the library agree.
"""
import re

import nbformat
import numpy as np
import pytest

from backprop_lib import Tensor, layers
from backprop_lib.practice import verdict
from notebook_text import explorer_count, find_notebook, image_count, markdown_text, output_text

LESSON = find_notebook("lessons", "08")
OUTPUT = output_text(LESSON)
MARKDOWN = markdown_text(LESSON)
CELLS = nbformat.read(LESSON, as_version=4).cells
ALL_CODE = "\n".join(c.source for c in CELLS if c.cell_type == "code")
PASSED = "passed (relative error below 1e-07)"


def passed(name: str) -> bool:
    return f"gradient check of {name}: {PASSED}" in OUTPUT


# --- softmax and log-sum-exp ------------------------------------------------------------------------


def test_softmax_of_1_2_3_and_its_jacobian():
    assert "softmax([1, 2, 3]) = [0.090, 0.245, 0.665]" in OUTPUT
    assert np.round(layers.softmax(np.array([1.0, 2.0, 3.0])).data, 3).tolist() == [0.090, 0.245, 0.665]
    assert "J = \\mathrm{diag}(p) - p\\,p^T" in MARKDOWN
    assert "    [0.082, -0.022, -0.060]" in OUTPUT
    assert "row sums of J: [0.000, 0.000, 0.000]" in OUTPUT


def test_the_softmax_vjp_with_upstream_1_0_0_is_the_first_row_of_the_jacobian():
    assert "p \\odot \\Big(g - \\sum_i g_i p_i\\Big)" in MARKDOWN
    assert "p * (g - sum(g * p)) with g = [1, 0, 0]: [0.082, -0.022, -0.060]" in OUTPUT
    assert "the VJP equals the first row of J: True" in OUTPUT
    assert "the library's backward gives the same: True" in OUTPUT
    assert passed("the softmax VJP")
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    layers.softmax(x).backward(np.array([1.0, 0.0, 0.0]))
    p = layers.softmax(np.array([1.0, 2.0, 3.0])).data
    assert np.allclose(x.grad, (np.diag(p) - np.outer(p, p))[0])


def test_the_vjp_saves_a_quadratic_jacobian():
    assert "n = 50,000: the Jacobian has 2,500,000,000 entries" in OUTPUT


def test_log_sum_exp_keeps_softmax_finite():
    assert "log-sum-exp" in MARKDOWN.lower() and "709" in MARKDOWN
    assert "naive softmax([1001, 1002, 1003])  = [nan, nan, nan]" in OUTPUT
    assert "stable softmax([1001, 1002, 1003]) = [0.090, 0.245, 0.665]" in OUTPUT
    assert "logsumexp([1001, 1002, 1003]) = 1003.408" in OUTPUT
    assert "its gradient is the softmax: True" in OUTPUT
    assert "np.errstate(" in ALL_CODE


# --- convolution ------------------------------------------------------------------------------------


def test_the_1d_convolution_worked_example():
    assert "x = [1, 2, 3, 4], w = [1, 0, -1] -> y = [-2, -2]" in OUTPUT
    for line in ("upstream g = [1, 1]", "dL/dw = [3, 5, 7]", "dL/dx = [1, 1, -1, -1]",
                 "library conv2d: y = [-2, -2], dL/dw = [3, 5, 7], dL/dx = [1, 1, -1, -1]"):
        assert line in OUTPUT, line


def test_the_library_reproduces_the_1d_worked_example():
    x = Tensor(np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 1, 4), requires_grad=True)
    w = Tensor(np.array([1.0, 0.0, -1.0]).reshape(1, 1, 1, 3), requires_grad=True)
    y = layers.conv2d(x, w)
    y.backward(np.ones((1, 1, 1, 2)))
    assert y.data.ravel().tolist() == [-2, -2]
    assert w.grad.ravel().tolist() == [3, 5, 7]
    assert x.grad.ravel().tolist() == [1, 1, -1, -1]


def test_weight_sharing_is_a_fan_out_and_the_input_gradient_a_flipped_convolution():
    text = MARKDOWN.lower()
    for term in ("weight sharing", "fan-out", "sum over positions", "flipped", "transposed convolution",
                 "cross-correlation"):
        assert term in text, term
    assert ("dL/dx as the padded upstream [0, 0, 1, 1, 0, 0] correlated with the flipped kernel [-1, 0, 1]: "
            "[1, 1, -1, -1]") in OUTPUT
    assert "stride 1: dL/dx equals the upstream convolved with the flipped filters: True" in OUTPUT
    for name in ("dL/dx", "dL/dw", "dL/db"):
        assert passed(name)
    assert "stride=2, padding=1" in ALL_CODE


def test_im2col_is_a_matrix_product_and_col2im_accumulates_the_overlaps():
    assert "im2col" in MARKDOWN and "col2im" in MARKDOWN
    assert "    [1, 2, 3, 5, 6, 7, 9, 10, 11]" in OUTPUT
    assert "equals conv2d reshaped: True" in OUTPUT
    assert "    [2, 4, 4, 2]" in OUTPUT
    assert "by hand vs library: dL/dw True, dL/dimage True" in OUTPUT


def test_the_convolution_explorer_is_used_and_its_output_ignored():
    cells = [c for c in CELLS if c.cell_type == "code" and "ConvolutionExplorer(" in c.source]
    assert cells and all(c.source.startswith("# NBVAL_IGNORE_OUTPUT") for c in cells)
    assert explorer_count(LESSON) == 1
    for term in ("kernel", "stride", "padding"):
        assert term in cells[0].source


# --- pooling and dropout ------------------------------------------------------------------------------


def test_max_pooling_is_the_max_gate_in_every_window():
    assert "max gate" in MARKDOWN and "winner" in MARKDOWN
    assert "max pool: y = [[4, 5], [6, 3]]" in OUTPUT
    assert "  dL/dx = [[0, 0, 0, 0], [1, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]]" in OUTPUT
    assert "avg pool: dL/dx = [[0.25, 0.25, 0.25, 0.25]," in OUTPUT
    assert "overlapping windows over [1, 5, 2, 0]: y = [5, 5, 2], dL/dx = [0, 2, 1, 0]" in OUTPUT
    assert passed("max pooling")


def test_dropout_saves_its_scaled_mask():
    assert "1/(1 - r)" in MARKDOWN and "saves" in MARKDOWN
    assert "y     = [2, 0, 0, 0, 10, 12, 14, 16]" in OUTPUT
    assert "dL/dx = [2, 0, 0, 0, 2, 2, 2, 2]" in OUTPUT
    assert "mean of dropout(ones) over 200,000 entries: 1.00" in OUTPUT
    assert "in evaluation dropout returns x unchanged: True" in OUTPUT


# --- normalisation and residual connections -----------------------------------------------------------


def test_layer_norm_backward_through_the_mean_and_the_variance():
    assert "three paths" in MARKDOWN and "through $v$" in MARKDOWN and "through $m$" in MARKDOWN
    for line in ("m = 4.0000, v = 9.5000, s = 3.0822, x_hat = [-0.9733, -0.6489, 0.0000, 1.6222]",
                 "through v:      [-0.0256, -0.0171, 0.0000, 0.0427]",
                 "through m:      [-0.1622, -0.1622, -0.1622, -0.1622]",
                 "sum (dL/dx):    [0.1366, -0.5037, 0.4867, -0.1195]",
                 "compact form:   [0.1366, -0.5037, 0.4867, -0.1195]"):
        assert line in OUTPUT, line
    assert passed("the three paths vs the library") and passed("layer norm")
    x = Tensor([1.0, 2.0, 4.0, 9.0], requires_grad=True)
    layers.layer_norm(x).backward(np.array([1.0, -1.0, 2.0, 0.0]))
    assert np.round(x.grad, 4).tolist() == [0.1366, -0.5037, 0.4867, -0.1195]


def test_batch_norm_is_checked_in_training_mode():
    assert "**Batch norm**" in MARKDOWN and "running averages" in MARKDOWN
    for name in ("batch norm, dL/dx", "batch norm, dL/dgamma", "batch norm, dL/dbeta"):
        assert passed(name)


def test_normalisation_undoes_a_bad_weight_scale():
    rows = re.findall(r"^std (0\.[15])(, layer norm)?\s+\|dL/dW\| of the first layer (\S+), of the last (\S+)$",
                      OUTPUT, re.MULTILINE)
    assert len(rows) == 4
    for std, normalised, first, last in rows:
        size = float(first), float(last)
        if normalised:
            assert all(1e-2 < s < 1e2 for s in size), (std, size)
        else:
            assert all(s < 1e-8 for s in size) if std == "0.1" else all(s > 1e3 for s in size)


def test_residual_connections_are_add_gates_that_keep_deep_gradients_alive():
    assert "add gate" in MARKDOWN and "lesson 06" in MARKDOWN.lower()
    assert "dL/dx = g + g J_F: True" in OUTPUT
    plain = re.search(r"^plain\s+\|dL/dW\| of the first layer (\S+), of the last (\S+)$", OUTPUT, re.MULTILINE)
    skips = re.search(r"^with skips \(residual\)\s+\|dL/dW\| of the first layer (\S+), of the last (\S+)$",
                      OUTPUT, re.MULTILINE)
    assert plain and skips
    assert float(plain.group(1)) / float(plain.group(2)) < 1e-10
    assert float(skips.group(1)) / float(skips.group(2)) > 1e-4
    assert "layers.Residual(" in ALL_CODE and "viz.plot_grad_norms(" in ALL_CODE


# --- attention and precision ---------------------------------------------------------------------------


def test_one_attention_head_and_the_gradients_of_q_k_v():
    assert "\\mathrm{softmax}(S)" in MARKDOWN and "\\sqrt{d_k}" in MARKDOWN
    for name in ("dL/dQ", "dL/dK", "dL/dV"):
        assert f"{name}: by hand vs library, relative error 0.00000000" in OUTPUT
        assert passed(name)


def test_the_scale_keeps_the_softmax_from_saturating():
    rows = re.findall(r"^\s+(\d+)\s+(unscaled|/ sqrt\(d_k\))\s+([\d.]+)\s+([\d.]+)\s+(\d+)%\s+([\d.]+)$",
                      OUTPUT, re.MULTILINE)
    table = {(int(d), kind): tuple(map(float, rest)) for d, kind, *rest in rows}
    assert len(table) == 8
    for d in (4, 16, 64, 256):
        assert table[(d, "/ sqrt(d_k)")][0] == pytest.approx(1.0, abs=0.15)
        assert table[(d, "unscaled")][0] == pytest.approx(np.sqrt(d), rel=0.2)
    assert table[(256, "unscaled")][2] > 50 and table[(256, "/ sqrt(d_k)")][2] == 0
    assert table[(256, "unscaled")][3] < table[(256, "/ sqrt(d_k)")][3] / 10
    assert "saturat" in MARKDOWN


def test_a_float16_gradient_underflows_and_loss_scaling_recovers_it():
    assert "float16: largest 65504, smallest normal 6.1e-05, smallest subnormal 6.0e-08" in OUTPUT
    assert "float32: 0 of 4096 gradient entries are 0" in OUTPUT
    match = re.search(r"^float16: (\d+) of 4096 gradient entries are 0", OUTPUT, re.MULTILINE)
    assert match and int(match.group(1)) > 1000
    assert "loss scale 2^14:    0 entries are 0,    0 are more than 1% off" in OUTPUT
    assert "np.float16(4) * 2^14 = inf" in OUTPUT
    assert "**loss scaling**" in MARKDOWN and "dynamic loss scaling" in MARKDOWN.lower()


# --- real data -------------------------------------------------------------------------------------------


def test_a_cnn_on_the_real_digits_beats_97_percent_with_curves_confusion_filters_and_mistakes():
    assert 'datasets.digits(split="train")' in ALL_CODE and 'datasets.digits(split="test")' in ALL_CODE
    assert "1442 training images, 355 test images, each of shape (1, 8, 8)" in OUTPUT
    assert "parameters: 2730" in OUTPUT
    assert "test accuracy above 97%: True" in OUTPUT
    for code in ("layers.Conv2d(1, 16, 3, padding=1", "layers.MaxPool2d(2)", "layers.Flatten()",
                 "nn.Linear(256, 10", "optim.Adam(model.parameters(), lr=0.01)", "epochs=15, batch_size=32",
                 "viz.plot_loss_curves(", "confusion", "filters = model[0].weight.data", "predicted != y_test"):
        assert code in ALL_CODE, code


def test_printed_accuracy_cannot_depend_on_the_last_bits():
    # the exact accuracy is drawn (a figure's pixels are not compared), never printed
    assert not re.search(r"test accuracy \d", OUTPUT)


# --- practice, figures, frame ------------------------------------------------------------------------------


def test_predictions_and_fill_in_cells():
    sources = [c.source for c in CELLS]
    predictions = [i for i, s in enumerate(sources) if s.startswith("**Predict.**")]
    assert not [s for s in sources if "**Predict.**" in s[1:]], "a prediction that does not open its cell"
    assert len(predictions) >= 5
    for i in predictions:
        assert sources[i + 1].startswith("guess = ...") and "reveal(guess," in sources[i + 3]
    fills = [sources[i + 1] for i, s in enumerate(sources) if s.startswith("**Your turn.**")]
    assert len(fills) == 2
    assert 'check("08.log_softmax_vjp", log_softmax_vjp)' in fills[0]
    assert 'check("08.conv1d_backward", conv1d_backward)' in fills[1]


def test_no_prediction_is_answered_above_it():
    sources = [c.source for c in CELLS]
    spread = next(i for i, s in enumerate(sources) if s.startswith("**Predict.**") and "d_k = 64" in s)
    assert not any("standard deviation of $\\sqrt{d_k}$" in s for s in sources[:spread])
    assert sources[spread + 4].startswith("<details><summary>Why</summary>")
    half = next(i for i, s in enumerate(sources) if s.startswith("**Predict.**") and "float16(1e-8)" in s)
    assert sources[half + 4].startswith("<details><summary>Why</summary>")
    exact = [sources[i + 3] for i, s in enumerate(sources) if s.startswith("**Predict.**")
             and ("1000" in s or "dL/dw_0" in s or "nonzero" in s)]
    assert len(exact) == 3 and all("rtol=0" in src for src in exact)


def test_twenty_hidden_layers_are_twenty():
    assert "def relu_net(std, normalise, depth=20" in ALL_CODE and "for _ in range(depth - 1):" in ALL_CODE
    assert "n_in = width" in ALL_CODE  # the first hidden layer is one of the twenty, layer norm and all


def test_the_self_checks_name_the_slip_and_never_the_numbers():
    wrong_assign = verdict("08.conv1d_backward", lambda x, w, g, s: (np.zeros(len(x)), w * 0 + g[-1]))
    assert not wrong_assign.ok
    unscaled = verdict("08.log_softmax_vjp", lambda x, g: g - np.exp(x) / np.exp(x).sum())
    assert not unscaled.ok and "upstream" in unscaled.message
    assert verdict("08.log_softmax_vjp", lambda x, g: g - np.exp(x) / np.exp(x).sum() * g.sum()).ok


def test_figures_fit_a_notebook_column():
    assert image_count(LESSON) >= 9
    sizes = re.findall(r"<Figure size ([\d.]+)x[\d.]+ with", OUTPUT)
    assert len(sizes) >= 8 and all(float(w) <= 700 for w in sizes)


def test_conventions_and_notation():
    assert "[conventions](01_computational_graphs.ipynb#Conventions)" in MARKDOWN
    assert "\\partial L" not in MARKDOWN  # gradients of the loss are total derivatives
    for greek in ("\\mu", "\\sigma^2", "\\gamma", "\\beta", "\\epsilon ="):
        assert greek not in MARKDOWN, greek  # Greek letters name edge derivatives only


def test_navigation_and_further_reading():
    nav = ("Previous: [Lesson 07 · Modes, cost and memory](07_modes_cost_memory.ipynb) · "
           "Exercise: [exercises/08_modern_layers.ipynb](../exercises/08_modern_layers.ipynb)")
    assert CELLS[0].source.rstrip().endswith(nav) and "Next:" not in CELLS[0].source
    assert CELLS[-1].source.startswith("## Further reading") and CELLS[-1].source.rstrip().endswith("---\n" + nav)
    assert 3 <= len(re.findall(r"\]\((https://[^)]+)\)", CELLS[-1].source)) <= 6
