"""One submission in a platform's container: find it, keep the container's files from the student's
code, grade it with the grader every command uses, and write results.json last.

The platform runs this as root, in a container of its own for this one submission. Where Docker
forbids namespaces the sandbox is a process that runs as a uid of its own (see ``sandbox``); so
that this is enough, the results folder and the container's root are left writable by root alone,
and what the platform puts beside the submission (its autograder sources, its question data, the
course's installed package with the trusted half of grading) is made unreadable to other users.
results.json is written once the sandbox is closed and no process of its uid is left.
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runner import SubmissionResult
    from ..spec import Exercise

MAX_NOTES = 20  # cell errors listed in what a student reads; the rest are counted
SKIPPED_FOLDERS = ("__MACOSX", ".ipynb_checkpoints")


@dataclass(frozen=True)
class Layout:
    """Where a platform puts the submission and wants the results, and what else it puts there."""

    root: Path
    submission: str
    results: str
    private: tuple[str, ...]  # beside the submission, and none of the student code's business

    def under(self, root: str | os.PathLike | None) -> Layout:
        return self if root is None else Layout(Path(root), self.submission, self.results, self.private)

    @property
    def results_file(self) -> Path:
        return self.root / self.results / "results.json"


class NotGraded(Exception):
    """Nothing could be graded; one line for the student. ``grader_error``: the grader's fault."""

    def __init__(self, message: str, grader_error: bool = False):
        super().__init__(message)
        self.grader_error = grader_error


@dataclass
class Graded:
    """What a platform turns into its results.json: a result, or why there is none."""

    exercise: Exercise | None
    result: SubmissionResult | None = None
    problem: str | None = None
    grader_error: bool = False
    seconds: float = 0.0

    def headline(self) -> str:
        if self.result is not None and self.exercise is not None:
            return (f"Exercise {self.exercise.number} ({self.exercise.title}): "
                    f"{self.result.score:g}/{self.result.max_score:g} points.")
        if self.grader_error:
            return f"Grader error: {(self.problem or '').rstrip('.')}. Nothing was graded; tell your instructor."
        return f"Not graded: {(self.problem or '').rstrip('.')}."

    def notes(self) -> str:
        """The notes on the notebook as a whole (cells that failed), and how it was graded."""
        if self.result is None:
            return ""
        errors = self.result.cell_errors
        lines = [f"note: {error}" for error in errors[:MAX_NOTES]]
        if len(errors) > MAX_NOTES:
            lines.append(f"note: and {len(errors) - MAX_NOTES} more cells failed")
        lines.append(f"Test inputs drawn from seed {self.result.seed}; isolation: {self.result.isolation}.")
        return "\n".join(lines)

    def titles(self) -> dict[str, str]:
        return {q.id: q.title for q in self.exercise.questions} if self.exercise is not None else {}


def grade_submission(layout: Layout, exercise: str | None, seconds: float) -> Graded:
    """Grade the one notebook under ``layout``'s submission folder; never raises for a bad submission."""
    start = time.monotonic()
    graded = Graded(None)
    try:
        from ..registry import find_exercise

        try:
            expected = find_exercise(exercise) if exercise else None
        except KeyError as exc:
            raise NotGraded(str(exc.args[0]), grader_error=True) from None
        graded.exercise = expected
        keep_from_sandbox(layout)
        notebook = find_notebook(layout.root / layout.submission, expected)
        graded.exercise, graded.result = _grade(notebook, layout.root / layout.submission, expected, seconds)
    except NotGraded as exc:
        graded.problem, graded.grader_error = str(exc), exc.grader_error
    except Exception as exc:  # a defect of the grader: still a results.json that says so
        graded.problem, graded.grader_error = f"{type(exc).__name__}: {exc}", True
    graded.seconds = time.monotonic() - start
    return graded


# --- the container's files -----------------------------------------------------------------------------------


def keep_from_sandbox(layout: Layout) -> None:
    """Run by root: the container's root and results folder writable by root alone, what the platform
    put beside the submission and the course's installed package readable by root alone."""
    if os.geteuid() != 0:
        return
    _root_only_writes(layout.root, 0o111)  # others still pass through: the sandbox's Python may live below
    results = layout.root / layout.results
    if results.is_symlink() or results.exists() and not results.is_dir():
        results.unlink()
    results.mkdir(mode=0o755, exist_ok=True)
    _root_only_writes(results, 0)
    import backprop_lib

    package = Path(backprop_lib.__file__).resolve().parent
    installed = package.parent.name in ("site-packages", "dist-packages")  # not a source folder
    for path in [layout.root / name for name in layout.private] + ([package] if installed else []):
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        if not stat.S_ISLNK(info.st_mode):
            os.chmod(path, 0o700 if stat.S_ISDIR(info.st_mode) else 0o600)


def _root_only_writes(folder: Path, others: int) -> None:
    mode = stat.S_IMODE(os.lstat(folder).st_mode)
    os.chmod(folder, (mode & ~0o022) | others)


def find_notebook(folder: Path, expected: Exercise | None) -> Path:
    """The one notebook in ``folder`` (looked for in subfolders too, hidden ones and checkpoints aside)."""
    wanted = f"{expected.notebook}.ipynb" if expected is not None else "your exercise notebook"
    found = []
    for here, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith(".") and f not in SKIPPED_FOLDERS)
        found += [Path(here, name) for name in sorted(files)
                  if name.lower().endswith(".ipynb") and not name.startswith(".")]
    if not found:
        raise NotGraded(f"no notebook (.ipynb file) was submitted; submit {wanted}")
    if len(found) > 1:
        names = ", ".join(_shown(path, folder) for path in found[:5]) + (", ..." if len(found) > 5 else "")
        raise NotGraded(f"{len(found)} notebooks were submitted ({names}); submit only {wanted}")
    return found[0]


def _shown(path: Path, folder: Path) -> str:
    from ..protocol import clean_text

    return clean_text(path.relative_to(folder).as_posix(), 200)


# --- grading ----------------------------------------------------------------------------------------------


def _grade(notebook: Path, folder: Path, expected: Exercise | None, seconds: float
           ) -> tuple[Exercise, SubmissionResult]:
    from ..runner import GradingError, read_submission

    shown = _shown(notebook, folder)
    try:
        nb, data = read_submission(notebook)
        found = _exercise(nb, notebook, expected, shown)
    except GradingError as exc:
        raise NotGraded(str(exc).replace(str(notebook), shown)) from None
    # Graded as a copy named as its exercise, in a folder of root's: a notebook without the course's
    # metadata is then the exercise this assignment grades, whatever the student named it.
    with tempfile.TemporaryDirectory(prefix="backprop-submission-") as private:
        copy = Path(private, "submission", f"{found.notebook}.ipynb")
        copy.parent.mkdir()
        copy.write_bytes(data)
        try:
            return found, _in_sandbox(copy, seconds)
        except NotGraded as exc:
            raise NotGraded(str(exc).replace(str(copy), shown), exc.grader_error) from None


def _exercise(nb: dict[str, Any], notebook: Path, expected: Exercise | None, shown: str) -> Exercise:
    """The exercise ``nb`` answers; with ``expected``, that one or a refusal naming the other."""
    from ...course.notebooks import COURSE_KEY
    from ..registry import EXERCISES
    from ..runner import exercise_of

    if expected is None:
        return exercise_of(nb, notebook)
    if isinstance(nb["metadata"].get(COURSE_KEY), dict):
        found = exercise_of(nb, notebook)
    else:  # no course metadata: only its name can say it is another exercise
        found = next((e for e in EXERCISES.values() if notebook.stem == e.notebook), expected)
    if found.number != expected.number:
        raise NotGraded(f"{shown} is exercise {found.number} ({found.notebook}.ipynb); "
                        f"this assignment grades exercise {expected.number} ({expected.notebook}.ipynb)")
    return expected


def _in_sandbox(copy: Path, seconds: float) -> SubmissionResult:
    from ..runner import GradingError, Limits, grade_notebook
    from ..sandbox import NAMESPACES, Sandbox, SandboxError

    sandbox = Sandbox(warm=False)
    try:
        sandbox.launch()
        if sandbox.isolation != NAMESPACES and sandbox.uid is None:
            raise NotGraded(_unconfined(sandbox), grader_error=True)
        sandbox.wait_ready()
        result = grade_notebook(copy, student="submission", limits=Limits(submission_seconds=seconds),
                                sandbox=sandbox)
    except GradingError as exc:
        raise NotGraded(str(exc)) from None
    except SandboxError as exc:
        raise NotGraded(f"the sandbox failed: {exc}", grader_error=True) from None
    finally:
        sandbox.close()
    if sandbox.left_running:
        pids = ", ".join(map(str, sandbox.left_running[:10]))
        raise NotGraded(f"processes of the submission would not end ({pids})", grader_error=True)
    return result


def _unconfined(sandbox: Any) -> str:
    if os.geteuid() == 0:
        return f"the student's code would run as root ({sandbox.root_kept})"
    return ("without namespaces, the student's code would run as the grader's own user and could write "
            "the results; run the grader as root, or where bubblewrap can create namespaces")


# --- results.json -----------------------------------------------------------------------------------------


def write_results(layout: Layout, data: dict[str, Any]) -> Path:
    """Write ``data`` as the platform's results.json, whole or not at all, never through a link."""
    folder = layout.root / layout.results
    if folder.is_symlink() or not folder.is_dir():
        if folder.is_symlink() or folder.exists():
            folder.unlink()
        folder.mkdir(mode=0o755, parents=True)
    temporary = folder / f".results.json.{os.getpid()}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write((json.dumps(data, indent=2) + "\n").encode())
    os.replace(temporary, layout.results_file)
    return layout.results_file


def clear_results(layout: Layout) -> None:
    """Remove a results.json the container came with: what the platform reads must be this grading's."""
    path = layout.results_file
    if path.is_symlink() or path.is_file():
        path.unlink()
