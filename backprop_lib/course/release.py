"""A student release of the course, and the data its ``check`` judges the visible tests from.

``backprop-course release student DIR`` writes what a graded class receives: ``lessons/``,
``exercises/`` (generated afresh from the masters), the library ``backprop_lib/`` without the
judging half of grading, a README for students and ``pyproject.toml``. Left out: ``solutions/``
and every module that holds or imports the questions' references and mistake detectors (the
``exNN`` modules, the registry, the grader, the gradebook, the exports and platforms, the build).
Of the grading package the release keeps only what ``check`` runs (``KEEP_GRADING``), so a module
added to it later stays out until it is listed there.

``visible_text`` makes the data those questions are judged from (``grading/visible.json``, see
``grading.public``): the visible cases of every question, drawn with the fixed visible seed, their
expected outputs and the outputs of the known mistakes that data can describe. The build writes it
into the course and the release writes it afresh into DIR.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .notebooks import NotebookError, read_notebook

DATA = Path("backprop_lib") / "grading" / "visible.json"
# What check() needs of the grading package: the probes, the judge and the questions made from data.
KEEP_GRADING = ("__init__.py", "checking.py", "judge.py", "plain.py", "probe.py", "protocol.py", "public.py",
                "spec.py", "probes")
LEFT_OUT_COURSE = ("build.py", "release.py")  # they need solutions/ and the trusted half
JUNK = ("__pycache__", ".ipynb_checkpoints")
# The trusted ``accept`` functions, by qualified name, and the rule of ``grading.public.ACCEPT_RULES``
# that gives the same verdicts from data.
ACCEPTS = {"backprop_lib.grading.ex06._accept_training": "held-out accuracy"}
# Another processor's BLAS kernels may round the last bits of a stored output differently, and a
# difference quotient (07.hvp_numerical) turns that into 1e-10 of its value: within these
# tolerances the stored data is still the data the questions make. An edit of a question moves
# its numbers far more.
SAME_RTOL, SAME_ATOL = 1e-8, 1e-12


class ReleaseError(Exception):
    """The release or its data cannot be made; one line for the user."""


# --- the data of the visible tests ---------------------------------------------------------------------------


def _same(a: Any, b: Any, where: str = "") -> str:
    """Where ``b`` differs from ``a`` in type or value (arrays to the bit), or ""."""
    if type(a) is not type(b):
        return f"{where or 'the value'}: a {type(a).__name__} becomes a {type(b).__name__}"
    if isinstance(a, np.ndarray):
        same = a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        return "" if same else f"{where or 'the value'}: an array of {a.dtype} {a.shape} changes"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{where or 'the value'}: its keys change"
        return next((d for k in a if (d := _same(a[k], b[k], f"{where}[{k!r}]"))), "")
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{where or 'the value'}: its length changes"
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := _same(x, y, f"{where}[{i}]"))), "")
    same = a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
    return "" if same else f"{where or 'the value'}: {a!r} becomes {b!r}"


def _stored_inputs(inputs: Mapping[str, Any], what: str) -> Any:
    """The inputs as data, refused where the probe would receive something else from the data."""
    from ..grading.public import decode, encode

    data = encode(dict(inputs))
    changed = _same(dict(inputs), decode(json.loads(json.dumps(data))))
    if changed:
        raise ReleaseError(f"{what} do not survive as data ({changed}); use numbers, strings, lists, tuples, "
                           "dicts with string keys and numeric arrays")
    return data


def _question_data(question: Any) -> dict[str, Any]:
    from ..grading.plain import NotPlain
    from ..grading.public import encode

    cases = question.visible_cases()
    entry: dict[str, Any] = {"id": question.id, "points": question.points, "title": question.title,
                             "rtol": question.rtol, "atol": question.atol, "credit": question.credit}
    if question.accept is not None:
        name = f"{question.accept.__module__}.{question.accept.__qualname__}"
        if name not in ACCEPTS:
            raise ReleaseError(f"question {question.id} is judged by {name}, which has no rule for the student "
                               "release: add one to ACCEPT_RULES in grading/public.py and to ACCEPTS in "
                               "course/release.py")
        entry["accept"] = ACCEPTS[name]
    entry["cases"] = []
    for case in cases:
        what = f"question {question.id}, case {case.name!r}"
        stored = {"name": case.name, "inputs": _stored_inputs(case.inputs, f"{what}: its inputs")}
        if case.hidden:
            stored["hidden"] = _stored_inputs(case.hidden, f"{what}: its hidden inputs")
        try:
            stored["expected"] = encode(question.reference(case.judged))
        except NotPlain as exc:
            raise ReleaseError(f"{what}: the expected output cannot be stored as data: {exc}") from None
        except Exception as exc:
            raise ReleaseError(f"{what}: the reference raised {type(exc).__name__}: {exc}") from None
        entry["cases"].append(stored)
    entry["mistakes"], left_out = [], []
    for mistake in question.mistakes:
        if mistake.kind == "raises":
            entry["mistakes"].append({"name": mistake.name, "feedback": mistake.feedback, "raises": mistake.error})
        elif mistake.kind == "answer" and mistake.wrong is not None:
            outputs = {}
            for index, case in enumerate(cases):
                try:
                    outputs[str(index)] = encode(mistake.wrong(case.judged))
                except Exception:  # as in the judge: where the wrong answer cannot be formed, it matches nothing
                    continue
            entry["mistakes"].append({"name": mistake.name, "feedback": mistake.feedback, "rtol": mistake.rtol,
                                      "atol": mistake.atol, "outputs": outputs})
        else:
            left_out.append(mistake.name)
    entry["autograder only"] = left_out
    return entry


def visible_text() -> str:
    """``grading/visible.json`` as the trusted half of grading makes it now."""
    from ..grading.public import FORMAT
    from ..grading.registry import QUESTIONS
    from ..grading.spec import VISIBLE_SEED

    # The notebook's check() goes on past a warning; so does the data (and pytest's turning them into errors).
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        questions = [_question_data(q) for q in QUESTIONS.values()]
    return json.dumps({"format": FORMAT, "seed": VISIBLE_SEED, "questions": questions}, indent=1) + "\n"


def _numbers(x: Any) -> Any:
    """Stored data with its arrays decoded, for ``same_data``."""
    from ..grading.protocol import ARRAY_KEY, plain_value

    if isinstance(x, dict):
        return plain_value(x) if ARRAY_KEY in x else {k: _numbers(v) for k, v in x.items()}
    return [_numbers(v) for v in x] if isinstance(x, list) else x


def _alike(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_alike(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_alike(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or (isinstance(a, float) and isinstance(b, float)):
        if not isinstance(b, type(a)) or np.shape(a) != np.shape(b):
            return False
        return bool(np.allclose(a, b, rtol=SAME_RTOL, atol=SAME_ATOL, equal_nan=True))
    return type(a) is type(b) and a == b


def same_data(stored: str, made: str) -> bool:
    """Whether the stored text holds the data ``made`` holds, up to the last bits of its numbers."""
    try:
        return stored == made or _alike(_numbers(json.loads(stored)), _numbers(json.loads(made)))
    except ValueError:
        return False


# --- the release ------------------------------------------------------------------------------------------------


def _copy_tree(source: Path, target: Path, skip: Sequence[Path] = ()) -> None:
    for folder, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in JUNK and Path(folder, d) not in skip)
        here = target / Path(folder).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        for name in sorted(files):
            if Path(folder, name) not in skip and not name.endswith((".pyc", ".pyo")):
                shutil.copy2(Path(folder, name), here / name)


def _library(root: Path, target: Path) -> None:
    source = root / "backprop_lib"
    grading = source / "grading"
    skip = [grading / p.name for p in grading.iterdir() if p.name not in KEEP_GRADING]
    skip += [source / "course" / name for name in LEFT_OUT_COURSE]
    _copy_tree(source, target / "backprop_lib", skip)
    (target / DATA).write_text(visible_text(), encoding="utf-8")


def _exercises(root: Path, target: Path) -> int:
    """The exercises as their masters make them now (a hand edit of exercises/ cannot leak an answer)."""
    from .build import BuildResult, generated_exercises, numbered

    _copy_tree(root / "exercises", target / "exercises", skip=numbered(root, "exercises"))
    result = BuildResult()
    made = generated_exercises(root, numbered(root, "solutions"), result)
    if result.errors:
        raise ReleaseError(result.errors[0])
    for path, text in made.items():
        (target / "exercises" / path.name).write_text(text, encoding="utf-8")
    return len(made)


def _pyproject(root: Path, target: Path) -> None:
    """The course's pyproject.toml without its test settings (they name tests/ and solutions/)."""
    kept, skipping = [], False
    for line in (root / "pyproject.toml").read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.strip() == "[tool.pytest.ini_options]"
        if not skipping:
            kept.append(line)
    (target / "pyproject.toml").write_text("".join(kept).rstrip("\n") + "\n", encoding="utf-8")


def _title(path: Path) -> str:
    """A notebook's title: its first heading, after "Lesson NN ·" if it says so."""
    try:
        cells = read_notebook(path).cells
    except NotebookError:
        return path.stem[3:].replace("_", " ")
    heading = next((line for c in cells if c.cell_type == "markdown" for line in c.source.splitlines()
                    if line.startswith("# ")), "# " + path.stem[3:].replace("_", " "))
    return heading[2:].split("·", 1)[-1].strip()


def _readme(root: Path) -> str:
    rows = []
    for lesson in sorted((root / "lessons").glob("[0-9][0-9]_*.ipynb")):
        exercise = root / "exercises" / lesson.name
        link = f"[exercise](exercises/{lesson.name})" if exercise.exists() else "-"
        rows.append(f"| {lesson.name[:2]} | [{_title(lesson)}](lessons/{lesson.name}) | {link} |")
    return README.format(table="\n".join(rows))


README = """\
# Backpropagation, from the chain rule to training networks

The lessons, the exercises and the small library they build, `backprop_lib`.

## Start

You need Python 3.10 or newer. In this folder:

```bash
python -m pip install -e .
backprop-course lab
```

`backprop-course lab` (also `python -m backprop_lib lab`) starts JupyterLab on this folder with the
first lesson open; `lessons/` and `exercises/` sit side by side in the file browser. Other
arguments go to JupyterLab, e.g. `backprop-course lab --port 9000` or `backprop-course lab
--no-browser`. Plain `jupyter lab` works too.

## The course

Each lesson uses only what the earlier ones built, and has an exercise notebook of the same number.

| # | lesson | exercise |
|---|---|---|
{table}

## Exercises and `check()`

In an exercise notebook, replace each `raise NotImplementedError(...)` with your code and run the
`check("NN.question")` cell that follows it. It runs a few fixed tests of that question on your
functions at once and says

- `[ok]` when every one of them passes;
- `[not implemented]` while the stub is still there;
- `[failed]` with how many tests passed, the known mistake your answer makes and how to fix it,
  or else the first output that differs from the expected one and the inputs of that test;
- `[missing]` when the function is not defined at the top level of a code cell;
- `[uses reference]` when your answer calls the library's own implementation of the function
  it should write: such an answer earns nothing for it.

`check()` compares your results with expected outputs stored with the course
(`backprop_lib/grading/visible.json`). The notebook you hand in is graded by your instructor's
autograder, which runs every question on fresh random inputs, with more tests and more known
mistakes: passing `check()` is a good sign, not the grade.

Save the notebook after a last Run All, and hand it in as your instructor asks.
"""


def _place(root: Path, target: Path, force: bool) -> None:
    """Refuse a DIR at, above or inside the course, a file, or a non-empty folder without ``force``."""
    if target == root or root in target.parents or target in root.parents:
        raise ReleaseError(f"{target} is the course folder or inside it or above it; write the release elsewhere")
    if target.exists() and not target.is_dir():
        raise ReleaseError(f"{target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        if not force:
            raise ReleaseError(f"{target} is not empty; choose an empty or new folder, or pass --force to replace "
                               "the release in it")
        if (target / "solutions").exists():
            raise ReleaseError(f"{target} holds solutions/, so it is no student release; choose another folder")


def write_student_release(root: str | os.PathLike, target: str | os.PathLike, force: bool = False) -> list[str]:
    """Write the student release of the course at ``root`` into ``target``; what was written, in words.

    With ``force``, a non-empty ``target`` keeps what the release does not write, and loses what it
    had of lessons/, exercises/, backprop_lib/, README.md and pyproject.toml.
    """
    root, target = Path(root).resolve(), Path(target).resolve()
    missing = [name for name in ("lessons", "exercises", "solutions", "backprop_lib", "pyproject.toml")
               if not (root / name).exists()]
    if missing:
        raise ReleaseError(f"{root} is not the course's folder (it has no {', '.join(missing)})")
    _place(root, target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".release-", dir=target.parent))
    try:
        _copy_tree(root / "lessons", staging / "lessons")
        exercises = _exercises(root, staging)
        _library(root, staging)
        (staging / "README.md").write_text(_readme(root), encoding="utf-8")
        _pyproject(root, staging)
        target.mkdir(exist_ok=True)
        for item in sorted(staging.iterdir()):
            old = target / item.name
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            elif old.exists() or old.is_symlink():
                old.unlink()
            item.rename(old)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    lessons = len(list((target / "lessons").glob("[0-9][0-9]_*.ipynb")))
    return [f"lessons/ ({lessons} notebooks)", f"exercises/ ({exercises} notebooks)",
            "backprop_lib/ (check() judges from grading/visible.json)", "README.md", "pyproject.toml"]
