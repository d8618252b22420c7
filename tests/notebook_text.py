"""Read what a stored notebook says: its markdown and the text of its outputs (for lesson tests)."""
from __future__ import annotations

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def find_notebook(folder: str, number: str) -> Path:
    """The notebook ``NN_*.ipynb`` in ``folder`` (lessons, exercises or solutions)."""
    matches = sorted((ROOT / folder).glob(f"{number}_*.ipynb"))
    if len(matches) != 1:
        raise FileNotFoundError(f"expected one {folder}/{number}_*.ipynb, found {[m.name for m in matches]}")
    return matches[0]


def as_text(value) -> str:
    """A notebook field as one string (nbformat stores text as a string or a list of lines)."""
    return value if isinstance(value, str) else "".join(value)


def output_text(path: Path) -> str:
    """Every stored stdout/stderr stream and text/plain, text/html or text/markdown result, joined."""
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append(as_text(out["text"]))
            for mime in ("text/plain", "text/html", "text/markdown"):
                if mime in out.get("data", {}):
                    parts.append(as_text(out["data"][mime]))
    return "\n".join(parts)


def markdown_text(path: Path) -> str:
    """All markdown cells, joined."""
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def image_count(path: Path) -> int:
    """How many stored outputs hold a PNG or SVG figure."""
    nb = nbformat.read(path, as_version=4)
    return sum(
        1
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if {"image/png", "image/svg+xml"} & set(out.get("data", {}))
    )


EXPLORER_HINT = "run this cell to use the interactive explorer"


def is_explorer(output) -> bool:
    """Whether a stored output is an explorer (a stored explorer keeps its hint as text/plain)."""
    return EXPLORER_HINT in as_text(output.get("data", {}).get("text/plain", ""))


def explorer_count(path: Path) -> int:
    """How many stored outputs are explorers."""
    nb = nbformat.read(path, as_version=4)
    return sum(1 for cell in nb.cells for out in cell.get("outputs", []) if is_explorer(out))
