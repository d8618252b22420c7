"""Lesson 07 (modes, cost and memory): what its stored notebook must show.

Reads the committed notebook only (no execution): nbval re-executes it separately.
"""
import re

import nbformat
import numpy as np
import pytest

from notebook_text import find_notebook, image_count, markdown_text, output_text

LESSON = find_notebook("lessons", "07")
OUTPUT = output_text(LESSON)
MARKDOWN = markdown_text(LESSON)
CELLS = nbformat.read(LESSON, as_version=4).cells
CODE_CELLS = [c for c in CELLS if c.cell_type == "code"]
ALL_CODE = "\n".join(c.source for c in CODE_CELLS)
AGREE = "relative error 0.00000000"  # a relative error printed to eight decimals


def lines_with(fragment: str) -> list[str]:
    return [line for line in OUTPUT.splitlines() if fragment in line]


# --- the chain of Jacobians ---------------------------------------------------------------------------


def test_chain_of_jacobians_is_written_out():
    assert ("\\frac{\\partial L}{\\partial z_3}}_{1 \\times |z_3|}" in MARKDOWN
            and "\\frac{\\partial z_1}{\\partial x}}_{|z_1| \\times |x|}" in MARKDOWN)
    assert "$|z_3||z_2| + |z_2||z_1| + |z_1||x|$" in MARKDOWN
    assert "$|z_2||z_1||x| + |z_3||z_2||x| + |z_3||x|$" in MARKDOWN
    assert "associative" in MARKDOWN and "vector times matrix" in MARKDOWN and "matrix times matrix" in MARKDOWN


@pytest.mark.parametrize("line", [
    "sizes |x|, |z1|, |z2|, |z3|, |L| = [784, 256, 128, 10, 1]",
    "from the loss side  (vector x matrix): 10*128 + 128*256 + 256*784 = 234,752 multiply-adds",
    "from the input side (matrix x matrix): 128*256*784 + 10*128*784 + 1*10*784 = 26,701,472 multiply-adds",
    "the input side costs 114 times as much",
    "from the output side:   16,908,288 multiply-adds",
    "from the input side:       557,056 multiply-adds",
])
def test_both_orders_are_counted_on_real_sizes(line):
    assert line in OUTPUT
    assert 'chain_cost(sizes, "reverse")' in ALL_CODE and 'chain_cost(sizes, "forward")' in ALL_CODE


def test_real_jacobians_are_multiplied_in_both_orders():
    assert "Jacobian shapes: (1, 10), (10, 128), (128, 256), (256, 784)" in OUTPUT
    assert "multiply-adds counted: loss side 234,752, input side 26,701,472" in OUTPUT
    assert f"both orders give the same dL/dx: {AGREE}" in OUTPUT
    assert f"chain product vs the engine's x.grad: {AGREE}" in OUTPUT


def test_chain_timings_only_in_ignored_cells():
    timed = [c for c in CODE_CELLS if "best_time(" in c.source and "def best_time" not in c.source]
    assert len(timed) >= 4
    assert all("# NBVAL_IGNORE_OUTPUT" in c.source for c in timed)
    assert any('multiply_chain(jacobians, "forward")' in c.source for c in timed)


def test_no_timing_is_printed_in_a_compared_cell():
    for cell in CODE_CELLS:
        if "# NBVAL_IGNORE_OUTPUT" in cell.source:
            continue
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            assert not re.search(r"\d\s*ms\b", text if isinstance(text, str) else "".join(text)), cell.source[:60]


def test_dl_dz1_is_reused_by_w1_and_b1():
    assert "reuse" in MARKDOWN and "\\frac{dL}{db_1} = \\frac{dL}{dz_1}" in MARKDOWN
    assert "\\frac{dL}{dW_1} = x^\\top \\frac{dL}{dz_1}" in MARKDOWN
    assert "dL/dz1 has shape (1, 256); dL/dW1 = outer(x, dL/dz1) has shape (784, 256), like W1" in OUTPUT
    assert "extra multiply-adds for W1 and b1: 200,704 + 256" in OUTPUT
    assert f"dL/dW1 vs the engine: {AGREE}" in OUTPUT and f"dL/db1 vs the engine: {AGREE}" in OUTPUT


# --- forward and reverse mode -------------------------------------------------------------------------


def test_dual_numbers_by_hand():
    assert "\\varepsilon^2 = 0" in MARKDOWN and "15 + 8\\varepsilon" in MARKDOWN
    assert "f(x)  = 15 + 8 eps   ->   f(3) = 15, f'(3) = 8" in OUTPUT
    assert "x * x = 9 + 6 eps" in OUTPUT
    assert "Dual(3.0, 1.0)" in ALL_CODE


def test_dual_numbers_on_the_lesson_01_graph():
    assert "seeded on b: c = 3 + 1 eps, d = 2 + 1 eps, e = 6 + 5 eps  ->  de/db = 5" in OUTPUT
    assert "seeded on a: c = 3 + 1 eps, d = 2 + 0 eps, e = 6 + 2 eps  ->  de/da = 2" in OUTPUT


def test_jvp_and_vjp_agree_through_the_dot_product_identity():
    for term in ("Jacobian-vector product", "vector-Jacobian product", "JVP", "VJP"):
        assert term in MARKDOWN
    left = re.search(r"u \. \(J v\)   = (-?\d+\.\d{6})", OUTPUT)
    right = re.search(r"\(u J\) \. v   = (-?\d+\.\d{6})", OUTPUT)
    assert left and right and left.group(1) == right.group(1)
    assert "jvp(f, x0, v)" in ALL_CODE and "vjp(f, x0, u)" in ALL_CODE


def test_full_jacobian_by_n_jvps_or_m_vjps():
    assert "forward sweeps used: 5, reverse sweeps used: 3" in OUTPUT
    assert f"forward vs reverse:   {AGREE}" in OUTPUT and f"forward vs numerical: {AGREE}" in OUTPUT
    assert "n = 64 inputs, m =  1 outputs: forward mode 64 sweeps, reverse mode  1 sweeps -> reverse" in OUTPUT
    assert "n =  1 inputs, m = 64 outputs: forward mode  1 sweeps, reverse mode 64 sweeps -> forward" in OUTPUT
    assert "n =  8 inputs, m =  8 outputs: forward mode  8 sweeps, reverse mode  8 sweeps -> tie" in OUTPUT
    timed = [c for c in CODE_CELLS if "jacobian_forward(g, x_n)" in c.source]
    assert len(timed) == 1 and "# NBVAL_IGNORE_OUTPUT" in timed[0].source and "loglog" in timed[0].source


# --- derivatives are cheap ------------------------------------------------------------------------------


def test_cheap_gradient_principle_against_finite_differences():
    assert "cheap gradient principle" in MARKDOWN and "$n + 1$ evaluations" in MARKDOWN
    for n, evaluations in (("37", "38"), ("577", "578"), ("9,217", "9,218")):
        assert re.search(rf"n = +{n} parameters; reverse mode 1 forward \+ 1 backward sweep, "
                         rf"finite differences +{evaluations} evaluations", OUTPUT)
    assert "n = 37: reverse mode vs central differences, relative error below 1e-6: True" in OUTPUT
    timed = [c for c in CODE_CELLS if "finite_difference_gradient" in c.source]
    assert timed and all("# NBVAL_IGNORE_OUTPUT" in c.source for c in timed)
    assert "speed-up" in timed[0].source and "t_grad / t_eval" in timed[0].source


# --- memory and checkpointing ---------------------------------------------------------------------------


@pytest.mark.parametrize("line", [
    "depth  4: stored 10,240 numbers =  5 activations of 32 x 64",
    "depth 16: stored 34,816 numbers = 17 activations of 32 x 64",
    "depth 32: stored 67,584 numbers = 33 activations of 32 x 64",
])
def test_memory_grows_with_depth(line):
    assert line in OUTPUT
    assert "grows linearly with depth" in MARKDOWN and "every activation must be kept" in MARKDOWN


@pytest.mark.parametrize("line", [
    "plain backward: loss 0.020056, peak 34,816 numbers (17 activations), 0 layers recomputed",
    "every k =  1:   loss 0.020056, peak 34,816 numbers (17 activations), 15 layers recomputed, gradients identical: True",
    "every k =  4:   loss 0.020056, peak 16,384 numbers ( 8 activations), 12 layers recomputed, gradients identical: True",
    "every k =  8:   loss 0.020056, peak 20,480 numbers (10 activations),  8 layers recomputed, gradients identical: True",
    "every k = 16:   loss 0.020056, peak 34,816 numbers (17 activations),  0 layers recomputed, gradients identical: True",
])
def test_checkpointing_memory_against_recomputation(line):
    assert line in OUTPUT


def test_checkpointing_gradients_identical_for_every_k():
    assert len(lines_with("gradients identical: True")) == 16
    assert not lines_with("gradients identical: False")
    assert "checkpoint" in MARKDOWN and "\\sqrt{K}" in MARKDOWN and "recompute" in MARKDOWN


def test_checkpointing_wall_time_only_in_an_ignored_cell():
    timed = [c for c in CODE_CELLS if "best_time(lambda: checkpointed_backward(" in c.source]
    assert len(timed) == 1 and "# NBVAL_IGNORE_OUTPUT" in timed[0].source


# --- higher order -------------------------------------------------------------------------------------------


def test_hessian_vector_products_without_forming_h():
    assert "H v = \\nabla_w\\big(\\nabla_w L \\cdot v\\big)" in MARKDOWN and "create_graph=True" in MARKDOWN
    assert "H v by two reverse sweeps:       [602.0000, 500.0000]" in OUTPUT
    assert "H v by differences of gradients: [602.0000, 500.0000]" in OUTPUT
    assert "[[402.0000, 400.0000],\n [400.0000, 200.0000]]" in OUTPUT


def test_hvp_of_a_network_loss_checked_against_finite_differences_of_gradients():
    exact = re.search(r"H v \(two reverse sweeps\):       (\[.*\])", OUTPUT)
    numerical = re.search(r"H v \(differences of gradients\): (\[.*\])", OUTPUT)
    assert exact and numerical and exact.group(1) == numerical.group(1)
    assert "relative error below 1e-8: True" in OUTPUT
    assert "full Hessian (6, 6), symmetric: True" in OUTPUT
    assert "hvp_numerical(" in ALL_CODE


def test_gradient_norm_regularisation_uses_second_derivatives():
    assert "R(W) = \\lVert \\nabla_W L \\rVert^2" in MARKDOWN
    assert "engine.grad(L, w, create_graph=True)" in ALL_CODE
    assert "R = ||grad L||^2 = 3.082549" in OUTPUT
    for source in ("by backprop through the backward pass: ", "by central differences of R:          ",
                   "as 2 H grad L (one HVP):              "):
        assert f"dR/dw {source}[3.236291, -6.143760]" in OUTPUT


def test_maml_gradient_of_a_gradient():
    assert "MAML" in MARKDOWN and "meta-learning" in MARKDOWN
    assert "MAML gradient dL_val(w')/dw = -4.4800" in OUTPUT
    assert "first-order approximation   = -5.6000" in OUTPUT
    assert "ratio = 0.8000 = 1 - r * L_train''" in OUTPUT


# --- backpropagation through time -----------------------------------------------------------------------


def test_bptt_gradient_norms_shrink_or_grow():
    for term in ("backpropagation through time", "share the same weights", "Unrolled", "Truncated BPTT"):
        assert term.lower() in MARKDOWN.lower()
    rows = {s: [r for r in lines_with(f"  scale {s}: ") if "relative to t = 40" in r] for s in ("0.5", "1.0", "3.0")}
    assert all(len(r) == 1 for r in rows.values())

    def first_and_last(row):
        values = [float(v) for v in re.findall(r"\d\.\de[+-]\d\d", row)]
        return values[0], values[4]

    small_first, small_last = first_and_last(rows["0.5"][0])
    large_first, large_last = first_and_last(rows["3.0"][0])
    assert small_first < 1e-10 * small_last  # shrinks with the steps back
    assert large_first > 10 * large_last  # grows with the steps back
    assert "viz.plot_grad_norms(" in ALL_CODE


def test_truncated_bptt():
    assert "truncated: 0.0e+00  0.0e+00  0.0e+00" in OUTPUT
    rows = lines_with("cosine with the full gradient")
    assert len(rows) == 4
    cosines = [float(r.rsplit(" ", 1)[1]) for r in rows]
    assert cosines == sorted(cosines) and 0 < cosines[0] < cosines[-1] < 1.0001
    assert "truncate=10" in ALL_CODE and "detached" in MARKDOWN


def test_bptt_gradient_of_the_shared_weight_is_a_sum_over_time_steps():
    assert "\\frac{dL}{dW} = \\sum_{t=1}^{T} s_{t-1}^\\top\\, g_t" in MARKDOWN
    assert "g_t = \\frac{dL}{ds_t} \\odot \\big(1 - s_t^2\\big)" in MARKDOWN
    assert f"sum over the 40 time steps vs the engine's gradient: {AGREE}" in OUTPUT


def test_bptt_names_its_two_factors_and_measures_them():
    assert "spectral radius" in MARKDOWN and "\\tanh'" in MARKDOWN
    rows = lines_with("spectral radius")
    assert len(rows) == 3
    radii = [float(re.search(r"spectral radius (\d+\.\d\d)", r).group(1)) for r in rows]
    factors = [float(re.search(r"by a factor (\d+\.\d\d) per step", r).group(1)) for r in rows]
    assert radii == sorted(radii) and factors[0] < 1 < factors[-1]


def test_the_fading_gradient_is_stated_as_measured():
    assert "nearly four orders" not in MARKDOWN and "about nearly" not in MARKDOWN
    found = re.search(r"shrinks by a factor of ([\d,]+), (\d\.\d) orders of magnitude", OUTPUT)
    assert found and 3 <= float(found.group(2)) < 4
    assert "between three and four orders of magnitude" in " ".join(MARKDOWN.split())
    assert abs(np.log10(float(found.group(1).replace(",", ""))) - float(found.group(2))) < 0.05


def test_clipping_in_use():
    assert "Gradient clipping" in MARKDOWN or "gradient clipping" in MARKDOWN
    assert ("unclipped: the loss ends above where it started: True; the gradient norm passed 1,000: True"
            in OUTPUT)
    assert ("clipped:   the loss ends below three quarters of where it started: True; the largest gradient "
            "norm stayed below 100: True") in OUTPUT


# --- measured against modelled ----------------------------------------------------------------------------


def test_the_memory_model_is_set_beside_the_measured_peak():
    measuring = [c for c in CODE_CELLS if "traced_peak(" in c.source or "measure(" in c.source]
    assert len(measuring) >= 3 and all(c.source.startswith("# NBVAL_IGNORE_OUTPUT") for c in measuring)
    assert ("measured peak = model + weights' gradients + between 1.5 and 2.5 activations, at every depth: True"
            in OUTPUT)
    assert "each extra layer costs between 1.0 and 1.1 activations: True" in OUTPUT
    assert "holding every tensor costs more than 4 times the model: True" in OUTPUT
    assert "tracemalloc" in MARKDOWN and "pre-activations" in MARKDOWN and "retain_grad()" in MARKDOWN


def test_checkpointing_is_measured_and_timed_for_every_k_beside_the_model():
    table = [c for c in CODE_CELLS if "measured_peaks[k]" in c.source and "best_time(" in c.source]
    assert len(table) == 1 and table[0].source.startswith("# NBVAL_IGNORE_OUTPUT")
    assert "for k in range(1, depth + 1)" in table[0].source
    assert "measured peak within 1.6 times the model for every k: True" in OUTPUT
    assert "the best k keeps less than 0.65 of plain backward's measured peak: True" in OUTPUT
    assert "binomial" in MARKDOWN and "revolve" in MARKDOWN


def test_finite_differences_say_which_sizes_are_measured_and_which_extrapolated():
    assert "**measured** for the\nfour smaller models" in MARKDOWN and "**extrapolated**" in MARKDOWN
    timed = [c for c in CODE_CELLS if "finite_difference_gradient" in c.source]
    assert "'extrapolated: n + 1 evaluations'" in timed[0].source and "is_measured = n < 5_000" in timed[0].source


def test_a_backward_pass_becomes_a_graph():
    assert "engine.grad(y_v, [x_v], create_graph=True)" in ALL_CODE and "viz.draw_value_graph(dy_dx" in ALL_CODE
    assert "dy/dx = 3x^2 = 12, a Value computed by a graph" in OUTPUT
    assert "d2y/dx2 = 6x = 12, by a reverse sweep through that graph" in OUTPUT


def test_forward_over_reverse_beside_reverse_over_reverse():
    assert "forward over reverse" in MARKDOWN.lower() and "reverse over\nreverse" in MARKDOWN.lower()
    assert "hvp_from_grad(rosenbrock_grad, point, direction)" in ALL_CODE
    for line in ("H v, reverse over reverse (hvp):           [602.0000, 500.0000]",
                 "H v, forward over reverse (hvp_from_grad): [602.0000, 500.0000]",
                 "H v, central differences of the gradient:  [602.0000, 500.0000]"):
        assert line in OUTPUT


# --- practice, notation, links ----------------------------------------------------------------------------


def test_three_predictions_and_two_fill_in_cells():
    predicts = [i for i, c in enumerate(CELLS) if c.cell_type == "markdown" and "**Predict.**" in c.source]
    assert len(predicts) >= 3
    for i in predicts:
        assert CELLS[i + 1].cell_type == "code" and CELLS[i + 1].source.startswith("guess = ...")
        assert "reveal(guess" in CELLS[i + 3].source
    turns = [i for i, c in enumerate(CELLS) if c.cell_type == "markdown" and c.source.startswith("**Your turn.**")]
    assert len(turns) >= 2
    assert {re.search(r'check\("(07\.\w+)"', CELLS[i + 1].source).group(1) for i in turns} == {
        "07.tangents", "07.bptt_step"}


def test_one_notation_with_the_course():
    first = CELLS[0].source
    assert "[conventions](01_computational_graphs.ipynb#Conventions)" in first
    for greek in ("\\theta", "\\alpha", "\\delta", "\\rho", "\\lambda", "\\eta"):
        assert greek not in MARKDOWN, greek
    assert "dl/d" not in OUTPUT and "$l$" not in MARKDOWN
    assert "x W_1 + b_1" in MARKDOWN  # rows


NAVIGATION = ("Previous: [Lesson 06 · Backpropagation through a neural network](06_training_networks.ipynb) · "
              "Next: [Lesson 08 · Backpropagation through the layers of modern networks](08_modern_layers.ipynb) · "
              "Exercise: [exercises/07_modes_cost_memory.ipynb](../exercises/07_modes_cost_memory.ipynb)")


def test_further_reading_and_navigation():
    last = CELLS[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## Further reading")
    assert last.source.rstrip().endswith(NAVIGATION) and CELLS[0].source.rstrip().endswith(NAVIGATION)
    course_links = ("https://colah.github.io/posts/2015-08-Backprop/", "https://cs231n.github.io/optimization-2/",
                    "https://github.com/karpathy/micrograd", "https://jmlr.org/papers/v18/17-468.html",
                    "https://doi.org/10.1137/1.9780898717761")
    assert sum(link in last.source for link in course_links) >= 3
    assert 3 <= last.source.count("\n- ") <= 6


# --- form ------------------------------------------------------------------------------------------------


def test_figures_are_stored():
    assert image_count(LESSON) >= 4


def test_explorers_are_used_and_their_output_ignored():
    cells = [c for c in CODE_CELLS if "widgets.Explorer(" in c.source]
    assert len(cells) == 2 and all("# NBVAL_IGNORE_OUTPUT" in c.source for c in cells)
    assert any("IntSlider(value=4, min=1, max=depth" in c.source for c in cells)
    assert any("FloatLogSlider(" in c.source for c in cells)


def test_only_layers_up_to_lesson_07_are_imported():
    imports = "\n".join(line for line in ALL_CODE.splitlines() if "import" in line)
    assert "torch" not in imports and "jax" not in imports and "grading" not in imports
