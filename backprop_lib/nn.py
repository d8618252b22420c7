"""Layers, networks, losses and a training loop on ``Tensor`` (lesson 06).

Convention: batch-first. A batch of N examples with D features is an (N, D) array, one example
per row, and a fully connected layer computes

    Y = X W + b        X: (N, in), W: (in, out), b: (out,), Y: (N, out)

which is the textbook column-vector form z = W' a + b (W' of shape (out, in), a of shape (in,))
applied to every row at once, with W = W'^T. The bias is broadcast over the rows, so its
gradient is the upstream gradient summed over the batch axis.

A ``Module`` finds its parameters by looking through its attributes, so a model is written as
plain Python: assign layers to attributes, call them in ``forward``.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .optim import LRScheduler, Optimizer, clip_grad_norm_, total_grad_norm
from .tensor import Tensor, cross_entropy, mse


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class Module:
    """Base class of layers and models: ``forward`` computes, ``__call__`` calls it.

    Parameters are the tensors with ``requires_grad=True`` found in the attributes, in the
    submodules assigned to attributes, and in lists or tuples of either, in the order the
    attributes were assigned. A tensor shared by two submodules is listed once.
    """

    def forward(self, *inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *inputs: Any) -> Any:
        return self.forward(*inputs)

    def _children(self) -> Iterator[tuple[str, Module | Tensor]]:
        """(name, submodule or tensor) pairs held directly by this module."""
        for name, value in vars(self).items():
            if isinstance(value, (Module, Tensor)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, (Module, Tensor)):
                        yield f"{name}.{i}", item

    def named_parameters(self) -> list[tuple[str, Tensor]]:
        """(dotted name, parameter) pairs, such as ``("0.weight", W)`` for a ``Sequential``."""
        found: list[tuple[str, Tensor]] = []
        seen: set[int] = set()

        def visit(module: Module, prefix: str) -> None:
            for name, child in module._children():
                if isinstance(child, Module):
                    visit(child, f"{prefix}{name}.")
                elif child.requires_grad and id(child) not in seen:
                    seen.add(id(child))
                    found.append((prefix + name, child))

        visit(self, "")
        return found

    def parameters(self) -> list[Tensor]:
        """Every parameter tensor, in a stable order (that of ``named_parameters``)."""
        return [p for _, p in self.named_parameters()]

    def modules(self) -> Iterator[Module]:
        """This module, then its submodules depth-first, in attribute order."""
        yield self
        for _, child in self._children():
            if isinstance(child, Module):
                yield from child.modules()

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to ``None``: gradients accumulate until this is called."""
        for p in self.parameters():
            p.grad = None


_STD = {
    "he": lambda fan_in, fan_out: math.sqrt(2.0 / fan_in),
    "xavier": lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out)),
    "normal": lambda fan_in, fan_out: 1.0,
}


class Linear(Module):
    """Fully connected layer, batch-first: ``y = x @ weight + bias``.

    ``x``: (..., in_features) -> ``y``: (..., out_features). ``weight`` has shape
    (in_features, out_features), so column j holds the incoming weights of output unit j;
    ``bias`` has shape (out_features,) and starts at zero.

    ``init`` sets the standard deviation of the normally distributed initial weights:
    ``"he"`` sqrt(2 / in_features) (keeps the activation scale through ReLU layers),
    ``"xavier"`` sqrt(2 / (in_features + out_features)) (Glorot; for tanh and sigmoid),
    ``"normal"`` 1, or a number: that standard deviation. Random numbers come from ``rng`` or,
    if it is not given, from ``np.random.default_rng(seed)``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init: str | float = "he",
                 seed: int | None = None, rng: np.random.Generator | None = None, dtype=np.float64):
        self.in_features = _positive_int("in_features", in_features)
        self.out_features = _positive_int("out_features", out_features)
        if np.dtype(dtype).kind != "f":
            raise ValueError(f"Linear needs a floating-point dtype, got {np.dtype(dtype)}")
        if rng is not None and seed is not None:
            raise ValueError("give Linear either seed or rng, not both")
        if rng is None:
            rng = np.random.default_rng(seed)
        elif not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
        std = init_std(init, self.in_features, self.out_features)
        w = rng.standard_normal((self.in_features, self.out_features)) * std
        self.weight = Tensor(w.astype(dtype, copy=False), requires_grad=True, label="weight")
        self.bias = Tensor(np.zeros(self.out_features, dtype=dtype), requires_grad=True, label="bias") if bias else None

    def forward(self, x: Any) -> Tensor:
        x = _as_tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r} needs inputs whose last axis has {self.in_features} features, "
                             f"got shape {x.shape}")
        y = x @ self.weight
        return y if self.bias is None else y + self.bias

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None})"


def init_std(init: str | float, fan_in: int, fan_out: int) -> float:
    """Standard deviation of a layer's initial weights for an ``init`` name or number (see ``Linear``)."""
    if isinstance(init, str):
        if init not in _STD:
            raise ValueError(f"init must be one of {sorted(_STD)} or a positive number, got {init!r}")
        return _STD[init](fan_in, fan_out)
    if isinstance(init, bool) or not isinstance(init, numbers.Real) or not init > 0 or not math.isfinite(init):
        raise ValueError(f"init must be one of {sorted(_STD)} or a positive number, got {init!r}")
    return float(init)


class ReLU(Module):
    """max(0, x), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return _as_tensor(x).relu()

    def __repr__(self) -> str:
        return "ReLU()"


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return _as_tensor(x).sigmoid()

    def __repr__(self) -> str:
        return "Sigmoid()"


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return _as_tensor(x).tanh()

    def __repr__(self) -> str:
        return "Tanh()"


class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x: Any) -> Tensor:
        return _as_tensor(x)

    def __repr__(self) -> str:
        return "Identity()"


class Sequential(Module):
    """Applies its modules in order: ``Sequential(f, g, h)(x) == h(g(f(x)))``.

    Indexable (``model[0]``, a slice gives a ``Sequential``), sized and iterable; parameter
    names start with the position, as in PyTorch: ``"0.weight"``.
    """

    def __init__(self, *modules: Module):
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential takes Modules, but argument {i} is a {type(m).__name__}")
        self._modules = tuple(modules)

    def _children(self):
        for i, m in enumerate(self._modules):
            yield str(i), m

    def forward(self, x: Any) -> Any:
        for m in self._modules:
            x = m(x)
        return x

    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):
            return Sequential(*self._modules[index])
        return self._modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules)

    def __repr__(self) -> str:
        body = "".join(f"\n  ({i}): {m!r}" for i, m in enumerate(self._modules))
        return f"{type(self).__name__}({body}\n)"


_ACTIVATIONS: dict[str, type[Module]] = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}
_DEFAULT_INIT = {"relu": "he", "sigmoid": "xavier", "tanh": "xavier"}


class MLP(Sequential):
    """A multilayer perceptron: ``Linear(sizes[i], sizes[i+1])`` for each consecutive pair, with
    ``activation`` after every hidden layer and nothing after the last (its output is the logits).

    ``MLP([2, 16, 16, 3])`` is Linear(2, 16), ReLU, Linear(16, 16), ReLU, Linear(16, 3).
    ``init`` defaults to "he" for ReLU and "xavier" for sigmoid and tanh; all layers draw their
    weights, in order, from one ``np.random.default_rng(seed)``.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", seed: int | None = 0,
                 init: str | float | None = None, dtype=np.float64):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least two sizes (inputs and outputs), got {sizes}")
        for i, n in enumerate(sizes):
            _positive_int(f"sizes[{i}]", n)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        rng = np.random.default_rng(seed)
        init = _DEFAULT_INIT[activation] if init is None else init
        modules: list[Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
            if i:
                modules.append(_ACTIVATIONS[activation]())
            modules.append(Linear(n_in, n_out, init=init, rng=rng, dtype=dtype))
        super().__init__(*modules)
        self.sizes = tuple(int(n) for n in sizes)
        self.activation = activation

    @property
    def layers(self) -> list[Linear]:
        """The Linear layers, input to output."""
        return [m for m in self if isinstance(m, Linear)]


class CrossEntropyLoss(Module):
    """``loss(logits, targets)``: mean cross-entropy of logits (N, C) against class indices (N,)."""

    def forward(self, logits: Any, targets: Any) -> Tensor:
        return cross_entropy(_as_tensor(logits), targets)

    def __repr__(self) -> str:
        return "CrossEntropyLoss()"


class MSELoss(Module):
    """``loss(prediction, target)``: mean of (prediction - target)^2 over all entries (same shapes)."""

    def forward(self, prediction: Any, target: Any) -> Tensor:
        return mse(_as_tensor(prediction), target)

    def __repr__(self) -> str:
        return "MSELoss()"


def accuracy(logits: Any, targets: Any) -> float:
    """Fraction of rows of ``logits`` (N, C) whose largest entry is at the index ``targets`` (N,) names."""
    scores = np.asarray(logits.data if isinstance(logits, Tensor) else logits)
    labels = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(f"accuracy needs logits of shape (N, C) with N > 0, got {scores.shape}")
    if labels.shape != scores.shape[:1]:
        raise ValueError(f"accuracy needs targets of shape ({scores.shape[0]},) for logits {scores.shape}, "
                         f"got {labels.shape}")
    return float(np.mean(np.argmax(scores, axis=1) == labels))


def grad_norms(model: Module) -> list[float]:
    """||dL/dW||_2 (Frobenius norm) of every ``Linear`` layer's weight, input layer first.

    Read after ``loss.backward()``: how large the gradients are at each depth shows whether they
    vanish (shrink towards the input) or explode (grow towards it).
    """
    layers = [m for m in model.modules() if isinstance(m, Linear)]
    if not layers:
        raise ValueError(f"grad_norms: {type(model).__name__} has no Linear layers")
    for i, layer in enumerate(layers):
        if layer.weight.grad is None:
            raise RuntimeError(f"grad_norms: layer {i} ({layer!r}) has no gradient: run loss.backward() first")
    return [float(np.linalg.norm(layer.weight.grad)) for layer in layers]


def _rows(name: str, a: Any) -> np.ndarray:
    a = np.asarray(a.data if isinstance(a, Tensor) else a)
    if a.ndim == 0 or len(a) == 0:
        raise ValueError(f"train: {name} must be an array with at least one row, got shape {a.shape}")
    return a


def train(model: Module, X: Any, y: Any, loss_fn: Callable[[Tensor, Any], Tensor], optimizer: Optimizer,
          epochs: int, batch_size: int | None = None, seed: int | None = 0, X_val: Any = None, y_val: Any = None,
          scheduler: LRScheduler | None = None, clip: float | None = None) -> dict[str, list[float]]:
    """Train ``model`` by mini-batch gradient descent and return the history.

    Each epoch visits the N rows of ``X`` once, in the order of a permutation drawn from
    ``np.random.default_rng(seed)``, in batches of ``batch_size`` rows (``None``: the whole set
    in one batch, in the given order). Each batch: zero the gradients, forward, loss, backward,
    optionally clip the total gradient norm to ``clip``, step. After each epoch the scheduler,
    if any, steps once.

    The history has one entry per epoch in each list:
    ``"loss"``: mean training loss over the epoch's batches, weighted by batch size (computed
    while the weights change); ``"val_loss"`` (only with ``X_val``, ``y_val``): loss on the
    validation set after the epoch; ``"lr"``: the learning rate used during the epoch;
    ``"grad_norm"``: total gradient norm of the epoch's last batch, before clipping.
    Raises ``FloatingPointError`` as soon as the training loss stops being finite.
    """
    X, y = _rows("X", X), _rows("y", y)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"train: X has {n} rows but y has {len(y)}")
    epochs = _positive_int("epochs", epochs)
    batch = n if batch_size is None else _positive_int("batch_size", batch_size)
    if (X_val is None) != (y_val is None):
        raise ValueError("train: give both X_val and y_val, or neither")
    if X_val is not None:
        X_val, y_val = _rows("X_val", X_val), _rows("y_val", y_val)
        if len(X_val) != len(y_val):
            raise ValueError(f"train: X_val has {len(X_val)} rows but y_val has {len(y_val)}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"train: optimizer must be an Optimizer, got {type(optimizer).__name__}")
    if scheduler is not None and scheduler.optimizer is not optimizer:
        raise ValueError("train: the scheduler wraps a different optimizer than the one given")
    if clip is not None and (isinstance(clip, bool) or not isinstance(clip, numbers.Real) or not clip > 0):
        raise ValueError(f"train: clip must be a positive number or None, got {clip!r}")

    rng = np.random.default_rng(seed)
    params = optimizer.params
    history: dict[str, list[float]] = {"loss": [], "lr": [], "grad_norm": []}
    if X_val is not None:
        history["val_loss"] = []
    for epoch in range(epochs):
        order = rng.permutation(n) if batch < n else np.arange(n)
        lr = optimizer.lr
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(Tensor(X[idx])), y[idx])
            value = loss.item()
            if not math.isfinite(value):
                raise FloatingPointError(f"train: the loss became {value} in epoch {epoch}; "
                                         f"try a smaller learning rate or gradient clipping")
            loss.backward()
            norm = total_grad_norm(params) if clip is None else clip_grad_norm_(params, clip)
            optimizer.step()
            total += value * len(idx)
        history["loss"].append(total / n)
        history["lr"].append(lr)
        history["grad_norm"].append(norm)
        if X_val is not None:
            history["val_loss"].append(loss_fn(model(Tensor(X_val)), y_val).item())
        if scheduler is not None:
            scheduler.step()
    return history
