"""Lesson 05 (vectors, matrices and vector-Jacobian products): what its stored notebook must show.

These tests read the committed notebook; they do not execute it (nbval does that).
"""
import re

import nbformat
import pytest

from notebook_text import find_notebook, image_count, markdown_text, output_text

LESSON = find_notebook("lessons", "05")


@pytest.fixture(scope="module")
def out() -> str:
    return output_text(LESSON)


@pytest.fixture(scope="module")
def md() -> str:
    return markdown_text(LESSON)


@pytest.fixture(scope="module")
def nb():
    return nbformat.read(LESSON, as_version=4)


@pytest.fixture(scope="module")
def code_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_gradient_and_jacobian_shapes(out):
    assert "dloss/dx = 2x = [2, 4, 6], shape (3,): the shape of x" in out
    assert re.search(r"vector -> vector \(ReLU\)\s+x \(4,\)\s+y \(4,\)\s+derivative shape \(4, 4\)\s+16 numbers", out)
    assert re.search(r"matrix -> matrix \(Y = X W\)\s+x \(2, 3\)\s+y \(2, 4\)\s+derivative shape \(2, 4, 2, 3\)\s+48 numbers", out)


def test_the_loss_stays_scalar_so_every_gradient_has_its_values_shape(out):
    rows = re.findall(r"^(\S+)\s*: value shape (\([\d, ]*\))\s+gradient shape (\([\d, ]*\))$", out, re.M)
    assert {name for name, _, _ in rows} >= {"W", "b", "XW", "Z", "A", "L"}
    assert all(value == grad for _, value, grad in rows)
    assert ("L", "()", "()") in rows


def test_relu_vjp(out):
    assert "x          = [1, -2, 3, -1]" in out
    assert "dL/dy      = [4, -1, 5, 9]" in out
    assert "dL/dx      = [4, 0, 5, 0]" in out
    assert "Tensor engine: dL/dx = [4, 0, 5, 0]" in out
    assert "gradient check of the ReLU VJP: passed" in out


def test_relu_jacobian_is_shown_once_for_contrast(out):
    for row in ("[1, 0, 0, 0]", "[0, 0, 0, 0]", "[0, 0, 1, 0]"):
        assert row in out
    assert "upstream @ J = [4, 0, 5, 0]" in out
    assert "J holds 16 numbers, 2 of them nonzero; the mask holds 4" in out


def test_matmul_forward(out):
    assert "N = 2, D = 3, M = 4" in out
    assert "Y = X W = [[-1, -1, 2, 6], [5, 2, 11, 7]]" in out
    assert "dL/dY   = [[2, 3, -3, 9], [-8, 1, 4, 6]]" in out


def test_matmul_slice_view(out):
    assert "dY/dX[0,0] = [[3, 2, 1, -1], [0, 0, 0, 0]]" in out
    assert "dL/dX[0,0] = 3*2 + 2*3 + 1*(-3) + (-1)*9 = 0" in out
    assert "dL/dX[1,2] = 3*(-8) + 2*1 + 1*4 + (-2)*6 = -30" in out
    assert "dL/dX[0,0] = 0, dL/dX[1,2] = -30" in out


def test_matmul_whole_view_by_engine_and_by_formulas(out):
    grad_x = re.escape("[[0, 16, -9], [-24, 9, -30]]")
    grad_w = re.escape("[[28, 3, -18, 0], [-30, 7, 13, 33], [-22, -7, 17, -15]]")
    assert re.search(r"dL/dX by Tensor\.backward\s+= " + grad_x, out)
    assert re.search(r"dL/dX = dL/dY W\^T\s+= " + grad_x, out)
    assert re.search(r"dL/dW by Tensor\.backward\s+= " + grad_w, out)
    assert re.search(r"dL/dW = X\^T dL/dY\s+= " + grad_w, out)
    assert "engine and formulas agree: True" in out
    assert "gradient check of dL/dX = dL/dY W^T: passed" in out
    assert "gradient check of dL/dW = X^T dL/dY: passed" in out


def test_explicit_jacobian_size_here_and_for_a_realistic_layer(out):
    assert "dY/dX flattened: (N*M) x (N*D) = 8 x 6 = 48 numbers, 24 nonzero" in out
    assert "vec(dL/dY) @ J, reshaped = [[0, 16, -9], [-24, 9, -30]]" in out
    assert "dY/dW would be (N*M) x (D*M) = 8 x 12 = 96 numbers" in out
    assert "N = 64, D = 4096, M = 4096 (float32):" in out
    assert re.search(r"Jacobian dY/dX, \(N\*M\) x \(N\*D\)\s+68,719,476,736 numbers =\s+274,877,906,944 bytes "
                     r"\(256\.0 GiB\)", out)
    assert re.search(r"VJP arrays dL/dY, dL/dX, dL/dW\s+17,301,504 numbers =\s+69,206,016 bytes \(66\.0 MiB\)", out)


def test_fully_connected_layer_element_by_element(out, md):
    assert r"z_j = \sum_i x_i\, w_{ij}" in md
    assert r"\frac{dL}{dw_{ij}} = x_i\, \frac{dL}{dz_j}" in md
    assert r"\frac{dL}{dx_i} = \sum_j w_{ij}\, \frac{dL}{dz_j}" in md
    assert r"\frac{dL}{dW} = x^\top \frac{dL}{dz}" in md
    assert "loops, matrix form and engine agree: True" in out
    assert "gradient check of dL/dW of z = x W: passed" in out
    assert "gradient check of dL/dx of z = x W: passed" in out


def test_elementwise_nonlinearity(out, md):
    assert r"\frac{dL}{dz_j} = \frac{dL}{da_j}\, \sigma'(z_j)" in md
    engine = re.search(r"dL/dz engine   = (\[.*\])", out).group(1)
    formula = re.search(r"dL/da \* sigma' = (\[.*\])", out).group(1)
    assert engine == formula
    assert "gradient check of the sigmoid VJP: passed" in out


def test_broadcast_bias_gradient_is_summed(out, md):
    assert re.search(r"dL/db by the engine\s+= \[-6, 4, 1, 15\], shape \(4,\)", out)
    assert re.search(r"unbroadcast\(dL/dZ, \(4,\)\)\s+= \[-6, 4, 1, 15\]", out)
    assert re.search(r"unbroadcast\(dL/dZ, \(2, 1\)\)\s+= \[\[11\], \[3\]\]", out)
    assert "gradient check of the bias gradient: passed" in out
    assert "broadcast" in md and "unbroadcast" in md


def test_higher_rank_tensors_by_reshape(out, md):
    assert "Higher-rank tensors: reshape and flatten" in md
    assert "images (2, 3, 4, 4) -> flat (2, 48) -> scores (2, 5)" in out
    assert "reshaped back: True" in out
    assert "dL/dH by the engine = reshaped dL/dY W^T: True" in out
    assert "gradient check of dL/dH of a batched matmul: passed" in out


def test_every_vjp_shown_is_gradient_checked_and_none_fails(out, code_cells):
    assert out.count("gradient check of") >= 11
    assert "FAILED" not in out
    assert sum("numerical_vjp(" in src for src in code_cells) >= 7


def test_concepts_are_named_in_the_prose(md):
    for term in ("gradient", "Jacobian", "vector-Jacobian product", "upstream", "downstream", "slice view",
                 "whole view", "The loss stays scalar", "fully connected", "elementwise", "Broadcasting",
                 "flatten"):
        assert term in md, term


def test_figures_and_an_explorer(code_cells):
    assert image_count(LESSON) >= 4
    explorers = [src for src in code_cells if "widgets.Explorer(" in src]
    assert explorers and all(src.startswith("# NBVAL_IGNORE_OUTPUT") for src in explorers)
    assert any("from backprop_lib import" in src and "widgets" in src for src in code_cells)


def test_the_vjp_is_a_row_times_the_jacobian_as_the_conventions_say(md):
    assert "[conventions](01_computational_graphs.ipynb#Conventions)" in md
    assert r"\frac{dL}{dx} = \frac{dL}{dy}\, J" in md
    assert r"\partial L" not in md  # the loss's gradients are total derivatives: dL/dW, never a partial sign


def test_the_graph_of_a_layer_draws_its_constant_input_and_fits_a_column(nb):
    cell = next(c for c in nb.cells if c.cell_type == "code" and "draw_tensor_graph(" in c.source)
    assert "constants=[(X, XW)]" in cell.source and "max_width=7" in cell.source
    size = next(o for o in cell.outputs if "data" in o).data["text/plain"]
    width = float(re.search(r"Figure size ([\d.]+)x", size).group(1))
    assert width <= 700


def test_practice_three_predictions_and_a_fill_in_cell(nb, code_cells):
    sources = [c.source for c in nb.cells]
    predictions = [i for i, s in enumerate(sources) if s.startswith("**Predict.**")]
    assert len(predictions) >= 3
    for i in predictions:
        assert sources[i + 1].startswith("guess = ...")
        assert "reveal(guess," in sources[i + 3]
    assert sum("reveal(guess," in src for src in code_cells) >= 3
    fill = [i for i, s in enumerate(sources) if s.startswith("**Your turn.**")]
    assert fill and 'check("05.layer_gradients", X_p, W_p, grad_Z, grad_X, grad_W, grad_b)' in sources[fill[0] + 1]
    assert "grad_X = ..." in sources[fill[0] + 1]


def test_whole_number_predictions_want_the_exact_value(nb):
    reveals = [c.source for c in nb.cells if c.cell_type == "code" and "reveal(guess," in c.source]
    assert reveals and all("places=0, rtol=0" in src for src in reveals)  # counts and integer entries


def test_one_letter_one_meaning(md):
    assert "X_{nd}" not in md and "row $d$" not in md  # d is the total derivative's d; k indexes D
    assert "(N, C, H, W)" not in md  # H is the batch of sequences, W the weights


def test_navigation_and_further_reading(nb):
    nav = ("Previous: [Lesson 04 · A modular autograd engine](04_autograd_engine.ipynb) · "
           "Next: [Lesson 06 · Backpropagation through a neural network](06_training_networks.ipynb) · "
           "Exercise: [exercises/05_vector_jacobian_products.ipynb](../exercises/05_vector_jacobian_products.ipynb)")
    assert nb.cells[0].source.rstrip().endswith(nav)
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## Further reading")
    assert last.source.rstrip().endswith("---\n" + nav)
    links = re.findall(r"\]\((https://[^)]+)\)", last.source)
    assert 3 <= len(links) <= 6
