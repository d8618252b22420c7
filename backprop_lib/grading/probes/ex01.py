"""Probes of exercise 01: derivatives on a computational graph."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from . import Probe

# Functions the tests differentiate, each with its exact derivative, by name (names cross processes).
FUNCTIONS = {
    "sin": (math.sin, math.cos),
    "exp": (math.exp, math.exp),
    "cube": (lambda x: x * x * x, lambda x: 3 * x * x),
    "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    "bump": (lambda x: 1 / (1 + x * x), lambda x: -2 * x / (1 + x * x) ** 2),
}

EDGES = (("a", "c"), ("b", "c"), ("b", "d"), ("c", "e"), ("d", "e"))


def derivative(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> float:
    f, x, h = FUNCTIONS[inputs["f"]][0], inputs["x"], inputs["h"]
    answer = ns["numerical_derivative"](f, x) if h is None else ns["numerical_derivative"](f, x, h)
    return float(answer)


class EdgeReversed(Exception):
    """The answer keyed an edge (v, u), from its output to its input."""


def graph(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict:
    values, edges = ns["lesson_graph"](inputs["a"], inputs["b"])
    for u, v in EDGES:
        if (u, v) not in edges and (v, u) in edges:
            raise EdgeReversed(f"the edge from {u!r} to {v!r} is keyed {(v, u)!r}")
    return {"values": {k: float(values[k]) for k in "abcde"},
            "edges": {f"{u}->{v}": float(edges[(u, v)]) for u, v in EDGES}}


def product(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> float:
    (f, df), (g, dg) = FUNCTIONS[inputs["f"]], FUNCTIONS[inputs["g"]]
    return float(ns["product_rule"](f, df, g, dg, inputs["x"]))


PROBES = {
    "01.numerical_derivative": Probe(("numerical_derivative",), derivative,
                                     forbidden=("backprop_lib.gradcheck.numerical_gradient",)),
    "01.lesson_graph": Probe(("lesson_graph",), graph, forbidden=("backprop_lib.graph.Expression.evaluate",)),
    "01.product_rule": Probe(("product_rule",), product),
}
