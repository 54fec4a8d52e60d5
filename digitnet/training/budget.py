"""The memory a training will need, worked out from its spec and settings before anything is
allocated, and the limit a server puts on it: a training over the limit is refused in one line
instead of running the machine out of memory halfway.

A training holds the network's weights and, as large again each: their gradients, the
optimiser's scratch array and its moments (Adam keeps two, momentum one), and copies of the
weights (the best epoch's, the last good epoch's and the next being taken). Then, for a batch,
what every layer keeps from its forward pass for the backward pass (and a convolution's reused
work arrays), and the gradients flowing back; the float32 copies of the training and dev digits;
the two batch buffers the Trainer fills in the background (with augmentation's work arrays and
the extra digits it draws); and after each epoch, the dev digits' forward pass. ``estimate``
adds these up layer by layer from the spec's shapes (``layer_sizes``): tests/test_budget.py
holds it to within half again of measured peaks.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any

from digitnet.errors import DigitnetError
from digitnet.images import NUM_OUTPUTS, PIXELS
from digitnet.network.conv import pair
from digitnet.network.model import PREDICT_BATCH
from digitnet.network.spec import LayerSize, conv_padded_size, layer_sizes
from digitnet.training.trainer import TrainConfig

BUDGET_ENV = "DIGITNET_MEMORY_BUDGET"
MB, GB = 10**6, 10**9
# Two trainings at once (DIGITNET_MAX_TRAININGS' default) take 12 GB of a 24 GiB machine and
# leave the rest to the server, its caches and the sessions' predictions.
DEFAULT_BUDGET = 6 * GB
FLOAT = 4  # bytes: everything is float32
LABEL = 8  # bytes: labels are int64
MOMENTS = {"adam": 2, "momentum": 1, "sgd": 0}
WEIGHT_COPIES = 3
# Augmentation's work arrays (digitnet.data.augment's scratch), in images per image of a batch;
# and what drawing an extra digit from its strokes takes (measured on pen digits: 56 images).
AUGMENT_IMAGES = 14
EXTRA_IMAGES = 56


@dataclass(frozen=True)
class Estimate:
    """What a training will hold at its peak, in bytes, by what holds it."""

    parts: dict[str, int]
    parameters: int
    conv: bool  # the network has convolutions: "fewer filters" is the advice, not "smaller layers"

    @property
    def bytes(self) -> int:
        return sum(self.parts.values())

    def refusal(self, limit: int, where: str = "on this server") -> str | None:
        """The one line that refuses this training under ``limit`` bytes, or None: it fits."""
        if self.bytes <= limit:
            return None
        smaller = "fewer filters" if self.conv else "smaller layers"
        return (
            f"this training needs about {show_bytes(self.bytes)}, over the {show_bytes(limit)} "
            f"a training may use {where}: {smaller} or a smaller batch"
        )

    def check(self, limit: int | None = None) -> None:
        """Raises the one-line DigitnetError of ``refusal`` when the training does not fit under
        ``limit`` bytes (a server's), or with None, under ``configured_budget()``."""
        where = "on this server" if limit is not None else f"on this machine ({BUDGET_ENV})"
        reason = self.refusal(configured_budget() if limit is None else limit, where)
        if reason is not None:
            raise DigitnetError(reason)


@dataclass(frozen=True)
class _Layer:
    """A layer's memory in bytes per image of a batch. ``kept``: what its forward pass keeps
    for the backward pass until the next batch's (a convolution's work arrays: for good).
    ``passing``: the most it holds beside that while its forward or backward pass runs (the
    gradients it is given and returns, temporaries). ``predicting``: the most that is alive
    while it runs in a prediction, which keeps nothing (its input, work arrays, output)."""

    kept: int
    passing: int
    predicting: int


def estimate(
    spec: str | dict[str, Any], config: TrainConfig, train_count: int, dev_count: int
) -> Estimate:
    """The memory a training of ``spec`` with ``config`` on ``train_count`` training and
    ``dev_count`` dev digits will need at its peak; nothing is allocated. A spec that is not
    valid raises its one-line DigitnetError, as building it would."""
    sizes = layer_sizes(spec)
    first_trainable = next((i for i, size in enumerate(sizes) if size.parameters), len(sizes))
    layers = [_layer_bytes(size, i > first_trainable) for i, size in enumerate(sizes)]
    images, extras = _batch_images(config, train_count)
    batch = images + extras
    chunk = min(PREDICT_BATCH, dev_count)
    kept = sum(layer.kept for layer in layers)
    passing = max(layer.passing for layer in layers)
    parameters = sum(size.parameters for size in sizes)
    weights = FLOAT * parameters
    image = FLOAT * PIXELS
    dev_pass = chunk * max(layer.predicting for layer in layers)
    dev_pass += 2 * dev_count * NUM_OUTPUTS * FLOAT  # the logits, in pieces and joined
    return Estimate(
        parts={
            "weights": weights,
            # A layer's new gradient is made before its last one is let go.
            "gradients": weights + FLOAT * max(size.parameters for size in sizes),
            "optimizer": (1 + MOMENTS[config.optimizer]) * weights,
            "weight copies": WEIGHT_COPIES * weights,
            "one batch": batch * kept + max(batch * passing, dev_pass),
            "digits": (train_count + dev_count) * (image + LABEL),
            "batch buffers": image
            * (
                2 * batch
                + EXTRA_IMAGES * extras
                + (AUGMENT_IMAGES * images if config.augment else 0)
            ),
        },
        parameters=parameters,
        conv=any(size.layer["type"] == "conv2d" for size in sizes),
    )


def _batch_images(config: TrainConfig, train_count: int) -> tuple[int, int]:
    """Training images and extra digits in a batch: a batch larger than the training digits
    (with its share of extra digits) is cut to them, as the Trainer cuts it."""
    extras = round(config.extra_share * config.batch_size)
    images = min(config.batch_size - extras, train_count)
    return images, math.ceil(images * extras / max(config.batch_size - extras, 1))


def _layer_bytes(size: LayerSize, needs_input_grad: bool) -> _Layer:
    """A layer's memory per image of a batch, as its code in digitnet.network allocates it.
    ``needs_input_grad`` is False for the first trainable layer, whose input is the batch."""
    layer, kind = size.layer, size.layer["type"]
    inputs, outputs = math.prod(size.input_shape), math.prod(size.output_shape)
    passing = FLOAT * (inputs + outputs)  # the gradient it is given and the one it returns
    if kind == "conv2d":
        kh, kw = pair(layer.get("kernel", 3), "kernel")
        channels = inputs // math.prod(size.input_shape[:2])
        padded = math.prod(conv_padded_size(layer, size.input_shape)) * channels
        positions = outputs // size.output_shape[-1]
        columns = positions * kh * kw * channels
        forward = columns + outputs + (padded if padded != inputs else 0)
        backward = kw * positions * channels + padded  # a kernel row's shares, the input's
        kept = forward + (backward if needs_input_grad else 0)
        return _Layer(FLOAT * kept, FLOAT * outputs, FLOAT * (inputs + forward))
    if kind == "maxpool2d":  # the maxima down each window's rows, then across
        rows = outputs * layer.get("size", 2)
        indices = outputs + rows  # where each maximum was, a byte each
        return _Layer(indices, passing + FLOAT * rows, passing + FLOAT * rows + indices)
    kept = {
        "dense": FLOAT * inputs if needs_input_grad else 0,  # its input (the batch: counted)
        "relu": outputs,  # where it was positive, a byte each
        "leaky_relu": FLOAT * outputs,
        "tanh": FLOAT * outputs,
        "sigmoid": FLOAT * outputs,
        "dropout": FLOAT * outputs if layer.get("rate", 0.5) else 0,
        "batchnorm": FLOAT * outputs,
        "flatten": 0,
    }[kind]
    if kind in ("tanh", "sigmoid", "batchnorm"):
        passing += 2 * FLOAT * outputs
    return _Layer(kept, passing, passing)


def show_bytes(count: int) -> str:
    """``count`` bytes for people: "310 MB", "12.1 GB"."""
    if count >= GB:
        return f"{count / GB:.1f} GB".replace(".0 GB", " GB")
    return f"{max(round(count / MB), 1)} MB"


def read_budget(text: str) -> int:
    """A budget written as "6GB", "6 GB", "1.5GB" or "500MB" (units of 10**6 and 10**9 bytes),
    in bytes; a one-line DigitnetError that names the variable otherwise."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([MG])B?\s*", text, re.IGNORECASE)
    amount = float(found[1]) * (GB if found[2].upper() == "G" else MB) if found else 0
    if amount < MB:
        raise DigitnetError(
            f"{BUDGET_ENV}={text!r} is not an amount of memory: write it like 6GB or 500MB"
        )
    return int(amount)


def configured_budget() -> int:
    """The memory one training may use on this machine: ``DIGITNET_MEMORY_BUDGET``, else
    ``DEFAULT_BUDGET``."""
    text = os.environ.get(BUDGET_ENV)
    return DEFAULT_BUDGET if text is None else read_budget(text)
