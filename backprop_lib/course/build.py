"""``backprop-course build``: regenerate every notebook derived from the course's sources.

- ``exercises/NN_*.ipynb`` are generated from the masters ``solutions/NN_*.ipynb``. Every master is
  validated first (markers, required symbols); if any is wrong, nothing at all is written.
- Lessons and masters are re-executed in fresh kernels and stored with their outputs, normalised so
  that building twice writes nothing the second time. Cells marked ``# NBVAL_IGNORE_OUTPUT`` hold
  what legitimately changes from run to run (timings, live widgets): while such a cell's source is
  unchanged its stored outputs are kept, unless ``refresh`` is asked.

- ``backprop_lib/grading/visible.json``, the data a student release's ``check`` judges the visible
  tests from (see ``grading.public``), is made from the questions of ``grading/exNN.py``. It is
  rewritten only when its data changes: a stored number that another processor's BLAS kernels round
  differently in its last bits is kept. ``only`` selects it by its file name (``--only visible``).

``check`` executes and writes nothing: it reports every exercise that differs from what its master
generates, every lesson or master whose sources or outputs differ from what the last build
stored (an edit without a rebuild, or an output edited by hand), and the data file when the
questions make other data (a case, a reference or a mistake changed).
"""
from __future__ import annotations

import copy
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .exercises import exercise_number, make_exercise
from .progress import progress_bar
from .notebooks import NotebookError, dumps, execute, is_fresh, normalize, read_notebook, write_if_changed

EXECUTED_FOLDERS = ("lessons", "solutions")
IGNORE_MARKER = "NBVAL_IGNORE_OUTPUT"


@dataclass
class BuildResult:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    stale: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.stale


def numbered(root: Path, folder: str) -> list[Path]:
    """The numbered notebooks (``NN_topic.ipynb``) of one folder, in course order."""
    return sorted((root / folder).glob("[0-9][0-9]_*.ipynb"))


def _required_symbols(number: str) -> tuple[str, ...]:
    from ..grading import EXERCISES

    exercise = EXERCISES.get(number)
    if exercise is None:
        return ()
    return tuple(dict.fromkeys(name for q in exercise.questions for name in q.symbols))


def _master_metadata(path: Path) -> dict[str, str]:
    return {"exercise": exercise_number(path)} if path.parent.name == "solutions" else {}


def generated_exercises(root: Path, masters: list[Path], result: BuildResult) -> dict[Path, str]:
    """Exercise path -> its text, for every master; errors are added to ``result``."""
    generated = {}
    for master in masters:
        try:
            nb = make_exercise(read_notebook(master), master, _required_symbols(exercise_number(master)))
        except NotebookError as exc:
            result.errors.append(str(exc))
            continue
        generated[root / "exercises" / master.name] = dumps(normalize(nb))
    return generated


def _keep_varying_outputs(old: nbformat.NotebookNode, new: nbformat.NotebookNode) -> None:
    """Give each marked cell of ``new`` the outputs its unchanged source had in ``old``."""
    stored: dict[str, list] = {}
    for cell in old.cells:
        if cell.cell_type == "code" and IGNORE_MARKER in cell.source and cell.get("execution_count"):
            stored.setdefault(cell.source, []).append(cell.outputs)
    for cell in new.cells:
        if cell.cell_type == "code" and stored.get(cell.source):
            cell.outputs = stored[cell.source].pop(0)


def _rebuild(path: Path, refresh: bool = False) -> tuple[Path, bool, str | None]:
    try:
        old = read_notebook(path)
        nb = execute(copy.deepcopy(old), cwd=path.parent)
        if not refresh:
            _keep_varying_outputs(old, nb)
        return path, write_if_changed(normalize(nb, _master_metadata(path)), path), None
    except NotebookError as exc:
        return path, False, f"{path}: {exc}"


def _selected(paths: list[Path], only: list[str] | None) -> list[Path]:
    return [p for p in paths if not only or any(p.name.startswith(prefix) for prefix in only)]


def _visible_data(root: Path, check: bool, only: list[str] | None, result: BuildResult) -> None:
    """Rebuild (or, with ``check``, compare) the data file of the visible tests, where the course has one."""
    from .release import DATA, ReleaseError, same_data, visible_text

    path = root / DATA
    if not path.parent.is_dir() or not _selected([path], only):
        return
    try:
        made = visible_text()
    except ReleaseError as exc:
        result.errors.append(str(exc))
        return
    fresh = path.exists() and same_data(path.read_text(encoding="utf-8"), made)
    if check or fresh:
        (result.unchanged if fresh else result.stale).append(path)
    else:
        path.write_text(made, encoding="utf-8")
        result.written.append(path)


def build(root: str | os.PathLike, check: bool = False, jobs: int = 1, only: list[str] | None = None,
          refresh: bool = False) -> BuildResult:
    """Rebuild (or, with ``check``, verify) the course's notebooks under ``root``.

    ``only`` restricts the build to notebooks (and the data file) whose file name starts with one
    of the given prefixes (``["01", "03_flat"]``, ``["visible"]``); ``refresh`` also replaces the
    stored outputs of unchanged ``# NBVAL_IGNORE_OUTPUT`` cells (new timings).
    """
    root = Path(root)
    result = BuildResult()
    masters = _selected(numbered(root, "solutions"), only)
    exercises = generated_exercises(root, masters, result)
    executed = _selected(numbered(root, "lessons"), only) + masters
    if result.errors:
        return result  # a broken master: nothing is written, not even what is fine
    _visible_data(root, check, only, result)
    if check:
        for path, text in exercises.items():
            fresh = path.exists() and path.read_text(encoding="utf-8") == text
            (result.unchanged if fresh else result.stale).append(path)
        for path in executed:
            try:
                (result.unchanged if is_fresh(read_notebook(path)) else result.stale).append(path)
            except NotebookError as exc:
                result.errors.append(str(exc))
        return result
    with progress_bar(len(executed), "executing") as progress:
        if jobs > 1 and len(executed) > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                outcomes = []
                for outcome in pool.map(_rebuild, executed, [refresh] * len(executed)):
                    outcomes.append(outcome)
                    progress.update()
        else:
            outcomes = []
            for path in executed:
                outcomes.append(_rebuild(path, refresh))
                progress.update()
    for path, written, error in outcomes:
        if error:
            result.errors.append(error)
        else:
            (result.written if written else result.unchanged).append(path)
    for path, text in exercises.items():
        if write_if_changed(text, path):
            result.written.append(path)
        else:
            result.unchanged.append(path)
    return result
