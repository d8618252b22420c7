"""Optimisers, learning-rate schedules and gradient clipping (lesson 06).

An optimiser holds a list of parameter tensors and, at each ``step()``, moves every parameter
that has a gradient: theta <- theta - alpha * (a direction built from the gradients seen so far).
The update formulas are PyTorch's, term for term, so that a trajectory computed here matches one
computed with ``torch.optim`` in float64 to rounding error.

Parameters are updated in place (``p.data`` keeps its identity, so the model sees the new
values), and each update gives the parameter a new version, so that a backward pass through a
graph that saved the parameter before the step raises instead of using the new values. Gradient
arrays are never modified: clipping replaces ``p.grad`` by a new array.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np

from .tensor import Tensor


def _number(name: str, value, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float, or a ValueError naming ``name`` and the interval it must lie in."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return value


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _tensor_list(params, who: str) -> list[Tensor]:
    if isinstance(params, Tensor):
        params = [params]
    params = list(params)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{who}: parameter {i} is a {type(p).__name__}, not a Tensor")
    return params


class Optimizer:
    """Base class: holds ``params`` and the learning rate ``lr``; subclasses define ``step``.

    ``lr`` is a plain attribute: schedules (and users) change it between steps. Parameters whose
    ``.grad`` is ``None`` (not reached by the last backward pass) are skipped by ``step``.
    """

    def __init__(self, params: Iterable[Tensor], lr: float):
        self.params = _tensor_list(params, type(self).__name__)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{type(self).__name__}: a parameter appears twice in the list")
        self.lr = _number("lr", lr, low=0.0, low_open=True)
        self.state: dict[int, dict[str, np.ndarray]] = {}

    def zero_grad(self) -> None:
        """Forget every gradient (``.grad = None``): the next backward pass starts from zero."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update, in place, every parameter that has a gradient."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if np.shape(p.grad) != p.shape:
                raise ValueError(f"{type(self).__name__}.step: parameter {i} has shape {p.shape} "
                                 f"but its gradient has shape {np.shape(p.grad)}")
            self._update(p, p.grad, self.state.setdefault(id(p), {}))
            p._bump_version()

    def _update(self, p: Tensor, g: np.ndarray, state: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _update(p, grad, state)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr:g}, {len(self.params)} parameters)"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

    With g = grad + weight_decay * theta (L2 regularisation folded into the gradient):

        v <- momentum * v + g            (v = g at the first step; PyTorch's convention)
        d = g + momentum * v  (Nesterov)  or  d = v  (classical momentum)  or  d = g  (none)
        theta <- theta - lr * d
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum = _number("momentum", momentum, low=0.0, high=1.0, high_open=True)
        self.weight_decay = _number("weight_decay", weight_decay, low=0.0)
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs a momentum > 0")
        self.nesterov = bool(nesterov)

    def _update(self, p, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * p.data
        if self.momentum:
            v = state.get("momentum_buffer")
            v = g.copy() if v is None else self.momentum * v + g
            state["momentum_buffer"] = v
            g = g + self.momentum * v if self.nesterov else v
        p.data -= self.lr * g


class RMSprop(Optimizer):
    """Divide the step by a running root-mean-square of the gradient:

        s <- alpha * s + (1 - alpha) * g^2        (s = 0 before the first step)
        theta <- theta - lr * g / (sqrt(s) + eps)
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8):
        super().__init__(params, lr)
        self.alpha = _number("alpha", alpha, low=0.0, high=1.0, high_open=True)
        self.eps = _number("eps", eps, low=0.0)

    def _update(self, p, g, state):
        s = state.get("square_avg")
        s = (1 - self.alpha) * (g * g) if s is None else self.alpha * s + (1 - self.alpha) * (g * g)
        state["square_avg"] = s
        p.data -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    """Momentum and RMS scaling together, with bias correction for the zero start (step t = 1, 2, ...):

        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        theta <- theta - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    The first step therefore moves every coordinate by about lr * sign(g).
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_number("betas[0]", betas[0], low=0.0, high=1.0, high_open=True),
                      _number("betas[1]", betas[1], low=0.0, high=1.0, high_open=True))
        self.eps = _number("eps", eps, low=0.0)

    def _update(self, p, g, state):
        beta1, beta2 = self.betas
        t = state.get("step", 0) + 1
        m = state.get("exp_avg", 0.0)
        v = state.get("exp_avg_sq", 0.0)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * (g * g)
        state.update(step=t, exp_avg=m, exp_avg_sq=v)
        step_size = self.lr / (1 - beta1 ** t)
        denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + self.eps
        p.data -= step_size * m / denom


# --- learning-rate schedules: call step() once per epoch --------------------------------------------


class LRScheduler:
    """Sets ``optimizer.lr`` from a closed form in the epoch count.

    ``base_lr`` is the optimiser's learning rate when the schedule is created; after ``k`` calls
    of ``step()``, ``optimizer.lr == get_lr()`` is the closed form at epoch ``k``.
    """

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} wraps an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0

    def get_lr(self) -> float:
        """The learning rate at epoch ``last_epoch``."""
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        self.optimizer.lr = self.get_lr()


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** floor(epoch / step_size): divide by 1/gamma every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size = _positive_int("step_size", step_size)
        self.gamma = _number("gamma", gamma, low=0.0, low_open=True)

    def get_lr(self) -> float:
        return self.base_lr * self.gamma ** (self.last_epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        super().__init__(optimizer)
        self.gamma = _number("gamma", gamma, low=0.0, low_open=True)

    def get_lr(self) -> float:
        return self.base_lr * self.gamma ** self.last_epoch


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2.

    Falls from base_lr to eta_min over ``T_max`` epochs along half a cosine (and, as in PyTorch,
    climbs back up if training goes on past ``T_max``).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        super().__init__(optimizer)
        self.T_max = _positive_int("T_max", T_max)
        self.eta_min = _number("eta_min", eta_min, low=0.0)

    def get_lr(self) -> float:
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return self.eta_min + (self.base_lr - self.eta_min) * cosine


# --- gradient clipping --------------------------------------------------------------------------------


def total_grad_norm(params: Iterable[Tensor]) -> float:
    """sqrt(sum over parameters of ||grad||^2): the L2 norm of all gradients as one long vector.

    Parameters without a gradient are skipped.
    """
    squares = [float(np.vdot(p.grad, p.grad)) for p in _tensor_list(params, "total_grad_norm") if p.grad is not None]
    return math.sqrt(math.fsum(squares))


def clip_grad_norm_(params: Iterable[Tensor], max_norm: float) -> float:
    """Rescale all gradients together so that their total L2 norm is at most ``max_norm``.

    Returns the total norm before clipping. When it exceeds ``max_norm`` every gradient is
    multiplied by max_norm / (total + 1e-6), as in PyTorch; each ``p.grad`` is replaced by a new
    array. Raises ``FloatingPointError`` when the norm is nan or inf (training has diverged).
    """
    params = _tensor_list(params, "clip_grad_norm_")
    max_norm = _number("max_norm", max_norm, low=0.0, low_open=True)
    total = total_grad_norm(params)
    if not math.isfinite(total):
        raise FloatingPointError(f"clip_grad_norm_: the total gradient norm is {total}; training has diverged")
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for p in params:
            if p.grad is not None:
                p.grad = p.grad * scale
    return total


def clip_grad_value_(params: Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient entry to [-clip_value, clip_value] (new arrays, as ``clip_grad_norm_``)."""
    params = _tensor_list(params, "clip_grad_value_")
    clip_value = _number("clip_value", clip_value, low=0.0, low_open=True)
    for p in params:
        if p.grad is not None:
            p.grad = np.clip(p.grad, -clip_value, clip_value)
