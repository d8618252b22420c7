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


def test_the_eight_lessons_are_there():
    assert [path.name[:2] for path in LESSONS] == ["01", "02", "03", "04", "05", "06", "07", "08"]


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


READING = ("https://colah.github.io/posts/2015-08-Backprop/", "https://cs231n.github.io/optimization-2/",
           "https://github.com/karpathy/micrograd", "https://jmlr.org/papers/v18/17-468.html",
           "https://doi.org/10.1137/1.9780898717761")


def _title(path: Path) -> str:
    return _cells(path)[0].source.splitlines()[0].removeprefix("# ")


def _navigation(lesson: Path) -> str:
    """The navigation line a lesson ends with (and its first cell too)."""
    index = LESSONS.index(lesson)
    parts = []
    if index > 0:
        parts.append(f"Previous: [{_title(LESSONS[index - 1])}]({LESSONS[index - 1].name})")
    if index + 1 < len(LESSONS):
        parts.append(f"Next: [{_title(LESSONS[index + 1])}]({LESSONS[index + 1].name})")
    parts.append(f"Exercise: [exercises/{lesson.name}](../exercises/{lesson.name})")
    return " · ".join(parts)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.name[:2])
def test_a_lesson_begins_and_ends_with_its_neighbours_and_exercise_and_ends_with_further_reading(lesson):
    cells = _cells(lesson)
    navigation = _navigation(lesson)
    assert navigation in cells[0].source, navigation
    last = cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## Further reading"), last.source[:60]
    assert last.source.rstrip().endswith(navigation), navigation
    assert sum(url in last.source for url in READING) >= 3, "fewer than three of the course's readings"
    for target in re.findall(r"\]\((?!https?://)([^)#]+)", "\n".join(c.source for c in cells if c.cell_type == "markdown")):
        assert (lesson.parent / target).resolve().exists(), f"a link to {target} leads nowhere"


@pytest.mark.parametrize("lesson", LESSONS[1:], ids=lambda path: path.name[:2])
def test_every_lesson_after_the_first_links_to_the_conventions(lesson):
    assert "(01_computational_graphs.ipynb#Conventions)" in "\n".join(
        c.source for c in _cells(lesson) if c.cell_type == "markdown")


def test_lesson_01_states_the_conventions():
    markdown = "\n".join(c.source for c in _cells(LESSONS[0]) if c.cell_type == "markdown")
    assert "## Conventions" in markdown
    conventions = markdown.split("## Conventions", 1)[1].split("\n## ", 1)[0]
    for phrase in ("\\epsilon_{\\text{mach}}", "u \\to v", "W_l", "$L$"):
        assert phrase in conventions, phrase


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.name[:2])
def test_a_lesson_has_three_predictions_and_a_fill_in_cell(lesson):
    cells = _cells(lesson)
    predictions = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("**Predict.**")]
    assert len(predictions) >= 3, f"{len(predictions)} predict-then-run moments"
    for i in predictions:
        guess, reveal_cell = cells[i + 1], next(c for c in cells[i + 2:] if c.cell_type == "code")
        assert guess.cell_type == "code" and re.match(r"guess\s*=\s*\.\.\.", guess.source), guess.source[:60]
        assert "reveal(guess" in reveal_cell.source, reveal_cell.source[:60]
    fill_ins = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("**Your turn.**")]
    assert fill_ins, "no fill-in cell"
    for i in fill_ins:
        assert cells[i + 1].cell_type == "code" and "check(" in cells[i + 1].source and "..." in cells[i + 1].source
