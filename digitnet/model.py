"""A model: a sequence of layers built from a spec, plus the metadata that travels with it."""

from __future__ import annotations

from typing import Any

import numpy as np

from digitnet.errors import DigitnetError
from digitnet.layers import Dropout, Layer, softmax
from digitnet.spec import INPUT_SHAPE, build_layers, parse_spec

# Images per forward pass when predicting: a convolution's window copy grows with the batch, and
# measured here, 1000 at a time took 870 MB at peak for the CNN, 256 at a time 400 MB, as fast.
PREDICT_BATCH = 256


class Model:
    """Input: images of shape (n, 28, 28) or (n, 784), float32 in [0, 1]. Output: 10 logits."""

    def __init__(
        self, spec: str | dict[str, Any], seed: int = 0, metadata: dict | None = None
    ) -> None:
        self.spec = parse_spec(spec)
        self.layers: list[Layer] = build_layers(self.spec, seed)
        # Backpropagation stops at the first trainable layer: what comes before it is the data.
        first_trainable = next(i for i, layer in enumerate(self.layers) if layer.params)
        self.layers[first_trainable].needs_input_grad = False
        self.backward_layers = self.layers[first_trainable:][::-1]
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.metadata["spec"] = self.spec

    @property
    def temperature(self) -> float:
        """Divides the logits before the softmax; fitted on dev data so confidences mean what
        they say (1.0: not calibrated)."""
        return float(self.metadata.get("temperature", 1.0))

    def seed_dropout(self, seed: int) -> None:
        """Gives every dropout layer its own generator, so training is repeatable."""
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dropout):
                layer.rng = np.random.default_rng([seed, i])

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        x = as_images(x)
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad: np.ndarray) -> None:
        for layer in self.backward_layers:
            grad = layer.backward(grad)

    def parameters(self) -> list[np.ndarray]:
        return [p for layer in self.layers for p in layer.params.values()]

    def gradients(self) -> list[np.ndarray]:
        return [layer.grads[name] for layer in self.layers for name in layer.params]

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array to save, trained or not, by a stable name like ``3.W``."""
        return {
            f"{i}.{name}": value
            for i, layer in enumerate(self.layers)
            for name, value in {**layer.params, **layer.state}.items()
        }

    def logits(self, x: np.ndarray) -> np.ndarray:
        x = as_images(x)
        return np.concatenate(
            [self.forward(x[i : i + PREDICT_BATCH]) for i in range(0, len(x), PREDICT_BATCH)]
            or [np.zeros((0, 10), np.float32)]
        )

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, 10) probabilities, each row summing to 1."""
        return softmax(self.logits(x) / np.float32(self.temperature))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.logits(x).argmax(axis=1)

    @property
    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def __repr__(self) -> str:
        return f"Model({len(self.layers)} layers, {self.num_parameters:,} parameters)"


def as_images(x: np.ndarray) -> np.ndarray:
    """Accepts (n, 28, 28) or (n, 784) and gives (n, 28, 28) float32, or a clear error."""
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] == INPUT_SHAPE[0] * INPUT_SHAPE[1]:
        x = x.reshape(len(x), *INPUT_SHAPE)
    if x.ndim != 3 or x.shape[1:] != INPUT_SHAPE:
        raise DigitnetError(f"expected images of shape (n, 28, 28) or (n, 784), got {x.shape}")
    if x.dtype != np.float32 and x.dtype != np.float64:
        x = x.astype(np.float32)
    return x
