"""Layers of a network: each is a small object with a forward call, a backward call and its
parameters, nothing more (the micrograd habit).

Every layer follows one protocol, which the model, the optimisers and the weights file rely on:

- ``__init__(input_shape, rng, **options)``: ``input_shape`` is the shape of one example (no batch
  axis); ``output_shape`` is set from it, so a spec can be built without running data through it.
- ``forward(x, training)``: ``x`` has a leading batch axis; the layer keeps what backward needs
  only when a backward will follow (``keeps``): in training, or when ``keep_for_backward`` is set.
- ``backward(grad)``: takes d(loss)/d(output), fills ``grads`` and returns d(loss)/d(input).
- ``params``: trainable float32 arrays by name; ``grads``: same names and shapes.
- ``state``: arrays that are saved but not trained (BatchNorm's running statistics).
- ``needs_input_grad``: False on a network's first trainable layer, whose input is data; its
  backward then skips d(loss)/d(input) and returns None (a quarter of an MLP's backward pass).
- ``needs_param_grads``: False when only the input gradient is wanted (a saliency map); backward
  then leaves ``grads`` alone (half of a convolution's backward pass).

Everything is float32: a float64 temporary would double the memory traffic of a training step.
The gradient checks in the tests run the same code in float64 by passing float64 arrays.
"""

from __future__ import annotations

import math

import numpy as np

from digitnet.errors import DigitnetError

Shape = tuple[int, ...]


class Layer:
    """Base: no parameters, shape unchanged."""

    def __init__(self, input_shape: Shape, rng: np.random.Generator | None = None) -> None:
        self.input_shape = tuple(input_shape)
        self.output_shape = self.input_shape
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        self.needs_input_grad = True
        self.needs_param_grads = True
        # A backward follows forward in inference mode too (a saliency map's): keep its inputs.
        self.keep_for_backward = False

    def keeps(self, training: bool) -> bool:
        """Whether forward keeps what backward needs. Only when a backward follows: kept after
        every prediction, a layer's input would hold the last batch, and through that view the
        whole data set the model was scored on."""
        return training or self.keep_for_backward

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}{self.input_shape}->{self.output_shape}"


def init_weights(
    kind: str, fan_in: int, fan_out: int, shape: Shape, rng: np.random.Generator
) -> np.ndarray:
    """He suits ReLU-like activations (keeps the variance of activations); Glorot suits tanh and
    sigmoid (keeps the variance of both activations and gradients)."""
    if kind == "he":
        weights = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    elif kind == "glorot":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        weights = rng.uniform(-limit, limit, size=shape)
    else:
        raise DigitnetError(f"unknown initialisation {kind!r}: use 'he' or 'glorot'")
    return weights.astype(np.float32)


class Dense(Layer):
    """y = x W + b."""

    def __init__(
        self, input_shape: Shape, rng: np.random.Generator, units: int, init: str = "he"
    ) -> None:
        super().__init__(input_shape)
        if len(self.input_shape) != 1:
            raise DigitnetError(
                f"dense needs a flat input, got shape {self.input_shape}: put a flatten before it"
            )
        fan_in = self.input_shape[0]
        self.output_shape = (units,)
        self.params = {
            "W": init_weights(init, fan_in, units, (fan_in, units), rng),
            "b": np.zeros(units, dtype=np.float32),
        }
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.x = x if self.keeps(training) else None
        out = x @ self.params["W"]
        out += self.params["b"]
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        if self.needs_param_grads:
            self.grads["W"] = self.x.T @ grad
            self.grads["b"] = grad.sum(axis=0)
        return grad @ self.params["W"].T if self.needs_input_grad else None


class ReLU(Layer):
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.mask = x > 0 if self.keeps(training) else None
        return np.maximum(x, 0)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        # In place: a gradient array is used once, by the layer it is handed to.
        return np.multiply(grad, self.mask, out=grad)


class LeakyReLU(Layer):
    """Like ReLU but lets a small gradient through for negative inputs, so no unit dies."""

    def __init__(
        self, input_shape: Shape, rng: np.random.Generator | None = None, alpha: float = 0.01
    ) -> None:
        super().__init__(input_shape)
        self.alpha = alpha

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        scale = np.where(x > 0, 1.0, self.alpha).astype(x.dtype)
        self.scale = scale if self.keeps(training) else None
        return x * scale

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.scale


class Tanh(Layer):
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        out = np.tanh(x)
        self.out = out if self.keeps(training) else None
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * (1 - self.out * self.out)


class Sigmoid(Layer):
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        # tanh form: exact and never overflows, unlike 1 / (1 + exp(-x)) for large -x.
        out = 0.5 * (np.tanh(0.5 * x) + 1)
        self.out = out if self.keeps(training) else None
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.out * (1 - self.out)


class Dropout(Layer):
    """Inverted dropout: scales the kept units at training time so inference needs no change."""

    def __init__(
        self, input_shape: Shape, rng: np.random.Generator | None = None, rate: float = 0.5
    ) -> None:
        super().__init__(input_shape)
        if not 0 <= rate < 1:
            raise DigitnetError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.rng = rng if rng is not None else np.random.default_rng()

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0:
            self.scale = None
            return x
        keep = 1.0 - self.rate
        self.scale = (self.rng.random(x.shape, dtype=np.float32) < keep).astype(x.dtype)
        self.scale *= 1.0 / keep
        return x * self.scale

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad if self.scale is None else grad * self.scale


class Flatten(Layer):
    def __init__(self, input_shape: Shape, rng: np.random.Generator | None = None) -> None:
        super().__init__(input_shape)
        self.output_shape = (int(np.prod(self.input_shape)),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return x.reshape(len(x), -1)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad.reshape((len(grad), *self.input_shape))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so exp never overflows."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient with respect
    to the logits. Fused, because the gradient of the pair is simply (p - onehot) / n and
    log-softmax computed as shifted - log(sum(exp)) never takes the log of zero."""
    n = len(logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_sum
    loss = float(-log_probs[np.arange(n), labels].mean())
    grad = np.exp(log_probs)
    grad[np.arange(n), labels] -= 1
    grad /= n
    return loss, grad
