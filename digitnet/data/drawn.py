"""Drawn digits for a robustness check: MNIST test digits thinned to a skeleton and re-drawn on a
280x280 canvas the way a person draws in the app, with a round brush 10 to 26 px wide, 45% to 85%
of the canvas tall, anywhere on it, by the one stroke renderer (`digitnet.data.strokes`),
returned as the canvas returns them (RGBA).

A model can reach 99% on MNIST and still fail on the canvas, because drawings differ from scanned
pen strokes in width, size and position. Run through `canvas_to_mnist`, this set measures what
the app will see, with MNIST's labels. Every choice is drawn from a generator seeded by (seed,
index of the digit), so a digit is drawn the same way whatever else is in the batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from digitnet.data.preprocess import canvas_to_mnist
from digitnet.data.stroke_augment import HEIGHT_RANGE, REFERENCE_CANVAS, STROKE_RANGE
from digitnet.data.strokes import BACKGROUNDS, Drawing, render
from digitnet.errors import DigitnetError
from digitnet.images import IMAGE_SHAPE

CANVAS_SIZE = REFERENCE_CANVAS
# Digits are upsampled this much (bilinear) before thinning: the skeleton of a smooth outline is
# smooth, that of a 28x28 staircase is not.
UPSAMPLE = 4
# Grey level (0-255) above which an upsampled MNIST pixel is part of the stroke. Below the middle,
# so faint thin strokes do not break apart into pieces.
INK_THRESHOLD = 96
# Skeleton branches up to this long (pixels of the upsampled grid) that end in a free end are
# corners of the outline, not strokes: removed.
SPUR_LENGTH = 6
# Digits thinned together: bounds the memory of the (batch, 112, 112) working arrays.
CHUNK = 256


@dataclass(frozen=True)
class DrawnParams:
    """How one digit was drawn: its ink box on the canvas and the brush."""

    height: int  # ink box height in pixels
    width: int  # ink box width in pixels
    top: int
    left: int
    stroke_width: int  # brush diameter in pixels


def skeletonize(binary: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a (H, W) or (n, H, W) boolean array to 1-pixel-wide, 8-connected
    curves that keep the shape's topology. Works on the flat indices of the ink pixels of the
    whole batch: each sub-iteration is 8 gathers and one table look-up, and the background,
    80% of a digit image, costs nothing."""
    image = np.asarray(binary, dtype=bool)
    if image.ndim not in (2, 3):
        raise DigitnetError(f"skeletonize takes (H, W) or (n, H, W) arrays, got {image.shape}")
    framed = _Framed(image[None] if image.ndim == 2 else image)
    ink = np.flatnonzero(framed.pixels)
    while True:
        removed = 0
        for table in _ZHANG_SUEN_TABLES:
            doomed = table[framed.codes(ink)]
            framed.pixels[ink[doomed]] = 0
            ink = ink[~doomed]
            removed += int(doomed.sum())
        if removed == 0:
            thin = framed.image()
            return thin[0] if image.ndim == 2 else thin


def digit_skeletons(images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) uint8 digits to (n, 28*UPSAMPLE, 28*UPSAMPLE) boolean skeletons, spurs
    removed."""
    images = _checked_images(images)
    size = images.shape[1] * UPSAMPLE
    rows = _upsampling_matrix(images.shape[1], size)
    cols = _upsampling_matrix(images.shape[2], images.shape[2] * UPSAMPLE)
    skeletons = np.empty((images.shape[0], size, images.shape[2] * UPSAMPLE), bool)
    for start in range(0, images.shape[0], CHUNK):
        chunk = images[start : start + CHUNK].astype(np.float32)
        upsampled = np.einsum("ij,njk,lk->nil", rows, chunk, cols, optimize=True)
        skeletons[start : start + CHUNK] = _pruned(skeletonize(upsampled > INK_THRESHOLD))
    return skeletons


def drawn_digits(
    images: np.ndarray, seed: int = 0, background: str = "transparent"
) -> Iterator[tuple[np.ndarray, DrawnParams]]:
    """Each digit re-drawn on its own (280, 280, 4) uint8 canvas by `digitnet.data.strokes.render`,
    with how it was drawn: black ink on a transparent canvas (the ink is the alpha channel) or on
    white, or white ink on black. An iterator: 2,000 canvases would take 600 MB at once."""
    if background not in BACKGROUNDS:
        raise DigitnetError(f"unknown background {background!r}: use one of {BACKGROUNDS}")
    return _drawn(_checked_images(images), seed, background)


def _drawn(
    images: np.ndarray, seed: int, background: str
) -> Iterator[tuple[np.ndarray, DrawnParams]]:
    for start in range(0, images.shape[0], CHUNK):
        skeletons = digit_skeletons(images[start : start + CHUNK])
        for offset, skeleton in enumerate(skeletons):
            if not skeleton.any():
                raise DigitnetError(f"digit {start + offset} has no ink to draw (a blank image)")
            rng = np.random.default_rng([seed, start + offset])
            drawing, params = _draw(skeleton, rng, background)
            yield render(drawing), params


def drawn_test_set(
    images: np.ndarray, labels: np.ndarray, n: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[DrawnParams]]:
    """`n` digits picked at random (by `seed`) from MNIST test images, drawn on the canvas and
    brought back through `canvas_to_mnist`: (n, 28, 28) float32 images ready for a model, their
    labels, and how each was drawn."""
    images = _checked_images(images)
    labels = np.asarray(labels)
    if labels.shape != (images.shape[0],):
        raise DigitnetError(f"labels have shape {labels.shape}, expected ({images.shape[0]},)")
    if not 0 < n <= images.shape[0]:
        raise DigitnetError(f"n must be between 1 and {images.shape[0]}, got {n}")
    chosen = np.random.default_rng(seed).choice(images.shape[0], size=n, replace=False)
    drawn = np.empty((n, *IMAGE_SHAPE), np.float32)
    params = []
    for index, (canvas, how) in enumerate(drawn_digits(images[chosen], seed)):
        image = canvas_to_mnist(canvas)
        if image is None:  # a bug: a digit 45% of the canvas tall is never too small
            raise RuntimeError(f"drawn digit {chosen[index]} came back blank from the canvas")
        drawn[index] = image
        params.append(how)
    return drawn, labels[chosen], params


def _checked_images(images: object) -> np.ndarray:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 3:
        shape = getattr(images, "shape", None)
        dtype = getattr(images, "dtype", type(images).__name__)
        raise DigitnetError(f"expected (n, 28, 28) uint8 digit images, got {dtype} {shape}")
    return images


def _zhang_suen_tables() -> tuple[np.ndarray, np.ndarray]:
    """For each 8-neighbour code (bit k set = neighbour P(k+2) is ink, P2 north, clockwise), is
    the pixel removed in the first / second sub-iteration (Zhang & Suen 1984)?"""
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1
    p2, _, p4, _, p6, _, p8, _ = bits.T
    neighbours = bits.sum(axis=1)
    # 0 -> 1 transitions going round P2, P3, ..., P9, P2.
    transitions = ((bits == 0) & (np.roll(bits, -1, axis=1) == 1)).sum(axis=1)
    removable = (neighbours >= 2) & (neighbours <= 6) & (transitions == 1)
    first = removable & (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
    second = removable & (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
    return first, second


_ZHANG_SUEN_TABLES = _zhang_suen_tables()
# (dy, dx) of P2 .. P9: north, then clockwise.
_NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


class _Framed:
    """A batch of binary images framed by a zero pixel and flattened, so that the 8 neighbours of
    any pixel are at fixed offsets in one flat array, whatever image it is in."""

    def __init__(self, batch: np.ndarray) -> None:
        count, height, width = batch.shape
        framed = np.zeros((count, height + 2, width + 2), np.uint8)
        framed[:, 1:-1, 1:-1] = batch
        self.shape = framed.shape
        self.pixels = framed.ravel()
        self.offsets = [dy * (width + 2) + dx for dy, dx in _NEIGHBOURS]

    def codes(self, where: np.ndarray, pixels: np.ndarray | None = None) -> np.ndarray:
        """8-bit neighbour code (bit k: neighbour P(k+2) set) of the flat positions `where`, in
        these pixels or in another flat array of the same layout."""
        pixels = self.pixels if pixels is None else pixels
        codes = np.zeros(where.size, np.uint8)
        for bit, offset in enumerate(self.offsets):
            codes |= pixels[where + offset] << bit
        return codes

    def image(self, pixels: np.ndarray | None = None) -> np.ndarray:
        pixels = self.pixels if pixels is None else pixels
        return pixels.reshape(self.shape)[:, 1:-1, 1:-1].astype(bool)


_POPCOUNT = (np.arange(256)[:, None] >> np.arange(8) & 1).sum(axis=1).astype(np.uint8)


def _pruned(skeletons: np.ndarray) -> np.ndarray:
    """Skeletons without spurs: free ends are eaten back SPUR_LENGTH pixels, then the branches
    that survived (real strokes) grow back along the original skeleton to their full length."""
    framed = _Framed(skeletons)
    original = framed.pixels.copy()
    kept = np.flatnonzero(framed.pixels)
    for _ in range(SPUR_LENGTH):
        ends = _POPCOUNT[framed.codes(kept)] <= 1
        framed.pixels[kept[ends]] = 0
        kept = kept[~ends]
    grown = np.zeros_like(framed.pixels)
    grown[kept[_POPCOUNT[framed.codes(kept)] == 1]] = 1
    eaten = np.flatnonzero(original & ~framed.pixels)
    for _ in range(SPUR_LENGTH):
        reached = framed.codes(eaten, grown) > 0
        grown[eaten[reached]] = 1
        eaten = eaten[~reached]
    pruned = framed.image(framed.pixels | grown)
    # A digit that is all spur (a short dash) keeps its skeleton.
    empty = ~pruned.any(axis=(1, 2))
    pruned[empty] = skeletons[empty]
    return pruned


def _upsampling_matrix(size: int, new_size: int) -> np.ndarray:
    """Bilinear interpolation weights (new_size, size), pixel centres aligned as PIL does."""
    position = np.clip((np.arange(new_size) + 0.5) * size / new_size - 0.5, 0, size - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, size - 1)
    weights = np.zeros((new_size, size), np.float32)
    np.add.at(weights, (np.arange(new_size), low), 1 - (position - low))
    np.add.at(weights, (np.arange(new_size), high), position - low)
    return weights


def _draw(
    skeleton: np.ndarray, rng: np.random.Generator, background: str
) -> tuple[Drawing, DrawnParams]:
    """The skeleton as a drawing on the canvas: every link between 8-neighbouring skeleton
    pixels a straight stroke, the brush, height and place chosen by `rng`."""
    stroke = int(rng.integers(STROKE_RANGE[0], STROKE_RANGE[1] + 1))
    shortest, tallest = (round(CANVAS_SIZE * share) for share in HEIGHT_RANGE)
    wanted = int(rng.integers(shortest, tallest + 1))
    ys, xs = np.nonzero(skeleton)
    span_y, span_x = max(int(np.ptp(ys)), 1), int(np.ptp(xs))
    # Scale the skeleton so the ink (skeleton plus the brush) is `wanted` tall, unless that makes
    # a wide digit wider than the canvas.
    scale = min((wanted - stroke) / span_y, (CANVAS_SIZE - stroke) / max(span_x, 1))
    height = round(span_y * scale) + stroke
    width = round(span_x * scale) + stroke
    top = int(rng.integers(0, CANVAS_SIZE - height + 1))
    left = int(rng.integers(0, CANVAS_SIZE - width + 1))
    radius = stroke / 2
    # Canvas position (x, y) of each link's ends; pixel (i, j) of the skeleton is the point
    # (j, i) scaled, and the ink box starts a brush radius before the skeleton's.
    start, end = _links(skeleton)
    shift = np.array([left + radius - xs.min() * scale, top + radius - ys.min() * scale])
    ends = np.stack([start, end], axis=1)[..., ::-1] * scale + shift
    drawing = Drawing(tuple(ends.astype(np.float32)), CANVAS_SIZE, CANVAS_SIZE, stroke, background)
    return drawing, DrawnParams(height, width, top, left, stroke)


def _links(skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (y, x) of every link between 8-neighbouring skeleton pixels, and a link of
    length 0 at each pixel (an isolated pixel is a dot): the skeleton as straight strokes."""
    ys, xs = np.nonzero(skeleton)
    starts = [np.stack([ys, xs], axis=1)]
    ends = [starts[0]]
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        inside = (ys + dy < skeleton.shape[0]) & (xs + dx >= 0) & (xs + dx < skeleton.shape[1])
        linked = np.zeros(ys.size, bool)
        linked[inside] = skeleton[ys[inside] + dy, xs[inside] + dx]
        starts.append(starts[0][linked])
        ends.append(starts[0][linked] + (dy, dx))
    return np.concatenate(starts).astype(np.float64), np.concatenate(ends).astype(np.float64)
