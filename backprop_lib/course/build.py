"""``backprop-course build``: regenerate every notebook derived from the course's sources.

Lessons and solution notebooks are re-executed in fresh kernels and stored with their outputs,
normalised so that building twice writes nothing the second time. ``check`` executes nothing:
it reports every notebook whose sources or outputs differ from what the last build stored.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

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


def _rebuild(path: Path) -> tuple[Path, bool, str | None]:
    try:
        nb = read_notebook(path)
        execute(nb, cwd=path.parent)
        return path, write_if_changed(normalize(nb), path), None
    except NotebookError as exc:
        return path, False, f"{path}: {exc}"


def build(root: str | os.PathLike, check: bool = False, jobs: int = 1, only: list[str] | None = None) -> BuildResult:
    """Rebuild (or, with ``check``, verify) the course's notebooks under ``root``.

    ``only`` restricts the build to notebooks whose file name starts with one of the given
    prefixes (``["01", "03_flat"]``).
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
            outcomes = list(pool.map(_rebuild, paths))
    else:
        outcomes = [_rebuild(p) for p in paths]
    for path, written, error in outcomes:
        if error:
            result.errors.append(error)
        else:
            (result.written if written else result.unchanged).append(path)
    return result
