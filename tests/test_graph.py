"""Lessons 01-02: graphs with edge derivatives, paths, and the forward and reverse sweeps."""
import gc
import math

import numpy as np
import pytest

from backprop_lib import graph
from backprop_lib.graph import (
    LESSON01,
    OPERATIONS,
    CycleError,
    Expression,
    Graph,
    count_paths,
    dependency_order,
    forward_mode,
    paused_gc,
    reverse_mode,
    staged_graph,
    sum_over_paths,
    topological_order,
)
from backprop_lib.gradcheck import numerical_gradient, rel_error


@pytest.fixture
def lesson01() -> Graph:
    return LESSON01.evaluate(a=2, b=1)


# --- lesson 01: the graph of e = (a + b) * (b + 1) ---------------------------------------------


def test_lesson01_node_values(lesson01):
    assert lesson01.values == {"a": 2.0, "b": 1.0, "c": 3.0, "d": 2.0, "e": 6.0}


def test_lesson01_edge_derivatives(lesson01):
    assert lesson01.edges == {
        ("a", "c"): 1.0,  # dc/da
        ("b", "c"): 1.0,  # dc/db
        ("b", "d"): 1.0,  # dd/db
        ("c", "e"): 2.0,  # de/dc = d
        ("d", "e"): 3.0,  # de/dd = c
    }


def test_lesson01_inputs_outputs_and_ops(lesson01):
    assert LESSON01.inputs == ["a", "b"]
    assert lesson01.inputs == ["a", "b"]
    assert lesson01.outputs == ["e"]
    assert lesson01.ops == {"c": "+", "d": "+", "e": "*"}


def test_product_example_df_dx_is_y():
    g = Expression({"f": ("*", "x", "y")}).evaluate(x=2, y=-6)
    assert g.values["f"] == -12.0
    assert g.edges[("x", "f")] == -6.0
    assert g.edges[("y", "f")] == 2.0


# --- lesson 02: sum over paths, forward mode, reverse mode ---------------------------------------


def test_lesson02_sum_over_paths(lesson01):
    assert lesson01.sum_over_paths("a", "e") == 2.0  # 1 * 2
    assert lesson01.sum_over_paths("b", "e") == 5.0  # 1 * 2 + 1 * 3
    assert sum_over_paths(lesson01.edges, "a", "e") == 2.0
    assert sum_over_paths(lesson01.edges, "b", "e") == 5.0


def test_lesson02_paths_are_listed(lesson01):
    assert list(lesson01.paths("a", "e")) == [["a", "c", "e"]]
    assert sorted(lesson01.paths("b", "e")) == [["b", "c", "e"], ["b", "d", "e"]]
    assert lesson01.path_product(["b", "d", "e"]) == 3.0


def test_lesson02_forward_mode_from_b_gives_every_d_node_d_b(lesson01):
    assert lesson01.forward_mode("b") == {"a": 0.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 5.0}
    assert forward_mode(lesson01.edges, "a") == {"a": 1.0, "b": 0.0, "c": 1.0, "d": 0.0, "e": 2.0}


def test_lesson02_one_reverse_sweep_gives_de_da_and_de_db(lesson01):
    assert lesson01.reverse_mode("e") == {"e": 1.0, "d": 3.0, "c": 2.0, "b": 5.0, "a": 2.0}
    assert reverse_mode(lesson01.edges, "e") == lesson01.reverse_mode("e")


def test_lesson02_sweep_steps_show_the_merged_terms(lesson01):
    steps = {s.node: s for s in lesson01.reverse_steps("e")}
    assert steps["b"].terms == (("c", 1.0, 2.0), ("d", 1.0, 3.0))
    assert steps["b"].total == 5.0
    fwd = {s.node: s for s in lesson01.forward_steps("b")}
    assert fwd["e"].terms == (("c", 2.0, 1.0), ("d", 3.0, 1.0))
    assert fwd["e"].total == 5.0


def test_three_by_three_stage_has_nine_paths_whose_sum_factors():
    alpha, beta, gamma, delta, epsilon, zeta = 2.0, -3.0, 0.5, 7.0, 1.5, -4.0
    g = staged_graph(2, 3, [alpha, beta, gamma, delta, epsilon, zeta])
    paths = list(g.paths("X0", "X2"))
    assert len(paths) == 9 == g.count_paths("X0", "X2")
    products = sorted(g.path_product(p) for p in paths)
    expected = sorted(x * y for x in (alpha, beta, gamma) for y in (delta, epsilon, zeta))
    assert products == expected
    factored = (alpha + beta + gamma) * (delta + epsilon + zeta)
    assert g.sum_over_paths("X0", "X2") == pytest.approx(factored, rel=1e-15)
    assert g.forward_mode("X0")["X2"] == pytest.approx(factored, rel=1e-15)
    assert g.reverse_mode("X2")["X0"] == pytest.approx(factored, rel=1e-15)


@pytest.mark.parametrize("stages, width", [(1, 1), (1, 4), (3, 2), (4, 3), (10, 2), (6, 5)])
def test_path_count_grows_as_width_to_the_stages_edges_linearly(stages, width):
    g = staged_graph(stages, width)
    assert g.count_paths("X0", f"X{stages}") == width**stages
    assert len(g.edges) == 2 * width * stages


def test_staged_graph_path_sum_is_the_product_of_stage_sums():
    ds = [0.5, -1.0, 2.0, 1.5, 0.25, -0.75, 3.0, 1.0]
    g = staged_graph(4, 2, ds)
    expected = math.prod(ds[2 * k] + ds[2 * k + 1] for k in range(4))
    assert g.sum_over_paths("X0", "X4") == pytest.approx(expected, rel=1e-14)
    assert g.reverse_mode("X4")["X0"] == pytest.approx(expected, rel=1e-14)


def test_staged_graph_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least 1"):
        staged_graph(0)
    with pytest.raises(ValueError, match="need 6 derivatives, got 2"):
        staged_graph(2, 3, [1.0, 2.0])


def test_source_equals_target_is_the_empty_path(lesson01):
    assert lesson01.count_paths("c", "c") == 1
    assert lesson01.sum_over_paths("c", "c") == 1.0


def test_no_path_means_zero(lesson01):
    assert lesson01.count_paths("e", "a") == 0
    assert lesson01.sum_over_paths("a", "d") == 0.0
    assert lesson01.count_paths("a", "b") == 0


# --- topological order and sweeps -----------------------------------------------------------------


def test_topological_order_puts_every_node_before_what_it_feeds():
    edges = {("e", "f"): 1, ("a", "b"): 1, ("b", "e"): 2, ("a", "c"): 3, ("c", "e"): 4, ("d", "c"): 5}
    order = topological_order(edges)
    assert sorted(order) == ["a", "b", "c", "d", "e", "f"]
    for u, v in edges:
        assert order.index(u) < order.index(v)


def test_sweeps_touch_each_edge_exactly_once():
    g = staged_graph(4, 3, [0.5 * i for i in range(12)])
    forward_terms = sum(len(s.terms) for s in g.forward_steps("X0"))
    reverse_terms = sum(len(s.terms) for s in g.reverse_steps("X4"))
    assert forward_terms == reverse_terms == len(g.edges) == 24
    assert [s.node for s in g.forward_steps("X0")] == g.topological_order()
    assert [s.node for s in g.reverse_steps("X4")] == g.topological_order()[::-1]


def test_numpy_numbers_are_accepted_as_derivatives():
    g = Graph({("x", "y"): np.float64(2.0), ("y", "z"): np.int64(3)})
    assert g.sum_over_paths("x", "z") == 6.0


# --- bad graphs ---------------------------------------------------------------------------------


def test_cycle_raises_and_names_the_cycle():
    with pytest.raises(CycleError, match=r"a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c"):
        Graph({("a", "b"): 1.0, ("b", "c"): 1.0, ("c", "a"): 1.0, ("x", "a"): 1.0})


def test_cycle_is_found_when_a_node_below_it_comes_first():
    # "b" is listed first and its first successor "c" lies below the cycle a <-> b, not on it
    with pytest.raises(CycleError, match=r"a -> b -> a|b -> a -> b"):
        Graph({("b", "c"): 1.0, ("a", "b"): 1.0, ("b", "a"): 1.0})


def test_self_loop_raises_cycle_error():
    with pytest.raises(CycleError, match="self-loop"):
        Graph({("a", "a"): 1.0})
    assert issubclass(CycleError, ValueError)


@pytest.mark.parametrize("bad", ["2", None, True, 1 + 2j, [1.0]])
def test_non_numeric_derivative_raises_type_error(bad):
    with pytest.raises(TypeError, match=r"\('x', 'y'\)"):
        Graph({("x", "y"): bad})


def test_malformed_edges_raise_type_error():
    with pytest.raises(TypeError, match="dict"):
        Graph([("x", "y")])
    with pytest.raises(TypeError, match="pair"):
        Graph({("x", "y", "z"): 1.0})


@pytest.mark.parametrize(
    "call",
    [
        lambda g: g.count_paths("a", "zz"),
        lambda g: g.sum_over_paths("zz", "e"),
        lambda g: list(g.paths("zz", "e")),
        lambda g: g.forward_mode("zz"),
        lambda g: g.reverse_mode("zz"),
    ],
)
def test_unknown_node_raises_key_error_naming_it(lesson01, call):
    with pytest.raises(KeyError, match="zz"):
        call(lesson01)


# --- expressions --------------------------------------------------------------------------------


RULE_CASES = [
    ("+", (0.7, -1.3)),
    ("-", (0.7, -1.3)),
    ("*", (0.7, -1.3)),
    ("/", (0.7, -1.3)),
    ("max", (0.7, -1.3)),
    ("max", (-1.3, 0.7)),
    ("neg", (0.7,)),
    ("exp", (0.7,)),
    ("log", (0.7,)),
    ("sigmoid", (-0.7,)),
    ("tanh", (0.7,)),
    ("relu", (0.7,)),
    ("relu", (-0.7,)),
    ("square", (-0.7,)),
]


def test_every_operation_has_a_derivative_check():
    assert {op for op, _ in RULE_CASES} == set(OPERATIONS)


@pytest.mark.parametrize("op, args", RULE_CASES)
def test_every_expression_rule_has_the_right_edge_derivatives(op, args):
    names = ["x", "y"][: len(args)]
    expr = Expression({"out": (op, *names)})
    inputs = dict(zip(names, args))
    g = expr.evaluate(**inputs)
    for name in names:

        def f(t, name=name):
            return expr.evaluate(**{**inputs, name: t}).values["out"]

        assert rel_error(g.edges[(name, "out")], numerical_gradient(f, inputs[name])) < 1e-8


def test_max_tie_sends_the_derivative_to_the_first_argument():
    g = Expression({"m": ("max", "x", "y")}).evaluate(x=0.5, y=0.5)
    assert g.values["m"] == 0.5
    assert (g.edges[("x", "m")], g.edges[("y", "m")]) == (1.0, 0.0)


def test_repeated_argument_adds_both_edge_derivatives():
    g = Expression({"y": ("*", "x", "x")}).evaluate(x=3.0)
    assert g.edges == {("x", "y"): 6.0}


def test_constants_are_not_nodes(lesson01):
    assert 1 not in lesson01.nodes
    assert set(lesson01.nodes) == {"a", "b", "c", "d", "e"}


def test_expression_errors():
    with pytest.raises(ValueError, match="unknown operation"):
        Expression({"y": ("pow", "x", 2)})
    with pytest.raises(ValueError, match=r"c = \+\(\.\.\.\) takes 2 argument\(s\), got 1"):
        Expression({"c": ("+", "a")})
    with pytest.raises(ValueError, match=r"y = exp\(\.\.\.\) takes 1 argument\(s\), got 2"):
        Expression({"y": ("exp", "a", "b")})
    with pytest.raises(ValueError, match="c uses d before it is computed"):
        Expression({"c": ("+", "a", "d"), "d": ("+", "a", 1)}).evaluate(a=1.0)
    with pytest.raises(TypeError, match="missing input value.*b"):
        LESSON01.evaluate(a=2)
    with pytest.raises(TypeError, match="not a real number"):
        LESSON01.evaluate(a="2", b=1)


# --- dependency_order (used by the engines) -----------------------------------------------------


def test_dependency_order_emits_each_node_once_after_its_inputs():
    inputs = {"e": ["c", "d"], "c": ["a", "b"], "d": ["b"], "a": [], "b": []}
    order = dependency_order("e", inputs.__getitem__)
    assert sorted(order) == ["a", "b", "c", "d", "e"]
    for node, ins in inputs.items():
        for i in ins:
            assert order.index(i) < order.index(node)


def test_dependency_order_uses_identity_not_equality():
    class Node:
        def __init__(self, *ins):
            self.ins = ins

        def __eq__(self, other):  # every node compares equal: only identity may tell them apart
            return True

        __hash__ = object.__hash__

    a, b = Node(), Node()
    root = Node(a, b, a)
    order = dependency_order(root, lambda n: n.ins)
    assert len(order) == 3 and order[-1] is root
    assert {id(n) for n in order} == {id(a), id(b), id(root)}


def test_paused_gc_restores_the_collector_even_after_an_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with paused_gc():
            assert not gc.isenabled()
            raise RuntimeError
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # a collector that was off stays off
    finally:
        gc.enable()


def test_module_functions_match_the_graph_methods(lesson01):
    edges = dict(lesson01.edges)
    assert count_paths(edges, "b", "e") == 2
    assert graph.topological_order(edges) == lesson01.topological_order()
