"""Exercise 01: derivatives on a computational graph."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .probes.ex01 import FUNCTIONS, PROBES
from .spec import Case, Exercise, Mistake, Outcome, Question, close

Inputs = Mapping[str, Any]


def _f(name: str):
    return FUNCTIONS[name][0]


# --- numerical_derivative(f, x, h=1e-5) ---------------------------------------------------------------


def _derivative_cases(rng: np.random.Generator) -> list[Case]:
    # a step h given is large enough that the quotient with it differs clearly from one with h = 1e-5
    cases = []
    for i, name in enumerate(FUNCTIONS):
        x = float(np.round(rng.uniform(-1.5, 1.5), 3))
        h = None if i % 2 == 0 else float(rng.choice([0.1, 0.05, 0.01]))
        label = f"numerical_derivative({name}, x={x:g}" + (")" if h is None else f", h={h:g})")
        cases.append(Case(label, {"f": name, "x": x, "h": h}, visible=i < 3))
    return cases


def _step(inputs: Inputs) -> float:
    return 1e-5 if inputs["h"] is None else inputs["h"]


def _quotient(inputs: Inputs, kind: str = "central") -> float:
    """The difference quotient of the case, as asked ("central") or as a known mistake computes it."""
    f, x, h = _f(inputs["f"]), inputs["x"], _step(inputs)
    return {"central": lambda: (f(x + h) - f(x - h)) / (2 * h),
            "forward": lambda: (f(x + h) - f(x)) / h,
            "backward": lambda: (f(x) - f(x - h)) / h,
            "over h": lambda: (f(x + h) - f(x - h)) / h,
            "times h": lambda: (f(x + h) - f(x - h)) / 2 * h,
            "reversed": lambda: (f(x - h) - f(x + h)) / (2 * h)}[kind]()


ONE_SIDED = ("(f(x + h) - f(x)) / h, or (f(x) - f(x - h)) / h, has error O(h); use the central difference "
             "(f(x + h) - f(x - h)) / (2h), whose error is O(h^2).")

NUMERICAL_DERIVATIVE = Question(
    id="01.numerical_derivative",
    points=3,
    title="Central difference",
    cases=_derivative_cases,
    probe=PROBES["01.numerical_derivative"],
    reference=_quotient,
    rtol=1e-7,
    atol=1e-10,
    credit="case",
    mistakes=(
        Mistake.answer("one-sided difference", ONE_SIDED, lambda i: _quotient(i, "forward"), rtol=1e-9),
        Mistake.answer("one-sided difference", ONE_SIDED, lambda i: _quotient(i, "backward"), rtol=1e-9),
        Mistake.answer("divided by h instead of 2h",
                       "the two points x - h and x + h are 2h apart: divide the difference by 2h.",
                       lambda i: _quotient(i, "over h"), rtol=1e-9),
        Mistake.answer("2 * h not in parentheses",
                       "d / 2 * h is (d / 2) * h, a product with h: write d / (2 * h).",
                       lambda i: _quotient(i, "times h"), rtol=1e-9),
        Mistake.answer("difference taken the wrong way round",
                       "the slope is the later value minus the earlier one: f(x + h) - f(x - h), not "
                       "f(x - h) - f(x + h).", lambda i: _quotient(i, "reversed"), rtol=1e-9),
        Mistake.answer("the step h is ignored",
                       "use the h the caller passes (its default is 1e-5), not a fixed step.",
                       lambda i: _quotient({**i, "h": None}) if i["h"] is not None else math.nan, rtol=1e-9),
    ),
)


# --- lesson_graph(a, b) -> (values, edges) ---------------------------------------------------------------


def _graph_cases(rng: np.random.Generator) -> list[Case]:
    points = [(2.0, 1.0)] + [tuple(float(v) for v in np.round(rng.uniform(-3, 3, 2), 2)) for _ in range(3)]
    return [Case(f"lesson_graph(a={a:g}, b={b:g})", {"a": a, "b": b}, visible=k < 2)
            for k, (a, b) in enumerate(points)]


def _graph_answer(inputs: Inputs, edges: str = "local") -> dict:
    """Values and edge derivatives of e = (a + b)(b + 1): the right ones ("local"), or those of a known mistake."""
    a, b = inputs["a"], inputs["b"]
    c, d = a + b, b + 1
    local = {"a->c": 1.0, "b->c": 1.0, "b->d": 1.0, "c->e": d, "d->e": c}
    wrong = {"local": lambda: {},
             "swapped factors": lambda: {"c->e": c, "d->e": d},
             "product as a sum": lambda: {"c->e": 1.0, "d->e": 1.0},
             "sum as a product": lambda: {"a->c": b, "b->c": a},
             # de/du, the whole path from u to e, on every edge out of u
             "derivatives of e": lambda: {"a->c": d, "b->c": c + d, "b->d": c + d},
             "upside down": lambda: {"c->e": 1 / d, "d->e": 1 / c}}
    return {"values": {"a": a, "b": b, "c": c, "d": d, "e": c * d}, "edges": {**local, **wrong[edges]()}}


LESSON_GRAPH = Question(
    id="01.lesson_graph",
    points=3,
    title="Values and edge derivatives of e = (a + b) * (b + 1)",
    cases=_graph_cases,
    probe=PROBES["01.lesson_graph"],
    reference=_graph_answer,
    credit="output",  # the values and the edge derivatives are marked apart
    mistakes=(
        Mistake.answer("product rule applied to the wrong factor",
                       "for e = c * d, de/dc is the OTHER factor d, and de/dd is c.",
                       lambda i: _graph_answer(i, "swapped factors")),
        Mistake.answer("the product's edges set to 1, as for a sum",
                       "e = c * d is a product: de/dc = d and de/dd = c. Only a sum passes 1 to each input.",
                       lambda i: _graph_answer(i, "product as a sum")),
        Mistake.answer("the sum's edges set to the other summand, as for a product",
                       "c = a + b is a sum: dc/da = dc/db = 1, whatever a and b are.",
                       lambda i: _graph_answer(i, "sum as a product")),
        Mistake.answer("derivatives of e on the edges instead of local derivatives",
                       "an edge (u, v) carries the LOCAL derivative dv/du, one step only (dc/da = 1); the "
                       "derivative of e with respect to u is the sum over paths, which comes later.",
                       lambda i: _graph_answer(i, "derivatives of e")),
        Mistake.answer("edge derivatives taken upside down",
                       "the edge (u, v) carries dv/du, how much v moves when u moves: de/dc = d, not dc/de = 1/d.",
                       lambda i: _graph_answer(i, "upside down")),
        Mistake.raises("an edge keyed the wrong way round",
                       "key each edge from its input to its output: ('a', 'c') because c is computed from a, "
                       "not ('c', 'a').", "EdgeReversed"),
        Mistake.raises("a key is missing",
                       "return values with keys 'a'..'e' and edges keyed by (u, v) pairs such as ('a', 'c').",
                       "KeyError"),
    ),
)


# --- product_rule(f, df, g, dg, x) -------------------------------------------------------------------------


def _product_cases(rng: np.random.Generator) -> list[Case]:
    # exp is its own derivative, so with it f' g and f' g' (or f g' and f' g') agree: every other case goes without
    names = list(FUNCTIONS)
    cases = []
    for k in range(5):
        pool = names if k % 2 else [n for n in names if n != "exp"]
        f, g = (str(n) for n in rng.choice(pool, size=2, replace=False))
        x = float(np.round(rng.uniform(-1.2, 1.2), 3))
        cases.append(Case(f"product_rule({f}, {g}, x={x:g})", {"f": f, "g": g, "x": x}, visible=k < 2))
    return cases


def _product(inputs: Inputs, terms: str = "both") -> float:
    (f, df), (g, dg), x = FUNCTIONS[inputs["f"]], FUNCTIONS[inputs["g"]], inputs["x"]
    return {"both": lambda: df(x) * g(x) + f(x) * dg(x),
            "derivatives": lambda: df(x) * dg(x),
            "first": lambda: df(x) * g(x),
            "second": lambda: f(x) * dg(x),
            "sum": lambda: df(x) + dg(x),
            "minus": lambda: df(x) * g(x) - f(x) * dg(x),
            "chain": lambda: df(g(x)) * dg(x),
            "difference quotient": lambda: (f(x + 1e-5) * g(x + 1e-5) - f(x - 1e-5) * g(x - 1e-5)) / 2e-5,
            }[terms]()


# The rule is exact: the only error of a right answer is rounding, a few units in the 16th digit. A
# difference quotient of f g errs by 1e-11 or more whatever its step (truncation ~ h^2, rounding ~ 1e-16 / h).
PRODUCT_RTOL, PRODUCT_ATOL = 1e-12, 1e-13


def _approximates(outcome: Outcome, inputs: Inputs) -> bool:
    """A number near f'g + fg' but not equal to it: a difference quotient (of any step up to about 1e-3)."""
    if outcome.error or outcome.reference or isinstance(outcome.value, bool):
        return False
    right = _product(inputs)
    (f, df), (g, dg), x = FUNCTIONS[inputs["f"]], FUNCTIONS[inputs["g"]], inputs["x"]
    scale = abs(df(x) * g(x)) + abs(f(x) * dg(x)) + abs(f(x) * g(x))
    return (not close(outcome.value, right, PRODUCT_RTOL, PRODUCT_ATOL)
            and close(outcome.value, right, 0.0, 1e-3 * scale + 1e-6))


PRODUCT_RULE = Question(
    id="01.product_rule",
    points=2,
    title="The product rule",
    cases=_product_cases,
    probe=PROBES["01.product_rule"],
    reference=_product,
    rtol=PRODUCT_RTOL,
    atol=PRODUCT_ATOL,
    credit="case",
    mistakes=(
        Mistake.answer("product of the derivatives",
                       "(fg)' is not f'g': each factor's derivative is multiplied by the other factor, "
                       "f'(x) g(x) + f(x) g'(x).", lambda i: _product(i, "derivatives")),
        Mistake.answer("only one term of the product rule",
                       "add both paths: f'(x) g(x) + f(x) g'(x).", lambda i: _product(i, "first")),
        Mistake.answer("only one term of the product rule",
                       "add both paths: f'(x) g(x) + f(x) g'(x).", lambda i: _product(i, "second")),
        Mistake.answer("the derivatives added, as for a sum",
                       "(f + g)' = f' + g' is the sum rule; for a product each derivative is multiplied by the "
                       "other factor: f'(x) g(x) + f(x) g'(x).", lambda i: _product(i, "sum")),
        Mistake.answer("a minus sign between the terms",
                       "the minus belongs to the quotient rule; the product rule adds: f'(x) g(x) + f(x) g'(x).",
                       lambda i: _product(i, "minus")),
        Mistake.answer("the chain rule instead of the product rule",
                       "f'(g(x)) g'(x) is the derivative of f(g(x)), a composition; f(x) g(x) is a product: "
                       "f'(x) g(x) + f(x) g'(x).", lambda i: _product(i, "chain")),
        Mistake("a difference quotient instead of the product rule",
                "a difference quotient only approximates the derivative (to about 1e-10 here); the product "
                "rule is exact: f'(x) g(x) + f(x) g'(x), from the derivatives df and dg you are given.",
                _approximates, lambda i: _product(i, "difference quotient")),
    ),
)


EXERCISE = Exercise(
    number="01",
    title="Derivatives on a computational graph",
    notebook="01_computational_graphs",
    questions=(NUMERICAL_DERIVATIVE, LESSON_GRAPH, PRODUCT_RULE),
)
