"""Exercise 01: derivatives on a computational graph."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .probes.ex01 import FUNCTIONS, PROBES
from .spec import Case, Exercise, Mistake, Question


def _f(name: str):
    return FUNCTIONS[name][0]


# --- numerical_derivative(f, x, h=1e-5) ---------------------------------------------------------------


def _derivative_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i, name in enumerate(FUNCTIONS):
        x = float(np.round(rng.uniform(-1.5, 1.5), 3))
        h = None if i % 2 == 0 else float(rng.choice([1e-3, 1e-4]))
        label = f"numerical_derivative({name}, x={x:g}" + (")" if h is None else f", h={h:g})")
        cases.append(Case(label, {"f": name, "x": x, "h": h}, visible=i < 3))
    return cases


def _step(inputs: Mapping[str, Any]) -> float:
    return 1e-5 if inputs["h"] is None else inputs["h"]


def _central(inputs: Mapping[str, Any]) -> float:
    f, x, h = _f(inputs["f"]), inputs["x"], _step(inputs)
    return (f(x + h) - f(x - h)) / (2 * h)


NUMERICAL_DERIVATIVE = Question(
    id="01.numerical_derivative",
    points=3,
    title="Central difference",
    cases=_derivative_cases,
    probe=PROBES["01.numerical_derivative"],
    reference=_central,
    rtol=1e-7,
    atol=1e-10,
    mistakes=(
        Mistake.answer("one-sided difference",
                       "(f(x + h) - f(x)) / h has error O(h); use the central difference "
                       "(f(x + h) - f(x - h)) / (2h), whose error is O(h^2).",
                       lambda i: (_f(i["f"])(i["x"] + _step(i)) - _f(i["f"])(i["x"])) / _step(i), rtol=1e-9),
        Mistake.answer("divided by h instead of 2h",
                       "the two points x - h and x + h are 2h apart: divide the difference by 2h.",
                       lambda i: 2 * _central(i), rtol=1e-9),
        Mistake.answer("the step h is ignored",
                       "use the h the caller passes (its default is 1e-5), not a fixed step.",
                       lambda i: _central({**i, "h": None}) if i["h"] is not None else math.nan, rtol=1e-9),
    ),
)


# --- lesson_graph(a, b) -> (values, edges) ---------------------------------------------------------------


def _graph_cases(rng: np.random.Generator) -> list[Case]:
    points = [(2.0, 1.0)] + [tuple(float(v) for v in np.round(rng.uniform(-3, 3, 2), 2)) for _ in range(3)]
    return [Case(f"lesson_graph(a={a:g}, b={b:g})", {"a": a, "b": b}, visible=k < 2)
            for k, (a, b) in enumerate(points)]


def _graph_answer(a: float, b: float, swap_product: bool = False) -> dict:
    c, d = a + b, b + 1
    de_dc, de_dd = (c, d) if swap_product else (d, c)
    return {"values": {"a": a, "b": b, "c": c, "d": d, "e": c * d},
            "edges": {"a->c": 1.0, "b->c": 1.0, "b->d": 1.0, "c->e": de_dc, "d->e": de_dd}}


LESSON_GRAPH = Question(
    id="01.lesson_graph",
    points=3,
    title="Values and edge derivatives of e = (a + b) * (b + 1)",
    cases=_graph_cases,
    probe=PROBES["01.lesson_graph"],
    reference=lambda i: _graph_answer(i["a"], i["b"]),
    mistakes=(
        Mistake.answer("product rule applied to the wrong factor",
                       "for e = c * d, de/dc is the OTHER factor d, and de/dd is c.",
                       lambda i: _graph_answer(i["a"], i["b"], swap_product=True)),
        Mistake("a key is missing",
                "return values with keys 'a'..'e' and edges keyed by (u, v) pairs such as ('a', 'c').",
                lambda outcome, inputs: bool(outcome.error) and outcome.error[0] == "KeyError"),
    ),
)


# --- product_rule(f, df, g, dg, x) -------------------------------------------------------------------------


def _product_cases(rng: np.random.Generator) -> list[Case]:
    names = list(FUNCTIONS)
    cases = []
    for k in range(5):
        f, g = (str(n) for n in rng.choice(names, size=2, replace=False))
        x = float(np.round(rng.uniform(-1.2, 1.2), 3))
        cases.append(Case(f"product_rule({f}, {g}, x={x:g})", {"f": f, "g": g, "x": x}, visible=k < 2))
    return cases


def _product(inputs: Mapping[str, Any], terms: str = "both") -> float:
    (f, df), (g, dg), x = FUNCTIONS[inputs["f"]], FUNCTIONS[inputs["g"]], inputs["x"]
    if terms == "derivatives":
        return df(x) * dg(x)
    if terms == "first":
        return df(x) * g(x)
    return df(x) * g(x) + f(x) * dg(x)


PRODUCT_RULE = Question(
    id="01.product_rule",
    points=2,
    title="The product rule",
    cases=_product_cases,
    probe=PROBES["01.product_rule"],
    reference=_product,
    mistakes=(
        Mistake.answer("product of the derivatives",
                       "(fg)' is not f'g': each factor's derivative is multiplied by the other factor, "
                       "f'(x) g(x) + f(x) g'(x).", lambda i: _product(i, "derivatives")),
        Mistake.answer("only one term of the product rule",
                       "add both paths: f'(x) g(x) + f(x) g'(x).", lambda i: _product(i, "first")),
    ),
)


EXERCISE = Exercise(
    number="01",
    title="Derivatives on a computational graph",
    notebook="01_computational_graphs",
    questions=(NUMERICAL_DERIVATIVE, LESSON_GRAPH, PRODUCT_RULE),
)
