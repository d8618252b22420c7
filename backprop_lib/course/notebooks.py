"""Reading, executing, normalising and writing the course's notebooks.

Stored notebooks must be byte-for-byte reproducible: executing a notebook twice and writing it
must give the same file. So everything that varies between runs is removed or fixed here:
timing metadata, widget state and widget model ids, the interpreter's version, execution counts.
A fingerprint of the sources and text outputs, kept in the notebook's metadata, lets
``build --check`` find a notebook that was edited but not rebuilt without executing anything.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import nbformat

COURSE_KEY = "backprop_course"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex", "image/svg+xml", "application/json")


class NotebookError(Exception):
    """A notebook file that cannot be used; the message is one line for the user."""


def load_notebook_json(path: str | os.PathLike) -> dict[str, Any]:
    """A notebook as plain JSON data, checked just enough to be used: cells with a type and a source.

    Every way a file can be unusable gets a one-line ``NotebookError``. This needs no nbformat
    (whose import costs more than a second), so the grader starts fast.
    """
    p = Path(path)
    if not p.exists():
        raise NotebookError(f"{p}: no such file")
    if p.is_dir():
        raise NotebookError(f"{p}: is a directory, not a notebook")
    return parse_notebook_json(p.read_bytes(), str(p))


def parse_notebook_json(data: bytes, name: str) -> dict[str, Any]:
    """``load_notebook_json`` for bytes already read; ``name`` is used in the messages."""
    text = data.decode("utf-8", errors="replace")
    if not text.strip():
        raise NotebookError(f"{name}: the file is empty")
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{name}: not a notebook (invalid JSON at line {exc.lineno})") from None
    except RecursionError:
        raise NotebookError(f"{name}: not a notebook (JSON nested too deeply)") from None
    if not isinstance(nb, dict) or "cells" not in nb and "worksheets" not in nb:
        raise NotebookError(f"{name}: JSON but not a notebook (no cells)")
    major = nb.get("nbformat")
    if major != 4:
        raise NotebookError(f"{name}: nbformat {str(major)[:20]} is not supported; save it with Jupyter as nbformat 4")
    cells = nb.get("cells")
    if not isinstance(cells, list) or not all(
            isinstance(c, dict) and isinstance(c.get("cell_type"), str) and isinstance(c.get("source"), (str, list))
            for c in cells):
        raise NotebookError(f"{name}: not a valid notebook (malformed cells)")
    for cell in cells:
        if isinstance(cell["source"], list):
            if not all(isinstance(line, str) for line in cell["source"]):
                raise NotebookError(f"{name}: not a valid notebook (malformed cells)")
            cell["source"] = "".join(cell["source"])
    if not isinstance(nb.get("metadata", {}), dict):
        raise NotebookError(f"{name}: not a valid notebook (malformed metadata)")
    nb.setdefault("metadata", {})
    return nb


def read_notebook(path: str | os.PathLike) -> nbformat.NotebookNode:
    """Read and validate a notebook, with a one-line ``NotebookError`` for every unusable file."""
    data = load_notebook_json(path)
    import nbformat

    try:
        return nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # nbformat raises several types for malformed content
        raise NotebookError(f"{path}: not a valid notebook ({type(exc).__name__})") from None


def fingerprint(nb: nbformat.NotebookNode) -> str:
    """Hash of every cell's type, source and text outputs (images excluded: their bytes vary)."""
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(cell.cell_type.encode())
        h.update(b"\0" + cell.source.encode() + b"\0")
        for out in cell.get("outputs", []):
            h.update(out.get("output_type", "").encode())
            if "text" in out:
                h.update(out["text"].encode() if isinstance(out["text"], str) else "".join(out["text"]).encode())
            for mime in TEXT_MIMES:
                value = out.get("data", {}).get(mime)
                if value is not None:
                    h.update(mime.encode() + json.dumps(value, sort_keys=True).encode())
            if out.get("output_type") == "error":
                h.update(out.get("ename", "").encode() + out.get("evalue", "").encode())
    return h.hexdigest()


def normalize(nb: nbformat.NotebookNode, extra_metadata: dict[str, Any] | None = None) -> nbformat.NotebookNode:
    """Make a notebook reproducible and record its fingerprint (modifies and returns ``nb``)."""
    nb.nbformat, nb.nbformat_minor = 4, 5
    course = dict(nb.metadata.get(COURSE_KEY, {}))
    course.update(extra_metadata or {})
    import nbformat

    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO, COURSE_KEY: course})
    count = 0
    for i, cell in enumerate(nb.cells):
        cell.id = f"{cell.cell_type[:2]}{i:03d}"
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)
        cell.metadata.pop("collapsed", None)
        if cell.cell_type != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        if cell.get("execution_count") is not None:
            count += 1
            cell.execution_count = count
        outputs = []
        for out in cell.outputs:
            if out.get("output_type") in ("execute_result", "display_data"):
                # a widget's live view needs a running kernel: the stored notebook keeps its text form,
                # and a picture of its first state when it has one (an explorer's). A viewer shows
                # the picture rather than the text, so the text also goes above it as printed output.
                data = out.get("data", {})
                if data.pop(WIDGET_VIEW, None) is not None and "image/png" in data and "text/plain" in data:
                    text = data["text/plain"] if isinstance(data["text/plain"], str) else "".join(data["text/plain"])
                    outputs.append(nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": text + "\n"}))
                out.metadata = {k: v for k, v in out.get("metadata", {}).items() if k != WIDGET_VIEW}
                if out.output_type == "execute_result":
                    out.execution_count = count
            outputs.append(out)
        cell.outputs = _merged_streams(outputs)
    nb.metadata[COURSE_KEY]["fingerprint"] = fingerprint(nb)
    return nb


def _merged_streams(outputs: list) -> list:
    """Adjacent prints to one stream as one output: how a slow cell's prints were split varies by run."""
    merged: list = []
    for out in outputs:
        previous = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == out.get("name")):
            previous["text"] = _joined(previous["text"]) + _joined(out["text"])
        else:
            merged.append(out)
    return merged


def _joined(text: str | list[str]) -> str:
    return text if isinstance(text, str) else "".join(text)


def is_fresh(nb: nbformat.NotebookNode) -> bool:
    """True if the notebook is exactly as the last build left it."""
    return nb.metadata.get(COURSE_KEY, {}).get("fingerprint") == fingerprint(nb)


def dumps(nb: nbformat.NotebookNode) -> str:
    import nbformat

    return nbformat.writes(nb, version=4) + "\n"


def write_if_changed(nb: nbformat.NotebookNode | str, path: str | os.PathLike) -> bool:
    """Write ``nb`` (a notebook, or its text from ``dumps``) to ``path`` unless the file already holds
    exactly that; True if written."""
    p = Path(path)
    text = nb if isinstance(nb, str) else dumps(nb)
    if p.exists() and p.read_text(encoding="utf-8") == text:
        return False
    write_whole(p, text)
    return True


def write_whole(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a temporary file beside it, renamed over it, so
    that an interrupted command never leaves half a file. The text's line endings are kept as they are."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(p)


def execute(nb: nbformat.NotebookNode, cwd: str | os.PathLike, timeout: int = 300) -> nbformat.NotebookNode:
    """Run every cell in a fresh ``python3`` kernel started in ``cwd``; errors stop the run.

    Raises ``NotebookError`` naming the cell that failed.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        record_timing=False,
        store_widget_state=False,
        coalesce_streams=True,  # prints spread over time must not split into a varying number of outputs
        resources={"metadata": {"path": str(cwd)}},
    )
    saved = os.environ.get("PYTHONHASHSEED")
    os.environ["PYTHONHASHSEED"] = "0"  # the kernel inherits it: set and dict orders are stable
    try:
        client.execute()
    except CellExecutionError as exc:
        first = str(exc).strip().splitlines()
        raise NotebookError(f"a cell raised an error: {first[-1] if first else exc!r}") from None
    finally:
        if saved is None:
            os.environ.pop("PYTHONHASHSEED", None)
        else:
            os.environ["PYTHONHASHSEED"] = saved
    return nb
