"""Gradescope: the autograder.zip an instructor uploads, and the results.json it reads.

Gradescope's autograder specification: the zip holds ``setup.sh`` (run once, as root, when the
image is built) and ``run_autograder`` (run for each submission, as root, in /autograder) at its
root; the student's files are in /autograder/submission; /autograder/results/results.json holds
``score``, ``execution_time``, ``output``, and a test per question with ``name``, ``number``,
``score``, ``max_score``, ``status``, ``output`` and ``visibility``. Everything is shown as plain
text (no HTML or Markdown from a student's output). The grader's standard output, which carries
the notes for the instructor, stays hidden from students (``stdout_visibility``).
"""
from __future__ import annotations

import math
import shlex
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from . import bundle
from .submission import Graded, Layout

LAYOUT = Layout(Path("/autograder"), "submission", "results", ("source", "submission_metadata.json"))
SECONDS = 540.0  # a submission's grading budget; an assignment whose autograder has less time sets --seconds
TEMPLATES = Path(__file__).with_name("templates")


def results(graded: Graded) -> dict[str, Any]:
    """Gradescope's results.json for ``graded``."""
    titles = graded.titles()
    prefix = int(graded.exercise.number) if graded.exercise is not None else 0
    if graded.result is not None:
        tests = [_test(prefix, i, q.id, titles.get(q.id, ""), q.score, q.max_score, q.status == "passed", q.feedback)
                 for i, q in enumerate(graded.result.questions, start=1)]
        score = graded.result.score
    else:  # each question at zero, so that the student sees what the assignment grades
        questions = graded.exercise.questions if graded.exercise is not None else ()
        tests = [_test(prefix, i, q.id, q.title, 0.0, q.points, False, f"not graded: {graded.problem}")
                 for i, q in enumerate(questions, start=1)]
        score = 0.0
    output = "\n\n".join(part for part in (graded.headline(), graded.notes()) if part)
    extra = {"seed": graded.result.seed, "isolation": graded.result.isolation} if graded.result is not None else {}
    return {"score": float(score), "execution_time": math.ceil(graded.seconds), "output": output,
            "output_format": "text", "test_output_format": "text", "test_name_format": "text",
            "stdout_visibility": "hidden", "extra_data": extra, "tests": tests}


def _test(prefix: int, index: int, qid: str, title: str, score: float, max_score: int, passed: bool,
          feedback: str) -> dict[str, Any]:
    return {"name": f"{qid}: {title}" if title else qid, "number": f"{prefix}.{index}", "score": float(score),
            "max_score": float(max_score), "status": "passed" if passed else "failed", "output": feedback,
            "visibility": "visible"}


def build_zip(path: Path, exercise: str | None, seconds: float) -> list[str]:
    """Write the autograder.zip to ``path``; the names it holds."""
    arguments = "".join(f" {shlex.quote(a)}" for a in _run_arguments(exercise, seconds))
    with tempfile.TemporaryDirectory(prefix="backprop-autograder-") as folder:
        wheel = bundle.build_wheel(Path(folder))
        setup = (TEMPLATES / "setup.sh").read_text().replace("@WHEEL@", wheel.name).replace(
            "@REQUIREMENTS@", " ".join(shlex.quote(r) for r in bundle.requirements()))
        run = (TEMPLATES / "run_autograder").read_text().replace("@ARGUMENTS@", arguments)
        with zipfile.ZipFile(path, "w") as archive:
            bundle.add_file(archive, "setup.sh", setup.encode(), 0o755)
            bundle.add_file(archive, "run_autograder", run.encode(), 0o755)
            bundle.add_file(archive, wheel.name, wheel.read_bytes())
        return ["setup.sh", "run_autograder", wheel.name]


def _run_arguments(exercise: str | None, seconds: float) -> list[str]:
    return (["--exercise", exercise] if exercise else []) + ["--seconds", f"{seconds:g}"]
