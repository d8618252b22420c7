"""Probes of exercise 04: a modular autograd engine, the student's own ``Value`` class.

The probes build expressions with the student's ``Value`` from plain programs: a list of
operations, each node given by its index in the list::

    ("leaf", x)       Value(x)            ("pow", i, k)    n[i] ** k
    ("add", i, j)     n[i] + n[j]         ("mul", i, j)    n[i] * n[j]
    ("add_num", i, c) n[i] + c            ("mul_num", i, c) n[i] * c
    ("radd", c, i)    c + n[i]            ("rmul", c, i)   c * n[i]
    ("tanh", i)       n[i].tanh()         ("exp", i)       n[i].exp()

The last node is the root. A chain x * k * ... * k comes as ``{"chain": n, "x": x, "k": k}``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...engine import Value as LibraryValue
from ...function import Function
from ...graph import paused_gc
from . import Probe

Program = Sequence[tuple]


class LibraryValueError(Exception):
    """The answer's ``Value`` is the library's own class (or made from it)."""


# --- programs -------------------------------------------------------------------------------------------------


def operands(op: tuple) -> tuple[int, ...]:
    """The node indices an operation reads, in operand order (numbers are not nodes)."""
    kind = op[0]
    if kind in ("add", "mul"):
        return (op[1], op[2])
    if kind in ("radd", "rmul"):
        return (op[2],)
    if kind == "leaf":
        return ()
    return (op[1],)


def operation_text(op: tuple) -> str:
    """How the operation reads in Python, for error messages."""
    kind = op[0]
    return {"leaf": "Value(x)", "add": "Value + Value", "mul": "Value * Value",
            "add_num": f"Value + {op[-1]!r}", "mul_num": f"Value * {op[-1]!r}",
            "radd": f"{op[1]!r} + Value", "rmul": f"{op[1]!r} * Value", "pow": f"Value ** {op[-1]!r}",
            "tanh": "Value.tanh()", "exp": "Value.exp()"}[kind]


def apply_operation(op: tuple, nodes: list, make: Callable[[float], Any]) -> Any:
    """One operation on already built nodes (any Value-like class)."""
    kind = op[0]
    if kind == "leaf":
        return make(op[1])
    if kind == "add":
        return nodes[op[1]] + nodes[op[2]]
    if kind == "mul":
        return nodes[op[1]] * nodes[op[2]]
    if kind == "add_num":
        return nodes[op[1]] + op[2]
    if kind == "mul_num":
        return nodes[op[1]] * op[2]
    if kind == "radd":
        return op[1] + nodes[op[2]]
    if kind == "rmul":
        return op[1] * nodes[op[2]]
    if kind == "pow":
        return nodes[op[1]] ** op[2]
    if kind == "tanh":
        return nodes[op[1]].tanh()
    if kind == "exp":
        return nodes[op[1]].exp()
    raise ValueError(f"unknown operation {kind!r}")


def reachable(program: Program) -> set[int]:
    """The nodes the root is computed from, the root included."""
    root = len(program) - 1
    seen, stack = {root}, [root]
    while stack:
        for j in operands(program[stack.pop()]):
            if j not in seen:
                seen.add(j)
                stack.append(j)
    return seen


def chain_program(n: int, x: float, k: float) -> list[tuple]:
    """x * k * k * ... * k: n multiplications by the same k."""
    return [("leaf", x), ("leaf", k), ("mul", 0, 1)] + [("mul", i, 1) for i in range(2, n + 1)]


def case_program(inputs: Mapping[str, Any]) -> list[tuple]:
    """The program a case's inputs describe (a program, or a chain)."""
    if "chain" in inputs:
        return chain_program(inputs["chain"], inputs["x"], inputs["k"])
    return list(inputs["program"])


# --- the student's side -----------------------------------------------------------------------------------


def student_value_class(ns: Mapping[str, Any]) -> Any:
    """The student's ``Value``, refused if it is the library's own class or a subclass of it."""
    value = ns["Value"]
    if isinstance(value, type) and issubclass(value, LibraryValue):
        raise LibraryValueError("Value is backprop_lib's own Value class (or a subclass of it): write your own")
    return value


def build_nodes(ns: Mapping[str, Any], program: Program) -> list:
    """The program's nodes, made with the student's Value; checks each result is one of theirs."""
    value = student_value_class(ns)
    nodes: list = []
    for op in program:
        node = apply_operation(op, nodes, value)
        if isinstance(node, LibraryValue):
            raise LibraryValueError(f"`{operation_text(op)}` gave backprop_lib's own Value: write your own class")
        if isinstance(value, type) and not isinstance(node, value):
            raise TypeError(f"`{operation_text(op)}` gave an object of type {type(node).__name__}, "
                            f"not one of your Values")
        nodes.append(node)
    return nodes


# --- 04.value_forward ---------------------------------------------------------------------------------------


def value_forward(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> list[float]:
    return [float(node.data) for node in build_nodes(ns, inputs["program"])]


# --- 04.topological_order -------------------------------------------------------------------------------


def order_summary(program: Program, listed: Sequence[int]) -> dict[str, int]:
    """What a listing of the program's nodes (-1: not a program node) gets right and wrong."""
    reach = reachable(program)
    position: dict[int, int] = {}
    for p, i in enumerate(listed):
        if i >= 0:
            position.setdefault(i, p)
    nodes = [i for i in listed if i >= 0]
    edges = {(j, i) for i in reach for j in operands(program[i])}
    return {"listed": len(nodes), "distinct": len(set(nodes)), "missing": len(reach - set(nodes)),
            "unreachable": len(set(nodes) - reach),
            "misordered": sum(1 for j, i in edges if j in position and i in position and position[j] > position[i])}


def topological_order(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, int]:
    program = case_program(inputs)
    value = student_value_class(ns)
    with paused_gc():  # a long chain holds no garbage; the collector's passes over it would only cost time
        nodes = build_nodes(ns, program)
        order = ns["topological_order"](nodes[-1])
    index = {id(node): i for i, node in enumerate(nodes)}
    listed = []
    for entry in list(order):
        if isinstance(value, type) and not isinstance(entry, value):
            raise TypeError(f"topological_order must list the Value nodes themselves, but its list holds "
                            f"an object of type {type(entry).__name__}")
        listed.append(index.get(id(entry), -1))
    return order_summary(program, listed)


# --- 04.value_backward ---------------------------------------------------------------------------------------


def value_backward(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict:
    nodes = build_nodes(ns, inputs["program"])
    nodes[-1].backward()
    return {"data": float(nodes[-1].data), "grads": [float(node.grad) for node in nodes]}


# --- 04.deep_chain -----------------------------------------------------------------------------------------------


def deep_chain(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict:
    value = student_value_class(ns)
    x, k, w = value(inputs["x"]), value(inputs["k"]), value(inputs["w"])
    if any(isinstance(v, LibraryValue) for v in (x, k, w)):
        raise LibraryValueError("Value(x) gave backprop_lib's own Value: write your own class")
    affine = inputs["shape"] == "x * k + w"
    with paused_gc():  # the chain holds no garbage; the collector's passes over it would only cost time
        v = x
        for _ in range(inputs["steps"]):
            v = v * k + w if affine else v * k
        v.backward()
    result = {"y": float(v.data), "dx": float(x.grad), "dk": float(k.grad)}
    if affine:
        result["dw"] = float(w.grad)
    return result


# --- 04.backward_accumulates ----------------------------------------------------------------------------------


def backward_accumulates(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict:
    program = inputs["program"]
    nodes = build_nodes(ns, program)
    leaves = [nodes[i] for i, op in enumerate(program) if op[0] == "leaf"]
    nodes[-1].backward()
    nodes[-1].backward()
    twice = [float(leaf.grad) for leaf in leaves]
    for leaf in leaves:
        leaf.grad = 0.0
    nodes[-1].backward()
    return {"twice": twice, "after_zeroing": [float(leaf.grad) for leaf in leaves]}


# --- 04.sigmoid_function ---------------------------------------------------------------------------------------


def sigmoid_function(ns: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict:
    sigmoid = ns["Sigmoid"]
    if not (isinstance(sigmoid, type) and issubclass(sigmoid, Function)):
        raise TypeError("Sigmoid must be a class that subclasses backprop_lib.Function")
    x = LibraryValue(inputs["x"])
    s = sigmoid.apply(x)
    (s * inputs["upstream"]).backward()
    return {"s": float(s.data), "dx": float(x.grad)}


ORDER_FORBIDDEN = ("backprop_lib.graph.dependency_order", "backprop_lib.graph.topological_order",
                   "backprop_lib.graph.Graph.topological_order", "backprop_lib.graph._kahn")
SWEEP_FORBIDDEN = ORDER_FORBIDDEN + ("backprop_lib.engine.grad", "backprop_lib.engine._reverse_sweep",
                                     "backprop_lib.engine._local_derivatives", "backprop_lib.graph.Graph.reverse_mode")
SIGMOID_FORBIDDEN = ("backprop_lib.gates.sigmoid", "backprop_lib.gates.sigmoid_forward",
                     "backprop_lib.gates.sigmoid_backward", "backprop_lib.engine.Value.sigmoid",
                     "backprop_lib.tensor._sigmoid", "backprop_lib.tensor.Sigmoid.forward",
                     "backprop_lib.tensor.Sigmoid.backward")

PROBES = {
    "04.value_forward": Probe(("Value",), value_forward),
    "04.topological_order": Probe(("Value", "topological_order"), topological_order, forbidden=ORDER_FORBIDDEN),
    "04.value_backward": Probe(("Value", "topological_order"), value_backward, forbidden=SWEEP_FORBIDDEN),
    "04.deep_chain": Probe(("Value", "topological_order"), deep_chain, forbidden=SWEEP_FORBIDDEN),
    "04.backward_accumulates": Probe(("Value", "topological_order"), backward_accumulates,
                                     forbidden=SWEEP_FORBIDDEN),
    "04.sigmoid_function": Probe(("Sigmoid",), sigmoid_function, forbidden=SIGMOID_FORBIDDEN),
}
