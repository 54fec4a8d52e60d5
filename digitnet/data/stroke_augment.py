"""Varying a drawing the way people vary it: at the level of its strokes, before it is drawn.

`place` puts digits on a canvas at a size, place and brush width, as a person drawing in the app
would (the pen-dev evaluation uses only this). `augment` also changes the hand: aspect, slant,
rotation, a little jitter or smoothing of the points, and the sparse sampling of a slow tablet or
a fast mouse (points dropped, the rest joined by straight lines). Every point of every digit of a
batch goes through each step at once; one seeded `numpy.random.Generator` decides everything.

The ranges are kept where a digit stays readable as its label (tests check that the shipped CNN
still reads the augmented digits): a 7 rotated by 45 degrees, or slanted until it looks like a 1,
would teach the network to read something people do not draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digitnet.data.strokes import Drawing
from digitnet.errors import DigitnetError

# How a person draws on the app's 280 px canvas: the digit's ink 45% to 85% of the canvas tall,
# a round brush 10 to 26 px across (both scale with the canvas).
REFERENCE_CANVAS = 280
HEIGHT_RANGE = (0.45, 0.85)
STROKE_RANGE = (10, 26)


@dataclass(frozen=True)
class StrokeAugment:
    """Ranges of the changes `augment` draws from, each uniform (angles in degrees)."""

    rotation: float = 12.0  # +- degrees
    slant: float = 0.3  # +- shear: x moves by slant * (height above the centre)
    aspect: float = 0.2  # width scaled by exp(+- aspect)
    jitter: float = 0.012  # largest noise per point, as a share of the digit's height
    smooth_chance: float = 0.5  # share of digits whose points are smoothed
    sparse_steps: tuple[int, ...] = (1, 1, 2, 3)  # keep every k-th point, k picked from these
    brush_range: tuple[float, float] = (6.0, 34.0)  # brush width at REFERENCE_CANVAS


def place(
    digits: Sequence[Sequence[np.ndarray]],
    rng: np.random.Generator,
    canvas_size: int = REFERENCE_CANVAS,
    background: str = "white",
    brush_range: tuple[float, float] = STROKE_RANGE,
) -> list[Drawing]:
    """Each digit (its strokes, in any units, y down) drawn on a square canvas: scaled so its
    ink (brush included) is HEIGHT_RANGE of the canvas tall (less if it would not fit the
    width), anywhere on it, with a brush from `brush_range` (pixels at REFERENCE_CANVAS)."""
    points, counts, owner = _flatten(digits)
    return _placed(points, counts, owner, len(digits), rng, canvas_size, background, brush_range)


def augment(
    digits: Sequence[Sequence[np.ndarray]],
    rng: np.random.Generator,
    canvas_size: int = REFERENCE_CANVAS,
    background: str = "white",
    config: StrokeAugment | None = None,
) -> list[Drawing]:
    """Each digit with a new hand (sparse sampling, smoothing, jitter, aspect, slant, rotation),
    then placed like `place` with a brush from `config.brush_range`."""
    config = config or StrokeAugment()
    points, counts, owner = _flatten(digits)
    n = len(digits)
    points = _normalised(points, owner, n)
    keep = _sparse(counts, rng.choice(np.asarray(config.sparse_steps), n)[owner])
    points, owner = points[keep], owner[keep]
    counts = np.bincount(np.repeat(np.arange(counts.size), counts)[keep], minlength=counts.size)
    smooth = rng.random(n) < config.smooth_chance
    points = np.where(smooth[owner, None], _smoothed(points, counts), points)
    noise = rng.uniform(0, config.jitter, n)[owner, None]
    points = points + rng.normal(0, 1, points.shape).astype(np.float32) * noise
    angle = np.radians(rng.uniform(-config.rotation, config.rotation, n))
    slant = rng.uniform(-config.slant, config.slant, n)
    stretch = np.exp(rng.uniform(-config.aspect, config.aspect, n))
    cos, sin = np.cos(angle), np.sin(angle)
    # Rotation after slant after aspect, as one 2x2 matrix per digit.
    matrices = np.stack(
        [
            np.stack([cos * stretch, cos * -slant - sin], axis=1),
            np.stack([sin * stretch, sin * -slant + cos], axis=1),
        ],
        axis=1,
    ).astype(np.float32)
    points = np.einsum("nij,nj->ni", matrices[owner], points)
    return _placed(points, counts, owner, n, rng, canvas_size, background, config.brush_range)


def _flatten(digits: Sequence[Sequence[np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All points (N, 2) float32 in digit then stroke order, points per stroke, digit of each
    point."""
    strokes = [np.asarray(stroke, np.float32) for digit in digits for stroke in digit]
    if not strokes or any(len(digit) == 0 for digit in digits):
        raise DigitnetError("every digit needs at least one stroke")
    counts = np.array([len(stroke) for stroke in strokes])
    per_digit = np.array([sum(len(stroke) for stroke in digit) for digit in digits])
    return np.concatenate(strokes), counts, np.repeat(np.arange(len(digits)), per_digit)


def _boxes(points: np.ndarray, owner: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per digit, the lowest and highest x, y (n, 2) of its points."""
    starts = np.searchsorted(owner, np.arange(n))
    return np.minimum.reduceat(points, starts), np.maximum.reduceat(points, starts)


def _normalised(points: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Each digit centred on its box, scaled to height 1 (a dash to width 1)."""
    low, high = _boxes(points, owner, n)
    size = np.maximum(high - low, 1e-6)
    scale = np.where(size[:, 1] > 1e-3 * size[:, 0], size[:, 1], size[:, 0])
    return (points - ((low + high) / 2)[owner]) / scale[owner, None]


def _sparse(counts: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Which points stay when each stroke keeps every `step`-th point (per point) and its
    last, so a stroke keeps both ends."""
    first = np.repeat(np.cumsum(counts) - counts, counts)
    position = np.arange(counts.sum()) - first
    last = np.repeat(counts - 1, counts)
    return (position % step == 0) | (position == last)


def _smoothed(points: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each point averaged with its neighbours in its stroke (1/4, 1/2, 1/4); the ends stay."""
    first = np.repeat(np.cumsum(counts) - counts, counts)
    position = np.arange(points.shape[0]) - first
    inner = (position > 0) & (position < np.repeat(counts - 1, counts))
    smooth = points.copy()
    index = np.flatnonzero(inner)
    smooth[index] = 0.25 * points[index - 1] + 0.5 * points[index] + 0.25 * points[index + 1]
    return smooth


def _placed(
    points: np.ndarray,
    counts: np.ndarray,
    owner: np.ndarray,
    n: int,
    rng: np.random.Generator,
    canvas_size: int,
    background: str,
    brush_range: tuple[float, float],
) -> list[Drawing]:
    factor = canvas_size / REFERENCE_CANVAS
    brush = rng.uniform(*brush_range, n) * factor
    wanted = rng.uniform(*HEIGHT_RANGE, n) * canvas_size
    low, high = _boxes(points, owner, n)
    span = np.maximum(high - low, 1e-6)
    room = canvas_size - brush
    scale = np.minimum((wanted - brush) / span[:, 1], room / span[:, 0])
    ink = span * scale[:, None] + brush[:, None]  # the ink box, brush included
    corner = rng.uniform(0, 1, (n, 2)) * np.maximum(canvas_size - ink, 0)
    shift = corner + brush[:, None] / 2 - low * scale[:, None]
    placed = (points * scale[owner, None] + shift[owner]).astype(np.float32)
    strokes = np.split(placed, np.cumsum(counts)[:-1])
    per_digit = np.bincount(owner[np.cumsum(counts) - 1], minlength=n)
    bounds = np.concatenate([[0], np.cumsum(per_digit)])
    return [
        Drawing(
            tuple(strokes[bounds[i] : bounds[i + 1]]),
            canvas_size,
            canvas_size,
            brush[i],
            background,
        )
        for i in range(n)
    ]
