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
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitnet.errors import DigitnetError
from digitnet.images import IMAGE_SHAPE, NUM_CLASSES, NUM_OUTPUTS
from digitnet.network.conv import BatchNorm, Conv2D, MaxPool2D, as_channels_last, pair, same_padding
from digitnet.network.layers import Dense, Dropout, Flatten, Layer, LeakyReLU, ReLU, Sigmoid, Tanh

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
    layers.append({"type": "dense", "units": NUM_OUTPUTS, "init": "glorot"})
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

# Limits checked on a spec's text and shapes before any array is allocated, so a typo or a crafted
# weights file gets one line instead of a MemoryError: the shipped CNN has 0.4 million parameters.
MAX_PARAMETERS = 50_000_000
# Values one image makes in any layer (the shipped CNN's largest layer makes 18,432).
MAX_ACTIVATIONS = 1_000_000
# Brackets a spec's JSON text may nest ({"layers": [{"kernel": [5, 5]}]} nests 3 deep).
MAX_SPEC_DEPTH = 8
MAX_SPEC_CHARACTERS = 100_000
MAX_PADDING = IMAGE_SHAPE[0]
# A kernel or a stride wider than the image has nothing left to slide over.
MAX_KERNEL = MAX_STRIDE = IMAGE_SHAPE[0]
WHOLE_OPTIONS = {"units", "filters", "stride", "size"}
RATE_OPTIONS = {"rate", "momentum"}


def parse_sizes(text: str, what: str) -> tuple[int, ...]:
    """Layer sizes written as ``512,256`` (spaces allowed). The message names ``what`` (e.g.
    "hidden layer sizes"), so it reads well on a page and on the command line."""
    parts = [part for part in text.replace(" ", "").split(",") if part]
    if not parts or not all(part.isdecimal() for part in parts):
        raise DigitnetError(
            f"bad {what} {text!r}: write whole numbers separated by commas, like 128,64"
        )
    values = tuple(int(part) for part in parts)
    if min(values) <= 0:
        raise DigitnetError(f"bad {what} {text!r}: every size must be a positive whole number")
    return values


def parse_spec(spec: str | dict[str, Any], **options: Any) -> dict[str, Any]:
    """Turn any accepted form into the canonical dict, its fields checked (``check_spec``).
    ``options`` go to a preset (activation, dropout, ...)."""
    if isinstance(spec, str):
        spec = _spec_from_text(spec.strip(), options)
    return check_spec(spec)


def _spec_from_text(text: str, options: dict[str, Any]) -> Any:
    if text.startswith(("{", "[")):
        return _json_spec(text)
    name, separator, sizes = text.partition(":")
    if name not in PRESETS:
        raise DigitnetError(
            f"unknown architecture {text[:80]!r}: use one of {', '.join(PRESETS)}, "
            "'mlp:256,128' or a JSON spec"
        )
    if separator:
        options["hidden"] = parse_sizes(sizes, "layer sizes")
    return PRESETS[name](**options)


def _json_spec(text: str) -> Any:
    """JSON text, its size and nesting checked first: the parser recurses once per bracket."""
    if len(text) > MAX_SPEC_CHARACTERS:
        raise DigitnetError(f"the JSON spec is {len(text):,} characters; the limit is 100,000")
    codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    opened = np.isin(codes, [ord("{"), ord("[")]).astype(np.int32)
    closed = np.isin(codes, [ord("}"), ord("]")]).astype(np.int32)
    # Brackets inside strings count too: they only make the estimate higher.
    if np.cumsum(opened - closed).max(initial=0) > MAX_SPEC_DEPTH:
        raise DigitnetError(f"the JSON spec nests deeper than {MAX_SPEC_DEPTH} brackets")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DigitnetError(f"spec is not valid JSON: {error}") from None


@dataclass(frozen=True)
class LayerSize:
    """One layer of a spec as its shapes alone say: the shape of one image's values going in and
    coming out, and the layer's parameter count."""

    layer: dict[str, Any]  # its options, checked
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    parameters: int


def check_spec(spec: object) -> dict[str, Any]:
    """The spec with every field checked for type and range (whole numbers written as 256.0
    become 256), and the network's size worked out from the shapes alone, so nothing is allocated
    for a spec that is refused."""
    return _measured(spec)[0]


def layer_sizes(spec: object) -> list[LayerSize]:
    """Every layer's shapes and parameter count, the spec checked as by ``check_spec``: nothing
    is allocated, so a memory estimate or a weights file's check can use it on any spec."""
    return _measured(spec)[1]


def count_parameters(spec: object) -> int:
    """The trainable numbers a network of this spec has (a checked spec; nothing allocated)."""
    return sum(size.parameters for size in layer_sizes(spec))


def array_shapes(spec: object) -> dict[str, tuple[int, ...]]:
    """The shape of every array a network of this spec holds (its parameters, and batch norm's
    running statistics) by the name ``Model.arrays`` gives it ("1.W"), from ``layer_sizes``: a
    weights file's arrays are checked against it before anything is allocated."""
    shapes = {}
    for position, size in enumerate(layer_sizes(spec)):
        kind, units = size.layer["type"], size.output_shape[-1]
        if kind == "dense":
            arrays = {"W": (math.prod(size.input_shape), units), "b": (units,)}
        elif kind == "conv2d":
            kernel = pair(size.layer.get("kernel", 3), "kernel")
            channels = as_channels_last(size.input_shape, kind)[2]
            arrays = {"W": (*kernel, channels, units), "b": (units,)}
        elif kind == "batchnorm":
            features = (size.parameters // 2,)  # a gamma and a beta per feature
            arrays = dict.fromkeys(("gamma", "beta", "running_mean", "running_var"), features)
        else:
            arrays = {}
        shapes.update({f"{position}.{name}": shape for name, shape in arrays.items()})
    return shapes


def _measured(spec: object) -> tuple[dict[str, Any], list[LayerSize]]:
    if not isinstance(spec, dict):
        raise DigitnetError(
            f'a spec must be a dict like {{"layers": [...]}}, not a {type(spec).__name__}'
        )
    layers = spec.get("layers")
    if not isinstance(layers, list) or not layers:
        raise DigitnetError("a spec needs a non-empty 'layers' list")
    shape: tuple[int, ...] = IMAGE_SHAPE
    sizes = []
    for position, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise DigitnetError(f"layer {position} must be a dict like {{'type': 'relu'}}")
        try:
            layer = {key: _checked_option(key, value) for key, value in layer.items()}
            output, count = _layer_size(layer, shape)
        except DigitnetError as error:
            raise DigitnetError(f"layer {position} ({layer.get('type')}): {error}") from None
        sizes.append(LayerSize(layer, shape, output, count))
        shape = output
    parameters = sum(size.parameters for size in sizes)
    largest = max(math.prod(size.output_shape) for size in sizes)
    if parameters > MAX_PARAMETERS:
        raise DigitnetError(
            f"the network would have {parameters:,} parameters; the limit is {MAX_PARAMETERS:,}"
        )
    if largest > MAX_ACTIVATIONS:
        raise DigitnetError(
            f"a layer would make {largest:,} values per image; the limit is {MAX_ACTIVATIONS:,}"
        )
    return {**spec, "layers": [size.layer for size in sizes]}, sizes


def _layer_size(layer: dict[str, Any], shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """A layer's output shape and parameter count from its input shape, its options checked.
    Shapes the layer itself would refuse (a dense layer on images) are left to the layer."""
    kind = layer.get("type")
    if kind not in LAYER_TYPES:
        raise DigitnetError(f"unknown type {kind!r}; known: {', '.join(LAYER_TYPES)}")
    if kind == "dense":
        units = _required(layer, "units")
        return (units,), (math.prod(shape) + 1) * units
    if kind == "flatten":
        return (math.prod(shape),), 0
    if kind == "batchnorm":
        return shape, 2 * (shape[-1] if len(shape) in (1, 3) else 1)
    if kind == "maxpool2d":
        height, width, channels = as_channels_last(shape, kind)
        size = layer.get("size", 2)
        return (max(height // size, 1), max(width // size, 1), *shape[2:]), 0
    if kind == "conv2d":
        return _conv_size(layer, shape)
    return shape, 0


def _conv_size(layer: dict[str, Any], shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    channels = as_channels_last(shape, "conv2d")[2]
    filters = _required(layer, "filters")
    kh, kw = pair(layer.get("kernel", 3), "kernel")
    stride = layer.get("stride", 1)
    padded = conv_padded_size(layer, shape)
    out = (max((padded[0] - kh) // stride + 1, 1), max((padded[1] - kw) // stride + 1, 1))
    return (*out, filters), (kh * kw * channels + 1) * filters


def conv_padded_size(layer: dict[str, Any], shape: tuple[int, ...]) -> tuple[int, int]:
    """(height, width) of a conv2d layer's input with its padding added."""
    height, width, _ = as_channels_last(shape, "conv2d")
    kh, kw = pair(layer.get("kernel", 3), "kernel")
    stride = layer.get("stride", 1)
    padding = layer.get("padding", 0)
    if padding == "same":
        return (
            height + sum(same_padding(height, kh, stride)),
            width + sum(same_padding(width, kw, stride)),
        )
    if isinstance(padding, int) and not isinstance(padding, bool) and 0 <= padding <= MAX_PADDING:
        return height + 2 * padding, width + 2 * padding
    raise DigitnetError(
        f"padding must be a whole number from 0 to {MAX_PADDING} or 'same', got {padding!r}"
    )


def _required(layer: dict[str, Any], key: str) -> int:
    if key not in layer:
        raise DigitnetError(f"needs '{key}'")
    return layer[key]


def _checked_option(key: str, value: Any) -> Any:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if key in WHOLE_OPTIONS:
        if not (number and float(value).is_integer() and value >= 1):
            raise DigitnetError(f"{key} must be a whole number of at least 1, got {value!r}")
        if key == "stride" and value > MAX_STRIDE:
            raise DigitnetError(f"stride must be at most {MAX_STRIDE}, got {value!r}")
        return int(value)
    if key in RATE_OPTIONS and not (number and 0 <= value < 1):
        raise DigitnetError(f"{key} must be a number in [0, 1), got {value!r}")
    if key in ("alpha", "eps") and not (number and math.isfinite(value) and value >= 0):
        raise DigitnetError(f"{key} must be a finite number of at least 0, got {value!r}")
    if key == "init" and value not in ("he", "glorot"):
        raise DigitnetError(f"init must be 'he' or 'glorot', got {value!r}")
    if key == "kernel" and max(pair(value, "kernel")) > MAX_KERNEL:
        raise DigitnetError(f"kernel must be at most {MAX_KERNEL} pixels a side, got {value!r}")
    return value


def build_layers(spec: dict[str, Any], seed: int = 0) -> list[Layer]:
    """Layers for a spec (checked first: ``check_spec``), initialised from ``seed``; checks that
    it ends in NUM_OUTPUTS outputs (ten digits and "not a digit") or, made before that output,
    in the ten digits alone."""
    spec = check_spec(spec)
    rng = np.random.default_rng(seed)
    shape: tuple[int, ...] = IMAGE_SHAPE
    layers = []
    for position, layer_spec in enumerate(spec["layers"]):
        options = dict(layer_spec)
        kind = options.pop("type")
        try:
            layer = LAYER_TYPES[kind](shape, rng, **options)
        except TypeError as error:
            raise DigitnetError(f"layer {position} ({kind}): {error}") from None
        layers.append(layer)
        shape = layer.output_shape
    if shape not in ((NUM_OUTPUTS,), (NUM_CLASSES,)):
        raise DigitnetError(
            f"the network must end in {NUM_OUTPUTS} outputs (or {NUM_CLASSES}), not {shape}"
        )
    return layers
