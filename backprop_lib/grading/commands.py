"""The ``grade`` and ``export`` commands: one submission or a whole class into a gradebook."""
from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from ..course.notebooks import NotebookError, load_notebook_json
from . import gradebook
from .runner import GradingError, die_with_parent, exercise_of, grade_notebook


def _student(path: Path, given: str | None) -> str:
    return given if given is not None else path.resolve().parent.name


def _grade_one(path: str, student: str | None, seed: int | None) -> dict[str, Any]:
    """Runs in a worker process; bad files come back as ``{"error": ...}``, never as a traceback."""
    try:
        return grade_notebook(path, seed=seed, student=student).as_dict()
    except GradingError as exc:
        return {"error": str(exc)}


def table(result: dict[str, Any]) -> str:
    lines = [f"exercise {result['exercise']} ({result['student']}): "
             f"{result['score']:g}/{result['max_score']:g}  (seed {result['seed']})"]
    width = max([len("question")] + [len(q["id"]) for q in result["questions"]])
    lines.append(f"{'question':<{width}}  {'score':>5}  {'max':>3}  feedback")
    for q in result["questions"]:
        lines.append(f"{q['id']:<{width}}  {q['score']:>5g}  {q['max_score']:>3}  {q['feedback']}")
    for error in result.get("cell_errors", []):
        lines.append(f"note: {error}")
    return "\n".join(lines)


def _write_feedback(folder: Path, result: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{result['student']}_{result['exercise']}.txt").write_text(table(result) + "\n", encoding="utf-8")


class _Progress:
    def __init__(self, total: int):
        self.total, self.done = total, 0

    def step(self) -> None:
        self.done += 1
        filled = int(30 * self.done / max(self.total, 1))
        print(f"\r[{'#' * filled}{' ' * (30 - filled)}] {self.done}/{self.total}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.total:
            print(file=sys.stderr)


def grade_command(paths: list[str], as_json: bool, gradebook_path: str | None, jobs: int,
                  student: str | None, feedback: str | None, seed: int | None) -> int:
    if gradebook_path is None:
        results = []
        for path in paths:
            result = _grade_one(path, student, seed)
            if "error" in result:
                print(f"error: {result['error']}", file=sys.stderr)
                return 1
            results.append(result)
        for result in results:
            if feedback:
                _write_feedback(Path(feedback), result)
        if as_json:
            print(json.dumps(results[0] if len(results) == 1 else results, indent=2))
        else:
            print("\n\n".join(table(r) for r in results))
        return 0
    return _batch(paths, gradebook_path, jobs, student, feedback, seed, as_json)


def _batch(paths: list[str], db_path: str, jobs: int, student: str | None, feedback: str | None,
           seed: int | None, as_json: bool) -> int:
    graded, skipped, errors = 0, 0, 0
    todo: list[tuple[str, str]] = []
    with gradebook.connect(db_path) as db:
        for raw in paths:
            path = Path(raw)
            key = str(path.resolve())
            try:
                sha = gradebook.content_hash(path)
            except OSError:
                sha = ""
            try:
                exercise = exercise_of(load_notebook_json(path), path).number
            except (NotebookError, GradingError) as exc:
                errors += 1
                print(f"error: {exc}", file=sys.stderr)
                if not gradebook.error_recorded(db, key, sha):
                    gradebook.record_error(db, key, sha, str(exc))
                continue
            if gradebook.already_graded(db, _student(path, student), exercise, sha):
                skipped += 1
                continue
            todo.append((raw, sha))
        progress = _Progress(len(todo))
        with ProcessPoolExecutor(max_workers=max(1, jobs), initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            futures = {pool.submit(_grade_one, raw, student, seed): (raw, sha) for raw, sha in todo}
            for future in as_completed(futures):
                raw, sha = futures[future]
                result = future.result()
                key = str(Path(raw).resolve())
                if "error" in result:
                    errors += 1
                    gradebook.record_error(db, key, sha, result["error"])
                else:
                    gradebook.record(db, result, sha, key)
                    graded += 1
                    if feedback:
                        _write_feedback(Path(feedback), result)
                progress.step()
        progress.close()
    summary = {"graded": graded, "skipped": skipped, "errors": errors}
    if as_json:
        print(json.dumps(summary))
    else:
        print(f"graded {graded}, skipped {skipped} (already graded, unchanged), errors {errors}")
    return 0


def export_command(db_path: str, csv_path: str) -> int:
    try:
        rows = gradebook.export_csv(db_path, csv_path)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {rows} rows to {csv_path}")
    return 0
