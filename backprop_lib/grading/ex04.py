"""Exercise 04: a modular autograd engine, the student's own ``Value`` class.

The probes (``probes/ex04.py``) build expressions with the student's ``Value`` from plain
programs: a list of operations, each node given by its index in the list::

    ("leaf", x)       Value(x)            ("pow", i, k)    n[i] ** k
    ("add", i, j)     n[i] + n[j]         ("mul", i, j)    n[i] * n[j]
    ("add_num", i, c) n[i] + c            ("mul_num", i, c) n[i] * c
    ("radd", c, i)    c + n[i]            ("rmul", c, i)   c * n[i]
    ("tanh", i)       n[i].tanh()         ("exp", i)       n[i].exp()

The last node is the root. References come from ``backprop_lib.engine.Value`` on the same program;
the known wrong answers from a small simulated engine with the student's bug switched on.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..engine import Value as LibraryValue
from .probes.ex04 import PROBES, LibraryValueError, Program
from .probes.ex04 import apply_operation as _apply, case_program as _program, operands as _operands
from .probes.ex04 import reachable as _reachable
from .spec import Case, Exercise, Mistake, Outcome, Question, close

USES_LIBRARY_VALUE = Mistake(
    "the library's Value instead of your own",
    "Value must be your own class, not backprop_lib's Value, a subclass of it or a wrapper around it: "
    "write data, grad, the operations and backward yourself.",
    lambda outcome, inputs: bool(outcome.error) and outcome.error[0] == LibraryValueError.__name__)

# --- programs: building, evaluating and drawing them at random ----------------------------------------


_FLOAT_OPS: dict[str, Callable[[list[float], tuple], float]] = {
    "leaf": lambda v, op: op[1],
    "add": lambda v, op: v[op[1]] + v[op[2]],
    "mul": lambda v, op: v[op[1]] * v[op[2]],
    "add_num": lambda v, op: v[op[1]] + op[2],
    "mul_num": lambda v, op: v[op[1]] * op[2],
    "radd": lambda v, op: op[1] + v[op[2]],
    "rmul": lambda v, op: op[1] * v[op[2]],
    "pow": lambda v, op: v[op[1]] ** op[2],
    "tanh": lambda v, op: math.tanh(v[op[1]]),
    "exp": lambda v, op: math.exp(v[op[1]]),
}


def _forward(program: Program) -> list[float]:
    """The value of every node, in floats."""
    values: list[float] = []
    for op in program:
        values.append(float(_FLOAT_OPS[op[0]](values, op)))
    return values


def _has_fan_out(program: Program) -> bool:
    reach = _reachable(program)
    uses = [0] * len(program)
    for i in reach:
        for j in _operands(program[i]):
            uses[j] += 1
    return max(uses) >= 2


def _number(rng: np.random.Generator) -> float | int:
    if rng.random() < 0.3:
        return int(rng.choice([-3, -2, 2, 3]))
    return float(np.round(rng.choice([-1, 1]) * rng.uniform(0.3, 2.0), 2))


def _pick(rng: np.random.Generator, n: int) -> int:
    """A node index, mostly one of the last few, so that expressions grow deep."""
    if rng.random() < 0.6:
        return int(n - 1 - rng.integers(0, min(3, n)))
    return int(rng.integers(0, n))


def _random_program(rng: np.random.Generator, n_leaves: int, n_ops: int, kinds: Sequence[str]) -> list[tuple]:
    """Random leaves, then random operations whose values stay moderate (|v| <= 6)."""
    program: list[tuple] = [("leaf", float(np.round(rng.choice([-1, 1]) * rng.uniform(0.2, 1.4), 2)))
                            for _ in range(n_leaves)]
    values = _forward(program)
    while len(program) < n_leaves + n_ops:
        kind = str(rng.choice(list(kinds)))
        i, j = _pick(rng, len(program)), _pick(rng, len(program))
        a = values[i]
        if kind in ("add", "mul"):
            op = (kind, i, j)
        elif kind in ("add_num", "mul_num"):
            op = (kind, i, _number(rng))
        elif kind in ("radd", "rmul"):
            op = (kind, _number(rng), i)
        elif kind == "pow":
            ks = [2, 3] + ([-1] if abs(a) > 0.3 else []) + ([0.5, 1.5] if a > 0.1 else [])
            op = ("pow", i, ks[int(rng.integers(0, len(ks)))])
        elif kind == "exp" and a > 1.5:
            continue
        else:
            op = (kind, i)
        v = _forward(program + [op])[-1]
        if not (math.isfinite(v) and 1e-3 < abs(v) <= 6.0):
            continue
        program.append(op)
        values.append(v)
    return program


ALL_KINDS = ("add", "mul", "add_num", "mul_num", "radd", "rmul", "pow", "tanh", "exp")
NODE_KINDS = ("add", "mul", "add", "mul", "pow", "tanh", "exp")

# --- the reference engine and a simulated engine with known bugs ---------------------------------------


def _library_grads(program: Program) -> dict:
    """Root value and d root / d node for every node, by backprop_lib.engine.Value."""
    nodes: list[LibraryValue] = []
    for op in program:
        nodes.append(_apply(op, nodes, LibraryValue))
    nodes[-1].backward()
    return {"data": nodes[-1].data, "grads": [float(v.grad) for v in nodes]}


def _locals(op: tuple, values: list[float], out: float, bugs: frozenset) -> tuple[float, ...]:
    """d out / d operand for each node operand, with the student's bugs when asked."""
    kind = op[0]
    a = values[op[1]] if kind not in ("leaf", "radd", "rmul") else None
    if kind == "add":
        return (1.0, 1.0)
    if kind in ("add_num", "radd"):
        return (1.0,)
    if kind == "mul":
        b = values[op[2]]
        return (a, b) if "mul_no_swap" in bugs else (b, a)
    if kind == "mul_num":
        return (a,) if "mul_no_swap" in bugs else (op[2],)
    if kind == "rmul":
        return (values[op[2]],) if "mul_no_swap" in bugs else (op[1],)
    if kind == "pow":
        k = op[2]
        return (k * a ** k,) if "pow_k_xk" in bugs else (k * a ** (k - 1),)
    if kind == "tanh":
        return (1.0 - a * a,) if "tanh_on_input" in bugs else (1.0 - out * out,)
    if kind == "exp":
        return (out,)
    return ()


def _postorder(program: Program, style: str) -> list[int]:
    """A topological order of the nodes reachable from the root, as a depth-first search gives it.

    ``"dfs"``: the order of micrograd's recursive search (inputs in operand order), computed here
    without recursion; ``"stack"``: lesson 04's explicit stack (inputs popped in reverse order).
    """
    inputs = [_operands(op) for op in program]
    root, order, seen = len(program) - 1, [], set()
    if style == "dfs":
        stack: list[tuple[int, int]] = [(root, 0)]
        seen.add(root)
        while stack:
            node, k = stack.pop()
            if k < len(inputs[node]):
                stack.append((node, k + 1))
                child = inputs[node][k]
                if child not in seen:
                    seen.add(child)
                    stack.append((child, 0))
            else:
                order.append(node)
        return order
    pending: list[tuple[int, bool]] = [(root, False)]
    while pending:
        node, expanded = pending.pop()
        if expanded:
            order.append(node)
        elif node not in seen:
            seen.add(node)
            pending.append((node, True))
            pending.extend((c, False) for c in inputs[node] if c not in seen)
    return order


def _visit_order(program: Program, how: str) -> list[int]:
    """The order in which a backward pass calls each node's backward step."""
    if how in ("dfs", "stack"):
        return _postorder(program, how)[::-1]
    if how in ("forward_dfs", "forward_stack"):
        return _postorder(program, how.split("_")[1])
    inputs = [_operands(op) for op in program]
    root = len(program) - 1
    order, seen, frontier = [], {root}, [root]
    while frontier:  # breadth first ("bfs") or depth first pre-order ("preorder") from the root
        node = frontier.pop(0) if how == "bfs" else frontier.pop()
        order.append(node)
        for c in inputs[node]:
            if c not in seen:
                seen.add(c)
                frontier.append(c)
    return order


def _sweep(program: Program, grads: list[float], how: str = "dfs", accumulate: bool = True,
           bugs: frozenset = frozenset()) -> None:
    """One pass of micrograd-style backward steps over ``grads`` (changed in place)."""
    values = _forward(program)
    inputs = [_operands(op) for op in program]
    for node in _visit_order(program, how):
        g = grads[node]
        for child, d in zip(inputs[node], _locals(program[node], values, values[node], bugs)):
            grads[child] = grads[child] + d * g if accumulate else d * g


def _simulated(program: Program, how: str = "dfs", accumulate: bool = True, seed: float = 1.0,
               bugs: Sequence[str] = ()) -> dict:
    """What an engine with the given order, accumulation and bugs returns after one backward()."""
    grads = [0.0] * len(program)
    grads[-1] = seed
    _sweep(program, grads, how, accumulate, frozenset(bugs))
    return {"data": _forward(program)[-1], "grads": grads}


def _simulated_mistake(name: str, feedback: str, simulate: Callable[..., Any], hows: Sequence[str] = ("dfs",),
                       **kwargs: Any) -> Mistake:
    """A mistake recognised when the answer equals ``simulate(program, how=how, **kwargs)`` for one of
    ``hows`` (the orders a sort may give); its wrong answer is the one under the first."""

    def matches(outcome: Outcome, inputs: Mapping[str, Any]) -> bool:
        if outcome.error or outcome.reference:
            return False
        return any(close(outcome.value, simulate(inputs["program"], how=how, **kwargs)) for how in hows)

    return Mistake(name, feedback, matches, lambda i: simulate(i["program"], how=hows[0], **kwargs))


ASSIGNED = dict(
    name="gradient assigned instead of accumulated at a fan-out",
    feedback="a value used twice (b = a + a) must receive the SUM of the gradients coming back along both "
             "uses: write `self.grad += ...` in every backward step, never `self.grad = ...`.")
WRONG_ORDER = dict(
    name="backward steps run out of topological order",
    feedback="a node may pass its gradient on only after every node that uses it has passed theirs: call "
             "the backward steps along reversed(topological_order(self)), the root first.")
NOT_SEEDED = dict(
    name="the root's gradient is not seeded with 1",
    feedback="backward() starts from d root / d root = 1: set self.grad = 1.0 before the sweep.")
WRONG_ORDERS = ("forward_dfs", "forward_stack", "bfs", "preorder")
TANH_ON_INPUT = dict(
    name="tanh derivative taken on the input",
    feedback="d tanh(x)/dx = 1 - tanh(x)^2 uses the OUTPUT t = tanh(x): write (1 - t**2), with t = out.data, "
             "not (1 - x**2).")
POW_K_XK = dict(name="power rule applied as k * x**k", feedback="d(x**k)/dx = k * x**(k - 1): the exponent drops by one.")
MUL_NO_SWAP = dict(
    name="multiplication does not swap",
    feedback="for out = a * b, a receives b * out.grad and b receives a * out.grad: each input gets the OTHER factor.")
# A backward pass's known bugs: the words of the mistake and how the simulated engine makes it.
ENGINE_BUGS = (
    (ASSIGNED, dict(hows=("dfs", "stack"), accumulate=False)),
    (WRONG_ORDER, dict(hows=WRONG_ORDERS)),
    (TANH_ON_INPUT, dict(bugs=("tanh_on_input",))),
    (POW_K_XK, dict(bugs=("pow_k_xk",))),
    (MUL_NO_SWAP, dict(bugs=("mul_no_swap",))),
    (NOT_SEEDED, dict(seed=0.0)),
)
BACKWARD_MISTAKES = (USES_LIBRARY_VALUE,) + tuple(
    _simulated_mistake(**words, simulate=_simulated, **how) for words, how in ENGINE_BUGS)


def _variants(bugs: Sequence[Mapping[str, Any]]) -> list[list[dict]]:
    """For each bug, the simulator's keywords for every way of making it (one per order it may come in)."""
    return [[dict(how=how, **{k: v for k, v in bug.items() if k != "hows"}) for how in bug.get("hows", ("dfs",))]
            for bug in bugs]


_BUG_VARIANTS = _variants([bug for _, bug in ENGINE_BUGS])


def _distinct(a: Any, b: Any) -> bool:
    return not close(a, b, rtol=1e-3, atol=1e-4)


def _telling_apart(groups: Sequence[Sequence[Any]], right: Any) -> bool:
    """Each group holds the answers one bug may give: every answer differs from the right one, and
    from every answer of every other group."""
    return (all(_distinct(r, right) for group in groups for r in group)
            and all(_distinct(a, b) for k, group in enumerate(groups) for other in groups[k + 1:]
                    for a in group for b in other))


def _telling_program(rng: np.random.Generator, n_ops: int) -> list[tuple]:
    """A random expression on which every known bug gives its own answer, unlike the right one and the others.

    After a random start, m = (last node) * (an earlier node) reaches the root along two paths of
    different lengths, directly and through tanh and a power: a fan-out that an out-of-order sweep
    visits too early.
    """
    for _ in range(1000):
        program = _random_program(rng, 3, n_ops - 4, ALL_KINDS)
        last = len(program) - 1
        m, t, q = last + 1, last + 2, last + 3
        program += [("mul", last, int(rng.integers(0, last))), ("tanh", m), ("pow", t, int(rng.choice([2, 3]))),
                    (str(rng.choice(["add", "mul"])), q, m)]
        values = _forward(program)
        if not (0.2 < abs(values[m]) < 2.5):
            continue
        groups = [[_simulated(program, **variant) for variant in bug] for bug in _BUG_VARIANTS]
        if _telling_apart(groups, _simulated(program)):
            return program
    raise RuntimeError("no telling expression found")  # 1000 failures in a row: practically impossible


# --- 04.value_forward ---------------------------------------------------------------------------------------


def _every_operation(a: float, b: float, c: float | int) -> list[tuple]:
    return [("leaf", a), ("leaf", b), ("add", 0, 1), ("mul", 0, 1), ("add_num", 0, c), ("radd", c, 1),
            ("mul_num", 1, c), ("rmul", c, 0), ("pow", 0, 2), ("pow", 1, 3), ("tanh", 2), ("exp", 3),
            ("add", 0, 0), ("mul", 1, 1)]


def _forward_cases(rng: np.random.Generator) -> list[Case]:
    a, b = (float(np.round(v, 2)) for v in rng.uniform(-1.5, 1.5, 2))
    c = int(rng.choice([-3, 2, 3]))
    cases = [Case(f"every operation once, on a = {a:g}, b = {b:g} and the number {c}",
                  {"program": _every_operation(a, b, c)})]
    for k in range(4):
        program = _random_program(rng, 2, 8, ALL_KINDS)
        cases.append(Case(f"random expression {k + 1} ({len(program)} nodes)", {"program": program}, visible=k < 1))
    return cases


VALUE_FORWARD = Question(
    id="04.value_forward",
    credit="case",
    points=2,
    title="Value: data, +, *, ** with a number, tanh, exp and the reflected operators",
    cases=_forward_cases,
    probe=PROBES["04.value_forward"],
    reference=lambda i: _forward(i["program"]),
    rtol=1e-9,
    atol=1e-12,
    mistakes=(
        USES_LIBRARY_VALUE,
        Mistake("a reflected operator is missing",
                "`2 + v` first tries int.__add__, which does not know Value, then v.__radd__(2): define "
                "__radd__ and __rmul__ (they can return self + other and self * other).",
                lambda o, i: bool(o.error) and o.error[0] == "TypeError" and "unsupported operand" in o.error[1]),
        Mistake.raises("a reflected operator calls itself",
                       "in __radd__, `return other + self` asks the number first, which hands the sum back to "
                       "self.__radd__(other): it calls itself until Python stops it. Write `return self + other` "
                       "(and `return self * other` in __rmul__).", "RecursionError"),
        Mistake("a number operand is used as a Value",
                "in v + 2 or v * 3 the other operand may be a plain number: wrap it first, "
                "other = other if isinstance(other, Value) else Value(other). In v ** k, k stays a number: "
                "use it directly (self.data ** k).",
                lambda o, i: bool(o.error) and o.error[0] == "AttributeError" and "attribute 'data'" in o.error[1]),
    ),
)

# --- 04.topological_order -------------------------------------------------------------------------------


def _order_reference(inputs: Mapping[str, Any], reversed_: bool = False) -> dict[str, int]:
    program = _program(inputs)
    reach = _reachable(program)
    edges = {(j, i) for i in reach for j in _operands(program[i])}
    return {"listed": len(reach), "distinct": len(reach), "missing": 0, "unreachable": 0,
            "misordered": len(edges) if reversed_ else 0}


def _order_cases(rng: np.random.Generator) -> list[Case]:
    a, b = (float(np.round(v, 2)) for v in rng.uniform(-3, 3, 2))
    lesson = [("leaf", a), ("leaf", b), ("add", 0, 1), ("add_num", 1, 1), ("mul", 2, 3)]
    n = 10_000
    x, k = float(np.round(rng.uniform(0.5, 1.5), 3)), float(np.round(1 + rng.uniform(-1, 1) / n, 7))
    cases = [Case(f"e = (a + b) * (b + 1) at a = {a:g}, b = {b:g}", {"program": lesson}),
             Case("a random expression with shared nodes", {"program": _fan_out_program(rng, 10)}),
             Case(f"a chain x * k * ... * k of {n:,} multiplications", {"chain": n, "x": x, "k": k})]
    cases += [Case(f"random expression {m + 1}", {"program": _fan_out_program(rng, 14)}, visible=False)
              for m in range(3)]
    return cases


def _fan_out_program(rng: np.random.Generator, n_ops: int) -> list[tuple]:
    """A random expression of nodes only, with a value used twice and most nodes reachable."""
    for _ in range(1000):
        program = _random_program(rng, 3, n_ops, NODE_KINDS)
        if _has_fan_out(program) and len(_reachable(program)) >= n_ops // 2:
            return program
    raise RuntimeError("no expression with a fan-out found")  # practically impossible


RECURSION_FEEDBACK = ("a recursive function goes one call deeper per node of a chain, and Python stops at "
                      "about 1,000 levels (3,000 in a Jupyter kernel): keep your own stack in a list (lesson 04, section 3) instead of "
                      "recursing, in topological_order and in backward.")

TOPOLOGICAL_ORDER = Question(
    id="04.topological_order",
    credit="case",
    builds_on=('04.value_forward',),
    points=3,
    title="Every node before the nodes computed from it",
    cases=_order_cases,
    probe=PROBES["04.topological_order"],
    reference=_order_reference,
    rtol=0.0,
    atol=0.0,
    mistakes=(
        USES_LIBRARY_VALUE,
        Mistake.raises("recursive topological sort overflows", RECURSION_FEEDBACK, "RecursionError"),
        Mistake.answer("the order is reversed",
                       "every node must come AFTER its inputs: append a node once all of its inputs are in the "
                       "list (post-order); backward walks the list in reverse.",
                       lambda i: _order_reference(i, reversed_=True), rtol=0.0, atol=0.0),
        Mistake("a node is listed more than once",
                "a value used twice is reached twice: keep a set of the nodes already visited and skip them "
                "(Value has no __eq__, so the set compares nodes by identity).",
                lambda o, i: not o.error and isinstance(o.value, dict)
                and o.value.get("listed", 0) > o.value.get("distinct", 0)),
        Mistake("nodes are missing",
                "list every node the root is computed from, leaves and root included: follow `_prev` of "
                "every node you reach, not only the root's.",
                lambda o, i: not o.error and isinstance(o.value, dict) and o.value.get("missing", 0) > 0),
    ),
)

# --- 04.value_backward ---------------------------------------------------------------------------------------


def _backward_cases(rng: np.random.Generator) -> list[Case]:
    a = float(np.round(rng.choice([-1, 1]) * rng.uniform(0.5, 2.0), 2))
    doubled = [("leaf", a), ("add", 0, 0), ("add", 1, 1)]
    cases = [Case(f"b = a + a, c = b + b at a = {a:g}", {"program": doubled})]
    cases += [Case(f"random expression {m + 1}", {"program": _telling_program(rng, 9 + m)}, visible=m < 1)
              for m in range(4)]
    return cases


VALUE_BACKWARD = Question(
    id="04.value_backward",
    credit="case",
    builds_on=('04.value_forward', '04.topological_order'),
    points=4,
    title="backward(): d root / d node in every node's grad",
    cases=_backward_cases,
    probe=PROBES["04.value_backward"],
    reference=lambda i: _library_grads(i["program"]),
    rtol=1e-7,
    atol=1e-10,
    mistakes=BACKWARD_MISTAKES,
)

# --- 04.deep_chain -----------------------------------------------------------------------------------------------


def _chain_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for shape, steps in (("x * k", 100_000), ("x * k + w", 5_000)):  # 100,000 nodes, then a fan-out of 5,000
        x = float(np.round(rng.choice([-1, 1]) * rng.uniform(0.5, 2.0), 3))
        k = float(np.round(1 + rng.choice([-1, 1]) * rng.uniform(0.3, 1.0) / steps, 9))
        w = float(np.round(rng.uniform(-1, 1), 3))
        what = "v = v * k" if shape == "x * k" else "v = v * k + w"
        name = f"{what}, {steps:,} times, from v = x = {x:g}, k = {k:.9g}" + (f", w = {w:g}" if "w" in shape else "")
        cases.append(Case(name, {"shape": shape, "steps": steps, "x": x, "k": k, "w": w}))
    return cases


def _chain_answer(inputs: Mapping[str, Any], mistake: str = "") -> dict:
    """y and its derivatives by forward recurrences (no graph); or what a known mistake gives."""
    x, k, w, n, shape = inputs["x"], inputs["k"], inputs["w"], inputs["steps"], inputs["shape"]
    affine = shape == "x * k + w"
    y, dx, dk, dw = x, 1.0, 0.0, 0.0
    for _ in range(n):
        dk = dk * k + y
        dx *= k
        dw = dw * k + 1.0
        y = y * k + (w if affine else 0.0)
    if mistake == "assigned":  # only the first multiplication's (last visited) contribution survives
        last = k ** (n - 1)
        dk, dw = x * last, last
    if mistake == "not seeded":
        dx = dk = dw = 0.0
    if mistake == "forward":  # only the root's step finds a gradient to pass on: every other ran before it had one
        dx = 0.0
        dk, dw = (0.0, 1.0) if affine else (y / k, 0.0)
    result = {"y": y, "dx": dx, "dk": dk}
    if affine:
        result["dw"] = dw
    return result


DEEP_CHAIN = Question(
    id="04.deep_chain",
    credit="case",
    slow_hint=("On a long chain, a visited list searched with `in` (a set is constant time) or a graph "
               "walked once per node makes the sort quadratic."),
    builds_on=('04.value_backward',),
    points=2,
    title="backward() through a chain of 100,000 nodes",
    cases=_chain_cases,
    probe=PROBES["04.deep_chain"],
    reference=_chain_answer,
    rtol=1e-6,
    atol=1e-9,
    time_limit=20.0,
    mistakes=(
        USES_LIBRARY_VALUE,
        Mistake.raises("recursion too deep", RECURSION_FEEDBACK, "RecursionError"),
        Mistake.answer(ASSIGNED["name"], ASSIGNED["feedback"] + " Here k is used by every multiplication.",
                       lambda i: _chain_answer(i, "assigned")),
        Mistake.answer(WRONG_ORDER["name"], WRONG_ORDER["feedback"], lambda i: _chain_answer(i, "forward")),
        Mistake.answer(NOT_SEEDED["name"], NOT_SEEDED["feedback"], lambda i: _chain_answer(i, "not seeded")),
    ),
)

# --- 04.backward_accumulates ----------------------------------------------------------------------------------


def _accumulation(program: Program, reset: str = "interior", **sweep: Any) -> dict:
    """Leaf grads after backward() twice, then after zeroing the leaves and once more.

    ``reset`` says which grads each backward() sets to 0 before its sweep: ``"interior"`` (right:
    leaves accumulate as in PyTorch), ``"none"`` (micrograd's backward) or ``"all"``; ``sweep`` holds
    the simulated engine's bugs (see ``_simulated``).
    """
    reach = _reachable(program)
    leaves = [i for i, op in enumerate(program) if op[0] == "leaf"]
    grads = [0.0] * len(program)

    def backward() -> None:
        for i in reach:
            if reset == "all" or (reset == "interior" and program[i][0] != "leaf"):
                grads[i] = 0.0
        grads[-1] = sweep.get("seed", 1.0)
        _sweep(program, grads, sweep.get("how", "dfs"), sweep.get("accumulate", True),
               frozenset(sweep.get("bugs", ())))

    backward()
    backward()
    twice = [grads[i] for i in leaves]
    for i in leaves:
        grads[i] = 0.0
    backward()
    return {"twice": twice, "after_zeroing": [grads[i] for i in leaves]}


NOT_RESET = dict(
    name="intermediate gradients are not reset",
    feedback="a second backward() adds this call's gradients onto the intermediate nodes' old ones, and passes "
             "the sum on: at the start of backward(), set grad = 0 on every node that has inputs (the leaves "
             "keep theirs), then seed the root with 1. (micrograd's backward leaves them as they are; this "
             "course follows PyTorch, where each call adds each leaf's gradient once.)")
LEAVES_RESET = dict(
    name="backward() resets the leaves' gradients",
    feedback="as in PyTorch, backward() ADDS to a leaf's grad, so two calls give twice the gradient: reset only "
             "the nodes that have inputs. Zeroing the leaves is the caller's job (optimizer.zero_grad()).")
# The bugs of backward() itself show here too; each case is drawn so that no two of these give the same grads.
ACCUMULATION_BUGS = ((NOT_RESET, dict(reset="none")), (LEAVES_RESET, dict(reset="all"))) + ENGINE_BUGS
_ACCUMULATION_VARIANTS = _variants([bug for _, bug in ACCUMULATION_BUGS])


def _accumulation_cases(rng: np.random.Generator) -> list[Case]:
    cases: list[Case] = []
    for _ in range(1000):
        # the root takes a leaf as an input: a sweep in the wrong order still gives that leaf a gradient,
        # where an unseeded root gives none
        program = _telling_program(rng, int(rng.integers(7, 10)))
        program.append((str(rng.choice(["add", "mul"])), len(program) - 1, int(rng.integers(0, 3))))
        groups = [[_accumulation(program, **variant) for variant in bug] for bug in _ACCUMULATION_VARIANTS]
        if _telling_apart(groups, _accumulation(program)):
            cases.append(Case(f"random expression {len(cases) + 1}: backward() twice, zero the leaves, once more",
                              {"program": program}, visible=len(cases) < 2))
            if len(cases) == 4:
                return cases
    raise RuntimeError("no telling expression found")  # practically impossible


BACKWARD_ACCUMULATES = Question(
    id="04.backward_accumulates",
    credit="case",
    builds_on=('04.value_backward',),
    points=2,
    title="Leaf gradients accumulate across backward() calls, as in PyTorch",
    cases=_accumulation_cases,
    probe=PROBES["04.backward_accumulates"],
    reference=lambda i: _accumulation(i["program"]),
    rtol=1e-7,
    atol=1e-10,
    mistakes=(USES_LIBRARY_VALUE,) + tuple(
        _simulated_mistake(**words, simulate=_accumulation, **bug) for words, bug in ACCUMULATION_BUGS),
)

# --- 04.sigmoid_function ---------------------------------------------------------------------------------------


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _sigmoid_cases(rng: np.random.Generator) -> list[Case]:
    # the second input is so negative that exp(-x) overflows a float
    xs = [float(np.round(v, 3)) for v in rng.uniform(-4, 4, 5)]
    xs[1] = float(np.round(rng.uniform(-740, -712), 1))
    ups = [float(np.round(rng.choice([-1, 1]) * rng.uniform(0.5, 3.0), 2)) for _ in xs]
    return [Case(f"Sigmoid.apply(Value({x:g})) * {up:g}, then backward()", {"x": x, "upstream": up}, visible=n < 3)
            for n, (x, up) in enumerate(zip(xs, ups))]


def _sigmoid_answer(inputs: Mapping[str, Any], mistake: str = "") -> dict:
    x, up = inputs["x"], inputs["upstream"]
    s = _sigmoid(x)
    local = {"input": x * (1.0 - x), "output": s}.get(mistake, s * (1.0 - s))
    return {"s": s, "dx": local if mistake == "upstream" else up * local}


SIGMOID_FUNCTION = Question(
    id="04.sigmoid_function",
    credit="output",
    points=2,
    title="A PyTorch-style Function: the sigmoid as one node",
    cases=_sigmoid_cases,
    probe=PROBES["04.sigmoid_function"],
    reference=_sigmoid_answer,
    rtol=1e-9,
    atol=1e-12,
    mistakes=(
        Mistake.answer("sigmoid derivative taken on the input",
                       "sigma'(x) = s (1 - s) with s = sigma(x), the OUTPUT: save s in forward "
                       "(ctx.save_for_backward(s)) and use it in backward, not x.",
                       lambda i: _sigmoid_answer(i, "input")),
        Mistake.answer("multiplied by sigma(x) instead of its derivative",
                       "the local derivative of the sigmoid is s (1 - s), not s: return grad_output * s * (1 - s).",
                       lambda i: _sigmoid_answer(i, "output")),
        Mistake.answer("the upstream gradient is ignored",
                       "backward(ctx, grad_output) returns downstream = local x upstream: multiply s (1 - s) "
                       "by grad_output.", lambda i: _sigmoid_answer(i, "upstream")),
        Mistake.raises("exp overflows for very negative x",
                       "math.exp(-x) overflows once -x > 709: for x < 0 compute exp(x) / (1 + exp(x)), "
                       "which is the same number.", "OverflowError"),
    ),
)


EXERCISE = Exercise(
    number="04",
    title="A modular autograd engine",
    notebook="04_autograd_engine",
    questions=(VALUE_FORWARD, TOPOLOGICAL_ORDER, VALUE_BACKWARD, DEEP_CHAIN, BACKWARD_ACCUMULATES,
               SIGMOID_FUNCTION),
)
