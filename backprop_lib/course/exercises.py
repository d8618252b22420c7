"""Exercises from masters: one source of truth for questions, answers and student notebooks.

A master notebook in ``solutions/`` holds the full answers between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` (the markers nbgrader made familiar). The student's notebook in
``exercises/`` is derived from it: each marked region becomes a stub that raises
``NotImplementedError``, cells whose first line is ``### INSTRUCTOR ONLY`` are dropped, outputs are
cleared, and the exercise number is written into the notebook's metadata.
"""
from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import nbformat

from .notebooks import COURSE_KEY, NotebookError

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
INSTRUCTOR_ONLY = "### INSTRUCTOR ONLY"
STUB = 'raise NotImplementedError("replace this line with your answer")'
_NUMBER = re.compile(r"^(\d\d)_")


class MarkerError(NotebookError):
    """A master whose markers or symbols are wrong; the message names the file and the cell."""


def exercise_number(path: Path) -> str:
    match = _NUMBER.match(path.name)
    if not match:
        raise MarkerError(f"{path}: a master's name must start with its two-digit number (NN_topic.ipynb)")
    return match.group(1)


def _stub_source(source: str, where: str) -> str:
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if inside:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another solution region")
            indent = line[: len(line) - len(line.lstrip())]
            if not indent:
                raise MarkerError(f"{where}, line {number}: a solution region must be inside a function or "
                                  "method body (a top-level stub would stop Run All)")
            out.append(f"{indent}# YOUR CODE HERE")
            out.append(f"{indent}{STUB}")
            inside = True
        elif stripped.startswith(END):
            if not inside:
                raise MarkerError(f"{where}, line {number}: {END} without a {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def top_level_names(nb: nbformat.NotebookNode) -> set[str]:
    """Names bound at the top level of the notebook's code cells (defs, classes, assignments, imports)."""
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def make_exercise(master: nbformat.NotebookNode, path: Path, required: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """The student's notebook for ``master`` (read from ``path``); raises ``MarkerError``, writes nothing."""
    number = exercise_number(path)
    missing = [name for name in required if name not in top_level_names(master)]
    if missing:
        raise MarkerError(f"{path}: the questions need {', '.join(missing)}, which no code cell defines at the top level")
    nb = copy.deepcopy(master)
    cells = []
    for index, cell in enumerate(nb.cells, start=1):
        where = f"{path}, cell {index}"
        if cell.cell_type != "code":
            if BEGIN in cell.source or END in cell.source:
                raise MarkerError(f"{where}: a solution marker in a {cell.cell_type} cell (markers belong in code cells)")
            cells.append(cell)
            continue
        if cell.source.lstrip().startswith(INSTRUCTOR_ONLY):
            continue
        cell.source = _stub_source(cell.source, where)
        cell.outputs = []
        cell.execution_count = None
        cells.append(cell)
    nb.cells = cells
    nb.metadata.setdefault(COURSE_KEY, {})
    nb.metadata[COURSE_KEY] = {"exercise": number}
    return nb
