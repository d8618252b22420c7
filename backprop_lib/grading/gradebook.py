"""The gradebook: one SQLite file for a class, safe to interrupt and to share between batches.

Each submission is recorded in one transaction, keyed by (student, exercise) and by the hash of
the file's content: a batch killed at any moment resumes where it stopped, a submission graded
before with the same content is skipped, and a changed one replaces its older grade. WAL mode and
a busy timeout let two batches write the same gradebook at once; opening a new gradebook retries
the one step the busy timeout does not cover.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..course.notebooks import write_whole

SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    student    TEXT NOT NULL,
    exercise   TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    path       TEXT NOT NULL,
    score      REAL NOT NULL,
    max_score  REAL NOT NULL,
    graded_at  TEXT NOT NULL,
    result     TEXT NOT NULL,
    PRIMARY KEY (student, exercise)
);
CREATE TABLE IF NOT EXISTS questions (
    student       TEXT NOT NULL,
    exercise      TEXT NOT NULL,
    question      TEXT NOT NULL,
    score         REAL NOT NULL,
    max_score     REAL NOT NULL,
    status        TEXT NOT NULL,
    cases_passed  INTEGER,
    cases_total   INTEGER,
    mistakes      TEXT NOT NULL,
    PRIMARY KEY (student, exercise, question)
);
CREATE TABLE IF NOT EXISTS errors (
    path       TEXT PRIMARY KEY,
    sha256     TEXT NOT NULL,
    message    TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
"""


def content_hash(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


BUSY_SECONDS = 60


@contextmanager
def connect(path: str | os.PathLike) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(str(path), timeout=BUSY_SECONDS, isolation_level=None)
    try:
        _prepare(db)
        yield db
    finally:
        db.close()


def _prepare(db: sqlite3.Connection) -> None:
    """WAL mode and the tables. When several processes open a new gradebook at the same moment,
    switching it to WAL can fail at once with "database is locked" (SQLite does not wait there, to
    avoid a deadlock), so that step is retried, after a short random pause, up to the busy timeout."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            _migrate(db)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.01, 0.05))


def _question_rows(result: dict[str, Any]) -> list[tuple]:
    """One row of the questions table per question of a result (results graded before partial credit
    have no test counts: those stay NULL)."""
    return [(result["student"], result["exercise"], q["id"], q["score"], q["max_score"], q["status"],
             q.get("cases_passed"), q.get("cases_total"), json.dumps(list(q.get("mistakes", []))))
            for q in result["questions"]]


def _migrate(db: sqlite3.Connection) -> None:
    """A gradebook written before the questions table existed gets it filled from its stored results,
    once, in one transaction (a second process doing the same at once finds it done)."""
    if db.execute("SELECT 1 FROM grades WHERE NOT EXISTS (SELECT 1 FROM questions q WHERE "
                  "q.student = grades.student AND q.exercise = grades.exercise) LIMIT 1").fetchone() is None:
        return
    with closing(db.cursor()) as cur:
        cur.execute("BEGIN IMMEDIATE")
        try:
            missing = cur.execute("SELECT result FROM grades WHERE NOT EXISTS (SELECT 1 FROM questions q WHERE "
                                  "q.student = grades.student AND q.exercise = grades.exercise)").fetchall()
            for (result,) in missing:
                cur.executemany("INSERT OR REPLACE INTO questions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                _question_rows(json.loads(result)))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise


def already_graded(db: sqlite3.Connection, student: str, exercise: str, sha256: str) -> bool:
    row = db.execute("SELECT sha256 FROM grades WHERE student = ? AND exercise = ?", (student, exercise)).fetchone()
    return row is not None and row[0] == sha256


def error_recorded(db: sqlite3.Connection, path: str, sha256: str) -> bool:
    row = db.execute("SELECT sha256 FROM errors WHERE path = ?", (path,)).fetchone()
    return row is not None and row[0] == sha256


def record(db: sqlite3.Connection, result: dict[str, Any], sha256: str, path: str) -> None:
    """Store one graded submission, replacing an older grade of the same student and exercise."""
    with closing(db.cursor()) as cur:
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute(
                "INSERT OR REPLACE INTO grades VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (result["student"], result["exercise"], sha256, path, result["score"], result["max_score"],
                 now(), json.dumps(result)))
            cur.execute("DELETE FROM questions WHERE student = ? AND exercise = ?", (result["student"], result["exercise"]))
            cur.executemany("INSERT INTO questions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", _question_rows(result))
            cur.execute("DELETE FROM errors WHERE path = ?", (path,))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise


def record_error(db: sqlite3.Connection, path: str, sha256: str, message: str) -> None:
    with closing(db.cursor()) as cur:
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute("INSERT OR REPLACE INTO errors VALUES (?, ?, ?, ?)", (path, sha256, message, now()))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise


def export_csv(db_path: str | os.PathLike, csv_path: str | os.PathLike) -> int:
    """One row per (student, exercise) with, per question, its score and its tests passed ("3/4");
    returns the number of rows."""
    if not Path(db_path).is_file():
        raise FileNotFoundError(f"{db_path}: no such gradebook")
    with connect(db_path) as db:
        rows = db.execute("SELECT student, exercise, score, max_score, graded_at FROM grades "
                          "ORDER BY student, exercise").fetchall()
        per_question: dict[tuple[str, str], dict[str, tuple]] = {}
        for student, exercise, qid, score, passed, total in db.execute(
                "SELECT student, exercise, question, score, cases_passed, cases_total FROM questions"):
            per_question.setdefault((student, exercise), {})[qid] = (score, passed, total)
    question_ids = sorted({qid for questions in per_question.values() for qid in questions})
    table = [["student", "exercise", "score", "max_score", "graded_at", *question_ids,
              *(f"{q} tests" for q in question_ids)]]
    for student, exercise, score, max_score, graded_at in rows:
        questions = per_question.get((student, exercise), {})
        table.append([student, exercise, f"{score:g}", f"{max_score:g}", graded_at,
                      *(f"{questions[q][0]:g}" if q in questions else "" for q in question_ids),
                      *(f"{questions[q][1]}/{questions[q][2]}" if q in questions and questions[q][2]
                        else "" for q in question_ids)])
    write_csv(csv_path, table)
    return len(rows)


def write_csv(path: str | os.PathLike, rows: list[list[str]]) -> None:
    """Write ``rows`` as a CSV file, whole or not at all."""
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    write_whole(path, text.getvalue())
