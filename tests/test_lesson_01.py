"""Lesson 01 (derivatives on a computational graph): what its stored notebook must show.

Reads the committed notebook only (no execution): nbval re-executes it separately.
"""
import re

import nbformat
import pytest

from notebook_text import find_notebook, image_count, markdown_text, output_text

LESSON = find_notebook("lessons", "01")
OUTPUT = output_text(LESSON)
MARKDOWN = markdown_text(LESSON)
CELLS = nbformat.read(LESSON, as_version=4).cells
CODE = [c.source for c in CELLS if c.cell_type == "code"]


def printed_line(line: str) -> bool:
    """True if ``line`` is printed as a whole line of the stored outputs."""
    return re.search(rf"^{re.escape(line)}$", OUTPUT, re.MULTILINE) is not None


@pytest.mark.parametrize("line", ["c = 3", "d = 2", "e = 6"])
def test_forward_pass_values_at_a2_b1(line):
    assert printed_line(line)


@pytest.mark.parametrize("line", ["dc/da = 1", "dc/db = 1", "dd/db = 1", "de/dc = 2", "de/dd = 3"])
def test_edge_derivatives_at_a2_b1(line):
    assert printed_line(line)


def test_product_edges_carry_the_other_factor():
    assert "de/dc = 2, the value of d = 2" in OUTPUT
    assert "de/dd = 3, the value of c = 3" in OUTPUT


def test_product_x_times_y_at_2_minus6():
    assert printed_line("df/dx = -6")
    assert printed_line("f(2 + h, -6) - f(2, -6) = -0.006000")
    assert "raising x by h lowers f by 6.000 h" in OUTPUT


def test_finite_differences_are_written_in_plain_python_not_taken_from_gradcheck():
    code = "\n".join(CODE)
    assert "def one_sided_difference(" in code
    assert "def central_difference(" in code
    assert "(f(x + h) - f(x - h)) / (2 * h)" in code
    assert "gradcheck" not in code


def test_uses_only_the_graph_layer_plus_viz_widgets_and_practice():
    code = "\n".join(CODE)
    modules = set(re.findall(r"(?:from|import)\s+backprop_lib\.(\w+)", code))
    modules |= {name.strip() for group in re.findall(r"from\s+backprop_lib\s+import\s+([\w, ]+)", code)
                for name in group.split(",")}
    assert modules <= {"graph", "viz", "widgets", "practice"}, modules


def test_error_against_h_shows_truncation_falling_and_round_off_rising():
    assert "plot_error_vs_h(" in "\n".join(CODE)
    table = re.findall(r"^\s*(1e-\d\d)\s+(\S+)\s+(\S+)$", OUTPUT, re.MULTILINE)
    errors = {h: (float(one), float(central)) for h, one, central in table}
    assert len(errors) == 16
    # truncation: the central error falls with h, much faster than the one-sided error
    assert errors["1e-04"][1] < errors["1e-03"][1] < errors["1e-02"][1]
    assert errors["1e-03"][1] < errors["1e-03"][0] / 100
    # round-off: far below the best h both errors grow again, and central's best beats one-sided's
    best_one_sided = min(one for one, _ in errors.values())
    best_central = min(central for _, central in errors.values())
    assert errors["1e-14"][0] > 1e3 * best_one_sided
    assert errors["1e-14"][1] > 1e6 * best_central
    assert best_central < best_one_sided / 10


def test_best_step_is_computed_and_text_table_and_plot_agree():
    table = re.findall(r"^\s*(1e-\d\d)\s+(\S+)\s+(\S+)$", OUTPUT, re.MULTILINE)
    best = min(table, key=lambda row: float(row[2]))[0]
    assert best == "1e-06"
    assert printed_line(f"best step, central:   h = {best} (error 2.5e-11)")
    assert printed_line("best step, one-sided: h = 1e-08 (error 4.0e-09)")
    assert "plot_error_vs_h(g, lambda x: 3 * x * x, 1.0, hs=steps)" in "\n".join(CODE)
    summary = MARKDOWN.split("## Summary", 1)[1].split("## Check your understanding", 1)[0]
    assert "best\n  central step is $h = 10^{-6}$" in summary
    assert "10^{-5}$ with a central difference is a common default" not in MARKDOWN


def test_own_example_beside_the_canonical_one():
    assert "café bill" in MARKDOWN
    assert printed_line("total = 14.4")
    assert printed_line("d tip/d rate = 12")
    assert "d total/d price = 3.600000" in OUTPUT
    assert printed_line("sum over the two routes = 3.600000")


def test_conventions_box_holds_the_course_notation():
    box = next(c.source for c in CELLS if c.cell_type == "markdown" and c.source.startswith("## Conventions"))
    for line in [r"$h$ is a finite-difference step; $\epsilon_{\text{mach}}$ is machine precision",
                 r"edge $u \to v$ carries the local derivative $\partial v/\partial u$",
                 "Greek letters", "increasing left to right", "One letter, one meaning"]:
        assert line in box
    assert CELLS.index(next(c for c in CELLS if c.source.startswith("## Conventions"))) == 1
    # one meaning per symbol: machine precision is never a bare epsilon, a step never anything but h
    assert "\\varepsilon" not in MARKDOWN


def test_practice_predictions_and_a_fill_in():
    predictions = [i for i, c in enumerate(CELLS) if c.cell_type == "markdown" and c.source.startswith("**Predict.**")]
    assert len(predictions) >= 3
    for i in predictions:
        assert CELLS[i + 1].source.startswith("guess = ...  # your prediction of")
        assert "reveal(guess, " in CELLS[i + 3].source
    assert any(c.source.startswith("**Your turn.**") for c in CELLS if c.cell_type == "markdown")
    assert 'check("01.bill_edges", bill_edges_today)' in "\n".join(CODE)


def test_links_to_next_lesson_exercise_and_further_reading():
    nav = ("Next: [Lesson 02 · Sum over paths, and factoring the paths](02_paths_and_modes.ipynb) · "
           "Exercise: [exercises/01_computational_graphs.ipynb](../exercises/01_computational_graphs.ipynb)")
    assert CELLS[0].source.endswith(nav) and CELLS[-1].source.endswith(nav)
    assert CELLS[-1].source.startswith("## Further reading")
    links = ["https://colah.github.io/posts/2015-08-Backprop/", "https://cs231n.github.io/optimization-2/",
             "https://github.com/karpathy/micrograd", "https://jmlr.org/papers/v18/17-468.html",
             "https://doi.org/10.1137/1.9780898717761"]
    assert sum(link in CELLS[-1].source for link in links) >= 3


@pytest.mark.parametrize("term", [
    "computational graph", "intermediate variable", "sum rule", "product rule", "local derivative",
    "rate of change", "linear approximation", "finite difference", "one-sided", "central difference",
    "truncation error", "round-off error", "forward pass",
])
def test_concept_is_taught(term):
    assert term in MARKDOWN.lower()


def test_canonical_formula_and_linear_approximation_are_written_out():
    assert "c = a + b" in MARKDOWN and "d = b + 1" in MARKDOWN and "e = c \\cdot d" in MARKDOWN
    assert "f(x + h) \\approx f(x) + h\\,f'(x)" in MARKDOWN


def test_has_figures():
    assert image_count(LESSON) >= 3


def test_graph_explorer_with_sliders_for_a_and_b():
    cells = [c for c in CODE if "GraphExplorer(" in c]
    assert cells, "no GraphExplorer cell"
    assert any("LESSON01" in c and "# NBVAL_IGNORE_OUTPUT" in c for c in cells)
    assert "from backprop_lib.widgets import GraphExplorer" in "\n".join(CODE)


def test_the_exercise_pointer_names_the_function_to_write():
    assert "numerical_derivative(f, x, h=1e-5)" in MARKDOWN
