"""The student release: what a graded class receives, and ``check`` judged from stored data there.

A release is written once for the module. Its contents are read as files; its ``check`` is compared
with the full course's on the same answers, in this process (every question, from the data) and
installed in a fresh virtual environment (exercise notebooks run as scripts, on right answers,
known mistakes and stubs).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from backprop_lib.cli import main
from backprop_lib.course.release import DATA, write_student_release
from backprop_lib.grading import QUESTIONS, public
from backprop_lib.grading.ex06 import _accept_training, backward, softmax_cross_entropy
from backprop_lib.grading.judge import judge
from backprop_lib.grading.plain import to_plain
from backprop_lib.grading.probes.ex06 import dataset, forward
from backprop_lib.grading.protocol import decode_report
from backprop_lib.grading.spec import VISIBLE_SEED
from notebook_text import ROOT, as_text

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
# Answers a lesson shows word for word: (master, first line of the answer) -> the lesson.
TAUGHT: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("release") / "course"
    write_student_release(ROOT, target)
    return target


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _lines_of(path: Path) -> list[str]:
    """A file's stripped lines; a notebook's are those of its cells (its JSON escapes them)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        text = "\n".join(as_text(cell["source"]) for cell in json.loads(text)["cells"])
    return [line.strip() for line in text.splitlines()]


def _solution_regions(master: Path) -> list[list[str]]:
    """The stripped lines between the markers of each solution region of a master."""
    regions, inside = [], None
    for line in _lines_of(master):
        if line.startswith(BEGIN):
            inside = []
        elif line.startswith(END):
            regions.append([s for s in inside if s])
            inside = None
        elif inside is not None:
            inside.append(line)
    return regions


# --- what the release holds ----------------------------------------------------------------------------------


def test_the_release_holds_lessons_exercises_the_library_and_a_readme(release: Path) -> None:
    assert sorted(p.name for p in release.iterdir()) == ["README.md", "backprop_lib", "exercises", "lessons",
                                                         "pyproject.toml"]
    for folder in ("lessons", "exercises"):
        assert sorted(p.name for p in (release / folder).glob("*.ipynb")) == sorted(
            p.name for p in (ROOT / folder).glob("*.ipynb"))
    readme = (release / "README.md").read_text()
    assert "pip install -e ." in readme and "backprop-course lab" in readme and "check(" in readme
    assert "solutions" not in readme and "backprop-course grade" not in readme
    assert "[tool.pytest.ini_options]" not in (release / "pyproject.toml").read_text()


def test_the_release_has_no_judging_half(release: Path) -> None:
    library = release / "backprop_lib"
    grading = sorted(p.name for p in (library / "grading").iterdir())
    assert grading == ["__init__.py", "checking.py", "judge.py", "plain.py", "probe.py", "probes", "protocol.py",
                       "public.py", "spec.py", "visible.json"]
    assert not (library / "course" / "build.py").exists() and not (library / "course" / "release.py").exists()
    names = {p.name for p in _files(release)}
    assert not any(n.startswith("ex") and n[2:4].isdigit() and n.endswith(".py") for n in names - {
        p.name for p in (library / "grading" / "probes").iterdir()})
    assert not any(p.suffix == ".pyc" or "__pycache__" in p.parts for p in _files(release))


def test_no_answer_of_any_master_occurs_in_the_release(release: Path) -> None:
    """Every solution region is absent. A one-line answer may be a line a lesson teaches or the
    library's own implementation holds (the library is the course's; calling it earns nothing);
    the lessons' other answers are listed in TAUGHT."""
    files = {p: "\n" + "\n".join(_lines_of(p)) + "\n" for p in _files(release)
             if p.suffix in (".py", ".ipynb", ".md", ".json", ".toml")}
    masters = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    regions = [(m.name, r) for m in masters for r in _solution_regions(m)]
    assert len(regions) >= 25
    for name, region in regions:
        text = "\n" + "\n".join(region) + "\n"
        found = [p.relative_to(release) for p, content in files.items() if text in content]
        if len(region) == 1:
            found = [p for p in found if p.parts[0] != "lessons" and p.parts[:2] != ("backprop_lib", p.name)
                     and p.parts[:2] not in {("backprop_lib", "viz"), ("backprop_lib", "widgets.py")}]
        found = [p for p in found if TAUGHT.get((name, region[0])) != p.as_posix()]
        assert not found, f"the answer of {name} ({region[0]}...) is in {found}"


# --- check() from data gives the course's feedback --------------------------------------------------------------


def _feedback(question, outcomes: list[dict]) -> tuple:
    cases = question.visible_cases()
    result = judge(question, cases, decode_report({"outcomes": outcomes}, len(cases)), VISIBLE_SEED)
    return result.status, result.score, result.feedback, result.mistakes


def _answers(question, wrong=None) -> list[dict]:
    """Outcomes of an answer that gives ``wrong(inputs)`` where it can, else the right output."""
    outcomes = []
    for case in question.visible_cases():
        try:
            value = (wrong or question.reference)(case.judged)
        except Exception:
            value = question.reference(case.judged)
        outcomes.append({"value": to_plain(value)})
    return outcomes


def test_the_data_reads_the_mistakes_that_spec_makes() -> None:
    """The release reads a mistake's wrong answer, tolerances and exception type where spec keeps them."""
    from backprop_lib.grading.spec import Mistake

    wrong = lambda inputs: 1.0  # noqa: E731
    answer = Mistake.answer("name", "fix", wrong, rtol=1e-3, atol=1e-4)
    assert (answer.kind, answer.wrong, answer.rtol, answer.atol) == ("answer", wrong, 1e-3, 1e-4)
    raises = Mistake.raises("name", "fix", "KeyError")
    assert (raises.kind, raises.error) == ("raises", "KeyError")
    assert Mistake("name", "fix", lambda outcome, inputs: True).kind == ""


@pytest.fixture(scope="module")
def stored(release: Path) -> dict:
    return public.questions(json.loads((release / DATA).read_text()))


@pytest.mark.parametrize("qid", sorted(QUESTIONS))
def test_check_from_data_says_what_the_course_says(qid: str, stored: dict) -> None:
    """Right answers, stubs, each stored mistake: the same status, score, feedback and mistakes named.

    Where the course also names a mistake that data cannot describe (a detector of its own), the
    release still names the stored one."""
    full, data = QUESTIONS[qid], stored[qid]
    assert [c.name for c in data.visible_cases()] == [c.name for c in full.visible_cases()]
    stub = [{"error": ["NotImplementedError", "replace this line with your answer"]}] * len(data.visible_cases())
    assert _feedback(data, stub) == _feedback(full, stub)
    if full.accept is None:
        right = _feedback(data, _answers(full))
        assert right[0] == "passed" and right == _feedback(full, _answers(full))
    names = {m.name for m in data.mistakes}
    for mistake in full.mistakes:
        if mistake.kind == "raises":
            outcomes = [{"error": [mistake.error, "a message"]}] * len(stub)
        elif mistake.kind == "answer":
            outcomes = _answers(full, mistake.wrong)
        else:
            assert mistake.name not in names or any(m.name == mistake.name for m in data.mistakes)
            continue
        expected, got = _feedback(full, outcomes), _feedback(data, outcomes)
        if set(expected[3]) <= names:
            assert got == expected, mistake.name
        else:
            assert mistake.name in got[3], mistake.name


def _trained(inputs: dict, hidden: int, steps: int, lr: float) -> dict:
    """The lesson's recipe: full-batch gradient descent on the case's data set."""
    X, y = dataset(inputs["dataset"], inputs["seed"])
    rng = np.random.default_rng(0)
    params = {"W1": 0.5 * rng.standard_normal((X.shape[1], hidden)), "b1": np.zeros(hidden),
              "W2": 0.5 * rng.standard_normal((hidden, int(y.max()) + 1)), "b2": np.zeros(int(y.max()) + 1)}
    for _ in range(steps):
        scores, cache = forward(params, X)
        grads = backward(params, cache, softmax_cross_entropy(scores, y)[1])
        params = {k: params[k] - lr * grads[k] for k in params}
    return params


def test_the_held_out_rule_gives_the_autograders_verdicts(stored: dict) -> None:
    case = stored["06.train"].visible_cases()[0]
    inputs, target = dict(case.judged), stored["06.train"].reference(case.judged)
    good = _trained(inputs, hidden=50, steps=500, lr=2.0)
    answers = [good, _trained(inputs, hidden=10, steps=40, lr=1.0), {k: np.zeros_like(v) for k, v in good.items()},
               {**good, "W2": good["W2"].T}, {**good, "b1": np.full_like(good["b1"], np.nan)}, {"W1": good["W1"]},
               [1, 2]]
    verdicts = [public.ACCEPT_RULES["held-out accuracy"](a, inputs, target) for a in answers]
    assert verdicts == [_accept_training(a, inputs) for a in answers]
    assert verdicts[0] is None and all(verdicts[1:])


# --- the command ------------------------------------------------------------------------------------------------


def test_release_refuses_a_folder_in_use_with_one_line(tmp_path: Path, capsys) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    assert main(["release", "student", str(target), "--root", str(ROOT)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    for inside in (ROOT, ROOT / "lessons", ROOT / "new-release", ROOT.parent):
        assert main(["release", "student", str(inside), "--root", str(ROOT)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "course folder" in err
    (target / "solutions").mkdir()
    assert main(["release", "student", str(target), "--root", str(ROOT), "--force"]) == 2
    assert "solutions/" in capsys.readouterr().err
    assert not (ROOT / "new-release").exists()


def test_release_with_force_replaces_the_release_and_keeps_other_files(release: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "again"
    (target / "exercises").mkdir(parents=True)
    (target / "exercises" / "99_stale.ipynb").write_text("{}")
    (target / "notes.txt").write_text("mine")
    assert main(["release", "student", str(target), "--root", str(ROOT), "--force"]) == 0
    assert "wrote the student release" in capsys.readouterr().out
    assert (target / "notes.txt").read_text() == "mine" and not (target / "exercises" / "99_stale.ipynb").exists()
    assert [p.relative_to(target) for p in _files(target) if p.name != "notes.txt"] == [
        p.relative_to(release) for p in _files(release)]


# --- the release installed in a virtual environment --------------------------------------------------------------

# Runs each job's code cells in a fresh __main__, as a kernel would, and keeps what each check() cell
# shows. Any exception escapes: a traceback fails the test.
RUNNER = textwrap.dedent(r'''
    import importlib, json, pkgutil, re, sys, types
    import backprop_lib
    import backprop_lib.grading as grading

    CHECK = re.compile(r'check\("[^"]+"\)')
    jobs = json.loads(open(sys.argv[1]).read())
    out = {"file": backprop_lib.__file__, "student release": grading.student_release(), "hidden": []}
    for name in ("backprop_lib.grading.ex01", "backprop_lib.grading.registry", "backprop_lib.grading.runner",
                 "backprop_lib.course.build"):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            out["hidden"].append(name)
    if out["student release"]:
        for module in pkgutil.walk_packages(backprop_lib.__path__, "backprop_lib."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    for label, cells in jobs.items():
        main = sys.modules["__main__"] = types.ModuleType("__main__")
        shown = out[label] = []
        for index, source in enumerate(cells):
            is_check = CHECK.fullmatch(source.strip())
            result = eval(compile(source, f"<cell {index}>", "eval" if is_check else "exec"), vars(main))
            if is_check:
                shown.append(repr(result))
    open(sys.argv[2], "w").write(json.dumps(out))
''')

MISTAKES_01 = {  # a line of the master's answer -> the same line with a known mistake
    "return (f(x + h) - f(x - h)) / (2 * h)": "return (f(x + h) - f(x)) / h",
    'edges = {("a", "c"): 1.0, ("b", "c"): 1.0, ("b", "d"): 1.0, ("c", "e"): d, ("d", "e"): c}':
        'edges = {("a", "c"): 1.0, ("b", "c"): 1.0, ("b", "d"): 1.0, ("c", "e"): c, ("d", "e"): d}',
    "return df(x) * g(x) + f(x) * dg(x)": "return df(x) * dg(x)",
}


def _code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return [as_text(c["source"]) for c in cells
            if c["cell_type"] == "code" and not as_text(c["source"]).startswith("### INSTRUCTOR ONLY")]


def _jobs(release: Path) -> dict[str, list[str]]:
    jobs = {}
    for master in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        jobs[f"{master.name[:2]} right"] = _code_cells(master)
        jobs[f"{master.name[:2]} stub"] = _code_cells(release / "exercises" / master.name)
    wrong = jobs["01 right"]
    for right, mistake in MISTAKES_01.items():
        assert any(right in cell for cell in wrong), f"solutions/01 no longer says {right}"
        wrong = [cell.replace(right, mistake) for cell in wrong]
    jobs["01 mistakes"] = wrong
    return jobs


def _run(python: str, jobs: Path, out: Path, cwd: Path) -> dict:
    script = cwd / "run_cells.py"
    script.write_text(RUNNER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run([python, str(script), str(jobs), str(out)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_the_installed_release_checks_like_the_course_and_hides_the_references(release: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-e", str(release)], check=True, capture_output=True,
                   timeout=120)
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps(_jobs(release)))
    work = tmp_path / "work"  # no backprop_lib beside the script: the import must find the installed one
    work.mkdir()
    student = _run(python, jobs, tmp_path / "student.json", work)
    course = _run(sys.executable, jobs, tmp_path / "course.json", work)

    assert Path(student["file"]).resolve() == (release / "backprop_lib" / "__init__.py").resolve()
    assert Path(course["file"]).resolve() == (ROOT / "backprop_lib" / "__init__.py").resolve()
    assert student["student release"] and not course["student release"]
    assert len(student["hidden"]) == 4 and course["hidden"] == []
    for label in _jobs(release):
        assert student[label] == course[label], label
        shown = student[label]
        assert shown, label
        if label.endswith("right"):
            assert all(line.startswith("[ok] ") for line in shown), shown
        elif label.endswith("stub"):
            assert all(line.startswith("[not implemented] ") and line.endswith("not implemented yet")
                       for line in shown), shown
    mistakes = student["01 mistakes"]
    assert all(line.startswith("[failed] ") for line in mistakes)
    for name, line in zip(("one-sided difference", "product rule applied to the wrong factor",
                           "product of the derivatives"), mistakes):
        assert name in line

    command = venv / "bin" / "backprop-course"
    for args in (["grade", "x.ipynb"], ["build", "--check"], ["autograder", "gradescope", "-o", "x.zip"],
                 ["export", "g.db"], ["release", "student", "out"]):
        done = subprocess.run([str(command), *args], cwd=work, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and done.stdout == "", args
        assert done.stderr.count("\n") == 1 and "student release" in done.stderr, done.stderr
