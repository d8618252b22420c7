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
    for formula in ("a_0 = x", "z_l = a_{l-1} W_l + b_l", "a_l = \\sigma(z_l)", "l = 1, \\dots, K"):
        assert formula in MARKDOWN
    assert "**stores**" in MARKDOWN and "pre-activation" in MARKDOWN


def test_worked_example_numbers_are_seeded_and_printed():
    assert "np.random.default_rng(0)" in ALL_CODE
    for line in ("x  = [ 0.3, -0.5]", "W1 = [[-0.9,  0.6,  0.2],\n      [-1. ,  0.8,  0.5]]", "b1 = [0.1, 0.9, 0.6]",
                 "W2 = [[-1. ],\n      [ 0.7],\n      [-0.9]]", "b2 = [0.5]", "y  = 1.0"):
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
    assert "\\delta_K = \\dfrac{dL}{da_K} \\odot \\sigma'(z_K)" in MARKDOWN
    assert "\\delta_l = \\big(\\delta_{l+1} W_{l+1}^T\\big) \\odot \\sigma'(z_l)" in MARKDOWN
    assert "\\dfrac{dL}{dW_l} = a_{l-1}^T\\, \\delta_l" in MARKDOWN
    assert "\\dfrac{dL}{db_l} = \\delta_l" in MARKDOWN


@pytest.mark.parametrize("line", [
    "step 1: dL/dy_hat = [-0.5394]",
    "step 2: delta2    = [-0.1340]",
    "step 3: dL/dW2    = [[-0.0780],\n                     [-0.0890],\n                     [-0.0806]]",
    "step 4: dL/db2    = [-0.1340]",
    "step 5: dL/da1    = [ 0.1340, -0.0938,  0.1206]",
    "step 6: delta1    = [ 0.0326, -0.0209,  0.0289]",
    "step 7: dL/dW1    = [[ 0.0098, -0.0063,  0.0087],\n                     [-0.0163,  0.0105, -0.0145]]",
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
    assert "X_val=X_val, y_val=y_val, legend=True" in ALL_CODE  # validation markers and a class legend


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


# --- notation, softmax and cross-entropy, optimisers on a surface ------------------------------------------------


def test_one_notation_rows_subscripts_and_K_layers():
    assert "[conventions](01_computational_graphs.ipynb#Conventions)" in MARKDOWN
    assert "l = 1, \\dots, L" not in MARKDOWN and "W^l" not in MARKDOWN.replace("W^{l+1}", "")
    assert "\\partial L" not in MARKDOWN  # the loss's gradients are total derivatives: dL/dW_l
    assert "z_1 = x W_1 + b_1" in MARKDOWN and "$W_1$ is $2 \\times 3$" in MARKDOWN


def test_softmax_cross_entropy_gradient_is_derived_through_log_sum_exp():
    for formula in ("\\operatorname{LSE}(z)", "\\frac{\\partial \\operatorname{LSE}}{\\partial z_k} = \\frac{e^{z_k}}",
                    "\\frac{d\\ell}{dz_k} = p_k - [k = y]",
                    "\\Delta_K = \\frac{dL}{dZ_K} = \\frac{\\mathrm{softmax}(Z_K) - \\mathrm{onehot}(y)}{N}"):
        assert formula in MARKDOWN, formula
    assert "p - onehot = [ 0.7856,  0.0391, -0.8247]; vs central differences: relative error 0.00000000" in OUTPUT
    assert "without the shift: [nan  0.  0.]; with it: [1. 0. 0.]" in OUTPUT


def test_gradient_descent_limit_and_three_optimisers_on_a_two_parameter_surface():
    assert "f(q, r) = \\tfrac12\\,(q^2 + 25\\, r^2)" in MARKDOWN
    assert "lr 0.075: distance to the minimum after 100 steps 2e-03 (converged)" in OUTPUT
    assert "lr 0.085: distance to the minimum after 100 steps 1e+05 (diverged)" in OUTPUT
    for line in ("SGD (lr 0.07)                  distance to the minimum after 40 steps: 0.22",
                 "SGD + momentum 0.8 (lr 0.015)  distance to the minimum after 40 steps: 0.0077",
                 "Adam (lr 0.3)                  distance to the minimum after 40 steps: 0.092"):
        assert line in OUTPUT
    assert "ax.contour(" in ALL_CODE and "optim.Adam(p, lr=0.3)" in ALL_CODE


def test_a_schedule_on_and_off_with_the_same_seed():
    assert ("cosine schedule   training loss moves by about 1e-05 per epoch at the end; "
            "final validation loss 0.20") in OUTPUT
    assert ("constant lr 0.01  training loss moves by about 1e-03 per epoch at the end; "
            "final validation loss 0.27") in OUTPUT
    assert "viz.plot_loss_curves(history_constant" in ALL_CODE


def test_the_residual_jump_and_the_jumping_norms_are_explained():
    assert "residual sigmoid: mean |input| of the last layer 5.2, of the first block 0.5" in OUTPUT
    assert "jump at the last layer is not an explosion" in MARKDOWN
    assert "viz.plot_grad_norm_history(" in ALL_CODE and "window=15" in ALL_CODE
    assert "ReLU: each layer's norm changes by a factor of about 1.40, 1.99, 1.52 per epoch" in OUTPUT
    assert "tanh: each layer's norm changes by a factor of about 1.11, 1.09, 1.05 per epoch" in OUTPUT


# --- practice, figures, links --------------------------------------------------------------------------------------


def test_practice_three_predictions_and_a_fill_in_cell():
    sources = [c.source for c in CELLS]
    predictions = [i for i, s in enumerate(sources) if s.startswith("**Predict.**")]
    assert len(predictions) >= 3
    for i in predictions:
        assert sources[i + 1].startswith("guess = ...") and "reveal(guess," in sources[i + 3]
    fill = [i for i, s in enumerate(sources) if s.startswith("**Your turn.**")]
    assert fill and 'check("06.cross_entropy_grad", cross_entropy_grad)' in sources[fill[0] + 1]


def test_the_check_right_below_the_fill_in_is_folded():
    fill = next(i for i, c in enumerate(CELLS) if c.source.startswith("**Your turn.**"))
    after = next(c for c in CELLS[fill + 2:] if c.cell_type == "code")
    assert "np.eye(2)[y8]" in after.source and after.metadata["jupyter"]["source_hidden"]


def test_predictions_ask_for_one_exact_number():
    sources = [c.source for c in CELLS]
    limit = next(i for i, s in enumerate(sources) if s.startswith("**Predict.**") and "below some limit" in s)
    assert "rtol=0" in sources[limit + 3]
    exponent = next(i for i, s in enumerate(sources) if s.startswith("**Predict.**") and "log_{10}" in s)
    assert "rounded to a whole number" in sources[exponent] and "rtol=0" in sources[exponent + 3]


def test_one_letter_one_meaning_and_the_library_as_it_is():
    for symbol in ("\\epsilon", "\\eta", "t/s", "D_k"):
        assert symbol not in MARKDOWN, symbol  # eps, alpha_min, P for StepLR's period, D_l
    assert "Not in our library" not in MARKDOWN and "layers.LayerNorm" in MARKDOWN


def test_figures_fit_a_notebook_column():
    sizes = re.findall(r"<Figure size ([\d.]+)x[\d.]+ with", OUTPUT)
    assert len(sizes) >= 7 and all(float(w) <= 700 for w in sizes)


def test_navigation_and_further_reading():
    nav = ("Previous: [Lesson 05 · Vectors, matrices and vector-Jacobian products](05_vector_jacobian_products.ipynb) · "
           "Next: [Lesson 07 · Modes, cost and memory](07_modes_cost_memory.ipynb) · "
           "Exercise: [exercises/06_training_networks.ipynb](../exercises/06_training_networks.ipynb)")
    assert CELLS[0].source.rstrip().endswith(nav)
    assert CELLS[-1].source.startswith("## Further reading") and CELLS[-1].source.rstrip().endswith("---\n" + nav)
    assert 3 <= len(re.findall(r"\]\((https://[^)]+)\)", CELLS[-1].source)) <= 6
