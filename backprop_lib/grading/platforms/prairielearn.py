"""PrairieLearn: the external grader's Docker image, and the results.json it reads.

PrairieLearn's external grading: the question's files and the student's are mounted under /grade
(the student's in /grade/student), the container runs the question's ``entrypoint`` (or the
image's command), and /grade/results/results.json (which the grader creates) holds ``score`` from
0 to 1, ``gradable``, ``message``, ``output`` and ``tests``, each with ``name``, ``description``,
``points``, ``max_points``, ``message`` and ``output``. A submission that cannot be graded is
``"gradable": false`` with ``format_errors``: the student loses no attempt over it. The file may
hold at most 1 MB. The notes for the instructor go under ``instructor_notes``, which the
results element does not show.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import bundle
from .gradescope import TEMPLATES
from .submission import Graded, Layout

LAYOUT = Layout(Path("/grade"), "student", "results", ("data", "serverFilesCourse", "tests"))
SECONDS = 25.0  # the grading budget: under the 30 s a question's external grading may take by default


def results(graded: Graded) -> dict[str, Any]:
    """PrairieLearn's results.json for ``graded``."""
    if graded.result is None:
        return {"gradable": False, "score": 0.0, "message": graded.headline(), "output": "",
                "format_errors": [graded.problem], "tests": []}
    result, titles = graded.result, graded.titles()
    tests = [{"name": q.id, "description": titles.get(q.id, ""), "points": float(q.score),
              "max_points": float(q.max_score), "message": q.feedback, "output": f"{q.status} (seed {q.seed})"}
             for q in result.questions]
    return {"gradable": True, "score": round(result.score / result.max_score, 6) if result.max_score else 0.0,
            "message": graded.headline(), "output": graded.notes(), "tests": tests,
            "instructor_notes": list(result.flags)}


def write_image_recipe(folder: Path, exercise: str | None, seconds: float) -> list[str]:
    """Write the Dockerfile of the grader's image and the course's wheel into ``folder``; their names."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = bundle.build_wheel(folder)
    for old in folder.glob("backprop_course-*.whl"):  # an earlier version's, which the image no longer names
        if old != wheel:
            old.unlink()
    command = ["/usr/local/bin/backprop-course", "autograder", "prairielearn-run", "--seconds", f"{seconds:g}"]
    command += ["--exercise", exercise] if exercise else []
    recipe = ((TEMPLATES / "Dockerfile").read_text().replace("@PYTHON@", bundle.python_version())
              .replace("@PINS@", " ".join(bundle.pins())).replace("@WHEEL@", wheel.name)
              .replace("@COMMAND@", json.dumps(command)))
    (folder / "Dockerfile").write_text(recipe)
    return ["Dockerfile", wheel.name]
