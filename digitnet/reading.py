"""Reading a drawing or a photo the way a person would: which digit it is, whether it is sure,
or that it is not a digit at all, and in a few words why.

A model with the eleventh output (NOT_A_DIGIT) says how likely a drawing is to be none of the
digits; the energy of the digits' logits (-T log sum exp(logit / T)) says how far a drawing is
from every digit it learned from, which also works for a model without that output. Where the
verdict changes is set by ``Thresholds``, fitted on the model's dev digits (``fit_thresholds``,
when a training ends) and kept in its model card:

- "not a digit": nothing to read, or the network is sure it is none (``not_digit``);
- "unsure": it may not be a digit (``doubt``), is unlike the digits it learned from
  (``familiar``), or two digits are close (``confident``): ``digit`` is still its best guess;
- "digit": none of these.

``read_canvas`` and ``read_image`` are the stable API (``digitnet.read_canvas``), used by the Draw
page, the command line and the tests.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from digitnet.data.preprocess import canvas_to_mnist, photo_marks
from digitnet.images import NUM_CLASSES
from digitnet.network.layers import softmax
from digitnet.network.model import Model, not_digit_probability
from digitnet.network.weights import load_model

Verdict = Literal["digit", "unsure", "not a digit"]
INK = 0.3  # an image's pixel this bright or more is ink
GAP = 2  # empty columns of a 28x28 image that part two marks side by side
# What fit_thresholds aims at on the dev digits: the share of real digits called "not a digit"
# (each one counts as an error), and the share called "unsure" by each of the three tests.
REJECT_AT_MOST = 0.001
UNSURE_EACH = 0.01


@dataclass(frozen=True)
class Thresholds:
    """Where a reading's verdict changes. ``not_digit`` and ``doubt``: the probability of "not a
    digit" from which the verdict is "not a digit" and "unsure"; ``confident``: the top digit's
    probability below which it is "unsure"; ``familiar``: the energy above which a drawing is
    unlike the digits the model learned from (None: not fitted)."""

    not_digit: float = 0.5
    doubt: float = 0.2
    confident: float = 0.6
    familiar: float | None = None

    @classmethod
    def of(cls, model: Model) -> Thresholds:
        """The model card's (``metadata["reading"]``), or these defaults."""
        return cls(**model.metadata.get("reading", {}))  # checked when the model was loaded

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class Reading:
    """What the model made of one drawing. ``probabilities``: the ten digits' (zeros when there
    was nothing to read); ``digit``: the most likely one (None only for "not a digit");
    ``not_digit``: the probability that it is none; ``image``: the 28x28 image it read (None
    when there was nothing to read)."""

    verdict: Verdict
    digit: int | None
    probabilities: np.ndarray
    reason: str
    not_digit: float = 0.0
    image: np.ndarray | None = field(default=None, repr=False)

    @property
    def runner_up(self) -> int:
        return int(np.argsort(self.probabilities)[-2])


def read_canvas(rgba: np.ndarray, model: Model | None = None) -> Reading:
    """A drawing canvas's (height, width, 4) uint8 RGBA array. ``model``: the shipped CNN by
    default. A blank canvas is "not a digit": "nothing drawn"."""
    image = canvas_to_mnist(rgba)
    if image is None:
        return nothing("nothing drawn")
    return read(image, model)


def read_image(image: Any, model: Model | None = None) -> Reading:
    """A photo or scan (what ``image_to_mnist`` takes: a file's bytes, a PIL image or an array)
    of a dark digit on light paper. When the preprocessing cannot tell which mark is the digit
    (``photo_marks``: several marks, or one cut off at the edge), the reading is "unsure" with
    that reason, unless the network finds no digit there at all."""
    marks = photo_marks(image)
    if marks.image is None:
        return nothing(marks.reason or "nothing in the photo that looks like a digit")
    return read(marks.image, model, doubt=marks.reason)


def read(image: np.ndarray, model: Model | None = None, doubt: str | None = None) -> Reading:
    """A 28x28 image in [0, 1], as ``canvas_to_mnist`` makes them. ``doubt``: why the
    preprocessing could not tell which mark is the digit (``photo_marks``' reason); the reading
    is then "unsure", with that reason, unless it is not a digit at all."""
    model = model or shipped_model()
    signs = Signs.of(model.logits(image[None]), model.temperature, Thresholds.of(model))
    digits = signs.probabilities[0]
    first, second = (int(d) for d in np.argsort(digits)[::-1][:2])
    verdict = str(signs.verdicts[0])
    if verdict == "not a digit":
        reason = _shape_reason(image) or "doesn't look like any digit"
    elif signs.doubtful[0]:
        reason = _shape_reason(image) or f"might not be a digit; {a_digit(first)}?"
    elif signs.unfamiliar[0]:
        reason = f"unlike the digits it learned from; {a_digit(first)}?"
    elif signs.close[0]:
        reason = f"{a_digit(first)} or {a_digit(second)}?"
    else:
        reason = f"reads as {a_digit(first)}"
    if doubt is not None and verdict != "not a digit":
        verdict, reason = "unsure", f"{doubt}; {a_digit(first)}?"
    digit = None if verdict == "not a digit" else first
    return Reading(verdict, digit, digits, reason, float(signs.not_digit[0]), image)


@dataclass(frozen=True, eq=False)
class Signs:
    """What decides the verdicts of a batch, each an (n,) array: the digits' probabilities
    (n, 10), the probability of "not a digit", and which of the tests each image fails."""

    probabilities: np.ndarray
    not_digit: np.ndarray
    rejected: np.ndarray  # not_digit >= thresholds.not_digit
    doubtful: np.ndarray  # not_digit >= thresholds.doubt
    unfamiliar: np.ndarray  # energy above thresholds.familiar
    close: np.ndarray  # the top digit's probability below thresholds.confident

    @classmethod
    def of(cls, logits: np.ndarray, temperature: float, thresholds: Thresholds) -> Signs:
        probabilities = softmax(logits[:, :NUM_CLASSES] / np.float32(temperature))
        not_digit = not_digit_probability(logits, temperature)
        familiar = np.inf if thresholds.familiar is None else thresholds.familiar
        return cls(
            probabilities,
            not_digit,
            rejected=not_digit >= thresholds.not_digit,
            doubtful=not_digit >= thresholds.doubt,
            unfamiliar=energy(logits, temperature) > familiar,
            close=probabilities.max(axis=1) < thresholds.confident,
        )

    @property
    def verdicts(self) -> np.ndarray:
        """(n,) "digit", "unsure" or "not a digit"."""
        unsure = self.doubtful | self.unfamiliar | self.close
        return np.where(self.rejected, "not a digit", np.where(unsure, "unsure", "digit"))


def verdicts(model: Model, images: np.ndarray) -> np.ndarray:
    """(n,) the verdict on each of a batch of 28x28 images: for measuring many at once."""
    return Signs.of(model.logits(images), model.temperature, Thresholds.of(model)).verdicts


def a_digit(digit: int) -> str:
    """ "a 7", "an 8": as a person writes it."""
    return f"{'an' if digit == 8 else 'a'} {digit}"


def nothing(reason: str) -> Reading:
    return Reading("not a digit", None, np.zeros(NUM_CLASSES, np.float32), reason)


def energy(logits: np.ndarray, temperature: float) -> np.ndarray:
    """(n,) -T log sum exp(digit logits / T): low for what looks like the training digits."""
    scaled = logits[:, :NUM_CLASSES].astype(np.float64) / temperature
    top = scaled.max(axis=1)
    return -temperature * (top + np.log(np.exp(scaled - top[:, None]).sum(axis=1)))


def fit_thresholds(logits: np.ndarray, temperature: float) -> Thresholds:
    """Thresholds for a model from its dev digits' logits (all real digits): at most
    REJECT_AT_MOST of them called "not a digit" (never below the default 0.5), and about
    UNSURE_EACH made unsure by each test."""
    if len(logits) == 0:
        return Thresholds()
    not_digit = not_digit_probability(logits, temperature)
    digits = softmax(logits[:, :NUM_CLASSES] / np.float32(temperature))
    defaults = Thresholds()
    return Thresholds(
        not_digit=_above(not_digit, 1 - REJECT_AT_MOST, defaults.not_digit),
        doubt=_above(not_digit, 1 - UNSURE_EACH, defaults.doubt),
        confident=float(np.clip(np.quantile(digits.max(axis=1), UNSURE_EACH), 0.3, 0.9)),
        familiar=float(np.quantile(energy(logits, temperature), 1 - UNSURE_EACH)),
    )


@functools.cache
def shipped_model() -> Model:
    return load_model()


def _above(values: np.ndarray, quantile: float, floor: float) -> float:
    return float(min(max(np.quantile(values, quantile), floor), 0.99))


def _shape_reason(image: np.ndarray) -> str | None:
    """What the ink's shape says, when it says something a person would recognise."""
    columns = np.flatnonzero((image >= INK).any(axis=0))
    if len(columns) and (np.diff(columns) > GAP).any():
        return "looks like several marks side by side"
    return None
