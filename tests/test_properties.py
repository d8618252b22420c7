"""Properties over random inputs: path sums equal both sweeps on any DAG; the engine equals
central differences on any expression."""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_lib import Value
from backprop_lib.graph import Graph, count_paths, forward_mode, reverse_mode, sum_over_paths
from backprop_lib.gradcheck import numerical_gradient

HYP = settings(max_examples=100, deadline=None)


@st.composite
def dags(draw):
    """Random edge dicts over nodes n0..n(k-1), edges only from lower to higher index, in a shuffled
    insertion order (so the graph must find the order itself)."""
    k = draw(st.integers(2, 7))
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    derivative = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
    return {(f"n{i}", f"n{j}"): draw(derivative) for i, j in chosen}


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@HYP
@given(dags())
def test_path_sum_equals_forward_and_reverse_sweeps_for_every_pair(edges):
    g = Graph(edges)
    forward = {s: forward_mode(edges, s) for s in g.nodes}
    reverse = {t: reverse_mode(edges, t) for t in g.nodes}
    for s in g.nodes:
        for t in g.nodes:
            by_paths = sum_over_paths(edges, s, t)
            assert close(by_paths, forward[s][t]), (s, t)
            assert close(by_paths, reverse[t][s]), (s, t)


@HYP
@given(dags())
def test_count_paths_equals_the_number_of_listed_paths(edges):
    g = Graph(edges)
    for s in g.nodes:
        for t in g.nodes:
            paths = list(g.paths(s, t))
            assert count_paths(edges, s, t) == len(paths)
            assert len({tuple(p) for p in paths}) == len(paths)
            for p in paths:
                assert p[0] == s and p[-1] == t
                assert all((u, v) in edges for u, v in zip(p, p[1:]))


@HYP
@given(dags())
def test_topological_order_and_each_edge_touched_once(edges):
    g = Graph(edges)
    order = g.topological_order()
    assert sorted(order) == sorted(g.nodes)
    position = {n: i for i, n in enumerate(order)}
    assert all(position[u] < position[v] for u, v in edges)
    for source in g.inputs:
        assert sum(len(s.terms) for s in g.forward_steps(source)) == len(edges)
    for target in g.outputs:
        assert sum(len(s.terms) for s in g.reverse_steps(target)) == len(edges)


# --- random expressions on Value -----------------------------------------------------------------

# Operations smooth on the whole real line (no kinks, no poles), so central differences are reliable.
UNARY = {
    "neg": lambda a: -a,
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "exp_tanh": lambda a: a.tanh().exp(),
    "log1p_square": lambda a: (a * a + 1).log(),
    "pow": lambda a: (a * a + 1) ** 1.5,
    "square": lambda a: a**2,
}
BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / (b * b + 1),
    "rsub": lambda a, b: 2.0 - a * 0.5 + b,
}

instructions = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(sorted(UNARY)), st.integers(0, 100)),
        st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 100), st.integers(0, 100)),
    ),
    min_size=1,
    max_size=8,
)


def run(program, inputs):
    """Each instruction applies an op to earlier registers (indices taken modulo their count)."""
    registers = list(inputs)
    for name, *args in program:
        operands = [registers[i % len(registers)] for i in args]
        op = UNARY[name] if len(args) == 1 else BINARY[name]
        registers.append(op(*operands))
    return registers[-1]


@HYP
@given(instructions, st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3))
def test_random_expressions_match_central_differences(program, xs):
    leaves = [Value(x) for x in xs]
    out = run(program, leaves)
    out.backward()
    for i, leaf in enumerate(leaves):

        def f(t, i=i):
            return run(program, [Value(t) if j == i else Value(x) for j, x in enumerate(xs)]).data

        numeric = numerical_gradient(f, xs[i], h=1e-6)
        scale = max(1.0, abs(out.data), abs(leaf.grad))
        assert abs(leaf.grad - numeric) <= 1e-6 * scale, (i, leaf.grad, numeric)
