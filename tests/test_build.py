"""The notebook build pipeline: reproducible stored notebooks and a check that executes nothing."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from backprop_lib.cli import main
from backprop_lib.course.notebooks import COURSE_KEY, NotebookError, is_fresh, normalize, read_notebook


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A lesson")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


@pytest.fixture
def course(tmp_path: Path) -> Path:
    (tmp_path / "lessons").mkdir()
    nbformat.write(_notebook("print(sorted({'b', 'a'}))", "x = 6 * 7\nx"), tmp_path / "lessons" / "01_first.ipynb")
    return tmp_path


def test_build_stores_outputs_and_a_second_build_writes_nothing(course: Path, capsys) -> None:
    path = course / "lessons" / "01_first.ipynb"
    assert main(["build", "--root", str(course), "--jobs", "1"]) == 0
    first = path.read_text()
    nb = read_notebook(path)
    assert nb.cells[1].outputs[0].text == "['a', 'b']\n"
    assert nb.cells[2].outputs[0].data["text/plain"] == "42"
    assert nb.metadata.kernelspec.name == "python3"
    assert "version" not in nb.metadata.language_info
    assert is_fresh(nb)
    assert main(["build", "--root", str(course), "--jobs", "1"]) == 0
    assert path.read_text() == first
    assert "0 written, 1 unchanged" in capsys.readouterr().out


def test_check_reports_an_edited_notebook_without_executing(course: Path, capsys) -> None:
    path = course / "lessons" / "01_first.ipynb"
    main(["build", "--root", str(course), "--jobs", "1"])
    assert main(["build", "--check", "--root", str(course)]) == 0
    nb = json.loads(path.read_text())
    nb["cells"][2]["outputs"][0]["data"]["text/plain"] = "43"  # an output edited by hand
    path.write_text(json.dumps(nb))
    capsys.readouterr()
    assert main(["build", "--check", "--root", str(course)]) == 1
    assert "stale: lessons/01_first.ipynb" in capsys.readouterr().out
    assert json.loads(path.read_text())["cells"][2]["outputs"][0]["data"]["text/plain"] == "43"


def test_a_failing_cell_is_reported_and_the_file_is_left_alone(course: Path, capsys) -> None:
    path = course / "lessons" / "02_broken.ipynb"
    nbformat.write(_notebook("1 / 0"), path)
    before = path.read_text()
    assert main(["build", "--root", str(course), "--jobs", "1", "--only", "02"]) == 1
    err = capsys.readouterr().err
    assert "02_broken.ipynb" in err and "ZeroDivisionError" in err
    assert path.read_text() == before


def test_normalize_drops_widget_views_and_timings() -> None:
    nb = _notebook("w")
    nb.cells[1].execution_count = 7
    nb.cells[1].metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00"}
    nb.cells[1].outputs = [nbformat.v4.new_output(
        "display_data",
        data={"text/plain": "explorer", "application/vnd.jupyter.widget-view+json": {"model_id": "abc"}},
    )]
    out = normalize(nb)
    assert out.cells[1].execution_count == 1
    assert "execution" not in out.cells[1].metadata
    assert out.cells[1].outputs[0].data == {"text/plain": "explorer"}
    assert COURSE_KEY in out.metadata


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("{not json", "invalid JSON"),
        ('{"a": 1}', "not a notebook"),
        ('{"nbformat": 3, "worksheets": []}', "nbformat 3 is not supported"),
    ],
)
def test_unusable_files_get_one_clear_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_text(content)
    with pytest.raises(NotebookError, match=message):
        read_notebook(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match="no such file"):
        read_notebook(tmp_path / "nope.ipynb")
    with pytest.raises(NotebookError, match="is a directory"):
        read_notebook(tmp_path)


def test_outputs_that_vary_are_kept_while_their_cell_is_unchanged(tmp_path: Path) -> None:
    (tmp_path / "lessons").mkdir()
    path = tmp_path / "lessons" / "01_timing.ipynb"
    timing = "# NBVAL_IGNORE_OUTPUT\nimport time\nprint(time.perf_counter_ns())"
    nbformat.write(_notebook(timing, "print(2 + 2)"), path)
    main(["build", "--root", str(tmp_path), "--jobs", "1"])
    first = path.read_text()
    main(["build", "--root", str(tmp_path), "--jobs", "1"])
    assert path.read_text() == first
    main(["build", "--root", str(tmp_path), "--jobs", "1", "--refresh"])
    assert path.read_text() != first
    assert read_notebook(path).cells[2].outputs[0].text == "4\n"


def test_prints_split_across_outputs_are_stored_as_one() -> None:
    nb = _notebook("print(1)")
    nb.cells[1].execution_count = 1
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
                           nbformat.v4.new_output("stream", name="stdout", text="b\n"),
                           nbformat.v4.new_output("stream", name="stderr", text="c\n")]
    out = normalize(nb)
    assert [(o.name, o.text) for o in out.cells[1].outputs] == [("stdout", "a\nb\n"), ("stderr", "c\n")]
