"""The course's colours and how it writes numbers in drawings."""
from __future__ import annotations

from ..engine import Value

#: The course's colours: one fill and one outline per kind of node, and the plot colours.
PALETTE: dict[str, str] = {
    "input": "#dbe9f6",
    "input_edge": "#2b6cb0",
    "inner": "#f4f4f4",
    "inner_edge": "#4a5568",
    "output": "#dcefd8",
    "output_edge": "#2f855a",
    "op": "#fff2c2",
    "op_edge": "#b7791f",
    "highlight": "#ffd8a8",
    "highlight_edge": "#dd6b20",
    "edge": "#4a5568",
    "derivative": "#1f4e8c",
    "text": "#1a202c",
}
_CLASS_COLOURS = ("#2b6cb0", "#dd6b20", "#2f855a", "#c53030", "#6b46c1", "#b7791f", "#319795", "#d53f8c")


def format_number(x: float) -> str:
    """A number in at most three significant digits, without a negative zero."""
    x = float(x.data if isinstance(x, Value) else x)
    text = f"{x:.3g}"
    return "0" if text == "-0" else text
