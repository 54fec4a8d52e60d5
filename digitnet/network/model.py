"""A model: a sequence of layers built from a spec, plus the metadata that travels with it."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from digitnet.errors import DigitnetError
from digitnet.images import IMAGE_SHAPE, NOT_A_DIGIT, NUM_CLASSES, to_float
from digitnet.network.conv import BatchNorm, Conv2D, MaxPool2D
from digitnet.network.layers import Dense, Dropout, Flatten, Layer, softmax
from digitnet.network.spec import build_layers, parse_spec

# Images per forward pass when predicting: a convolution's window copy grows with the batch, and
# measured here, 1000 at a time took 870 MB at peak for the CNN, 256 at a time 400 MB, as fast.
PREDICT_BATCH = 256


class Model:
    """Input: images of shape (n, 28, 28) or (n, 784), float32 in [0, 1]. Output: a logit for
    each digit and one for "not a digit" (NOT_A_DIGIT; models made before it have ten)."""

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

    @property
    def outputs(self) -> int:
        """NUM_OUTPUTS (the ten digits and NOT_A_DIGIT), or NUM_CLASSES for a model made before
        the eleventh output."""
        return self.layers[-1].output_shape[0]

    @property
    def knows_not_digit(self) -> bool:
        return self.outputs > NUM_CLASSES

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(n, outputs): the network's raw outputs, in batches of PREDICT_BATCH."""
        x = as_images(x)
        return np.concatenate(
            [self.forward(x[i : i + PREDICT_BATCH]) for i in range(0, len(x), PREDICT_BATCH)]
            or [np.zeros((0, self.outputs), np.float32)]
        )

    def digit_logits(self, x: np.ndarray) -> np.ndarray:
        """(n, 10): the digits' logits, what the probabilities and the temperature are about."""
        return self.logits(x)[:, :NUM_CLASSES]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, 10) probabilities of the ten digits, each row summing to 1: which digit, if it
        is one (``not_digit_proba`` says how likely it is none)."""
        return softmax(self.digit_logits(x) / np.float32(self.temperature))

    def not_digit_proba(self, x: np.ndarray) -> np.ndarray:
        """(n,) the probability that each image is not a digit at all (zeros from a model
        without that output)."""
        return not_digit_probability(self.logits(x), self.temperature)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.digit_logits(x).argmax(axis=1)

    # Inspection: what happens inside, for the app's "Inside the network" view. These calls run on
    # shallow copies of the layers (shared weights, private forward state and gradients), so they
    # never write to this model: any number of threads may inspect one model at once, alongside
    # its predictions, and training (which uses the layers themselves) is unaffected.

    def activations(self, images: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """Each layer's readable name and its output for a batch, in inference mode."""
        x = as_images(images)
        outputs = []
        for name, layer in zip(self.layer_names(), inspection_copies(self.layers)):
            x = layer.forward(x, training=False)
            outputs.append((name, x))
        return outputs

    def input_gradient(self, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """(n, 28, 28): d(logit of classes[i]) / d(pixels of images[i]) for each image, by the
        layers' own backward pass in inference mode (dropout off, batch norm's running
        statistics). Pass float64 images for float64 arithmetic."""
        x = as_images(images)
        classes = np.asarray(classes)
        if classes.shape != (len(x),) or not np.issubdtype(classes.dtype, np.integer):
            raise DigitnetError(f"need one integer class per image, got {classes.shape}")
        if len(classes) and not 0 <= classes.min() <= classes.max() < self.outputs:
            raise DigitnetError(f"classes must be from 0 to {self.outputs - 1}")
        layers = inspection_copies(self.layers)
        for layer in layers:
            layer.keep_for_backward = True
            x = layer.forward(x, training=False)
        grad = np.zeros_like(x)
        grad[np.arange(len(x)), classes] = 1
        for layer in reversed(layers):
            grad = layer.backward(grad)
        return grad.reshape(len(grad), *IMAGE_SHAPE)

    def features(self, images: np.ndarray) -> np.ndarray:
        """(n, units): the last hidden layer, what the output layer reads (the input of the last
        dense layer), in batches like ``logits``: for the nearest digits and the maps."""
        x = as_images(images)
        last_dense = max(i for i, layer in enumerate(self.layers) if isinstance(layer, Dense))
        hidden = inspection_copies(self.layers[:last_dense])
        batches = []
        for start in range(0, len(x), PREDICT_BATCH):
            batch = x[start : start + PREDICT_BATCH]
            for layer in hidden:
                batch = layer.forward(batch, training=False)
            batches.append(batch)
        width = hidden[-1].output_shape if hidden else IMAGE_SHAPE
        return np.concatenate(batches) if batches else np.zeros((0, *width), np.float32)

    def layer_names(self) -> list[str]:
        """Names for people, one per layer: "conv 1 (32 maps)", "max pool 2x2", "relu",
        "dense 128", "output (10 logits)"."""
        names, convolutions = [], 0
        for position, layer in enumerate(self.layers):
            if isinstance(layer, Conv2D):
                convolutions += 1
                names.append(f"conv {convolutions} ({layer.output_shape[-1]} maps)")
            elif isinstance(layer, Dense):
                last = position == len(self.layers) - 1
                units = layer.output_shape[0]
                names.append(f"output ({units} logits)" if last else f"dense {units}")
            elif isinstance(layer, MaxPool2D):
                names.append(f"max pool {layer.size}x{layer.size}")
            elif isinstance(layer, BatchNorm):
                names.append("batch norm")
            elif isinstance(layer, Dropout):
                names.append(f"dropout {layer.rate:g} (off when predicting)")
            elif isinstance(layer, Flatten):
                names.append(f"flatten ({layer.output_shape[0]})")
            else:
                names.append(LAYER_LABELS.get(type(layer).__name__, type(layer).__name__.lower()))
        return names

    @property
    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def __repr__(self) -> str:
        return f"Model({len(self.layers)} layers, {self.num_parameters:,} parameters)"


LAYER_LABELS = {"ReLU": "relu", "LeakyReLU": "leaky relu", "Tanh": "tanh", "Sigmoid": "sigmoid"}


def not_digit_probability(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(n,) softmax over every output, at ``temperature``, of NOT_A_DIGIT's: zeros for logits
    of the ten digits alone."""
    if logits.shape[1] <= NUM_CLASSES:
        return np.zeros(len(logits), np.float32)
    return softmax(logits / np.float32(temperature))[:, NOT_A_DIGIT]


def inspection_copies(layers: list[Layer]) -> list[Layer]:
    """Shallow copies that share the weights but keep their own forward state, pass the gradient
    on to the input (a model's first trainable layer skips that in training) and skip the
    parameters' gradients, which inspection never needs."""
    copies = []
    for layer in layers:
        clone = copy.copy(layer)
        clone.grads = {}
        clone.needs_input_grad, clone.needs_param_grads = True, False
        copies.append(clone)
    return copies


def as_images(x: np.ndarray) -> np.ndarray:
    """Accepts (n, 28, 28) or (n, 784) and gives (n, 28, 28) float32, or a clear error. uint8
    pixels (0-255, as MNIST is stored) are scaled to [0, 1] first, as the network expects."""
    x = to_float(x) if np.asarray(x).dtype == np.uint8 else np.asarray(x)
    if x.ndim == 2 and x.shape[1] == IMAGE_SHAPE[0] * IMAGE_SHAPE[1]:
        x = x.reshape(len(x), *IMAGE_SHAPE)
    if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
        raise DigitnetError(f"expected images of shape (n, 28, 28) or (n, 784), got {x.shape}")
    if x.dtype != np.float32 and x.dtype != np.float64:
        x = x.astype(np.float32)
    return x


def copy_weights(model: Model) -> list[np.ndarray]:
    """A copy of every array of the model (weights and BatchNorm statistics)."""
    return [array.copy() for array in model.arrays().values()]


def load_weights(model: Model, arrays: list[np.ndarray]) -> None:
    """Puts arrays from ``copy_weights`` back into the same model, in place."""
    for target, saved in zip(model.arrays().values(), arrays, strict=True):
        target[...] = saved
