"""Lesson 04 (a modular autograd engine) teaches what the course plan asks, with its numbers stored.

These tests read the committed notebook; they execute nothing (nbval re-executes it separately).
"""
from __future__ import annotations

import re

import nbformat
import pytest

from notebook_text import find_notebook, image_count, markdown_text, output_text

LESSON = find_notebook("lessons", "04")


@pytest.fixture(scope="module")
def outputs() -> str:
    return output_text(LESSON)


@pytest.fixture(scope="module")
def markdown() -> str:
    return markdown_text(LESSON)


@pytest.fixture(scope="module")
def cells() -> list:
    return nbformat.read(LESSON, as_version=4).cells


def code_sources(cells: list) -> list[str]:
    return [c.source for c in cells if c.cell_type == "code"]


# --- the numbers the course plan says the lesson must reproduce ----------------------------------


def test_fan_out_b_equals_a_plus_a_c_equals_b_plus_b_gives_dc_da_4(outputs):
    assert "c = 12, dc/db = 2, dc/da = 4" in outputs


def test_fan_out_accumulating_gives_4_and_assigning_gives_the_wrong_1(outputs):
    assert "accumulating (+=): dc/da = 4" in outputs
    assert "assigning    (=):  dc/da = 1" in outputs
    assert "accumulating: de/da = 2, de/db = 5" in outputs


def test_gradients_accumulate_across_backward_calls_until_zeroed(outputs):
    assert "after one backward():   dl/dw = 6" in outputs
    assert "after two backward():   dl/dw = 12   (twice the gradient)" in outputs
    assert "zeroed, then backward(): dl/dw = 6" in outputs
    assert "accumulated over two losses: 8" in outputs


def test_recursive_topological_sort_hits_the_recursion_limit_on_a_long_chain(outputs):
    assert "RecursionError: maximum recursion depth exceeded" in outputs


def test_iterative_topological_sort_matches_the_library_and_handles_100000_nodes(outputs):
    assert "chain of 10,000 operations: 10,002 nodes ordered" in outputs
    assert "same order as the library's graph.dependency_order: True" in outputs
    assert "dy/dx over 100,000 nodes = 2.718268" in outputs
    assert "(1 + 1/n)^n               = 2.718268" in outputs


def test_engine_reproduces_lesson_03_without_a_handwritten_backward(outputs):
    assert "forward:  q = 3, f = -12" in outputs
    assert "backward: df/dz = 3, df/dq = -4, df/dx = -4, df/dy = -4" in outputs
    assert "s3 = 1, L = 0.731" in outputs
    assert "dw0 = -0.197, dx0 = 0.393, dw1 = -0.393, dx1 = -0.590, dw2 = 0.197" in outputs


def test_forward_keeps_what_backward_needs(outputs):
    assert "f was made by '*' from the values [3.0, -4.0]" in outputs
    assert "local derivatives: df/dq = -4, df/dz = 3" in outputs


def test_changed_model_is_gradient_checked(outputs):
    assert outputs.count("relative error against central differences below 1e-7: True") == 2


def test_mul_function_matches_the_builtin_product(outputs):
    assert "Mul.apply:  f = -12, df/dx = -6, df/dy = 2" in outputs
    assert "built-in *: f = -12, df/dx = -6, df/dy = 2" in outputs
    assert "df/dx, df/dy, df/dz = -4, -4, 3" in outputs


def test_custom_sigmoid_node_has_the_same_gradient_with_fewer_nodes(outputs):
    assert "composed: s = 0.731059, ds/dx = 0.196612, 7 nodes, 6 edges" in outputs
    assert "custom  : s = 0.731059, ds/dx = 0.196612, 2 nodes, 1 edge\n" in outputs
    assert re.search(r"memory per sigmoid: composed \d+ bytes, custom node \d+ bytes", outputs)


def test_tiny_network_trained_with_values_lowers_its_loss(outputs):
    losses = [float(x) for x in re.findall(r"step +\d+: loss = ([0-9.]+)", outputs)]
    assert len(losses) >= 3 and losses[-1] < losses[0] / 10


# --- the code the lesson shows -----------------------------------------------------------------------


def test_code_has_recursive_and_iterative_sorts_and_two_functions(cells):
    source = "\n".join(code_sources(cells))
    for piece in ("def topological_order_recursive", "def topological_order_iterative", "except RecursionError",
                  "class Mul(Function)", "class Sigmoid(Function)", "ctx.save_for_backward", "ctx.saved_tensors",
                  "def backward(ctx, grad_output)", "Mul.apply(", "Sigmoid.apply(", "viz.draw_value_graph(",
                  "p.grad = 0.0", "loss.backward()"):
        assert piece in source, piece


def test_an_explorer_from_the_library_is_shown_and_its_output_ignored(cells):
    explorer_cells = [s for s in code_sources(cells) if re.search(r"widgets\.(Explorer|GraphExplorer)\(", s)]
    assert explorer_cells
    for source in explorer_cells:
        assert "# NBVAL_IGNORE_OUTPUT" in source


def test_timings_only_in_ignored_cells(cells):
    for source in code_sources(cells):
        if "perf_counter" in source or "tracemalloc.start" in source:
            assert "# NBVAL_IGNORE_OUTPUT" in source


def test_at_least_one_figure_is_stored():
    assert image_count(LESSON) >= 3


# --- the concepts and the frame of a lesson ------------------------------------------------------------


@pytest.mark.parametrize("term", [
    "forward", "backward", "chain rule", "Changing the model changes only the forward code",
    "topological order", "reverse", "O(|V| + |E|)", "recursi", "iterative", "RecursionError",
    "fan-out", "sum of both gradients", "accumulate", "zero", "save_for_backward", "grad_output", "one gradient per input",
    "Function", "sigmoid", "fewer nodes", "memory", "draw", "values and gradients",
])
def test_markdown_covers_the_concepts_of_the_section(markdown, term):
    assert term.lower() in markdown.lower()


def test_framework_sidebar_names_the_three_frameworks(markdown):
    for term in ("PyTorch", "loss.backward()", "optimizer.step()", "optimizer.zero_grad()", "TensorFlow",
                 "GradientTape", "JAX", "jax.grad", "function transformation", "mirrors"):
        assert term in markdown, term
