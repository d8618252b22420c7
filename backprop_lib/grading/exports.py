"""Grades out of the gradebook and into a learning management system (Canvas, Moodle).

A roster ties the names the gradebook knows (submission folders, or the ids they were graded
under) to the identities an LMS knows. It is a CSV file with a header row holding at least
``folder`` (the submission folder's name) and ``id``, and optionally ``name``, ``sis_user_id``,
``sis_login_id``, ``section`` and ``email``; other columns are ignored. The same file serves
``grade --roster`` (folder -> id) and the exports here.

Nobody is dropped without a word: students in the gradebook whom the roster does not list, and
roster entries without any graded submission, are reported by ``Export.unlisted`` and
``Export.without_grades`` (the command prints both). Those without grades keep empty cells, which
both systems read as "no grade", not zero.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import gradebook
from .registry import EXERCISES

REQUIRED = ("folder", "id")
OPTIONAL = ("name", "sis_user_id", "sis_login_id", "section", "email")
# Canvas reads its import file by these headers; the second row gives each new assignment's points.
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS = "    Points Possible"


class RosterError(Exception):
    """A roster that cannot be used; one line for the user."""


@dataclass(frozen=True)
class Person:
    folder: str
    id: str
    name: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    email: str = ""


def read_roster(path: str | os.PathLike) -> list[Person]:
    """The roster's people, in its order; a clear ``RosterError`` for anything unusable."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            rows = list(reader)
    except FileNotFoundError:
        raise RosterError(f"{path}: no such roster") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RosterError(f"{path}: not a readable CSV roster ({exc})") from None
    missing = [c for c in REQUIRED if c not in header]
    if not rows or missing:
        raise RosterError(f"{path}: a roster needs a header row with the columns folder and id"
                          + (f" (missing: {', '.join(missing)})" if missing else " and one row per student"))
    people: list[Person] = []
    folders: dict[str, int] = {}
    ids: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        values = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in row.items()}
        person = Person(**{k: values.get(k, "") for k in (*REQUIRED, *OPTIONAL)})
        if not person.folder or not person.id:
            raise RosterError(f"{path}, line {line}: an empty folder or id")
        if person.folder in folders:
            raise RosterError(f"{path}, line {line}: folder {person.folder!r} is listed twice "
                              f"(first on line {folders[person.folder]})")
        if person.id in ids:
            raise RosterError(f"{path}, line {line}: id {person.id!r} is listed twice (first on line {ids[person.id]})")
        folders[person.folder], ids[person.id] = line, line
        people.append(person)
    return people


@dataclass
class Export:
    """What an export wrote, and whom it could not place."""

    rows: int = 0
    exercises: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)  # graded, but not in the roster: not in the file
    without_grades: list[str] = field(default_factory=list)  # in the roster, nothing graded: empty cells


def _grades(db_path: str | os.PathLike) -> dict[str, dict[str, tuple[float, float]]]:
    """student -> exercise -> (score, max score), from the gradebook."""
    if not Path(db_path).is_file():
        raise FileNotFoundError(f"{db_path}: no such gradebook")
    grades: dict[str, dict[str, tuple[float, float]]] = {}
    with gradebook.connect(db_path) as db:
        for student, exercise, score, max_score in db.execute(
                "SELECT student, exercise, score, max_score FROM grades"):
            grades.setdefault(student, {})[exercise] = (score, max_score)
    return grades


def _match(people: list[Person], grades: dict[str, dict]) -> tuple[dict[str, dict], Export]:
    """Each person's grades (found under their id, or under their folder when graded without a
    roster) and the report of who could not be matched."""
    export = Export()
    by_person: dict[str, dict] = {}
    claimed: set[str] = set()
    for person in people:
        key = person.id if person.id in grades else person.folder if person.folder in grades else None
        if key is None:
            export.without_grades.append(person.id)
            by_person[person.id] = {}
        else:
            claimed.add(key)
            by_person[person.id] = grades[key]
    export.unlisted = sorted(set(grades) - claimed)
    export.exercises = sorted({ex for student in grades.values() for ex in student})
    return by_person, export


def column(exercise: str) -> str:
    """An exercise's column, named as an LMS shows an assignment: ``Exercise 02: Paths and modes``."""
    known = EXERCISES.get(exercise)
    return f"Exercise {exercise}: {known.title}" if known else f"Exercise {exercise}"


def _points(grades: dict[str, dict], exercise: str) -> float:
    known = EXERCISES.get(exercise)
    if known is not None:
        return float(known.max_score)
    return max((g[exercise][1] for g in grades.values() if exercise in g), default=0.0)


def export_canvas(db_path: str | os.PathLike, roster_path: str | os.PathLike, out: str | os.PathLike) -> Export:
    """Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then one column per
    exercise (a new assignment for Canvas, its points on the "Points Possible" row)."""
    people = read_roster(roster_path)
    grades = _grades(db_path)
    by_person, export = _match(people, grades)
    rows = [[*CANVAS_IDENTITY, *(column(e) for e in export.exercises)],
            [CANVAS_POINTS, "", "", "", "", *(f"{_points(grades, e):g}" for e in export.exercises)]]
    for person in people:
        own = by_person[person.id]
        rows.append([person.name or person.id, "", person.sis_user_id or person.id, person.sis_login_id,
                     person.section, *(f"{own[e][0]:g}" if e in own else "" for e in export.exercises)])
    gradebook.write_csv(out, rows)
    export.rows = len(people)
    return export


def export_moodle(db_path: str | os.PathLike, roster_path: str | os.PathLike, out: str | os.PathLike) -> Export:
    """Moodle's grade import from a CSV file: an identifier column ("ID number", the roster's id; and
    "Email address" when the roster has e-mails), then one grade column per exercise."""
    people = read_roster(roster_path)
    grades = _grades(db_path)
    by_person, export = _match(people, grades)
    emails = any(p.email for p in people)
    rows = [["ID number", *(["Email address"] if emails else []), *(column(e) for e in export.exercises)]]
    for person in people:
        own = by_person[person.id]
        rows.append([person.id, *([person.email] if emails else []),
                     *(f"{own[e][0]:g}" if e in own else "" for e in export.exercises)])
    gradebook.write_csv(out, rows)
    export.rows = len(people)
    return export
