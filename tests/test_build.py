"""The notebook build pipeline: reproducible stored notebooks and a check that executes nothing."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from backprop_lib.cli import main
from backprop_lib.course.notebooks import COURSE_KEY, NotebookError, dumps, is_fresh, normalize, read_notebook


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


def test_a_stored_explorer_keeps_its_picture_and_says_above_it_how_to_bring_it_to_life() -> None:
    nb = _notebook("w")
    nb.cells[1].outputs = [nbformat.v4.new_output(
        "display_data", data={"text/plain": "Explorer: run this cell", "image/png": "iVBORw0KGgo=",
                              "application/vnd.jupyter.widget-view+json": {"model_id": "abc"}},
        metadata={"image/png": {"width": 700, "height": 300}})]
    once = normalize(nb)
    assert [o.output_type for o in once.cells[1].outputs] == ["stream", "display_data"]
    assert once.cells[1].outputs[0].text == "Explorer: run this cell\n"
    assert once.cells[1].outputs[1].data == {"text/plain": "Explorer: run this cell", "image/png": "iVBORw0KGgo="}
    assert once.cells[1].outputs[1].metadata == {"image/png": {"width": 700, "height": 300}}
    stored = dumps(once)
    assert dumps(normalize(nbformat.reads(stored, as_version=4))) == stored  # building twice changes nothing


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


# --- the data of the visible tests (grading/visible.json) ----------------------------------------------------------


def test_the_committed_data_of_the_visible_tests_is_what_the_questions_make() -> None:
    from backprop_lib.course.build import build
    from notebook_text import ROOT

    result = build(ROOT, check=True, only=["visible"])
    assert result.errors == [] and result.stale == [], "run: backprop-course build --only visible"
    assert [p.name for p in result.unchanged] == ["visible.json"]


@pytest.fixture
def few_questions(monkeypatch) -> dict:
    """The data made of exercise 01's questions only, so that each build of it is quick."""
    from backprop_lib.grading import registry

    questions = {qid: q for qid, q in registry.QUESTIONS.items() if qid.startswith("01.")}
    monkeypatch.setattr(registry, "QUESTIONS", questions)
    return questions


def test_build_writes_the_data_once_and_check_finds_it_stale(tmp_path: Path, few_questions: dict, capsys) -> None:
    import dataclasses

    from backprop_lib.course.release import visible_text

    path = tmp_path / "backprop_lib" / "grading" / "visible.json"
    path.parent.mkdir(parents=True)
    assert main(["build", "--check", "--root", str(tmp_path), "--only", "visible"]) == 1
    assert "stale: backprop_lib/grading/visible.json" in capsys.readouterr().out
    assert not path.exists()
    assert main(["build", "--root", str(tmp_path), "--only", "visible"]) == 0
    first = path.read_bytes()
    assert first == visible_text().encode() and b'"01.product_rule"' in first
    assert main(["build", "--root", str(tmp_path), "--only", "visible"]) == 0
    assert "0 written, 1 unchanged" in capsys.readouterr().out and path.read_bytes() == first
    assert main(["build", "--check", "--root", str(tmp_path), "--only", "visible"]) == 0

    product = few_questions["01.product_rule"]
    few_questions["01.product_rule"] = dataclasses.replace(product, reference=lambda i: 2 * product.reference(i))
    capsys.readouterr()
    assert main(["build", "--check", "--root", str(tmp_path), "--only", "visible"]) == 1
    assert "stale: backprop_lib/grading/visible.json" in capsys.readouterr().out
    few_questions["01.product_rule"] = dataclasses.replace(product, cases=lambda rng: product.cases(rng)[1:])
    assert main(["build", "--check", "--root", str(tmp_path), "--only", "visible"]) == 1
    assert path.read_bytes() == first


def test_the_data_is_the_same_when_only_the_last_bits_of_a_number_differ(few_questions: dict) -> None:
    from backprop_lib.course.release import same_data, visible_text

    made = visible_text()
    data = json.loads(made)
    case = data["questions"][0]["cases"][0]
    for change, same in ((1 + 1e-13, True), (1 + 1e-6, False)):
        case["expected"] = json.loads(made)["questions"][0]["cases"][0]["expected"] * change
        assert same_data(json.dumps(data, indent=1) + "\n", made) is same


def test_a_question_judged_by_a_rule_the_release_lacks_stops_the_data_with_one_line(
        tmp_path: Path, few_questions: dict, capsys) -> None:
    import dataclasses

    (tmp_path / "backprop_lib" / "grading").mkdir(parents=True)
    product = few_questions["01.product_rule"]
    few_questions["01.product_rule"] = dataclasses.replace(product, accept=lambda value, inputs: None)
    assert main(["build", "--root", str(tmp_path), "--only", "visible"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "01.product_rule" in err and "ACCEPT_RULES" in err
    assert not (tmp_path / "backprop_lib" / "grading" / "visible.json").exists()


def test_the_command_reads_notebooks_without_building_the_iri_grammar(course: Path) -> None:
    """nbformat's import of jsonschema would otherwise build rfc3987_syntax's parser (about 0.9 s of a
    1.6 s ``build --check``), for a format no notebook schema checks. The command still validates:
    a cell without its source is refused."""
    probe = ("import sys\nfrom backprop_lib.cli import main\ncode = main(sys.argv[1:])\n"
             "print(code, sys.modules.get('rfc3987_syntax', 'never imported'))")
    run = subprocess.run([sys.executable, "-c", probe, "build", "--check", "--root", str(course)],
                         capture_output=True, text=True, timeout=120)
    assert run.stdout.splitlines()[-1] == "1 None", run.stdout + run.stderr  # stale: never built
    broken = json.loads((course / "lessons" / "01_first.ipynb").read_text())
    del broken["cells"][1]["source"]
    (course / "lessons" / "01_first.ipynb").write_text(json.dumps(broken))
    run = subprocess.run([sys.executable, "-c", probe, "build", "--check", "--root", str(course)],
                         capture_output=True, text=True, timeout=120)
    assert run.stdout.splitlines()[-1] == "1 None", run.stdout + run.stderr
    assert "01_first.ipynb: not a valid notebook (malformed cells)" in run.stderr, run.stderr


def test_the_test_processes_skip_the_iri_grammar_too() -> None:
    """conftest.py at the root keeps it out of every pytest process of the suite (see there)."""
    assert "nbformat" in sys.modules and sys.modules.get("rfc3987_syntax") is None
