"""Flat gates: forward/backward pairs that pass a cache (lesson 03).

Each ``*_forward`` returns ``(out, cache)``; each ``*_backward(dout, cache)`` returns the gradient
for every input. Backprop is local: a gate needs only its cache and the upstream gradient ``dout``,
and sends ``local derivative * dout`` to each input. The patterns:

- add distributes ``dout`` unchanged to both inputs;
- copy (fan-out) adds the gradients coming back from its uses: the dual of add;
- mul swaps: each input gets the *other* input times ``dout``;
- max routes all of ``dout`` to the winner and zero to the loser.

All of them work elementwise on numbers and numpy arrays alike.
"""
from __future__ import annotations

import math

import numpy as np


def add_forward(x, y):
    return x + y, None


def add_backward(dout, cache):
    return dout, dout


def copy_forward(x, n: int = 2):
    """Use ``x`` in ``n`` places."""
    return (x,) * n, n


def copy_backward(douts, cache):
    """The gradient of a copied value is the sum of the gradients of its copies."""
    total = douts[0]
    for d in douts[1:]:
        total = total + d
    return total


def mul_forward(x, y):
    return x * y, (x, y)


def mul_backward(dout, cache):
    x, y = cache
    return y * dout, x * dout


def max_forward(x, y):
    """Elementwise maximum; a tie goes to ``x``."""
    win_x = np.greater_equal(x, y)
    return np.where(win_x, x, y) if np.ndim(win_x) else (x if win_x else y), win_x


def max_backward(dout, cache):
    win_x = cache
    if np.ndim(win_x):
        return np.where(win_x, dout, 0.0), np.where(win_x, 0.0, dout)
    return (dout, 0.0) if win_x else (0.0, dout)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|; a float for a number."""
    if np.ndim(x) == 0:
        x = float(x)
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_forward(x):
    s = sigmoid(x)
    return s, s


def sigmoid_backward(dout, cache):
    """sigma'(x) = sigma(x) (1 - sigma(x)): the cache holds the *output* sigma(x)."""
    s = cache
    return s * (1.0 - s) * dout


def sigmoid_neuron(w, x):
    """Forward and backward of L = sigmoid(w0*x0 + w1*x1 + w2), written flat, gate by gate.

    ``w`` has 3 entries, ``x`` has 2. Returns ``(L, dw, dx)`` with ``dw`` and ``dx`` as lists.
    """
    if len(w) != 3 or len(x) != 2:
        raise ValueError(f"need 3 weights and 2 inputs, got {len(w)} and {len(x)}")
    w0, w1, w2 = (float(v) for v in w)
    x0, x1 = (float(v) for v in x)
    # forward
    s0 = w0 * x0
    s1 = w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    L = sigmoid(s3)
    # backward
    grad_L = 1.0
    grad_s3 = grad_L * (1 - L) * L
    grad_s2 = grad_s3
    grad_w2 = grad_s3
    grad_s0 = grad_s2
    grad_s1 = grad_s2
    grad_w0 = x0 * grad_s0
    grad_x0 = w0 * grad_s0
    grad_w1 = x1 * grad_s1
    grad_x1 = w1 * grad_s1
    return L, [grad_w0, grad_w1, grad_w2], [grad_x0, grad_x1]
