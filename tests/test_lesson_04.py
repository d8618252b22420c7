"""Lesson 04 (a modular autograd engine) teaches what the course plan asks, with its numbers stored.

These tests read the committed notebook; nbval re-executes it separately. One test runs the lesson's
own minimal engine (its first sections, plain Python) to confirm the answers the practice cells keep
hidden until the reader has predicted them.
"""
from __future__ import annotations

import base64
import contextlib
import io
import re
import struct

import nbformat
import pytest

from backprop_lib.practice import verdict
from notebook_text import find_notebook, image_count, markdown_text, output_text

LESSON = find_notebook("lessons", "04")
NAV = ("Previous: [Lesson 03 · Flat backpropagation, gate by gate](03_flat_backprop.ipynb) · "
       "Next: [Lesson 05 · Vectors, matrices and vector-Jacobian products](05_vector_jacobian_products.ipynb) · "
       "Exercise: [exercises/04_autograd_engine.ipynb](../exercises/04_autograd_engine.ipynb)")


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


def test_one_backward_pass_by_hand_node_by_node(outputs):
    assert "forward: u = -6, f = -3" in outputs
    assert "df/df = 1, df/du = 1, df/dx = -1, df/dy = 3" in outputs


def test_fan_out_b_equals_a_plus_a_c_equals_b_plus_b_gives_dc_da_4(outputs):
    assert "c = 12, dc/db = 2, dc/da = 4" in outputs


def test_the_minimal_engine_reproduces_lesson_03_with_backwards_called_by_hand(outputs):
    assert "df/dx = -4, df/dy = -4, df/dz = 3" in outputs


def test_gradients_accumulate_across_backward_calls_until_zeroed(outputs):
    assert "after one backward():   dl/dw = 12" in outputs
    assert "after two backward():   dl/dw = 24   (twice the gradient)" in outputs
    assert "zeroed, then backward(): dl/dw = 12" in outputs
    assert "accumulated over two losses: 6" in outputs
    assert "gradient of their sum 2w + w^2 at w = 2: 6" in outputs


def test_recursive_topological_sort_hits_the_recursion_limit_on_a_long_chain(outputs):
    assert "RecursionError: maximum recursion depth exceeded" in outputs


def test_an_iterative_sort_orders_the_long_chain_and_handles_100000_nodes(outputs):
    assert "chain of 10,000 operations: 10,002 nodes ordered" in outputs
    assert "dy/dx = 2.718146; (1 + 1/n)^n = 2.718146" in outputs
    assert "dy/dx over 100,000 nodes = 2.718268" in outputs
    assert "(1 + 1/n)^n               = 2.718268" in outputs


def test_library_engine_reproduces_lesson_03_without_a_handwritten_backward(outputs):
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


def test_sigmoid_node_has_the_same_gradient_with_fewer_nodes(outputs):
    assert "composed: s = 0.731059, ds/dx = 0.196612, 5 nodes, 5 edges" in outputs
    assert "one node: s = 0.731059, ds/dx = 0.196612, 2 nodes, 1 edge\n" in outputs
    assert re.search(r"memory per sigmoid: composed \d+ bytes, one node \d+ bytes", outputs)


def test_tiny_network_trained_with_values_lowers_its_loss(outputs):
    losses = [float(x) for x in re.findall(r"step +\d+: loss = ([0-9.]+)", outputs)]
    assert len(losses) >= 3 and losses[-1] < losses[0] / 10


# --- the engine is built in front of the reader, and the exercise is left to the exercise ---------------


def test_the_minimal_engine_is_built_an_operation_at_a_time_bug_first(cells):
    sources = code_sources(cells)
    first = next(i for i, s in enumerate(sources) if "self.grad = out.grad" in s)       # the bug
    fixed = next(i for i, s in enumerate(sources) if "self.grad += out.grad" in s)      # the fix
    mul = next(i for i, s in enumerate(sources) if "Value.__mul__ = mul" in s)
    recursive = next(i for i, s in enumerate(sources) if "def topological_order_recursive" in s)
    library = next(i for i, s in enumerate(sources) if s.startswith("from backprop_lib import Value"))
    assert "class Value" in sources[first] and "Value.__add__ = add" in sources[first]
    assert first < fixed < mul < recursive < library
    assert "except RecursionError" in "\n".join(sources[recursive:library])


def test_the_lesson_leaves_the_exercise_to_the_exercise(cells):
    """No iterative sort written out, no tanh, exp or ** for the minimal engine, no sigmoid Function."""
    source = "\n".join(code_sources(cells))
    for piece in ("def topological_order_iterative", "def topological_order(", "class Sigmoid", "def tanh",
                  "def exp", "__pow__", "def power"):
        assert piece not in source, piece


def test_the_hidden_answers_are_the_ones_the_lesson_explains(cells):
    """Run the lesson's first sections (its own minimal engine) and collect what reveal() would show."""
    revealed: list[tuple[str, float]] = []
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for source in code_sources(cells):
            if source.startswith("from backprop_lib import Value"):
                break
            exec(compile(source, "lesson 04", "exec"), namespace)
            namespace["reveal"] = lambda guess, value, what, **tolerance: revealed.append((what, value))
    assert revealed == [("df/dx", -1.0), ("a.grad", 1.0), ("w.grad", 12.0), ("w.grad after two calls", 32.0)]
    assert verdict("04.mul_backward", namespace["mul"]).ok  # the lesson's own mul passes its check


def test_code_has_the_library_tour(cells):
    source = "\n".join(code_sources(cells))
    for piece in ("engine.LOCAL_DERIVATIVES", "dependency_order(", "class Mul(Function)", "ctx.save_for_backward",
                  "ctx.saved_tensors", "def backward(ctx, grad_output)", "Mul.apply(", ".sigmoid()",
                  "viz.draw_value_graph(", "compact=True", "p.grad = 0.0", "loss.backward()"):
        assert piece in source, piece


def test_an_explorer_from_the_library_is_shown_and_its_output_ignored(cells):
    explorer_cells = [s for s in code_sources(cells) if re.search(r"widgets\.(Explorer|GraphExplorer)\(", s)]
    assert explorer_cells
    for source in explorer_cells:
        assert "# NBVAL_IGNORE_OUTPUT" in source


def test_timings_and_the_recursion_limit_only_in_ignored_cells(cells):
    for source in code_sources(cells):
        if "perf_counter" in source or "tracemalloc.start" in source or "getrecursionlimit" in source:
            assert "# NBVAL_IGNORE_OUTPUT" in source


def test_figures_are_stored_and_fit_a_notebook_column(cells):
    assert image_count(LESSON) >= 3
    for cell in cells:
        for out in cell.get("outputs", []):
            size = re.match(r"<Figure size ([0-9.]+)x", out.get("data", {}).get("text/plain", ""))
            if size:
                assert float(size.group(1)) <= 710, size.group(0)
                png = base64.b64decode(out["data"]["image/png"])
                assert struct.unpack(">I", png[16:20])[0] <= 760  # what the notebook shows, margins included


# --- practice: predictions before answers, a fill-in cell -------------------------------------------------


def test_predictions_come_before_their_answers(cells):
    predictions = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("**Predict.**")]
    assert len(predictions) >= 3
    for i in predictions:
        assert cells[i + 1].cell_type == "code" and cells[i + 1].source.startswith("guess = ...")
        answer = next(c for c in cells[i + 2:] if c.cell_type == "code")
        assert "reveal(guess," in answer.source


def test_a_fill_in_cell_checks_the_mul_backward(cells):
    turns = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("**Your turn.**")]
    assert turns
    cell = cells[turns[0] + 1]
    assert 'check("04.mul_backward", mul)' in cell.source and "+= ..." in cell.source
    assert "".join(o.get("text", "") for o in cell.outputs).startswith("[ ] not filled in yet")


# --- the concepts and the frame of a lesson ------------------------------------------------------------


@pytest.mark.parametrize("term", [
    "forward", "backward", "chain rule", "Changing the model changes only the forward code",
    "topological order", "reverse", "O(|V| + |E|)", "recursi", "iterative", "RecursionError",
    "fan-out", "sum of both gradients", "accumulate", "zero", "save_for_backward", "grad_output", "one gradient per input",
    "Function", "sigmoid", "fewer nodes", "memory", "draw", "values and gradients", "+=", "micrograd",
    "LOCAL_DERIVATIVES", "closure",
])
def test_markdown_covers_the_concepts_of_the_section(markdown, term):
    assert term.lower() in markdown.lower()


def test_facts_about_python_and_pytorch_are_stated_correctly(markdown):
    assert "pushed at most twice" not in markdown and "node is pushed twice" not in markdown.lower()
    assert "|V| + |E| + 1" in markdown                      # each edge adds at most one push
    assert "1000 frames by default" in markdown and "3000" in markdown
    assert "retain_graph=True" in markdown and "RuntimeError" in markdown


def test_framework_sidebar_names_the_three_frameworks(markdown):
    for term in ("PyTorch", "loss.backward()", "optimizer.step()", "optimizer.zero_grad()", "TensorFlow",
                 "GradientTape", "JAX", "jax.grad", "function transformation", "mirrors"):
        assert term in markdown, term


def test_conventions_navigation_and_further_reading(cells, markdown):
    assert "[conventions](01_computational_graphs.ipynb#Conventions)" in cells[0].source
    assert cells[0].source.rstrip().endswith(NAV)
    last = cells[-1].source
    assert last.startswith("## Further reading") and last.rstrip().endswith("---\n" + NAV)
    links = ("https://colah.github.io/posts/2015-08-Backprop/", "https://cs231n.github.io/optimization-2/",
             "https://github.com/karpathy/micrograd", "https://jmlr.org/papers/v18/17-468.html",
             "https://doi.org/10.1137/1.9780898717761")
    assert sum(link in last for link in links) >= 3
    assert 3 <= last.count("\n- ") <= 6
