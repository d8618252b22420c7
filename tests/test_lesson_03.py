"""Lesson 03 (flat backpropagation, gate by gate): what its stored notebook must show.

Reads the committed notebook only (no execution): nbval re-executes it separately.
"""
import re

import nbformat
import pytest

from notebook_text import find_notebook, image_count, markdown_text, output_text

LESSON = find_notebook("lessons", "03")
OUTPUT = output_text(LESSON)
MARKDOWN = markdown_text(LESSON)
CELLS = nbformat.read(LESSON, as_version=4).cells
CODE = [c.source for c in CELLS if c.cell_type == "code"]
ALL_CODE = "\n".join(CODE)


def printed(item: str) -> bool:
    """True if ``item`` is printed as a whole line or as one comma-separated part of a line."""
    return re.search(rf"(^|, ){re.escape(item)}(,|$)", OUTPUT, re.MULTILINE) is not None


@pytest.mark.parametrize("item", ["q = 3", "f = -12", "df/dz = 3", "df/dq = -4", "df/dx = -4", "df/dy = -4"])
def test_f_equals_x_plus_y_times_z_at_minus2_5_minus4(item):
    assert printed(item)


@pytest.mark.parametrize("item", [
    "s3 = 1", "L = 0.731",
    "dw0 = -0.197", "dx0 = 0.393", "dw1 = -0.393", "dx1 = -0.590", "dw2 = 0.197",
])
def test_sigmoid_neuron_flat_forward_and_backward(item):
    assert printed(item)


def test_neuron_backward_is_written_flat_line_by_line():
    assert "grad_L = 1.0" in ALL_CODE
    assert "grad_s3 = grad_L * (1 - L) * L" in ALL_CODE
    assert "grad_s2 = grad_s3" in ALL_CODE and "grad_w2 = grad_s3" in ALL_CODE
    assert "grad_w0 = x0 * grad_s0" in ALL_CODE and "grad_x1 = w1 * grad_s1" in ALL_CODE


@pytest.mark.parametrize("item", ["dw0 = -0.197", "dw1 = -0.393", "dw2 = 0.197", "dx0 = 0.393", "dx1 = -0.590"])
def test_library_sigmoid_neuron_confirms_the_flat_code(item):
    assert "gates.sigmoid_neuron(" in ALL_CODE
    assert re.search(rf"^library: .*{re.escape(item)}", OUTPUT, re.MULTILINE)
    assert "library: L = 0.731" in OUTPUT
    assert "same as the flat code above: True" in OUTPUT


def test_sigmoid_identity_is_checked_numerically():
    assert "\\sigma(s)\\,\\bigl(1 - \\sigma(s)\\bigr)" in MARKDOWN
    assert printed("sigma(s) (1 - sigma(s))   = 0.196612")
    assert printed("central difference of sigma = 0.196612")


def test_gate_patterns_are_computed_by_the_gates_and_drawn():
    for name in ("add_backward", "copy_backward", "mul_backward", "max_backward"):
        assert f"gates.{name}(" in ALL_CODE
    for title in ("add distributes", "copy adds", "mul swaps", "max routes"):
        assert title in ALL_CODE and title in MARKDOWN


def test_add_and_copy_are_duals():
    assert "add  backward of 2        -> (2.0, 2.0)" in OUTPUT
    assert "copy forward  of 2        -> (2.0, 2.0)" in OUTPUT
    assert "copy backward of (2, -5)  -> -3.0" in OUTPUT
    assert "add  forward  of (2, -5)  -> -3.0" in OUTPUT
    assert "duals" in MARKDOWN


def test_fan_out_of_x_times_x_adds_the_copies():
    assert printed("p = 9") and "dp/dx = 6 (2x = 6)" in OUTPUT


def test_mul_chains_make_gradients_vanish_or_explode():
    assert "w = 0.5: after 50 mul gates the gradient is 8.88e-16" in OUTPUT
    assert "w = 2: after 50 mul gates the gradient is 1.13e+15" in OUTPUT
    assert "explode" in MARKDOWN and "vanish" in MARKDOWN


def test_mul_scales_by_the_other_input_and_a_saturated_sigmoid_only_shrinks():
    assert "Mul gates are where gradients explode or vanish" not in MARKDOWN
    assert "scales the gradient by its other input" in MARKDOWN
    assert "\\sigma' \\le \\tfrac14$, near 0 when saturated" in MARKDOWN


def test_staged_example_with_forks_is_filled_in_by_the_reader():
    from backprop_lib.practice.lesson_03 import staged_forward

    assert printed(f"f(3, -4) = {staged_forward(3.0, -4.0)[0]:.6f}")
    assert "def staged_forward(x, y):" in ALL_CODE and "def staged_backward(cache):" in ALL_CODE
    assert 'check("03.staged_backward", staged_backward)' in ALL_CODE
    fill_in = next(c for c in CODE if c.startswith("def staged_backward(cache):"))
    assert "dx += ..." in fill_in and "dy += ..." in fill_in and "dden = ..." in fill_in


def test_practice_predictions():
    predictions = [i for i, c in enumerate(CELLS) if c.cell_type == "markdown" and c.source.startswith("**Predict.**")]
    assert len(predictions) >= 3
    for i in predictions:
        assert CELLS[i + 1].source.startswith("guess = ...  # your prediction of")
        assert "reveal(guess, " in CELLS[i + 3].source and len(CELLS[i + 2].source.splitlines()) == 1


def test_conventions_link_navigation_and_further_reading():
    nav = ("Previous: [Lesson 02 · Sum over paths, and factoring the paths](02_paths_and_modes.ipynb) · "
           "Next: [Lesson 04 · A modular autograd engine](04_autograd_engine.ipynb) · "
           "Exercise: [exercises/03_flat_backprop.ipynb](../exercises/03_flat_backprop.ipynb)")
    assert CELLS[0].source.endswith(nav) and CELLS[-1].source.endswith(nav)
    assert "[conventions](01_computational_graphs.ipynb#Conventions)" in CELLS[0].source
    assert CELLS[-1].source.startswith("## Further reading") and "https://cs231n.github.io/optimization-2/" in CELLS[-1].source


def test_relative_error_and_gradcheck_of_the_neuron():
    assert "\\max\\bigl(|g_{\\text{an}}| + |g_{\\text{num}}|,\\ \\text{tiny}\\bigr)" in MARKDOWN
    assert "analytic 1e-8, numerical 2e-8:     difference 1e-08, relative error 0.33" in OUTPUT
    assert "gradcheck ok: True, worst relative error" in OUTPUT
    assert "buggy dp/dx = 3, numerical = 6, relative error 0.33, ok: False" in OUTPUT


def test_step_sweep_shows_neither_huge_nor_tiny_h_and_float32_failing():
    rows = re.findall(r"^\s*(1e-\d\d)\s+(\S+)\s+(\S+)$", OUTPUT, re.MULTILINE)
    table = {eps: (float(e64), float(e32)) for eps, e64, e32 in rows}
    assert len(table) == 14
    best64 = min(e64 for e64, _ in table.values())
    assert best64 < 1e-9
    assert table["1e-01"][0] > 1e6 * best64  # huge h: truncation error
    assert table["1e-12"][0] > 1e4 * best64  # tiny h: round-off error
    assert min(e32 for _, e32 in table.values()) > 1e3 * best64  # float32 is never good enough
    assert table["1e-08"][1] == 1.0
    assert "float64" in MARKDOWN and "10^{-12}" in MARKDOWN
    # one notation with lesson 01: h is the step, eps_mach machine precision; h grows to the right
    assert "\\varepsilon" not in MARKDOWN and "\\epsilon_{\\text{mach}}" in MARKDOWN
    assert "invert_xaxis" not in ALL_CODE and 'ax.set_xlabel("step h")' in ALL_CODE


def test_kink_gives_a_wrong_numerical_gradient():
    assert "analytic d relu/dx = 1, numerical = 0.55, relative error = 0.29" in OUTPUT
    assert "kink crossed: True" in OUTPUT


@pytest.mark.parametrize("term", [
    "local", "upstream", "downstream", "gate", "add distributes", "copy adds", "mul swaps", "max routes",
    "fan-out", "duals", "explode", "vanish", "sigmoid", "central difference", "relative error", "float64",
    "kink", "relu", "gradient check", "flat code does not scale", "rewriting the backward by hand",
])
def test_concept_is_taught(term):
    assert term in MARKDOWN.lower()


def test_uses_only_layers_up_to_gates_and_gradcheck_plus_viz_and_widgets():
    modules = set(re.findall(r"(?:from|import)\s+backprop_lib\.(\w+)", ALL_CODE))
    modules |= {name.strip() for group in re.findall(r"from\s+backprop_lib\s+import\s+([\w, ]+)", ALL_CODE)
                for name in group.split(",")}
    assert modules <= {"graph", "gates", "gradcheck", "viz", "widgets", "practice"}, modules


def test_has_figures():
    assert image_count(LESSON) >= 5


def test_graph_explorer_on_the_neuron():
    cells = [c for c in CODE if "GraphExplorer(" in c]
    assert cells, "no GraphExplorer cell"
    assert all(c.startswith("# NBVAL_IGNORE_OUTPUT") for c in cells)
    assert any('output="L"' in c for c in cells)


@pytest.mark.parametrize("part", ["sigmoid_neuron(w, x) -> (L, dw, dx)", "lesson 04"])
def test_the_exercise_pointer_and_what_comes_next(part):
    assert part in MARKDOWN
