"""Lesson 02 (sum over paths, and factoring the paths): the stored notebook teaches its section of the plan.

Reads the stored notebook only; executing it is nbval's job.
"""
import ast
import re

import nbformat
import pytest

from notebook_text import find_notebook, image_count, markdown_text, output_text

LESSON = find_notebook("lessons", "02")


@pytest.fixture(scope="module")
def outputs() -> str:
    return output_text(LESSON)


@pytest.fixture(scope="module")
def markdown() -> str:
    return markdown_text(LESSON)


@pytest.fixture(scope="module")
def code_cells() -> list[str]:
    nb = nbformat.read(LESSON, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


@pytest.fixture(scope="module")
def code(code_cells) -> str:
    return "\n".join(code_cells)


def test_lesson_01_graph_path_sums_with_each_path_product(outputs):
    for line in [
        "path a -> c -> e: 1 * 2 = 2",
        "de/da = 1 * 2 = 2",
        "path b -> c -> e: 1 * 2 = 2",
        "path b -> d -> e: 1 * 3 = 3",
        "de/db = 1 * 2 + 1 * 3 = 5",
    ]:
        assert line in outputs


def test_path_sum_agrees_with_finite_differences(outputs):
    assert "central difference for de/db: 5.000000" in outputs
    assert "central difference for de/da: 2.000000" in outputs


def test_own_example_with_paths_of_different_lengths(outputs):
    assert "df/dx by paths = 16;  by algebra 2xy + 2x = 16" in outputs


def test_formal_rule_expands_to_the_paths(outputs):
    assert "out(b) = ['c', 'd']:  de/db = 5" in outputs
    assert "paths b -> e from the recursion equal Graph.paths: True" in outputs
    assert "paths x -> f from the recursion equal Graph.paths: True" in outputs


def test_three_by_three_example_nine_paths_and_factored_sum(outputs):
    assert "α = 1, β = 2, γ = 3, δ = 4, ε = 5, ζ = -2" in outputs
    products = re.findall(r"^  ([αβγ][δεζ]) = \S+ \* \S+ = (-?\d+)$", outputs, flags=re.M)
    assert len(products) == 9 and len({pair for pair, _ in products}) == 9
    assert sum(int(p) for _, p in products) == 42
    assert "9 paths (count_paths says 9); the 9-term sum = 42" in outputs
    assert "(α+β+γ)(δ+ε+ζ) = (1 + 2 + 3)(4 + 5 - 2) = 6 * 7 = 42" in outputs
    assert "equal to the 9-term sum: True" in outputs


def test_path_count_exponential_and_edges_linear_in_depth(outputs):
    rows = re.findall(r"^\s*(\d+)\s+([\d,]+)\s+([\d,]+)$", outputs, flags=re.M)
    table = {int(d): (int(p.replace(",", "")), int(e.replace(",", ""))) for d, p, e in rows}
    for depth in [1, 2, 3, 5, 10, 20, 30]:
        assert table[depth] == (3**depth, 6 * depth)


def test_timing_cells_are_excluded_from_comparison_and_stay_small(code_cells, code):
    timed = [source for source in code_cells if "timeit." in source]
    assert len(timed) >= 2
    assert all(source.startswith("# NBVAL_IGNORE_OUTPUT") for source in timed)
    # enumeration of every path stops at depth 9 (well under a second)
    assert "enum_depths = list(range(1, 10))" in code


def test_forward_and_reverse_sweeps_touch_each_edge_once(outputs):
    assert "dY/dX = 1 * 1 + 1 * 2 + 1 * 3 = 6" in outputs
    assert "dZ/dX = 1 * 24 + 1 * 30 + 1 * (-12) = 42" in outputs
    assert "dZ/dY = 1 * 4 + 1 * 5 + 1 * (-2) = 7" in outputs
    assert "dZ/dX = 7 * 1 + 7 * 2 + 7 * 3 = 42" in outputs
    assert outputs.count("edge terms merged: 12; edges in the graph: 12") == 2


def test_forward_from_b_gives_only_de_db_reverse_gives_both(outputs):
    assert "forward sweep from b: da/db = 0, db/db = 1, dc/db = 1, dd/db = 1, de/db = 5" in outputs
    assert "two forward sweeps for two inputs: de/da = 2, de/db = 5" in outputs
    assert "reverse sweep from e: de/de = 1, de/dd = 3, de/dc = 2, de/db = 5, de/da = 2" in outputs
    assert "one reverse sweep for both inputs: de/da = 2, de/db = 5" in outputs


def test_million_inputs_one_reverse_sweep_versus_a_million_forward(outputs):
    assert "forward mode: 100 sweeps, 20,100 edge terms" in outputs
    assert "reverse mode: 1 sweep, 201 edge terms" in outputs
    assert "largest difference 0.0e+00" in outputs
    assert re.search(r"n = 1,000,000: forward mode 1,000,000 sweeps = 2,000,001,000,000 edge terms; "
                     r"reverse mode 1 sweep = 2,000,001 edge terms", outputs)


def test_forward_mode_wins_when_outputs_outnumber_inputs(outputs):
    assert "forward mode: 1 sweep, 51 edge terms" in outputs
    assert "reverse mode: 50 sweeps, 2,550 edge terms" in outputs
    assert "same derivatives both ways: True" in outputs


def test_dynamic_programming_evaluates_each_node_once(outputs):
    rows = re.findall(r"^\s*(\d+)\s+(\d+)\s+([\d,]+)\s+([\d,]+)$", outputs, flags=re.M)
    table = {int(d): (int(n), int(plain.replace(",", "")), int(memo)) for d, n, plain, memo in rows}
    assert table[10] == (41, 177145, 41)
    assert all(memo == nodes for nodes, _, memo in table.values())
    assert "reverse topological order of the lesson-01 graph: ['e', 'd', 'c', 'b', 'a']" in outputs
    assert "same as Graph.reverse_mode: True" in outputs


@pytest.mark.parametrize("term", [
    "sum over paths", "multivariate chain rule", r"\mathrm{out}(v)", "G = (V, E)", "combinatorial explosion",
    "exponential", "linear", "Forward-mode differentiation", "Reverse-mode differentiation",
    "topological order", "a million", "outputs outnumber inputs", "Linearization", "Dynamic programming",
])
def test_concepts_are_explained(markdown, term):
    assert term in markdown


def test_history_sidebar(markdown):
    assert "Sidebar" in markdown and "1986" in markdown
    assert "Rumelhart" in markdown and "Linnainmaa" in markdown
    assert "chicken-and-egg" in markdown


def test_has_figures_and_a_sweep_stepper(code_cells, code):
    assert image_count(LESSON) >= 3
    assert "plot_path_counts" in code and "draw_graph" in code
    assert 'SweepStepper(g, mode="forward", start="b")' in code
    assert 'SweepStepper(g, mode="reverse", start="e")' in code
    explorers = [source for source in code_cells if source.splitlines()[-1].startswith("SweepStepper(")]
    assert len(explorers) == 2
    assert all(source.startswith("# NBVAL_IGNORE_OUTPUT") for source in explorers)


def test_greek_letters_name_edges_never_nodes(code, outputs):
    nodes = set(re.findall(r"^  d(\S+)/dX = ", outputs, flags=re.M))
    assert nodes >= {"r1", "r6", "Y", "Z"}
    assert not set("αβγδεζ") & {ch for node in nodes for ch in node}
    assert "edge_of = dict(zip(greek" in code


def test_notation_total_d_and_local_partial(markdown):
    assert r"\frac{dL}{du} \;=\; \sum_{v \,\in\, \mathrm{out}(u)} \frac{dL}{dv}\;\frac{\partial v}{\partial u}" in markdown
    assert r"edge $u \to v$ carries $\partial v / \partial u$" in markdown
    # derivatives of the output through the whole graph are total: d, never a partial
    assert not re.search(r"\\partial\s*[eLZ]\s*/|\\frac\{\\partial\s*[eLZ]\}", markdown)
    assert "[conventions](01_computational_graphs.ipynb#Conventions)" in markdown


def test_practice_cells_and_the_reverse_table_fill_in(code):
    from backprop_lib.practice.lesson_02 import DRILL_EDGES

    cells = nbformat.read(LESSON, as_version=4).cells
    predictions = [i for i, c in enumerate(cells) if c.source.startswith("**Predict.**")]
    assert len(predictions) >= 3
    assert all(cells[i + 1].source.startswith("guess = ...") and "reveal(guess, " in cells[i + 3].source
               for i in predictions)
    assert 'check("02.reverse_table", adjoints)' in code
    drill = next(c.source for c in cells if c.source.startswith("drill_edges = {"))
    assert ast.literal_eval(drill.split(" = ", 1)[1].split("\n}", 1)[0] + "\n}") == DRILL_EDGES


def test_links_to_neighbours_exercise_and_further_reading():
    cells = nbformat.read(LESSON, as_version=4).cells
    nav = ("Previous: [Lesson 01 · Derivatives on a computational graph](01_computational_graphs.ipynb) · "
           "Next: [Lesson 03 · Flat backpropagation, gate by gate](03_flat_backprop.ipynb) · "
           "Exercise: [exercises/02_paths_and_modes.ipynb](../exercises/02_paths_and_modes.ipynb)")
    assert cells[0].source.endswith(nav) and cells[-1].source.endswith(nav)
    assert cells[-1].source.startswith("## Further reading") and cells[-1].source.count("\n- ") >= 3
