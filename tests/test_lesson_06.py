"""Lesson 06 (backpropagation through a neural network): what its stored notebook must show.

Reads the committed notebook only (no execution): nbval re-executes it separately.
"""
import re

import nbformat
import pytest

from notebook_text import find_notebook, image_count, markdown_text, output_text

LESSON = find_notebook("lessons", "06")
OUTPUT = output_text(LESSON)
MARKDOWN = markdown_text(LESSON)
CELLS = nbformat.read(LESSON, as_version=4).cells
ALL_CODE = "\n".join(c.source for c in CELLS if c.cell_type == "code")
AGREE = "0.00000000"  # a relative error printed to eight decimals


def lines_with(fragment: str) -> list[str]:
    return [line for line in OUTPUT.splitlines() if fragment in line]


# --- forward pass ---------------------------------------------------------------------------------


def test_forward_pass_equations_and_stored_activations_are_taught():
    for formula in ("a^0 = x", "z^l = W^l a^{l-1} + b^l", "a^l = \\sigma(z^l)"):
        assert formula in MARKDOWN
    assert "**stores**" in MARKDOWN and "pre-activation" in MARKDOWN


def test_worked_example_numbers_are_seeded_and_printed():
    assert "np.random.default_rng(0)" in ALL_CODE
    for line in ("x  = [ 0.3, -0.5]", "b1 = [0.1, 0.9, 0.6]", "W2 = [[-1. ,  0.7, -0.9]]", "b2 = [0.5]", "y  = 1.0"):
        assert line in OUTPUT


@pytest.mark.parametrize("line", [
    "z1    = [0.3300, 0.6800, 0.4100]",
    "a1    = [0.5818, 0.6637, 0.6011]",
    "z2    = [-0.1581]",
    "y_hat = [0.4606]",
    "L     = 0.1455",
])
def test_worked_example_forward_pass(line):
    assert line in OUTPUT


# --- backward pass ----------------------------------------------------------------------------------


def test_backward_equations_are_stated():
    assert "\\delta^L = \\nabla_{a^L} L \\odot \\sigma'(z^L)" in MARKDOWN
    assert "\\delta^l = \\big((W^{l+1})^T \\delta^{l+1}\\big) \\odot \\sigma'(z^l)" in MARKDOWN
    assert "= \\delta^l \\,(a^{l-1})^T" in MARKDOWN
    assert "\\dfrac{\\partial L}{\\partial b^l} = \\delta^l" in MARKDOWN


@pytest.mark.parametrize("line", [
    "step 1: dL/dy_hat = [-0.5394]",
    "step 2: delta2    = [-0.1340]",
    "step 3: dL/dW2    = [[-0.0780, -0.0890, -0.0806]]",
    "step 4: dL/db2    = [-0.1340]",
    "step 5: dL/da1    = [ 0.1340, -0.0938,  0.1206]",
    "step 6: delta1    = [ 0.0326, -0.0209,  0.0289]",
    "step 7: dL/dW1    = [[ 0.0098, -0.0163],",
    "step 8: dL/db1    = [ 0.0326, -0.0209,  0.0289]",
])
def test_eight_backward_steps_of_the_worked_example(line):
    assert line in OUTPUT


@pytest.mark.parametrize("param", ["W1", "b1", "W2", "b2"])
def test_worked_example_agrees_with_engine_and_central_differences(param):
    assert f"dL/d{param}: hand vs engine, relative error {AGREE}" in OUTPUT
    assert f"dL/d{param}: hand vs central differences, relative error {AGREE}" in OUTPUT
    assert "numerical_gradient(" in ALL_CODE and ".backward()" in ALL_CODE


def test_composition_of_functions_unwinds_down_to_w1():
    assert "composition of functions" in MARKDOWN.lower() and "unwind" in MARKDOWN.lower()
    for line in ("dL/dz2    = [-0.1340]   (after a 1x1 factor)",
                 "dL/da1    = [ 0.1340, -0.0938,  0.1206]   (after a 1x3 factor)",
                 "dL/dz1    = [ 0.0326, -0.0209,  0.0289]   (after a 3x3 factor)",
                 f"dL/dW1 from the unwound chain vs step 7: relative error {AGREE}"):
        assert line in OUTPUT


def test_the_equations_as_a_loop_work_at_any_depth():
    rows = lines_with("relative error vs engine")
    assert len(rows) == 4
    assert all(row.count(AGREE) == 2 for row in rows)


def test_column_vector_form_versus_batch_first_library():
    assert "batch-first" in MARKDOWN and "transpose" in MARKDOWN
    assert "library weight: (2, 3) (in, out); textbook W: (3, 2) (out, in)" in OUTPUT
    assert "A @ weight + bias equals W a + b for every row: True" in OUTPUT
    rows = lines_with("relative error vs library")
    assert len(rows) == 3 and all(row.count(AGREE) == 2 for row in rows)


# --- training ---------------------------------------------------------------------------------------


def test_gradient_descent_lowers_the_loss_of_the_worked_example():
    assert "\\theta \\leftarrow \\theta - \\alpha\\, \\nabla_\\theta L" in MARKDOWN
    assert "step  0: y_hat = 0.4606, L = 0.1455" in OUTPUT
    assert "step 40: y_hat = 0.9420, L = 0.0017" in OUTPUT


def test_minibatch_gradients_average_to_the_full_gradient():
    assert "mini-batch" in MARKDOWN and "epoch" in MARKDOWN
    assert "8 mini-batches of 30" in OUTPUT
    assert f"mean of the batch gradients vs the full gradient: relative difference {AGREE}" in OUTPUT
    assert re.search(r"cosine\(batch gradient, full gradient\): (0\.\d\d, ){7}0\.\d\d", OUTPUT)


@pytest.mark.parametrize("line", [
    "SGD (lr 0.1)                 training loss over epoch 1: 1.003, over epoch 40: 0.201",
    "SGD + momentum 0.9 (lr 0.1)  training loss over epoch 1: 0.940, over epoch 40: 0.047",
    "RMSprop (lr 0.01)            training loss over epoch 1: 0.954, over epoch 40: 0.036",
    "Adam (lr 0.01)               training loss over epoch 1: 0.916, over epoch 40: 0.037",
])
def test_four_optimisers_compared_on_one_problem(line):
    assert line in OUTPUT


def test_optimiser_update_rules_are_taught():
    for term in ("**Momentum**", "**RMSprop**", "**Adam**", "bias corrections"):
        assert term in MARKDOWN
    for name in ("optim.SGD(", "momentum=0.9", "optim.RMSprop(", "optim.Adam("):
        assert name in ALL_CODE


@pytest.mark.parametrize("line", [
    "StepLR(step_size=30, gamma=0.3)  lr at epochs 0, 50, 99: 0.10000, 0.03000, 0.00270",
    "ExponentialLR(gamma=0.96)        lr at epochs 0, 50, 99: 0.10000, 0.01299, 0.00176",
    "CosineAnnealingLR(T_max=100)     lr at epochs 0, 50, 99: 0.10000, 0.05000, 0.00002",
])
def test_three_learning_rate_schedules(line):
    assert line in OUTPUT
    assert "**step**" in MARKDOWN and "**exponential**" in MARKDOWN and "**cosine**" in MARKDOWN


def test_mlp_trained_on_spirals_with_loss_curves_and_decision_boundary():
    assert "datasets.spirals(" in ALL_CODE and "datasets.train_val_split(" in ALL_CODE
    assert "240 training points, 60 validation points, 3 classes" in OUTPUT
    assert "final training loss 0.033, validation loss 0.205" in OUTPUT
    assert "training accuracy 99.6%, validation accuracy 95.0%" in OUTPUT
    assert "viz.plot_loss_curves(history" in ALL_CODE and "viz.plot_decision_boundary(" in ALL_CODE


# --- vanishing and exploding gradients ----------------------------------------------------------------


def test_sigmoid_derivative_bound_explains_vanishing():
    assert "largest sigma'(z) = 0.2500: across ten sigmoid layers the sigma' factors alone multiply to at most " \
        "0.25**10 = 9.5e-07" in OUTPUT
    assert "sigma'(5) = 0.0066" in OUTPUT


@pytest.mark.parametrize("line", [
    "sigmoid (Xavier init)  11 layers: |dL/dW| first 6.2e-08, last 9.2e-01, ratio 6.7e-08",
    "ReLU (He init)         11 layers: |dL/dW| first 6.9e-02, last 2.1e-01, ratio 3.2e-01",
    "ReLU (std 1 init)      11 layers: |dL/dW| first 1.5e+05, last 2.3e+05, ratio 6.5e-01",
    "residual sigmoid       11 layers: |dL/dW| first 6.8e-02, last 1.5e+01, ratio 4.7e-03",
])
def test_per_layer_gradient_norms_of_deep_sigmoid_relu_and_residual_nets(line):
    assert line in OUTPUT
    assert "viz.plot_grad_norms(" in ALL_CODE and "nn.grad_norms(" in ALL_CODE


@pytest.mark.parametrize("term", [
    "vanishes", "explodes", "Repeated products", "Saturating activations", "Initialisation",
    "ReLU-family activations", "Residual connections", "Normalisation", "Gradient clipping",
])
def test_causes_and_remedies_are_named(term):
    assert term.lower() in MARKDOWN.lower()


def test_gradient_clipping_is_demonstrated():
    assert "optim.clip_grad_norm_(" in ALL_CODE and "clip=clip" in ALL_CODE
    assert "total gradient norm before clipping 750.4, after clipping 10.0000" in OUTPUT
    assert ("clip=None: FloatingPointError: train: the loss became nan in epoch 1; "
            "try a smaller learning rate or gradient clipping") in OUTPUT
    assert ("clip=0.2: mean training loss 284.6 over the first epoch, 0.016 over the last; "
            "validation accuracy 95.0%") in OUTPUT


# --- monitoring ----------------------------------------------------------------------------------------


def test_monitoring_gradient_norms_per_layer_and_train_vs_validation_loss():
    assert "overfitting" in MARKDOWN and "early stopping" in MARKDOWN.lower()
    assert "log[\"grad_norms\"].append(nn.grad_norms(big))" in ALL_CODE
    assert "lowest validation loss 0.171 after epoch 122" in OUTPUT
    assert "after epoch 300: training loss 0.0023, validation loss 0.258" in OUTPUT


def test_frameworks_sidebar():
    for term in ("loss.backward()", "optimizer.step()", "optimizer.zero_grad()", "GradientTape", "jax.grad"):
        assert term in MARKDOWN


# --- form ------------------------------------------------------------------------------------------------


def test_figures_are_stored():
    assert image_count(LESSON) >= 5


def test_training_explorer_is_used_and_its_output_ignored():
    cells = [c for c in CELLS if c.cell_type == "code" and "TrainingExplorer(" in c.source]
    assert cells and all("# NBVAL_IGNORE_OUTPUT" in c.source for c in cells)


def test_the_exercise_pointer_names_the_function_to_write():
    assert "mlp_backward(params, cache, grad_out)" in MARKDOWN
