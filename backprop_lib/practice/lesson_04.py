"""Lesson 04's self-check: the backward of the multiplication in the lesson's minimal ``Value``.

The reader writes ``mul(self, other)``: it builds ``out = Value(self.data * other.data, ...)`` and sets
``out._backward`` to a function that adds each input's share of ``out.grad`` to the input's ``grad``.
The check calls it on nodes of its own (plain objects with ``data`` and ``grad``), sets ``out.grad``
and runs ``out._backward()``: once on two distinct inputs that already hold some gradient (the
accumulation must keep it), once on one input multiplied by itself (a fan-out, where assigning
instead of adding loses a path).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from types import CodeType
from typing import Any

from . import practice

__all__ = ["SAMPLES"]


class _Node:
    """A value as the check builds it: its number, the gradient it holds, nothing to pass on."""

    def __init__(self, data: float, _prev: tuple = (), _op: str = "", grad: float = 0.0) -> None:
        self.data = data
        self.grad = grad
        self._prev = _prev
        self._op = _op
        self._backward = lambda: None


def _has_placeholder(code: CodeType) -> bool:
    """Whether a ``...`` is still in the function (or in a function defined inside it)."""
    return any(c is Ellipsis or (isinstance(c, CodeType) and _has_placeholder(c)) for c in code.co_consts)


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


_WRONG = {  # what one input (or both) received, said with {who}, {they}, {their}, {is_}
    "assigned": "{who} lost the gradient {they} already held: add with +=, do not assign (a value used twice must "
                "collect both contributions)",
    "nothing": "nothing was added to {who}",
    "own": "{who} got {their} own data as local derivative: d(a*b)/da is the other factor, so the mul gate swaps",
    "no upstream": "{who} got the right local derivative, but not multiplied by the upstream gradient out.grad",
    "sign": "{who} moved the wrong way: a gradient is added (+=), not subtracted",
    "other": "{who} {is_} not right: downstream = local derivative x upstream, that is the local derivative of the "
             "product with respect to that factor, times out.grad, added to the grad already there",
}


def _one_input(node: _Node, held: float, partner: _Node, upstream: float) -> str | None:
    """Which of the usual mistakes one input's gradient shows (a key of ``_WRONG``), or None if right."""
    sent = node.grad - held
    if _same(sent, partner.data * upstream):
        return None
    if _same(node.grad, partner.data * upstream):
        return "assigned"
    for key, value in (("nothing", 0.0), ("own", node.data * upstream), ("no upstream", partner.data),
                       ("sign", -partner.data * upstream)):
        if _same(sent, value):
            return key
    return "other"


def _say(keys: list[str | None]) -> str:
    """One sentence about both inputs' mistakes (keys for self and for other)."""
    if keys[0] and keys[0] == keys[1]:
        return _WRONG[keys[0]].format(who="self.grad and other.grad", they="they", their="their", is_="are")
    return "; ".join(_WRONG[key].format(who=f"{name}.grad", they="it", their="its", is_="is")
                     for name, key in zip(("self", "other"), keys) if key)


def _run_backward(out: Any) -> str | None:
    """Call ``out._backward()``; a sentence about what went wrong, or None."""
    if not callable(getattr(out, "_backward", None)):
        return ("out._backward must be the function itself: out._backward = _backward, without parentheses "
                "(calling it there runs it before there is any gradient to pass on)")
    try:
        out._backward()
    except (TypeError, AttributeError) as exc:
        said = f"your _backward raised {type(exc).__name__} ({exc})"
        if "_Node" in str(exc):  # arithmetic on the check's nodes themselves
            return said + ": multiply numbers, such as other.data and out.grad, not the nodes themselves"
        return said
    return None


@practice("04.mul_backward")
def check_mul_backward(mul: Callable[[Any, Any], Any]) -> tuple[bool, str]:
    """``mul(self, other)`` returns a node whose ``_backward`` adds ``other.data * out.grad`` to
    ``self.grad`` and ``self.data * out.grad`` to ``other.grad``."""
    code = getattr(mul, "__code__", None)
    if not callable(mul) or code is None:
        return False, "pass your function itself: check(\"04.mul_backward\", mul)"
    if _has_placeholder(code):
        raise NotImplementedError  # verdict() reports it as "not filled in yet"

    a, b = _Node(2.0, grad=0.25), _Node(-5.0, grad=-1.0)
    out = mul(a, b)
    if not all(hasattr(out, name) for name in ("data", "grad", "_backward")):
        return False, "mul must return out, the new node, after setting out._backward."
    if not _same(out.data, a.data * b.data):
        return False, "the forward is wrong: out.data is the product of the two inputs' data."
    upstream = 1.5
    out.grad = upstream
    problem = _run_backward(out)
    if problem:
        return False, problem + "."
    if _same(a.grad, 0.25) and _same(b.grad, -1.0):
        return False, ("nothing reached the inputs: set out._backward = _backward before returning out, so that "
                       "backward can call it.")
    keys = [_one_input(a, 0.25, b, upstream), _one_input(b, -1.0, a, upstream)]
    if any(keys):
        return False, _say(keys) + "."

    c = _Node(3.0)
    square = mul(c, c)
    square.grad = 2.0
    problem = _run_backward(square)
    if problem:
        return False, problem + "."
    if not _same(c.grad, 2 * c.data * square.grad):
        return False, ("right on two different inputs, wrong on c * c, where self and other are the same node: "
                       "update self.grad, then other.grad, each with its own +=, so the second adds to the first.")
    return True, "right: each input gets the other factor times out.grad, added to what it already has."


# --- answers for the tests: right ones pass, the usual mistakes fail -----------------------------------


def _mul_with(rule: Callable[[Any, Any, Any], None], forward: Callable[[float, float], float] = lambda a, b: a * b,
              attach: bool = True):
    def mul(self, other):
        out = _Node(forward(self.data, other.data), (self, other), "*")

        def _backward():
            rule(self, other, out)

        if attach:  # forgetting this line leaves the node's default, which passes nothing on
            out._backward = _backward
        return out

    return mul


def _right(s, o, out):
    s.grad += o.data * out.grad
    o.grad += s.data * out.grad


def _right_in_two_steps(s, o, out):
    local_s, local_o = o.data, s.data
    s.grad = s.grad + local_s * out.grad
    o.grad = o.grad + local_o * out.grad


def _assigns(s, o, out):
    s.grad = o.data * out.grad
    o.grad = s.data * out.grad


def _no_swap(s, o, out):
    s.grad += s.data * out.grad
    o.grad += o.data * out.grad


def _no_upstream(s, o, out):
    s.grad += o.data
    o.grad += s.data


def _add_rule(s, o, out):
    s.grad += out.grad
    o.grad += out.grad


def _self_assigns(s, o, out):
    s.grad = o.data * out.grad
    o.grad += s.data * out.grad


def _nodes_not_numbers(s, o, out):
    s.grad += o * out.grad
    o.grad += s * out.grad


def _subtracts(s, o, out):
    s.grad -= o.data * out.grad
    o.grad -= s.data * out.grad


def _both_at_once(s, o, out):
    # right on two different inputs; on c * c the second assignment overwrites the first
    s.grad, o.grad = s.grad + o.data * out.grad, o.grad + s.data * out.grad


SAMPLES = {
    "04.mul_backward": (
        [(_mul_with(_right),), (_mul_with(_right_in_two_steps),)],
        [(_mul_with(_assigns),), (_mul_with(_no_swap),), (_mul_with(_no_upstream),), (_mul_with(_add_rule),),
         (_mul_with(_self_assigns),), (_mul_with(_nodes_not_numbers),), (_mul_with(_subtracts),),
         (_mul_with(_right, attach=False),), (_mul_with(_both_at_once),), (_mul_with(_right, lambda a, b: a + b),),
         (lambda s, o: None,), (42,)],
    ),
}
