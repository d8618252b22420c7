"""``backprop-course build``: regenerate every notebook derived from the course's sources.

Lessons and solution notebooks are re-executed in fresh kernels and stored with their outputs,
normalised so that building twice writes nothing the second time. Cells marked
``# NBVAL_IGNORE_OUTPUT`` hold what legitimately changes from run to run (timings, live widgets):
while such a cell's source is unchanged its stored outputs are kept, unless ``refresh`` is asked. ``check`` executes nothing:
it reports every notebook whose sources or outputs differ from what the last build stored.
"""
from __future__ import annotations

import copy
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .notebooks import NotebookError, execute, is_fresh, normalize, read_notebook, write_if_changed

EXECUTED_FOLDERS = ("lessons", "solutions")


@dataclass
class BuildResult:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    stale: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.stale


def executed_notebooks(root: Path) -> list[Path]:
    """The numbered notebooks (``NN_topic.ipynb``) of lessons/ and solutions/, in course order."""
    found = []
    for folder in EXECUTED_FOLDERS:
        found.extend(sorted((root / folder).glob("[0-9][0-9]_*.ipynb")))
    return found


IGNORE_MARKER = "NBVAL_IGNORE_OUTPUT"


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
        return path, write_if_changed(normalize(nb), path), None
    except NotebookError as exc:
        return path, False, f"{path}: {exc}"


def build(root: str | os.PathLike, check: bool = False, jobs: int = 1, only: list[str] | None = None,
          refresh: bool = False) -> BuildResult:
    """Rebuild (or, with ``check``, verify) the course's notebooks under ``root``.

    ``only`` restricts the build to notebooks whose file name starts with one of the given
    prefixes (``["01", "03_flat"]``); ``refresh`` also replaces the stored outputs of unchanged
    ``# NBVAL_IGNORE_OUTPUT`` cells (new timings).
    """
    root = Path(root)
    paths = executed_notebooks(root)
    if only:
        paths = [p for p in paths if any(p.name.startswith(prefix) for prefix in only)]
    result = BuildResult()
    if check:
        for path in paths:
            try:
                (result.unchanged if is_fresh(read_notebook(path)) else result.stale).append(path)
            except NotebookError as exc:
                result.errors.append(str(exc))
        return result
    if jobs > 1 and len(paths) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            outcomes = list(pool.map(_rebuild, paths, [refresh] * len(paths)))
    else:
        outcomes = [_rebuild(p, refresh) for p in paths]
    for path, written, error in outcomes:
        if error:
            result.errors.append(error)
        else:
            (result.written if written else result.unchanged).append(path)
    return result
