"""What a saved drawing may hold: each value the store is given is checked here, and absurd
input is thinned or refused, never stored as is. Every refusal is one DigitnetError line.

Strokes hold at most ``MAX_POINTS`` points in all (more are thinned evenly, stroke by stroke)
and at most ``MAX_STROKES`` strokes; points are clipped to the canvas grown by its longer side
on every side (a stroke that leaves the canvas still renders as drawn, as ``digitnet.data.strokes``
allows, and a point a mile away cannot be stored); a NaN or infinite point, a canvas over
``MAX_CANVAS`` pixels a side, or a photo over ``MAX_PHOTO_BYTES`` is refused.

Each check returns the value as the store keeps it (a digit as an int, an image as float32);
how it is written to the file is the store's business.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from digitnet.data.negatives import NOT_A_DIGIT
from digitnet.data.strokes import MAX_CANVAS
from digitnet.errors import DigitnetError
from digitnet.images import IMAGE_SHAPE, to_float

MAX_POINTS = 5_000
MAX_STROKES = 500
MAX_BRUSH = 200.0
MAX_PHOTO_BYTES = 2 * 1024 * 1024
MAX_SESSION = 64  # characters
MAX_PERSON = 254  # characters: an e-mail address fits


def label(value: object, what: str, not_a_digit: bool = True) -> int:
    """A label, prediction or filter: a digit 0-9, or NOT_A_DIGIT (10) for a drawing its maker
    said is not a digit, unless ``not_a_digit`` is False (not a bool)."""
    highest = NOT_A_DIGIT if not_a_digit else 9
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not 0 <= value <= highest
    ):
        also = f" or {NOT_A_DIGIT} (not a digit)" if not_a_digit else ""
        raise DigitnetError(f"the {what} must be a digit 0-9{also}, got {value!r}")
    return int(value)


def person(value: object) -> str:
    """Whose drawings: a name of 1 to ``MAX_PERSON`` characters without spaces or control
    characters (an e-mail address, a sign-in's id, ``local``)."""
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_PERSON
        or any(character.isspace() or not character.isprintable() for character in value)
    ):
        raise DigitnetError(
            f"a person is named by 1 to {MAX_PERSON} characters without spaces, got {value!r}"
        )
    return value


def session(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_SESSION:
        raise DigitnetError(
            f"the session id must be a text of 1 to {MAX_SESSION} characters, got {value!r}"
        )
    return value


def image(value: np.ndarray) -> np.ndarray:
    """The (28, 28) image the model saw, as float32 from 0 to 1."""
    value = to_float(value)
    if value.shape != IMAGE_SHAPE:
        raise DigitnetError(f"the image must be 28x28, got {value.shape}")
    return _from_0_to_1(value)


def probabilities(value: np.ndarray | None) -> np.ndarray | None:
    """The model's ten probabilities as float32, or None."""
    if value is None:
        return None
    values = np.asarray(value, dtype=np.float32)
    if values.shape != (10,) or not np.isfinite(values).all() or values.min() < 0:
        raise DigitnetError("the probabilities must be ten finite numbers from 0 to 1")
    if abs(float(values.sum()) - 1) > 1e-3:
        raise DigitnetError(f"the ten probabilities must sum to 1, got {values.sum():.4f}")
    return values


def photo(value: bytes | None) -> bytes | None:
    if value is not None and not isinstance(value, bytes):
        raise DigitnetError(f"the photo must be its file's bytes, got {type(value).__name__}")
    if value is not None and len(value) > MAX_PHOTO_BYTES:
        raise DigitnetError(
            f"the photo is {len(value) / 2**20:.1f} MB; at most {MAX_PHOTO_BYTES / 2**20:g} MB "
            "can be saved with a drawing: save a smaller photo"
        )
    return value


def canvas(
    strokes: Sequence[np.ndarray], width: int | None, height: int | None, brush: float | None
) -> tuple[list[np.ndarray], int, int, float]:
    """(strokes, canvas width, canvas height, brush width) after the rules in the module's
    docstring; each stroke an (n, 2) float64 array of x, y canvas points."""
    for value, what in ((width, "canvas width"), (height, "canvas height")):
        if not isinstance(value, int | np.integer) or not 0 < value <= MAX_CANVAS:
            raise DigitnetError(f"the {what} must be 1 to {MAX_CANVAS} pixels, got {value!r}")
    if not (isinstance(brush, int | float) and math.isfinite(brush) and 0 < brush <= MAX_BRUSH):
        raise DigitnetError(
            f"the brush width must be above 0 and at most {MAX_BRUSH:g}, got {brush!r}"
        )
    arrays = [stroke for stroke in map(_points, strokes) if len(stroke)]
    if len(arrays) > MAX_STROKES:
        raise DigitnetError(f"a drawing holds at most {MAX_STROKES} strokes, got {len(arrays)}")
    if not all(np.isfinite(stroke).all() for stroke in arrays):
        raise DigitnetError("a stroke holds a NaN or infinite point; the drawing was not saved")
    total = sum(len(stroke) for stroke in arrays)
    if total > MAX_POINTS:  # every step-th point of each stroke: the shape stays, evenly thinner
        step = math.ceil(total / (MAX_POINTS - len(arrays)))
        arrays = [stroke[::step] for stroke in arrays]
    margin = max(width, height)
    clipped = [np.clip(stroke, -margin, [width + margin, height + margin]) for stroke in arrays]
    return clipped, int(width), int(height), float(brush)


def labelled_rows(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Many drawings at once (an import): images (n, 28, 28), uint8 0-255 as read from a CSV
    (left so: made float32 one at a time as they are stored, not all at once in four times the
    memory) or float32 from 0 to 1, and a label for each, a digit 0-9 (a Kaggle CSV holds
    digits only)."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8:  # uint8 is 0-255 whatever it holds
        images = _from_0_to_1(to_float(images))
    if images.shape[1:] != IMAGE_SHAPE or images.ndim != 3 or len(labels) != len(images):
        raise DigitnetError(
            f"the images must be (n, 28, 28) with a label each, got {images.shape} and "
            f"{len(labels)} label(s)"
        )
    for value in np.unique(labels).tolist():
        label(value, "label", not_a_digit=False)
    return images, labels


def _from_0_to_1(images: np.ndarray) -> np.ndarray:
    if images.size and not (np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1):
        raise DigitnetError("the image must hold values from 0 to 1 (no NaN)")
    return images


def _points(stroke: object) -> np.ndarray:
    try:
        points = np.asarray(stroke, dtype=np.float64)
    except (TypeError, ValueError):
        points = None
    if points is None or (points.size and (points.ndim != 2 or points.shape[1] != 2)):
        raise DigitnetError("each stroke must be an (n, 2) array of x, y points in canvas pixels")
    return points.reshape(-1, 2)
