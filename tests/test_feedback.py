"""Feedback a student can act on, through the whole grader: cells numbered as JupyterLab shows them,
the line of the student's code that raised, slow told apart from stuck, and which earlier answer to
fix first."""
from __future__ import annotations

from pathlib import Path

import nbformat

from backprop_lib.grading.runner import Limits, grade_notebook
from notebook_text import find_notebook

FAST = Limits(cell_seconds=2.0, question_seconds=1.0, grace_seconds=0.5)


def _master(number: str, tmp_path: Path, replace: dict[str, str]) -> Path:
    """A copy of the master notebook ``number`` in which the code cell that defines each key is
    replaced by its value."""
    nb = nbformat.read(find_notebook("solutions", number), as_version=4)
    for cell in nb.cells:
        for name, source in replace.items():
            if cell.cell_type == "code" and (f"def {name}(" in cell.source or f"class {name}" in cell.source):
                cell.source = source
    folder = tmp_path / "student"
    folder.mkdir(exist_ok=True)
    path = folder / find_notebook("solutions", number).name
    nbformat.write(nb, path)
    return path


def _position(path: Path, text: str) -> int:
    """The number JupyterLab's reader counts for the cell holding ``text`` (every cell, from 1)."""
    cells = nbformat.read(path, as_version=4).cells
    return next(i + 1 for i, cell in enumerate(cells) if text in cell.source)


def test_a_cell_error_names_the_cell_as_the_student_counts_cells(tmp_path):
    path = _master("01", tmp_path, {"numerical_derivative": "raise ValueError('oops')\n"})
    result = grade_notebook(path, seed=1, limits=FAST)
    number = _position(path, "raise ValueError('oops')")
    code_cells_before = sum(1 for c in nbformat.read(path, as_version=4).cells[:number] if c.cell_type == "code")
    assert number != code_cells_before  # markdown cells come first: the two ways of counting differ here
    assert result.cell_errors[0] == f"cell {number}: ValueError: oops"


def test_an_answer_that_raises_is_shown_with_its_cell_line_and_code(tmp_path):
    wrong = ("def product_rule(f, df, g, dg, x):\n"
             "    scale = 1.0\n"
             "    return df(x) * g(x) + f(x) * dg(x) / (scale - 1.0)\n")
    path = _master("01", tmp_path, {"product_rule": wrong})
    result = grade_notebook(path, seed=1, limits=FAST)
    question = next(q for q in result.questions if q.id == "01.product_rule")
    number = _position(path, "def product_rule")
    assert (f"raised ZeroDivisionError: float division by zero (in `product_rule`, cell {number}, line 3: "
            "`return df(x) * g(x) + f(x) * dg(x) / (scale - 1.0)`)") in question.feedback


def test_a_slow_answer_is_told_apart_from_one_that_never_ends(tmp_path):
    slow = ("import time\n"
            "def train(X, y, hidden=50, lr=2.0, steps=500, seed=0):\n"
            "    if len(X) == 200:  # the moons, the second test\n"
            "        time.sleep(30)\n"
            "    params = init_params(X.shape[1], hidden, int(y.max()) + 1, seed)\n"
            "    for _ in range(steps):\n"
            "        params, _ = train_step(params, X, y, lr)\n"
            "    return params\n")
    limits = Limits(cell_seconds=5.0, question_seconds=3.0, grace_seconds=0.5)
    result = grade_notebook(_master("06", tmp_path, {"train": slow}), seed=1, limits=limits)
    train = next(q for q in result.questions if q.id == "06.train")
    assert train.status == "timeout"
    assert train.feedback.startswith("1 of its 2 tests finished before the 3 s for all of them ran out: "
                                     "the answer runs, but too slowly. A right train that is too slow")
    stuck = "def train(X, y):\n    while True:\n        pass\n"
    result = grade_notebook(_master("06", tmp_path, {"train": stuck}), seed=1, limits=FAST)
    train = next(q for q in result.questions if q.id == "06.train")
    assert train.feedback.startswith("the first of its 2 tests did not finish within 1 s: a loop that never "
                                     "ends, or an answer far too slow.")


def test_a_question_that_builds_on_a_failed_answer_says_which_to_fix_first(tmp_path):
    wrong_jvp = "def jvp(f, x, v):\n    out = f(Dual(x, v))\n    return out.value, 2 * out.tangent\n"
    result = grade_notebook(_master("07", tmp_path, {"jvp": wrong_jvp}), seed=1, limits=FAST)
    by_id = {q.id: q for q in result.questions}
    assert by_id["07.jvp"].status == "failed" and "fix" not in by_id["07.jvp"].feedback.split(". ")[-1]
    for later in ("07.jacobian_forward", "07.hvp"):
        assert by_id[later].status == "failed"
        assert by_id[later].feedback.endswith("This question builds on `07.jvp`, which failed too: fix that first.")
    assert "builds on" not in by_id["07.jacobian_reverse"].feedback


def test_the_advice_to_fix_an_earlier_answer_first_reads_as_its_own_sentence():
    result = grade_notebook(find_notebook("exercises", "08"), seed=1, limits=FAST)
    attention = next(q for q in result.questions if q.id == "08.attention_backward")
    assert attention.feedback == ("not implemented yet. This question builds on `08.softmax_vjp`, which failed "
                                  "too: fix that first.")


def test_a_forged_place_of_an_error_names_no_cell_the_notebook_does_not_have():
    """The place comes from the sandbox: the judge reads the code from its own copy of the cells and
    names nothing for a file that is no cell of this notebook, or a line past its end."""
    from backprop_lib.grading.runner import _locator

    locate = _locator(["def f():\n    return 1 / 0\n"], [4])
    assert locate("<cell 1>", 2, "f") == "in `f`, cell 4, line 2: `return 1 / 0`"
    assert locate("<cell 1>", 9, "f") == "in `f`, cell 4, line 9"
    assert locate("<cell 2>", 1, "f") is None and locate("<cell 0>", 1, "f") is None
    assert locate("/etc/passwd", 1, "f") is None
