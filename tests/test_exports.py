"""Grades into a learning management system: Canvas's and Moodle's import files, through a roster
that names each student as the LMS does; nobody left out without a word."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from backprop_lib.grading import gradebook
from backprop_lib.grading.exports import RosterError, export_canvas, export_moodle, read_roster
from backprop_lib.grading.registry import EXERCISES

ROSTER = ("name,folder,id,sis_user_id,sis_login_id,section,email,notes\n"
          "\"Lovelace, Ada\",ada-l,s001,SIS1,ada@uni,A,ada@uni.example,likes maths\n"
          "\"Babbage, Charles\",cb,s002,SIS2,cb@uni,B,cb@uni.example,\n"
          "\"Hopper, Grace\",gh,s003,SIS3,gh@uni,A,gh@uni.example,never submitted\n")


def _result(student: str, exercise: str, score: float) -> dict:
    max_score = EXERCISES[exercise].max_score
    return {"student": student, "exercise": exercise, "score": score, "max_score": max_score, "seed": 1,
            "questions": [{"id": f"{exercise}.q", "score": score, "max_score": max_score, "status": "failed",
                           "feedback": "", "seed": 1, "cases_passed": 1, "cases_total": 2, "mistakes": []}]}


@pytest.fixture
def graded(tmp_path: Path) -> tuple[Path, Path]:
    """A gradebook in which ada (graded under her roster id) and cb (graded under his folder name,
    without a roster) have grades, and 'stranger' is not in the roster; and the roster."""
    db, roster = tmp_path / "grades.db", tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    with gradebook.connect(db) as book:
        for student, exercise, score in (("s001", "01", 8), ("s001", "02", 10.5), ("cb", "01", 3.5),
                                         ("stranger", "02", 12)):
            gradebook.record(book, _result(student, exercise, score), f"{student}{exercise}".ljust(64, "0"),
                             f"{student}/{exercise}.ipynb")
    return db, roster


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_canvas_gets_its_identity_columns_points_and_one_column_per_exercise(graded, tmp_path):
    db, roster = graded
    out = tmp_path / "canvas.csv"
    done = export_canvas(db, roster, out)
    e01, e02 = (f"Exercise {n}: {EXERCISES[n].title}" for n in ("01", "02"))
    assert _rows(out) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", e01, e02],
        ["    Points Possible", "", "", "", "", f"{EXERCISES['01'].max_score}", f"{EXERCISES['02'].max_score}"],
        ["Lovelace, Ada", "", "SIS1", "ada@uni", "A", "8", "10.5"],
        ["Babbage, Charles", "", "SIS2", "cb@uni", "B", "3.5", ""],
        ["Hopper, Grace", "", "SIS3", "gh@uni", "A", "", ""],
    ]
    assert (done.rows, done.unlisted, done.without_grades) == (3, ["stranger"], ["s003"])


def test_moodle_gets_an_identifier_column_and_one_grade_column_per_exercise(graded, tmp_path):
    db, roster = graded
    out = tmp_path / "moodle.csv"
    export_moodle(db, roster, out)
    rows = _rows(out)
    assert rows[0][:2] == ["ID number", "Email address"] and len(rows[0]) == 4
    assert rows[1:] == [["s001", "ada@uni.example", "8", "10.5"], ["s002", "cb@uni.example", "3.5", ""],
                        ["s003", "gh@uni.example", "", ""]]
    roster.write_text("folder,id\nada-l,s001\n")
    export_moodle(db, roster, out)
    assert _rows(out)[0][0] == "ID number" and "Email address" not in _rows(out)[0]


def test_the_command_lists_whom_it_could_not_place_and_refuses_without_a_roster(graded, tmp_path):
    db, roster = graded
    out = tmp_path / "canvas.csv"
    run = subprocess.run([sys.executable, "-m", "backprop_lib", "export", str(db), "--canvas", str(out),
                          "--moodle", str(tmp_path / "moodle.csv"), "--roster", str(roster)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "wrote 3 students and 2 exercises" in run.stdout
    assert "graded but not in the roster, so not in" in run.stderr and "stranger" in run.stderr
    assert "in the roster without a graded submission" in run.stderr and "s003" in run.stderr
    bare = subprocess.run([sys.executable, "-m", "backprop_lib", "export", str(db), "--canvas", str(out)],
                          capture_output=True, text=True)
    assert bare.returncode == 2 and "need --roster" in bare.stderr and "Traceback" not in bare.stderr
    nothing = subprocess.run([sys.executable, "-m", "backprop_lib", "export", str(db)], capture_output=True, text=True)
    assert nothing.returncode == 2 and "--csv FILE, --canvas FILE or --moodle FILE" in nothing.stderr


@pytest.mark.parametrize(("text", "words"), [
    ("folder,student\nada,s1\n", "missing: id"), ("folder,id\n", "one row per student"),
    ("folder,id\nada,s1\nada,s2\n", "folder 'ada' is listed twice"), ("folder,id\nada,s1\nbob,s1\n", "id 's1' is listed twice"),
    ("folder,id\n,s1\n", "empty folder or id"), (b"\xff\xfe\x00bad", "not a readable CSV roster"),
])
def test_a_bad_roster_gets_one_clear_line(tmp_path, text, words):
    roster = tmp_path / "roster.csv"
    roster.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(RosterError, match=words):
        read_roster(roster)
