"""The ``grade`` and ``export`` commands: one submission or a whole class into a gradebook."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..course.progress import progress_bar
from . import exports, gradebook
from .exports import RosterError, read_roster
from .protocol import clean_text
from .runner import GradingError, exercise_of, grade_notebook, read_submission, student_folder
from .sandbox import NAMESPACES, Sandbox, SandboxError, isolation_level



def table(result: dict[str, Any]) -> str:
    lines = [f"exercise {result['exercise']} ({result['student']}): "
             f"{result['score']:g}/{result['max_score']:g}  (seed {result['seed']})"]
    width = max([len("question")] + [len(q["id"]) for q in result["questions"]])
    lines.append(f"{'question':<{width}}  {'score':>5}  {'max':>3}  {'tests':>5}  feedback")
    for q in result["questions"]:
        tests = f"{q['cases_passed']}/{q['cases_total']}" if q.get("cases_total") else "-"
        lines.append(f"{q['id']:<{width}}  {q['score']:>5g}  {q['max_score']:>3}  {tests:>5}  {q['feedback']}")
    for error in result.get("cell_errors", []):
        lines.append(f"note: {error}")
    for flag in result.get("flags", []):
        lines.append(f"note for the instructor: {flag}")
    return "\n".join(lines)


def _safe_name(text: str) -> str:
    name = "".join(c if c.isalnum() or c in "-_.@+" else "_" for c in text).lstrip(".")
    return name[:100] or "_"


def _write_feedback(folder: Path, result: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_safe_name(result['student'])}_{_safe_name(result['exercise'])}.txt"
    path.write_text(table(result) + "\n", encoding="utf-8", errors="replace")


def _error(message: str) -> None:
    print(f"error: {clean_text(message, 2000)}", file=sys.stderr)


def load_roster(path: str) -> dict[str, str]:
    """``folder -> student id`` from a roster (see ``exports.read_roster``)."""
    return {person.folder: person.id for person in read_roster(path)}


def _isolation_or_refuse(require: bool) -> bool:
    level, reason = isolation_level()
    if level == NAMESPACES:
        return True
    if require:
        _error(f"--require-isolation: cannot isolate student code with namespaces here: {reason}; nothing graded")
        return False
    print(f"warning: grading with process isolation only ({reason}); student code can read what this user can",
          file=sys.stderr)
    return True


def grade_command(paths: list[str], as_json: bool, gradebook_path: str | None, jobs: int,
                  student: str | None, feedback: str | None, seed: int | None,
                  roster_path: str | None = None, require_isolation: bool = False,
                  sandboxes: list[Sandbox] | None = None) -> int:
    """``sandboxes``: launched already (see ``sandbox.launch_sandboxes``); any left unused are closed."""
    early = list(sandboxes or [])
    try:
        return _grade_command(paths, as_json, gradebook_path, jobs, student, feedback, seed, roster_path,
                              require_isolation, early)
    finally:
        for sandbox in early:
            sandbox.close()


def _grade_command(paths: list[str], as_json: bool, gradebook_path: str | None, jobs: int,
                   student: str | None, feedback: str | None, seed: int | None, roster_path: str | None,
                   require_isolation: bool, early: list[Sandbox]) -> int:
    roster = None
    if roster_path:
        try:
            roster = load_roster(roster_path)
        except RosterError as exc:
            _error(str(exc))
            return 2
    if not _isolation_or_refuse(require_isolation):
        return 2
    if gradebook_path is None:
        return _one_by_one(paths, as_json, student, feedback, seed, roster, early)
    return _batch(paths, gradebook_path, jobs, student, feedback, seed, as_json, roster, early)


def _student(path: Path, given: str | None, roster: dict[str, str] | None) -> str:
    if given is not None:
        return given
    folder = student_folder(path)
    if roster is None:
        return folder
    if folder not in roster:
        raise GradingError(f"{clean_text(str(path), 300)}: its folder {clean_text(folder, 100)!r} is not in the roster")
    return roster[folder]


def _one_by_one(paths: list[str], as_json: bool, student: str | None, feedback: str | None, seed: int | None,
                roster: dict[str, str] | None, early: list[Sandbox]) -> int:
    results = []
    try:
        sandbox = early.pop() if early else Sandbox()
        early.append(sandbox)  # closed by the caller
        if sandbox.process is None:
            sandbox.launch()
        sandbox.wait_ready()
        for raw in paths:
            try:
                name = _student(Path(raw), student, roster)
                results.append(grade_notebook(raw, seed=seed, student=name, sandbox=sandbox).as_dict())
            except GradingError as exc:
                _error(str(exc))
                return 1
    except SandboxError as exc:
        _error(f"the sandbox failed: {exc}")
        return 1
    for result in results:
        if feedback:
            _write_feedback(Path(feedback), result)
    if as_json:
        print(json.dumps(results[0] if len(results) == 1 else results, indent=2))
    else:
        print("\n\n".join(table(r) for r in results))
    return 0


@dataclass
class _Entry:
    raw: str
    key: str  # the absolute path (a link not followed), as the gradebook keys errors
    sha: str
    student: str = ""
    exercise: str = ""


class _Sandboxes:
    """One sandbox per grading thread (those launched early first), closed together at the end."""

    def __init__(self, early: list[Sandbox]) -> None:
        self.local = threading.local()
        self.early = early
        self.all: list[Sandbox] = list(early)
        self.lock = threading.Lock()

    def get(self) -> Sandbox:
        sandbox = getattr(self.local, "sandbox", None)
        if sandbox is None:
            with self.lock:
                sandbox = self.early.pop() if self.early else Sandbox()
                if sandbox not in self.all:
                    self.all.append(sandbox)
            if sandbox.process is None:
                sandbox.launch()
            sandbox.wait_ready()
            self.local.sandbox = sandbox
        return sandbox

    def discard(self) -> None:
        sandbox = getattr(self.local, "sandbox", None)
        if sandbox is not None:
            sandbox.close()
            self.local.sandbox = None

    def close(self) -> None:
        for sandbox in self.all:
            sandbox.close()


def _grade_entry(sandboxes: _Sandboxes, entry: _Entry, seed: int | None) -> dict[str, Any]:
    """Runs in a grading thread; any failure is returned as ``{"error": ...}`` naming the file."""
    try:
        return grade_notebook(entry.raw, seed=seed, student=entry.student, sandbox=sandboxes.get()).as_dict()
    except GradingError as exc:
        return {"error": str(exc)}
    except SandboxError as exc:
        sandboxes.discard()  # the next submission of this thread gets a fresh sandbox
        return {"error": f"{clean_text(entry.raw, 300)}: grader error: the sandbox failed: {exc}"}
    except Exception as exc:  # a defect of the grader on this file: recorded, and the batch goes on
        return {"error": f"{clean_text(entry.raw, 300)}: grader error: {type(exc).__name__}: {clean_text(exc, 300)}"}


def _batch(paths: list[str], db_path: str, jobs: int, student: str | None, feedback: str | None,
           seed: int | None, as_json: bool, roster: dict[str, str] | None, early: list[Sandbox]) -> int:
    graded, skipped, errors = 0, 0, 0
    entries: list[_Entry] = []
    with gradebook.connect(db_path) as db:

        def refuse(entry: _Entry, message: str) -> None:
            nonlocal errors
            errors += 1
            _error(message)
            if not gradebook.error_recorded(db, entry.key, entry.sha):
                gradebook.record_error(db, entry.key, entry.sha, clean_text(message, 2000))

        for raw in dict.fromkeys(os.path.abspath(p) for p in paths):  # one file named twice is one file
            path = Path(raw)
            entry = _Entry(raw, clean_text(raw, 1000), "")
            try:
                nb, data = read_submission(path)
                entry.sha = hashlib.sha256(data).hexdigest()
                entry.exercise = exercise_of(nb, path).number
                entry.student = clean_text(_student(path, student, roster), 200)
            except GradingError as exc:
                refuse(entry, str(exc))
                continue
            entries.append(entry)
        owners: dict[tuple[str, str], list[_Entry]] = {}
        for entry in entries:
            owners.setdefault((entry.student, entry.exercise), []).append(entry)
        todo = []
        for (who, exercise), group in owners.items():
            if len(group) > 1:
                names = ", ".join(e.key for e in group)
                for entry in group:
                    refuse(entry, f"{entry.key}: {len(group)} submissions of exercise {exercise} for student "
                                  f"{who} in one batch ({names}); none of them was graded: grade the one that counts")
                continue
            if gradebook.already_graded(db, who, exercise, group[0].sha):
                skipped += 1
                continue
            todo.append(group[0])
        progress = progress_bar(len(todo), "grading")
        sandboxes = _Sandboxes(early)
        late: list[str] = []  # said after the progress bar
        try:
            with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="grade") as pool:
                futures = {pool.submit(_grade_entry, sandboxes, entry, seed): entry for entry in todo}
                for future in as_completed(futures):
                    entry = futures[future]
                    result = future.result()
                    if "error" in result:
                        errors += 1
                        late.append(result["error"])
                        gradebook.record_error(db, entry.key, entry.sha, clean_text(result["error"], 2000))
                    else:
                        gradebook.record(db, result, entry.sha, entry.key)
                        graded += 1
                        if feedback:
                            _write_feedback(Path(feedback), result)
                    progress.update()
        finally:
            sandboxes.close()
        progress.close()
        for message in late:
            _error(message)
    summary = {"graded": graded, "skipped": skipped, "errors": errors}
    if as_json:
        print(json.dumps(summary))
    else:
        print(f"graded {graded}, skipped {skipped} (already graded, unchanged), errors {errors}")
    return 0


def export_command(db_path: str, csv_path: str | None, canvas: str | None = None, moodle: str | None = None,
                   roster: str | None = None) -> int:
    """Write the gradebook's grades as CSV and, given a roster, as Canvas and Moodle import files."""
    if not (csv_path or canvas or moodle):
        _error("say what to write: --csv FILE, --canvas FILE or --moodle FILE")
        return 2
    if (canvas or moodle) and not roster:
        _error("--canvas and --moodle need --roster CSV (columns folder and id, and optionally name, "
               "sis_user_id, sis_login_id, section, email) to name each student as the LMS knows them")
        return 2
    try:
        if csv_path:
            rows = gradebook.export_csv(db_path, csv_path)
            print(f"wrote {rows} rows to {csv_path}")
        for out, write, lms in ((canvas, exports.export_canvas, "Canvas"), (moodle, exports.export_moodle, "Moodle")):
            if out:
                done = write(db_path, roster, out)
                print(f"wrote {done.rows} students and {len(done.exercises)} exercises to {out} for {lms}")
                if done.unlisted:
                    print(f"warning: graded but not in the roster, so not in {out}: {', '.join(done.unlisted)}",
                          file=sys.stderr)
                if done.without_grades:
                    print(f"warning: in the roster without a graded submission (empty cells in {out}): "
                          f"{', '.join(done.without_grades)}", file=sys.stderr)
    except (FileNotFoundError, RosterError) as exc:
        _error(str(exc))
        return 1
    except OSError as exc:
        _error(f"cannot write the export: {exc}")
        return 1
    return 0


def report_command(db_path: str, out: str) -> int:
    """Write the class report of a gradebook."""
    from .report import write_report

    try:
        exercises = write_report(db_path, out)
    except FileNotFoundError as exc:
        _error(str(exc))
        return 1
    except OSError as exc:
        _error(f"cannot write the report: {exc}")
        return 1
    print(f"wrote the report of {len(exercises)} exercise{'s' * (len(exercises) != 1)} to {out}")
    return 0
