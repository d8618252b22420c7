"""Lesson 01's self-check: the local derivative on every edge of the café bill, at a new point.

The reader fills in a dict ``{(u, v): dv/du}`` for the bill ``subtotal = price * count``,
``tip = subtotal * rate``, ``total = subtotal + tip`` at ``price = 5, count = 2, rate = 0.1``.
A wrong edge gets the rule to apply (sum or product), never its number.
"""
from __future__ import annotations

from typing import Any

from ..graph import Expression
from . import Verdict, close, practice

BILL = Expression({
    "subtotal": ("*", "price", "count"),
    "tip": ("*", "subtotal", "rate"),
    "total": ("+", "subtotal", "tip"),
})
TODAY = {"price": 5, "count": 2, "rate": 0.1}

_RULES = {
    "*": "Product rule: an edge into a product carries the value of the other factor at today's point "
         "(price = 5, count = 2, rate = 0.1)",
    "+": "Sum rule: how fast does a sum move when one of its terms moves and the other is held fixed? "
         "A local derivative ignores that the other term may depend on this one",
}


def _name(edge: tuple) -> str:
    return f"{edge[0]} -> {edge[1]}"


@practice("01.bill_edges")
def bill_edges(edges: Any) -> Verdict:
    """``edges`` maps each edge ``(u, v)`` of the bill to the local derivative dv/du today."""
    if not isinstance(edges, dict):
        return Verdict(False, "give a dict from each edge (u, v) to its local derivative dv/du")
    truth = BILL.evaluate(**TODAY).edges
    missing = [edge for edge in truth if edge not in edges]
    if missing:
        return Verdict(False, f"no value for the edge {_name(missing[0])}: the bill has six edges, give all of them")
    extra = [edge for edge in edges if edge not in truth]
    if extra:
        return Verdict(False, f"{extra[0]!r} is not an edge of the bill; edges are (u, v) pairs such as "
                              "('price', 'subtotal')")
    wrong = [edge for edge, derivative in truth.items() if not close(edges[edge], derivative)]
    if not wrong:
        return Verdict(True, "all six edges right: the sum rule on the sum's edges, the other factor on each "
                             "product's edges")
    first = wrong[0]
    others = f" ({len(wrong) - 1} more edge(s) wrong after it)" if len(wrong) > 1 else ""
    return Verdict(False, f"the edge {_name(first)} is not right{others}. {_RULES[BILL.operations[first[1]][0]]}.")


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
            # yesterday's bill (price 4, count 3, rate 0.2)
            (BILL.evaluate(price=4, count=3, rate=0.2).edges,),
            # the rate edge carries the rate, not the subtotal
            (_today() | {("rate", "tip"): 0.1},),
            # an edge left out, and a list instead of a dict
            ({edge: d for edge, d in _today().items() if edge != ("tip", "total")},),
            ([1, 1, 1, 1, 1, 1],),
        ],
    ),
}
