"""Batches into a gradebook: resumable after SIGKILL, safe when two run at once, exported to CSV."""
from __future__ import annotations

import csv
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from backprop_lib.grading import cgroups, find_question, gradebook
from backprop_lib.grading.sandbox import isolation_level
from notebook_text import find_notebook


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backprop_lib", *args], capture_output=True, text=True, timeout=300)


def killable_grader(tmp_path: Path, *args: str, **popen) -> subprocess.Popen:
    """``backprop-course grade ARGS`` as a process the test will SIGKILL. What a killed grader cannot
    clean up (its copy of the sandbox's library, its sandbox's folder) stays in a temporary folder of
    the test's own rather than in the machine's."""
    scratch = tmp_path / "grader-tmp"
    scratch.mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "backprop_lib", "grade", *args],
                            env={**os.environ, "TMPDIR": str(scratch)}, **popen)


def make_class(root: Path, students: int, solved: int) -> list[str]:
    """``students`` folders, each with an exercise-01 submission; the first ``solved`` are complete."""
    master, blank = find_notebook("solutions", "01"), find_notebook("exercises", "01")
    paths = []
    for i in range(students):
        folder = root / f"student{i:02d}"
        folder.mkdir(parents=True)
        target = folder / "01_computational_graphs.ipynb"
        shutil.copy(master if i < solved else blank, target)
        paths.append(str(target))
    return paths


def rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT student, exercise, score, max_score FROM grades ORDER BY student").fetchall()


def test_a_batch_grades_skips_replaces_and_records_bad_files(tmp_path):
    paths = make_class(tmp_path, 3, 2)
    bad = tmp_path / "student99" / "01_computational_graphs.ipynb"
    bad.parent.mkdir()
    bad.write_text("not json")
    db = tmp_path / "grades.db"
    done = cli("grade", *paths, str(bad), "--gradebook", str(db), "--jobs", "2", "--feedback", str(tmp_path / "fb"))
    assert done.returncode == 0, done.stderr
    assert "graded 3, skipped 0" in done.stdout and "errors 1" in done.stdout
    assert "not a notebook" in done.stderr
    assert rows(db) == [("student00", "01", 8.0, 8.0), ("student01", "01", 8.0, 8.0), ("student02", "01", 0.0, 8.0)]
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM errors").fetchone()[0] == 1
    feedback = (tmp_path / "fb" / "student02_01.txt").read_text()
    assert "not implemented yet" in feedback
    again = cli("grade", *paths, "--gradebook", str(db))
    assert "graded 0, skipped 3" in again.stdout
    shutil.copy(find_notebook("solutions", "01"), paths[2])  # student02 resubmits a better notebook
    third = cli("grade", *paths, "--gradebook", str(db))
    assert "graded 1, skipped 2" in third.stdout
    assert rows(db)[2] == ("student02", "01", 8.0, 8.0)


def test_export_writes_one_row_per_student_and_exercise_with_a_column_per_question(tmp_path):
    paths = make_class(tmp_path, 2, 1)
    db, out = tmp_path / "grades.db", tmp_path / "grades.csv"
    cli("grade", *paths, "--gradebook", str(db))
    done = cli("export", str(db), "--csv", str(out))
    assert done.returncode == 0 and "wrote 2 rows" in done.stdout
    with open(out, newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["student"] for r in table] == ["student00", "student01"]
    assert table[0]["01.numerical_derivative"] == "3" and table[1]["01.numerical_derivative"] == "0"
    assert {"student", "exercise", "score", "max_score", "graded_at"} <= set(table[0])
    tests = find_question("01.numerical_derivative").draw_cases(0)
    assert table[0]["01.numerical_derivative tests"] == f"{len(tests)}/{len(tests)}"
    assert table[1]["01.numerical_derivative tests"] == f"0/{len(tests)}"
    missing = cli("export", str(tmp_path / "none.db"), "--csv", str(out))
    assert missing.returncode == 1 and "no such gradebook" in missing.stderr


def _live(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "zombie" not in next((line for line in status.splitlines() if line.startswith("State:")), "")


def descendants(root: int) -> list[int]:
    """The live processes below ``root``: the grader's sandboxes and everything they started."""
    return [pid for pid in cgroups.descendants(root)[1:] if _live(pid)]


def assert_all_gone(pids: list[int], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while any(_live(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in pids if _live(pid)]
    for pid in left:  # do not leave them behind for the rest of the suite
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, f"{len(left)} grading processes outlived their grader"


def test_a_batch_killed_with_sigkill_resumes_with_nothing_lost_or_duplicated(tmp_path):
    paths = make_class(tmp_path, 16, 16)
    db = tmp_path / "grades.db"
    proc = killable_grader(tmp_path, *paths, "--gradebook", str(db), "--jobs", "1", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if db.exists():
            try:
                if len(rows(db)) >= 2:
                    break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    below = descendants(proc.pid)
    assert below, "the batch runs no sandbox"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert_all_gone(below)  # its sandboxes, their workers and the submission's processes die with it
    before = len(rows(db))
    assert 2 <= before < 16
    done = cli("grade", *paths, "--gradebook", str(db))
    assert f"graded {16 - before}, skipped {before}" in done.stdout
    assert [r[0] for r in rows(db)] == [f"student{i:02d}" for i in range(16)]
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("into_gradebook", [False, True], ids=["one-notebook", "batch"])
def test_killing_the_grader_stops_a_student_cell_that_sleeps_forever(tmp_path, into_gradebook):
    (path,) = make_class(tmp_path, 1, 1)
    nb = json.loads(Path(path).read_text())
    code = next(cell for cell in nb["cells"] if cell["cell_type"] == "code")
    code["source"] = "import time\ntime.sleep(10_000)\n" + "".join(code["source"])
    Path(path).write_text(json.dumps(nb))
    extra = ["--gradebook", str(tmp_path / "grades.db")] if into_gradebook else []
    proc = killable_grader(tmp_path, path, *extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    # bubblewrap, the worker, the child and process 1 of its namespace (no bubblewrap: one fewer)
    while len(descendants(proc.pid)) < (4 if isolation_level()[0] == "namespaces" else 3):
        assert time.monotonic() < deadline, "the grader never started the submission's child"
        time.sleep(0.05)
    time.sleep(0.5)  # the child is now in the cell that sleeps
    below = descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert_all_gone(below)


def _open_gradebook(path: str, barrier, failures) -> None:
    barrier.wait()
    try:
        with gradebook.connect(path):
            pass
    except Exception as exc:  # reported to the test, which fails with it
        failures.put(repr(exc))


def test_batches_that_open_a_new_gradebook_at_the_same_moment_all_get_it(tmp_path):
    # Creating the file and switching it to WAL mode can meet SQLITE_BUSY that the busy timeout
    # does not cover; eight openers released at once, twenty times over, used to hit it.
    context = multiprocessing.get_context("fork")
    failures = context.Queue()
    for round_ in range(20):
        path = str(tmp_path / f"grades{round_}.db")
        barrier = context.Barrier(8)
        openers = [context.Process(target=_open_gradebook, args=(path, barrier, failures)) for _ in range(8)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(120)
        assert all(opener.exitcode == 0 for opener in openers)
    assert failures.empty(), failures.get()


def test_two_batches_writing_one_gradebook_at_once(tmp_path):
    paths = make_class(tmp_path, 12, 6)
    db = tmp_path / "grades.db"
    cmd = [sys.executable, "-m", "backprop_lib", "grade", "--gradebook", str(db), "--jobs", "1", "--json"]
    first = subprocess.Popen([*cmd, *paths[:8]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen([*cmd, *paths[4:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finished = [p.communicate(timeout=300) for p in (first, second)]
    for process, (out, err) in zip((first, second), finished):
        assert process.returncode == 0 and out, err
    outs = [json.loads(out) for out, _ in finished]
    assert all(o["errors"] == 0 for o in outs)
    assert [r[0] for r in rows(db)] == [f"student{i:02d}" for i in range(12)]
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("flag", ["--student"])
def test_the_student_id_can_be_given(tmp_path, flag):
    (path,) = make_class(tmp_path, 1, 1)
    done = cli("grade", path, flag, "ada", "--json")
    assert json.loads(done.stdout)["student"] == "ada"


def test_through_the_command_line_every_solution_earns_full_marks_and_every_exercise_zero():
    root = Path(__file__).resolve().parent.parent
    for folder, full in (("solutions", True), ("exercises", False)):
        notebooks = sorted(str(p) for p in (root / folder).glob("[0-9][0-9]_*.ipynb"))
        done = cli("grade", *notebooks, "--json")
        assert done.returncode == 0, done.stderr
        results = json.loads(done.stdout)
        assert [r["exercise"] for r in results] == [f"{n:02d}" for n in range(1, 9)]
        for r in results:
            assert r["score"] == (r["max_score"] if full else 0), (folder, r["exercise"])


def test_a_gradebook_written_before_per_question_rows_is_migrated_when_opened(tmp_path):
    """An older gradebook has only the grades table: opening it fills the questions table from the
    stored results, and results without test counts export with those cells empty."""
    db_path = tmp_path / "old.db"
    old = {"student": "ada", "exercise": "01", "score": 3.0, "max_score": 8, "questions": [
        {"id": "01.numerical_derivative", "score": 3.0, "max_score": 3, "status": "passed", "feedback": "", "seed": 1},
        {"id": "01.product_rule", "score": 0.0, "max_score": 5, "status": "failed", "feedback": "", "seed": 2}]}
    with closing(sqlite3.connect(db_path)) as db:
        db.executescript(gradebook.SCHEMA.split("CREATE TABLE IF NOT EXISTS questions")[0])
        db.execute("INSERT INTO grades VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   ("ada", "01", "0" * 64, "ada/01.ipynb", 3.0, 8.0, "2026-01-01T00:00:00+00:00", json.dumps(old)))
        db.commit()
    with gradebook.connect(db_path) as db:
        rows = db.execute("SELECT question, score, status, cases_passed, mistakes FROM questions ORDER BY question").fetchall()
    assert rows == [("01.numerical_derivative", 3.0, "passed", None, "[]"), ("01.product_rule", 0.0, "failed", None, "[]")]
    out = tmp_path / "grades.csv"
    assert gradebook.export_csv(db_path, out) == 1
    with open(out, newline="") as f:
        row = next(csv.DictReader(f))
    assert row["01.product_rule"] == "0" and row["01.product_rule tests"] == ""
