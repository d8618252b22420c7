"""Hostile submissions: whatever a notebook does, the grader keeps its own judgement and the rest."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from backprop_lib.grading.runner import Limits, grade_notebook
from notebook_text import find_notebook

FAST = Limits(cell_seconds=0.5, question_seconds=0.5, grace_seconds=0.5)

GOOD = {
    "numerical_derivative": "def numerical_derivative(f, x, h=1e-5):\n    return (f(x + h) - f(x - h)) / (2 * h)",
    "lesson_graph": (
        "def lesson_graph(a, b):\n    c, d = a + b, b + 1\n"
        "    return {'a': a, 'b': b, 'c': c, 'd': d, 'e': c * d}, "
        "{('a', 'c'): 1.0, ('b', 'c'): 1.0, ('b', 'd'): 1.0, ('c', 'e'): d, ('d', 'e'): c}"),
    "product_rule": "def product_rule(f, df, g, dg, x):\n    return df(x) * g(x) + f(x) * dg(x)",
}


def submission(tmp_path: Path, *cells: str, **answers: str) -> Path:
    """An exercise-01 notebook of the given cells plus the good answers, some replaced."""
    sources = [*cells, *({**GOOD, **answers}.values())]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["backprop_course"] = {"exercise": "01"}
    folder = tmp_path / "student"
    folder.mkdir(exist_ok=True)
    path = folder / "01_computational_graphs.ipynb"
    nbformat.write(nb, path)
    return path


def statuses(result) -> dict[str, str]:
    return {q.id.split(".")[1]: q.status for q in result.questions}


def test_a_good_submission_earns_everything(tmp_path):
    result = grade_notebook(submission(tmp_path), seed=1, limits=FAST)
    assert result.score == result.max_score == 8
    assert result.student == "student"


@pytest.mark.parametrize("body", [
    "import os\n    os._exit(3)",
    "import sys\n    sys.exit(0)",
    "import ctypes\n    ctypes.string_at(0)",
    "x = bytearray(8 * 1024**3)",
    "import signal\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while True: pass",
    "while True:\n        try:\n            pass\n        except BaseException:\n            pass",
])
def test_one_question_that_crashes_or_hangs_costs_that_question_only(tmp_path, body):
    bad = f"def product_rule(f, df, g, dg, x):\n    {body}"
    result = grade_notebook(submission(tmp_path, product_rule=bad), seed=1, limits=FAST)
    assert statuses(result)["numerical_derivative"] == "passed"
    assert statuses(result)["lesson_graph"] == "passed"
    assert statuses(result)["product_rule"] in {"crashed", "timeout", "failed"}
    assert result.score == 6


@pytest.mark.parametrize("cell", [
    "while True: pass",
    "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True: pass",
    "import os\nos._exit(0)",
    "raise RuntimeError('a broken cell')",
    "print('x' * 10_000_000)",
])
def test_a_failing_or_hanging_top_level_cell_is_cut_off_and_the_rest_still_run(tmp_path, cell):
    result = grade_notebook(submission(tmp_path, cell), seed=1, limits=FAST)
    assert result.score == 8
    if "print" not in cell:
        assert result.cell_errors


def test_patching_the_world_in_the_notebook_changes_nothing_in_the_grader(tmp_path):
    patches = (
        "import math, builtins, numpy\n"
        "math.sin = lambda x: 0.0\n"
        "numpy.allclose = lambda *a, **k: True\n"
        "builtins.abs = lambda x: 0\n"
        "import backprop_lib.grading.spec as spec\n"
        "spec.close = lambda *a, **k: True\n"
    )
    wrong = "def product_rule(f, df, g, dg, x):\n    return 0.0"
    result = grade_notebook(submission(tmp_path, patches, product_rule=wrong), seed=1, limits=FAST)
    assert statuses(result)["product_rule"] == "failed"


@pytest.mark.parametrize("answer", [
    "class Liar(float):\n    def __eq__(self, other): return True\n"
    "def product_rule(f, df, g, dg, x):\n    return Liar(0.0)",
    "def product_rule(f, df, g, dg, x):\n    return float('nan')",
    "def product_rule(f, df, g, dg, x):\n    return float('inf')",
    "class Anything:\n    def __eq__(self, other): return True\n"
    "def product_rule(f, df, g, dg, x):\n    return Anything()",
])
def test_lying_objects_nan_and_infinity_earn_nothing(tmp_path, answer):
    result = grade_notebook(submission(tmp_path, product_rule=answer), seed=1, limits=FAST)
    assert statuses(result)["product_rule"] == "failed"
    assert result.score == 6


def test_the_student_code_runs_in_a_scratch_folder_with_a_scrubbed_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "s3cret")
    spy = (
        "import os\n"
        "def product_rule(f, df, g, dg, x):\n"
        "    assert 'GRADER_SECRET' not in os.environ, 'environment leaked'\n"
        "    assert os.getcwd() != " + repr(str(Path.cwd())) + ", 'not in a scratch folder'\n"
        "    return df(x) * g(x) + f(x) * dg(x)"
    )
    assert grade_notebook(submission(tmp_path, product_rule=spy), seed=1, limits=FAST).score == 8


def test_calling_the_library_earns_nothing_even_when_imported_before_grading(tmp_path):
    cheat = ("from backprop_lib.gradcheck import numerical_gradient as ng\n"
             "def numerical_derivative(f, x, h=1e-5):\n    return ng(f, x, h)")
    result = grade_notebook(submission(tmp_path, numerical_derivative=cheat), seed=1, limits=FAST)
    assert statuses(result)["numerical_derivative"] == "uses reference"
    assert "numerical_gradient" in result.questions[0].feedback


def test_fresh_inputs_each_time_and_the_seed_is_recorded(tmp_path):
    path = submission(tmp_path)
    first, second = grade_notebook(path, limits=FAST), grade_notebook(path, limits=FAST)
    assert first.seed != second.seed
    assert [q.seed for q in first.questions] == [first.seed + i for i in range(3)]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backprop_lib", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.mark.parametrize(("content", "message"), [
    ("", "the file is empty"),
    ("{nope", "not a notebook"),
    ('{"cells": 1}', "not"),
    ('{"nbformat": 3, "worksheets": []}', "nbformat 3 is not supported"),
])
def test_bad_files_get_one_clear_line_and_a_nonzero_exit(tmp_path, content, message):
    path = tmp_path / "sub.ipynb"
    path.write_text(content)
    done = run_cli("grade", str(path))
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_lesson_a_directory_and_a_missing_path_are_refused(tmp_path):
    lesson = find_notebook("lessons", "01")
    for target, message in ((lesson, "not one of the course's exercises"), (tmp_path, "is a directory"),
                            (tmp_path / "nothing.ipynb", "no such file")):
        done = run_cli("grade", str(target))
        assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_grade_json_is_one_document_with_every_field(tmp_path):
    done = run_cli("grade", str(submission(tmp_path)), "--json")
    assert done.returncode == 0
    result = json.loads(done.stdout)
    assert {"exercise", "student", "score", "max_score", "questions"} <= set(result)
    assert set(result["questions"][0]) == {"id", "score", "max_score", "status", "feedback", "seed",
                                          "cases_passed", "cases_total", "mistakes"}


def test_a_training_answer_is_measured_by_the_grader_not_by_the_notebook(tmp_path):
    cheat = (
        "import numpy as np\n"
        "np.mean = lambda *a, **k: 1.0\n"
        "np.argmax = lambda scores, axis=None: scores[:, 0] * 0\n"
        "def train(X, y):\n"
        "    rng = np.random.default_rng(0)\n"
        "    D, C = X.shape[1], int(y.max()) + 1\n"
        "    return {'W1': rng.normal(size=(D, 4)), 'b1': np.zeros(4), 'W2': rng.normal(size=(4, C)),"
        " 'b2': np.zeros(C)}\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(cheat)]
    nb.metadata["backprop_course"] = {"exercise": "06"}
    path = tmp_path / "06_training_networks.ipynb"
    nbformat.write(nb, path)
    result = grade_notebook(path, seed=3)
    train = next(q for q in result.questions if q.id == "06.train")
    assert train.status == "failed" and "below the target" in train.feedback


def test_check_cells_do_no_work_inside_the_grader(tmp_path):
    probe = ("from backprop_lib.grading import check\n"
             "assert check('01.product_rule').result is None, 'check() ran its tests during grading'")
    result = grade_notebook(submission(tmp_path, probe), seed=1, limits=FAST)
    assert result.cell_errors == [] and result.score == 8
