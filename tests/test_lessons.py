"""The frame every lesson shares, and what every committed notebook carries; the per-lesson files
(test_lesson_NN.py) check each lesson's own numbers and concepts.

Reads the committed notebooks only (no execution): nbval re-executes them separately.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from notebook_text import ROOT, as_text, is_explorer

LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
NOTEBOOKS = [path for folder in ("lessons", "exercises", "solutions")
             for path in sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))]
HEADINGS = ("## What you will learn", "## What you need", "## Summary", "## Check your understanding")


def _cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def _outputs(path: Path) -> list:
    return [out for cell in _cells(path) for out in cell.get("outputs", [])]


def test_the_seven_lessons_are_there():
    assert [path.name[:2] for path in LESSONS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.name[:2])
def test_a_lesson_has_its_title_objectives_prerequisites_answers_summary_and_exercise(lesson):
    cells = _cells(lesson)
    markdown = "\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith(f"# Lesson {lesson.name[:2]} · ")
    for heading in HEADINGS:
        assert heading in markdown, heading
    assert re.search(r"^## Exercises?\b", markdown, re.MULTILINE), "no exercise section"
    assert markdown.count("<details><summary>Answer</summary>") >= 2, "fewer than two answered questions"
    assert f"exercises/{lesson.name}" in markdown and (ROOT / "exercises" / lesson.name).exists()


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.name[:2])
def test_every_code_cell_is_introduced_by_prose_and_was_executed(lesson):
    cells = _cells(lesson)
    for before, cell in zip(cells, cells[1:]):
        if cell.cell_type == "code":
            assert before.cell_type == "markdown", f"no prose before: {cell.source[:60]!r}"
            assert cell.execution_count is not None, f"not executed: {cell.source[:60]!r}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.name[:2])
def test_outputs_hold_no_error_no_warning_and_no_raw_reprs(lesson):
    outputs = _outputs(lesson)
    assert not [out for out in outputs if out.output_type == "error"]
    assert not [as_text(out.text) for out in outputs if out.get("name") == "stderr"]
    text = "\n".join(as_text(out.get("text", "")) + as_text(out.get("data", {}).get("text/plain", "")) for out in outputs)
    assert "np.float64" not in text, "a numpy scalar's repr is printed"
    assert not re.search(r"0x[0-9a-f]{6,}", text), "an object's address is printed"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.name[:2])
def test_every_explorer_is_stored_as_its_hint_in_a_cell_whose_output_is_not_compared(lesson):
    explorers = [cell for cell in _cells(lesson) if cell.cell_type == "code" and any(map(is_explorer, cell.outputs))]
    assert explorers, "a lesson has at least one explorer"
    for cell in explorers:
        assert cell.source.startswith("# NBVAL_IGNORE_OUTPUT"), cell.source[:60]
    assert not any("VBox(children=" in as_text(out.get("data", {}).get("text/plain", "")) for out in _outputs(lesson))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: f"{path.parent.name}/{path.name[:2]}")
def test_every_notebook_names_its_kernel_so_jupyterlab_starts_it_without_asking(notebook):
    metadata = nbformat.read(notebook, as_version=4).metadata
    assert metadata.kernelspec.name == "python3" and metadata.kernelspec.language == "python"
    assert metadata.language_info.name == "python"
