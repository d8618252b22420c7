"""Computational graphs with a local derivative on every edge (lessons 01-02).

A graph is given by an edge dict ``{(u, v): dv/du}``: ``v`` is computed from ``u`` and the number is
the local (partial) derivative of ``v`` with respect to ``u``. Everything in this module follows
from one fact, the multivariate chain rule seen as paths:

    dZ/dX = sum over all paths X -> ... -> Z of the product of the edge derivatives on the path.

``sum_over_paths`` computes that sum literally (exponential in depth); ``forward_mode`` and
``reverse_mode`` factor it so that every edge is touched exactly once (linear).
"""
from __future__ import annotations

import gc
import inspect
import math
import numbers
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Node = Hashable
Edges = Mapping[tuple[Node, Node], float]


class CycleError(ValueError):
    """The edges contain a cycle, so they do not describe a computation."""


@dataclass(frozen=True)
class Step:
    """One node of a forward or reverse sweep.

    ``total`` is the node's derivative (forward: d node / d source; reverse: d target / d node);
    ``terms`` lists ``(neighbour, edge derivative, neighbour's total)`` for each edge merged here.
    """

    node: Node
    total: float
    terms: tuple[tuple[Node, float, float], ...]


@dataclass
class Graph:
    """A DAG with a local derivative on each edge and, optionally, a value on each node."""

    edges: dict[tuple[Node, Node], float]
    values: dict[Node, float] = field(default_factory=dict)
    ops: dict[Node, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.edges = _validated(self.edges)
        self.nodes: list[Node] = _nodes_in_order(self.edges, self.values)
        self.succ: dict[Node, list[tuple[Node, float]]] = {n: [] for n in self.nodes}
        self.pred: dict[Node, list[tuple[Node, float]]] = {n: [] for n in self.nodes}
        for (u, v), d in self.edges.items():
            self.succ[u].append((v, d))
            self.pred[v].append((u, d))
        self.order: list[Node] = _kahn(self.nodes, self.succ, self.pred)

    def _require(self, node: Node) -> None:
        if node not in self.succ:
            raise KeyError(f"node {node!r} is not in the graph (nodes: {self.nodes})")

    @property
    def inputs(self) -> list[Node]:
        """Nodes with no incoming edge."""
        return [n for n in self.order if not self.pred[n]]

    @property
    def outputs(self) -> list[Node]:
        """Nodes with no outgoing edge."""
        return [n for n in self.order if not self.succ[n]]

    def topological_order(self) -> list[Node]:
        """Every node before the nodes it feeds."""
        return list(self.order)

    def paths(self, source: Node, target: Node) -> Iterator[list[Node]]:
        """Every path from ``source`` to ``target``, as a list of nodes (iterative DFS)."""
        self._require(source)
        self._require(target)
        stack: list[tuple[Node, list[Node]]] = [(source, [source])]
        while stack:
            node, path = stack.pop()
            if node == target:
                yield path
                continue
            for v, _ in reversed(self.succ[node]):
                stack.append((v, path + [v]))

    def count_paths(self, source: Node, target: Node) -> int:
        """Number of paths from ``source`` to ``target``, by dynamic programming (linear time)."""
        self._require(source)
        self._require(target)
        count = {n: 0 for n in self.nodes}
        count[source] = 1
        for u in self.order:
            for v, _ in self.succ[u]:
                count[v] += count[u]
        return count[target]

    def path_product(self, path: list[Node]) -> float:
        """Product of the edge derivatives along ``path``."""
        return math.prod(self.edges[(u, v)] for u, v in zip(path, path[1:]))

    def sum_over_paths(self, source: Node, target: Node) -> float:
        """dtarget/dsource as the literal sum over every path of the product of its edges."""
        return math.fsum(self.path_product(p) for p in self.paths(source, target))

    def forward_steps(self, source: Node) -> list[Step]:
        """Forward-mode sweep from ``source``: each node sums the paths coming in (d node/d source)."""
        self._require(source)
        total: dict[Node, float] = {}
        steps = []
        for v in self.order:
            if v == source:
                terms: tuple = ()
                value = 1.0
            else:
                terms = tuple((u, d, total[u]) for u, d in self.pred[v])
                value = math.fsum(d * t for _, d, t in terms)
            total[v] = value
            steps.append(Step(v, value, terms))
        return steps

    def reverse_steps(self, target: Node) -> list[Step]:
        """Reverse-mode sweep from ``target``: each node merges the paths leaving it (d target/d node)."""
        self._require(target)
        total: dict[Node, float] = {}
        steps = []
        for u in reversed(self.order):
            if u == target:
                terms: tuple = ()
                value = 1.0
            else:
                terms = tuple((v, d, total[v]) for v, d in self.succ[u])
                value = math.fsum(d * t for _, d, t in terms)
            total[u] = value
            steps.append(Step(u, value, terms))
        return steps

    def forward_mode(self, source: Node) -> dict[Node, float]:
        """d node / d source for every node, in one forward sweep."""
        return {s.node: s.total for s in self.forward_steps(source)}

    def reverse_mode(self, target: Node) -> dict[Node, float]:
        """d target / d node for every node, in one reverse sweep."""
        return {s.node: s.total for s in self.reverse_steps(target)}


def _validated(edges: Any) -> dict[tuple[Node, Node], float]:
    if not isinstance(edges, Mapping):
        raise TypeError(f"edges must be a dict {{(u, v): derivative}}, got {type(edges).__name__}")
    out = {}
    for key, d in edges.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise TypeError(f"edge key {key!r} is not a (u, v) pair")
        u, v = key
        if u == v:
            raise CycleError(f"edge {key!r} is a self-loop: a value cannot feed itself")
        if isinstance(d, bool) or not isinstance(d, numbers.Real):
            raise TypeError(f"edge {key!r} has derivative {d!r}, which is not a real number")
        out[(u, v)] = float(d)
    return out


def _nodes_in_order(edges: Mapping, values: Mapping) -> list[Node]:
    seen: dict[Node, None] = dict.fromkeys(values)
    for u, v in edges:
        seen.setdefault(u)
        seen.setdefault(v)
    return list(seen)


def _kahn(nodes: list[Node], succ: Mapping, pred: Mapping) -> list[Node]:
    """Kahn's algorithm; ties keep the order in which nodes first appeared."""
    indegree = {n: len(pred[n]) for n in nodes}
    ready = [n for n in nodes if indegree[n] == 0]
    order = []
    i = 0
    while i < len(ready):
        u = ready[i]
        i += 1
        order.append(u)
        for v, _ in succ[u]:
            indegree[v] -= 1
            if indegree[v] == 0:
                ready.append(v)
    if len(order) != len(nodes):
        stuck = [n for n in nodes if indegree[n] > 0]
        raise CycleError(f"the edges contain a cycle through {_find_cycle(stuck, pred)}")
    return order


def _find_cycle(stuck: list[Node], pred: Mapping) -> str:
    """Walk backwards: every stuck node has a stuck predecessor (a stuck successor it may lack)."""
    stuck_set = set(stuck)
    node, seen = stuck[0], []
    while node not in seen:
        seen.append(node)
        node = next(u for u, _ in pred[node] if u in stuck_set)
    backwards = seen[seen.index(node):] + [node]
    return " -> ".join(map(str, reversed(backwards)))


def topological_order(edges: Edges) -> list[Node]:
    """Nodes of an edge dict, every node before the nodes it feeds."""
    return Graph(dict(edges)).topological_order()


def count_paths(edges: Edges, source: Node, target: Node) -> int:
    """Number of paths from ``source`` to ``target``."""
    return Graph(dict(edges)).count_paths(source, target)


def sum_over_paths(edges: Edges, source: Node, target: Node) -> float:
    """d target / d source as the sum over all paths of the product of edge derivatives."""
    return Graph(dict(edges)).sum_over_paths(source, target)


def forward_mode(edges: Edges, source: Node) -> dict[Node, float]:
    """Every node's derivative with respect to ``source`` (one forward sweep)."""
    return Graph(dict(edges)).forward_mode(source)


def reverse_mode(edges: Edges, target: Node) -> dict[Node, float]:
    """The derivative of ``target`` with respect to every node (one reverse sweep)."""
    return Graph(dict(edges)).reverse_mode(target)


def dependency_order(root: Any, inputs_of: Callable[[Any], Iterable[Any]]) -> list[Any]:
    """Nodes reachable from ``root``, each after every node it is computed from.

    Iterative depth-first post-order: no recursion, so a chain of a million nodes is fine. Each
    node is expanded once (pushed back, below its inputs, to be emitted after them), and each edge
    pushes its input at most once more, so the stack sees at most |V| + |E| + 1 pushes: linear.
    Nodes must hash by identity, as ``Value`` and ``Tensor`` do (neither defines ``__eq__``).
    """
    order: list[Any] = []
    seen: set[Any] = set()
    stack = [(root, False)]
    pop, push, mark, emit = stack.pop, stack.append, seen.add, order.append
    with paused_gc():
        while stack:
            node, expanded = pop()
            if expanded:
                emit(node)
            elif node not in seen:
                mark(node)
                push((node, True))
                for child in inputs_of(node):
                    if child not in seen:
                        push((child, False))
    return order


class paused_gc:
    """Pause the cyclic garbage collector while a sweep allocates millions of small objects.

    A sweep creates no reference cycles, yet every few hundred allocations the collector would
    walk the whole (large) graph: that made long chains cost more than linear time.
    (A class rather than a generator: it is entered on every backward pass, however small.)
    """

    __slots__ = ("was_enabled",)

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


# --- Expressions: build a graph with values and edge derivatives from named operations ---------

# Each rule: (forward, local derivatives with respect to each argument).
_RULES: dict[str, tuple[Callable[..., float], Callable[..., tuple[float, ...]]]] = {
    "+": (lambda x, y: x + y, lambda x, y: (1.0, 1.0)),
    "-": (lambda x, y: x - y, lambda x, y: (1.0, -1.0)),
    "*": (lambda x, y: x * y, lambda x, y: (y, x)),
    "/": (lambda x, y: x / y, lambda x, y: (1.0 / y, -x / (y * y))),
    "max": (lambda x, y: max(x, y), lambda x, y: (1.0, 0.0) if x >= y else (0.0, 1.0)),
    "neg": (lambda x: -x, lambda x: (-1.0,)),
    "exp": (math.exp, lambda x: (math.exp(x),)),
    "log": (math.log, lambda x: (1.0 / x,)),
    "sigmoid": (
        lambda x: 1.0 / (1.0 + math.exp(-x)),
        lambda x: ((s := 1.0 / (1.0 + math.exp(-x))) * (1.0 - s),),
    ),
    "tanh": (math.tanh, lambda x: (1.0 - math.tanh(x) ** 2,)),
    "relu": (lambda x: max(x, 0.0), lambda x: (1.0 if x > 0 else 0.0,)),
    "square": (lambda x: x * x, lambda x: (2.0 * x,)),
}

OPERATIONS = tuple(_RULES)


@dataclass(frozen=True)
class Expression:
    """Named operations, e.g. ``{"c": ("+", "a", "b"), "d": ("+", "b", 1), "e": ("*", "c", "d")}``.

    Arguments are node names or numeric constants. ``evaluate(a=2, b=1)`` returns a ``Graph``
    whose nodes carry their values and whose edges carry the local derivatives at those values.
    Constants are not nodes: nothing can be differentiated with respect to them.
    """

    operations: Mapping[str, tuple]

    def __post_init__(self) -> None:
        for name, (op, *args) in self.operations.items():
            if op not in _RULES:
                raise ValueError(f"{name} = {op}(...): unknown operation; known: {', '.join(OPERATIONS)}")
            arity = len(inspect.signature(_RULES[op][1]).parameters)
            if len(args) != arity:
                raise ValueError(f"{name} = {op}(...) takes {arity} argument(s), got {len(args)}")

    @property
    def inputs(self) -> list[str]:
        """Names used as arguments but never defined: the expression's inputs, in order of use."""
        seen: dict[str, None] = {}
        for _, *args in self.operations.values():
            for a in args:
                if isinstance(a, str) and a not in self.operations:
                    seen.setdefault(a)
        return list(seen)

    def evaluate(self, **inputs: float) -> Graph:
        missing = [n for n in self.inputs if n not in inputs]
        if missing:
            raise TypeError(f"missing input value(s) for {', '.join(missing)}")
        values: dict[str, float] = {}
        for name in self.inputs:
            x = inputs[name]
            if isinstance(x, bool) or not isinstance(x, numbers.Real):
                raise TypeError(f"input {name} = {x!r} is not a real number")
            values[name] = float(x)
        edges: dict[tuple[str, str], float] = {}
        ops: dict[str, str] = {}
        for name, (op, *args) in self.operations.items():
            for a in args:
                if isinstance(a, str) and a not in values:
                    raise ValueError(f"{name} uses {a} before it is computed")
            xs = [values[a] if isinstance(a, str) else float(a) for a in args]
            forward, local = _RULES[op]
            values[name] = float(forward(*xs))
            ops[name] = op
            for a, d in zip(args, local(*xs)):
                if isinstance(a, str):
                    edges[(a, name)] = edges.get((a, name), 0.0) + float(d)
        return Graph(edges, values, ops)


#: The lesson-01 expression e = (a + b) * (b + 1).
LESSON01 = Expression({"c": ("+", "a", "b"), "d": ("+", "b", 1), "e": ("*", "c", "d")})


def staged_graph(stages: int, width: int = 3, derivatives: Iterable[float] | None = None) -> Graph:
    """A chain of ``stages`` stages, each joining two hub nodes by ``width`` parallel routes.

    Hubs are ``X0, X1, ..., X<stages>``; the routes of stage ``k`` pass through ``Xk.0 ... Xk.(w-1)``
    (edge ``Xk -> Xk.i`` carries a derivative, ``Xk.i -> X(k+1)`` carries 1). There are
    ``width ** stages`` paths from ``X0`` to the last hub, yet only ``2 * width * stages`` edges.
    """
    if stages < 1 or width < 1:
        raise ValueError("stages and width must be at least 1")
    ds = list(derivatives) if derivatives is not None else [1.0] * (stages * width)
    if len(ds) != stages * width:
        raise ValueError(f"need {stages * width} derivatives, got {len(ds)}")
    edges: dict[tuple[str, str], float] = {}
    for k in range(stages):
        for i in range(width):
            mid = f"X{k}.{i}"
            edges[(f"X{k}", mid)] = ds[k * width + i]
            edges[(mid, f"X{k + 1}")] = 1.0
    return Graph(edges)
