"""Optimisers and learning-rate schedules.

An optimiser updates a list of parameter arrays in place from a matching list of gradients.
L2 weight decay applies to weight matrices and kernels (arrays of two or more dimensions), not
to biases or BatchNorm's scale and shift: decaying those only fights the data.

The updates write into preallocated buffers (``out=``): a training step of a small network is
short enough that fresh temporaries for every parameter show up in its time (measured: the
optimiser was a quarter of an MLP training step).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from digitnet.errors import DigitnetError

OPTIMIZERS = ("sgd", "momentum", "adam")
SCHEDULES = ("constant", "step", "cosine")


# --- The checks of every setting, written once for the optimisers, TrainConfig and a rate
# changed while training runs ----------------------------------------------------------------


def is_number(value: object) -> bool:
    """A finite real number (a bool is not one, though Python counts it as an int)."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def is_whole(value: object, low: int, high: int | None = None) -> bool:
    """A whole number (not a bool, not a float) from ``low`` to ``high``, both included."""
    return (
        isinstance(value, Integral)
        and not isinstance(value, bool)
        and low <= value
        and (high is None or value <= high)
    )


def check_learning_rate(learning_rate: float) -> float:
    if not (is_number(learning_rate) and learning_rate > 0):
        raise DigitnetError(f"learning rate must be a positive number, got {learning_rate!r}")
    return learning_rate


def check_momentum(momentum: float) -> float:
    if not (is_number(momentum) and 0 <= momentum < 1):
        raise DigitnetError(f"momentum must be in [0, 1), got {momentum!r}")
    return momentum


def check_weight_decay(weight_decay: float) -> float:
    if not (is_number(weight_decay) and weight_decay >= 0):
        raise DigitnetError(f"weight decay must be a number >= 0, got {weight_decay!r}")
    return weight_decay


def check_optimizer(name: str, learning_rate: float, momentum: float, weight_decay: float) -> None:
    """Every setting of an optimiser, as ``make_optimizer`` takes them."""
    if name not in OPTIMIZERS:
        raise DigitnetError(f"unknown optimizer {name!r}: use one of {', '.join(OPTIMIZERS)}")
    check_learning_rate(learning_rate)
    check_momentum(momentum)
    check_weight_decay(weight_decay)


def check_schedule(name: str, step_size: int = 5, gamma: float = 0.5) -> None:
    if name not in SCHEDULES:
        raise DigitnetError(f"unknown schedule {name!r}: use one of {', '.join(SCHEDULES)}")
    if not is_whole(step_size, 1):
        raise DigitnetError(f"step size must be a whole number of epochs >= 1, got {step_size!r}")
    if not (is_number(gamma) and 0 < gamma <= 1):
        raise DigitnetError(f"gamma must be in (0, 1], got {gamma!r}")


# --- Optimisers -------------------------------------------------------------------------------


class Optimizer:
    def __init__(self, params: list[np.ndarray], lr: float, weight_decay: float = 0.0) -> None:
        self.params = params
        self.lr = check_learning_rate(lr)
        self.weight_decay = check_weight_decay(weight_decay)
        self.decays = [p.ndim >= 2 for p in params]
        self.scratch = [np.empty_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        for i, (param, grad) in enumerate(zip(self.params, grads)):
            if self.weight_decay and self.decays[i]:
                # In place: the gradient arrays are the layers' own, refilled every backward.
                grad += np.multiply(param, self.weight_decay, out=self.scratch[i])
            self.update(i, param, grad)

    def update(self, i: int, param: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Plain gradient descent, or with heavy-ball momentum when ``momentum`` > 0."""

    def __init__(
        self,
        params: list[np.ndarray],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        self.momentum = check_momentum(momentum)
        self.velocity = [np.zeros_like(p) for p in params]

    def update(self, i: int, param: np.ndarray, grad: np.ndarray) -> None:
        if self.momentum:
            velocity = self.velocity[i]
            velocity *= self.momentum
            velocity += grad
            grad = velocity
        param -= np.multiply(grad, self.lr, out=self.scratch[i])


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias correction."""

    def __init__(
        self,
        params: list[np.ndarray],
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        super().step(grads)

    def update(self, i: int, param: np.ndarray, grad: np.ndarray) -> None:
        m, v, scratch = self.m[i], self.v[i], self.scratch[i]
        m *= self.beta1
        m += np.multiply(grad, 1 - self.beta1, out=scratch)
        v *= self.beta2
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - self.beta2
        v += scratch
        step_size = self.lr * math.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        np.sqrt(v, out=scratch)
        scratch += self.eps
        np.divide(m, scratch, out=scratch)
        scratch *= step_size
        param -= scratch


def make_optimizer(
    name: str,
    params: list[np.ndarray],
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
) -> Optimizer:
    check_optimizer(name, lr, momentum, weight_decay)
    if name == "adam":
        return Adam(params, lr, weight_decay=weight_decay)
    momentum = momentum if name == "momentum" else 0.0
    return SGD(params, lr, momentum=momentum, weight_decay=weight_decay)


# --- Schedules --------------------------------------------------------------------------------


def schedule_factor(
    name: str, progress: float, epoch: int, step_size: int = 5, gamma: float = 0.5
) -> float:
    """The factor the base learning rate is multiplied by.

    ``progress`` runs from 0 at the first batch to 1 after the last; ``epoch`` counts from 0.
    A factor (not an absolute rate) lets the app change the base rate while training runs.
    """
    check_schedule(name, step_size, gamma)
    if name == "constant":
        return 1.0
    if name == "step":
        return gamma ** (epoch // step_size)
    return 0.5 * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
