"""Lesson 01's self-check: the local derivative on every edge of the café bill, at a new point.

The reader fills in a dict ``{(u, v): dv/du}`` for the bill ``subtotal = price * count``,
``tip = subtotal * rate``, ``total = subtotal + tip`` at ``price = 5, count = 2, rate = 0.1``.
A wrong edge gets the rule to apply (sum or product) and the operation it comes from, never its number.
"""
from __future__ import annotations

from typing import Any

from ..graph import Expression
from . import Verdict, close, is_plain_number, practice

BILL = Expression({
    "subtotal": ("*", "price", "count"),
    "tip": ("*", "subtotal", "rate"),
    "total": ("+", "subtotal", "tip"),
})
TODAY = {"price": 5, "count": 2, "rate": 0.1}
YESTERDAY = {"price": 4, "count": 3, "rate": 0.2}  # the point the lesson prints before the task
POINT = "price = 5, count = 2, rate = 0.1"


def _name(edge: tuple) -> str:
    return f"{edge[0]} -> {edge[1]}"


def _rule(edge: tuple) -> str:
    """The rule for one edge, said with the operation it belongs to (never with the edge's value)."""
    u, v = edge
    op, left, right = BILL.operations[v]
    if op == "+":
        return (f"Sum rule: {v} = {left} + {right}. How fast does a sum move when one of its terms moves and the "
                "other is held fixed? A local derivative ignores that the other term may depend on this one")
    return (f"Product rule: {v} = {left} * {right}, so the edge from {u} carries the value of the other factor "
            f"at today's point ({POINT})")


@practice("01.bill_edges")
def bill_edges(edges: Any) -> Verdict:
    """``edges`` maps each edge ``(u, v)`` of the bill to the local derivative dv/du today."""
    if not isinstance(edges, dict):
        return Verdict(False, "give a dict from each edge (u, v) to its local derivative dv/du")
    truth = BILL.evaluate(**TODAY).edges
    extra = [edge for edge in edges if edge not in truth]
    if extra:
        wrong = extra[0]
        if isinstance(wrong, tuple) and wrong[::-1] in truth:
            return Verdict(False, f"{wrong!r} points the wrong way: an edge (u, v) goes from u to the node v "
                                  "computed from it, such as ('price', 'subtotal')")
        return Verdict(False, f"{wrong!r} is not an edge of the bill; edges are (u, v) pairs such as "
                              "('price', 'subtotal')")
    missing = [edge for edge in truth if edge not in edges]
    if missing:
        return Verdict(False, f"no value for the edge {_name(missing[0])}: the bill has six edges, give all of them")
    not_numbers = [edge for edge in truth if not is_plain_number(edges[edge])]
    if not_numbers:
        edge = not_numbers[0]
        return Verdict(False, f"the edge {_name(edge)} holds {edges[edge]!r} ({type(edges[edge]).__name__}): "
                              "write each local derivative as one plain number")
    wrong = [edge for edge, derivative in truth.items() if not close(edges[edge], derivative)]
    if not wrong:
        return Verdict(True, "all six edges right: the sum rule on the sum's edges, the other factor on each "
                             "product's edges")
    yesterday = BILL.evaluate(**YESTERDAY).edges
    if all(close(edges[edge], yesterday[edge]) for edge in wrong):
        return Verdict(False, f"the edges you got wrong hold yesterday's values, at price = 4, count = 3, "
                              f"rate = 0.2 (printed above); the task's point is {POINT}")
    first = wrong[0]
    others = f" ({len(wrong) - 1} more edge(s) wrong after it)" if len(wrong) > 1 else ""
    return Verdict(False, f"the edge {_name(first)} is not right{others}. {_rule(first)}.")


def _today() -> dict:
    """The right answer as a plain dict (the wrong samples change some of its edges)."""
    return dict(BILL.evaluate(**TODAY).edges)


SAMPLES = {
    "01.bill_edges": (
        [
            (_today(),),
            ({("price", "subtotal"): 2, ("count", "subtotal"): 5, ("subtotal", "tip"): 0.1, ("rate", "tip"): 10,
              ("subtotal", "total"): 1, ("tip", "total"): 1},),
        ],
        [
            # the product rule with the factors the wrong way round
            (_today() | {("price", "subtotal"): 5, ("count", "subtotal"): 2},),
            # the total derivative 1 + rate on the edge subtotal -> total, instead of the local one
            (_today() | {("subtotal", "total"): 1.1},),
            # yesterday's bill (price 4, count 3, rate 0.2), copied from the printout
            (BILL.evaluate(**YESTERDAY).edges,),
            # the rate edge carries the rate, not the subtotal
            (_today() | {("rate", "tip"): 0.1},),
            # the tip rate written as a percentage
            (_today() | {("subtotal", "tip"): 10},),
            # an edge left out, an edge the wrong way round, and a list instead of a dict
            ({edge: d for edge, d in _today().items() if edge != ("tip", "total")},),
            ({(v, u) if (u, v) == ("rate", "tip") else (u, v): d for (u, v), d in _today().items()},),
            ([1, 1, 1, 1, 1, 1],),
            # the right numbers, but as strings, or a one-element list
            ({edge: str(d) for edge, d in _today().items()},),
            (_today() | {("rate", "tip"): [10]},),
        ],
    ),
}
