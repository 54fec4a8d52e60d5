"""On-the-fly data augmentation: every batch gets freshly distorted copies of its digits, so the
network learns from rotated, slanted, shifted, wobbly, thicker and thinner strokes, closer to
what people draw on a canvas than MNIST's neat, centred digits.

A whole batch is transformed at once (no Python loop over images or pixels): per-image affine
matrices plus a smooth random displacement field give a source position for every output pixel,
all in one matrix product, and one bilinear gather samples them, so an image is resampled (and
blurred) only once. Stroke thickness is a grey-scale dilation or erosion (max or min over each
pixel and its four neighbours, as shifted slices) blended with the original by a random
fraction, before the warp.

Coordinates: x grows to the right, y downwards, both centred on the middle of the 28x28 image.
A positive rotation turns a digit anticlockwise as seen on screen; a positive shear slants its
top to the right, like italics.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, fields, replace
from functools import cache
from numbers import Real

import numpy as np

from digitnet.errors import DigitnetError

SIDE = 28
CENTRE = (SIDE - 1) / 2
PAD = 2  # zero border: every out-of-image source position, once clipped, reads only zeros
PADDED = SIDE + 2 * PAD
BORDERED = SIDE + 2  # with a one-pixel zero border, for the dilation
MIN_ELASTIC_SIGMA = 2.0  # rougher fields tear strokes, and need many more noise nodes
THIN_GAIN = 2.0  # an eroded stroke keeps about half its ink: double it back

_ROWS, _COLS = np.mgrid[0:SIDE, 0:SIDE]
# Output pixel positions (x, y, 1), centred: a (3, 784) basis for affine source positions.
AFFINE_BASIS = np.stack(
    [(_COLS - CENTRE).ravel(), (_ROWS - CENTRE).ravel(), np.ones(SIDE * SIDE)]
).astype(np.float32)

# Largest accepted strength per field (unit, limit): beyond these a digit stops being itself.
LIMITS = {
    "rotation": ("degrees", 90.0),
    "scale": ("relative change", 0.5),
    "shift": ("pixels", 14.0),
    "shear": ("degrees", 60.0),
    "elastic_alpha": ("pixels", 10.0),
    "elastic_sigma": ("pixels", 14.0),
    "thickness": ("fraction of a one-pixel dilation or erosion", 1.0),
    "untouched": ("probability", 1.0),
}


@dataclass(frozen=True)
class AugmentConfig:
    """Strengths of each distortion; each image draws its own amount uniformly up to them.

    rotation: max |angle| in degrees. scale: max relative size change (0.12 -> x0.88..x1.12).
    shift: max |offset| in pixels along x and y. shear: max |slant| in degrees.
    elastic_alpha: typical (RMS, per axis) displacement in pixels of a smooth random warp;
    elastic_sigma: its smoothness (Gaussian width in pixels, at least 2). thickness: max
    fraction of a one-pixel dilation (thicker) or erosion (thinner) blended in. untouched:
    probability that an image passes unchanged, so the network still sees clean MNIST digits.

    The defaults were tuned by eye on MNIST digits for robustness to digits drawn with a mouse or
    a finger: they stay recognisable, but vary in the ways people's digits do.
    """

    rotation: float = 12.0
    scale: float = 0.12
    shift: float = 2.5
    shear: float = 10.0
    elastic_alpha: float = 1.5
    elastic_sigma: float = 5.0
    thickness: float = 0.7
    untouched: float = 0.1

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            unit, limit = LIMITS[field.name]
            if not isinstance(value, Real) or isinstance(value, bool):
                raise DigitnetError(
                    f"augment {field.name} must be a number ({unit}), got {value!r}"
                )
            if not (math.isfinite(value) and 0 <= value <= limit):
                raise DigitnetError(
                    f"augment {field.name} must be between 0 and {limit:g} ({unit}), "
                    f"got {value!r}: pick a value in that range"
                )
        if self.elastic_alpha > 0 and self.elastic_sigma < MIN_ELASTIC_SIGMA:
            raise DigitnetError(
                f"augment elastic_sigma must be at least {MIN_ELASTIC_SIGMA:g} pixels when "
                f"elastic_alpha is set, got {self.elastic_sigma!r}: a rougher field tears strokes"
            )

    @classmethod
    def none(cls) -> AugmentConfig:
        """The identity: augment_batch returns the images unchanged."""
        return cls(**{field.name: 0.0 for field in fields(cls)})


def augment_batch(
    images: np.ndarray, rng: np.random.Generator, config: AugmentConfig | None = None
) -> np.ndarray:
    """Randomly distorted copies of a float32 (n, 28, 28) batch in [0, 1]; the same rng state
    gives the same result."""
    config = AugmentConfig() if config is None else config
    images = _check_batch(images)
    count = len(images)
    scratch = _scratch.arrays(count)
    changed = (rng.random(count, dtype=np.float32) >= config.untouched).astype(np.float32)
    if config.thickness > 0:
        images = _change_thickness(
            images, config.thickness * _symmetric(rng, count) * changed, scratch
        )
    coefficients = _affine_coefficients(rng, config, changed)
    if config.elastic_alpha > 0:
        basis = _warp_basis(float(config.elastic_sigma))
        noise = rng.standard_normal((count, 2, len(basis) - 3), dtype=np.float32)
        noise *= (np.float32(config.elastic_alpha) * changed)[:, None, None]
        coefficients = np.concatenate([coefficients, noise], axis=2)
    else:
        basis = AFFINE_BASIS
    # One small product per image, (2, k) @ (k, 784): where every output pixel reads from. Small
    # products stay single-threaded in BLAS, which on a busy machine is many times faster than
    # one big threaded product.
    sources = np.matmul(coefficients, basis, out=scratch.sources)
    return _sample_bilinear(images, sources, scratch)


def preview(
    images: np.ndarray, config: AugmentConfig | None = None, seed: int = 0, copies: int = 7
) -> np.ndarray:
    """Augmented copies of a few digits for the Train page, so people can see what training sees.

    Layout: for m input images the result is (m * (copies + 1), 28, 28), image by image: each
    original followed by its ``copies`` augmented versions. ``result.reshape(m, copies + 1, 28,
    28)`` is a grid with one row per digit and the original in column 0; ``tile`` draws it.
    Every copy is distorted (``untouched`` is ignored: column 0 already shows the original).
    Accepts uint8 (0-255) or float (0-1) images."""
    if copies < 1:
        raise DigitnetError(f"preview copies must be at least 1, got {copies}")
    config = replace(config or AugmentConfig(), untouched=0.0)
    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / np.float32(255)
    originals = _check_batch(images)
    repeated = np.repeat(originals, copies, axis=0)
    augmented = augment_batch(repeated, np.random.default_rng(seed), config)
    grid = np.concatenate(
        [originals[:, None], augmented.reshape(len(originals), copies, SIDE, SIDE)], axis=1
    )
    return grid.reshape(-1, SIDE, SIDE)


def warp(images: np.ndarray, inverse_affine: np.ndarray) -> np.ndarray:
    """Float (n, 28, 28) images resampled bilinearly (zero outside), each through its own
    (2, 3) inverse map: output pixel (x, y), centred as in AFFINE_BASIS, reads the source
    point ``inverse_affine @ (x, y, 1)`` in pixel coordinates. A fresh array."""
    images = _check_batch(images)
    inverse_affine = np.asarray(inverse_affine, dtype=np.float32)
    if inverse_affine.shape != (len(images), 2, 3):
        raise DigitnetError(
            f"warp needs one (2, 3) inverse map per image, got {inverse_affine.shape} for "
            f"{len(images)} images"
        )
    scratch = _scratch.arrays(len(images))
    sources = np.matmul(inverse_affine, AFFINE_BASIS, out=scratch.sources)
    return _sample_bilinear(images, sources, scratch)


def change_thickness(images: np.ndarray, strength: np.ndarray | float) -> np.ndarray:
    """Float (n, 28, 28) images with thicker strokes (strength > 0, up to 1: a full one-pixel
    dilation) or thinner ones (< 0, an erosion), one strength per image or one for all. A
    fresh array."""
    images = _check_batch(images)
    strength = np.broadcast_to(np.asarray(strength, dtype=np.float32), (len(images),))
    if not (np.abs(strength) <= 1).all():
        raise DigitnetError(
            f"thickness strength must be from -1 to 1, got {np.abs(strength).max():g}"
        )
    return _change_thickness(images, strength, _scratch.arrays(len(images))).copy()


def _check_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise DigitnetError(
            f"augment needs images shaped (n, {SIDE}, {SIDE}), got {images.shape}: reshape them"
        )
    if not np.issubdtype(images.dtype, np.floating):
        raise DigitnetError(
            f"augment needs float images in [0, 1], got {images.dtype}: convert with to_float"
        )
    return images.astype(np.float32, copy=False)


def _symmetric(rng: np.random.Generator, count: int) -> np.ndarray:
    """Uniform float32 in [-1, 1)."""
    return np.float32(2) * rng.random(count, dtype=np.float32) - np.float32(1)


def _change_thickness(images: np.ndarray, strength: np.ndarray, scratch: _Scratch) -> np.ndarray:
    """Positive strength blends towards a dilation (thicker strokes), negative towards an
    erosion (thinner ones), both with a round 3x3 pen (a plus shape). One dilation serves both:
    the erosion of an image is minus the dilation of its negative. An eroded stroke is also
    fainter, so its ink is doubled (up to 1) to keep thinner strokes dark."""
    strength = strength[:, None, None]
    thinner = strength < 0
    signed = scratch.bordered[:, 1:-1, 1:-1]
    signed[...] = images
    np.negative(signed, out=signed, where=thinner)
    spread = _dilate_plus(scratch.bordered, scratch.spread)
    spread *= np.where(thinner, np.float32(-THIN_GAIN), np.float32(1))
    np.minimum(spread, 1, out=spread)
    amount = np.abs(strength)
    spread *= amount
    spread += np.multiply(np.float32(1) - amount, images, out=scratch.blend)
    return spread


def _dilate_plus(bordered: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Max of each pixel and its four neighbours, in images given with a one-pixel zero border,
    as a view of out (flat, the size of bordered). Neighbours are shifts of the flattened batch,
    so each max is one long contiguous loop; the border pixels it also computes (mixing
    neighbouring images) are cut off."""
    flat = bordered.reshape(-1)
    inner = slice(BORDERED + 1, len(flat) - BORDERED - 1)  # every pixel with four neighbours
    spread = out[inner]
    np.maximum(flat[inner], flat[inner.start - BORDERED : inner.stop - BORDERED], out=spread)
    for shift in (BORDERED, -1, 1):
        np.maximum(spread, flat[inner.start + shift : inner.stop + shift], out=spread)
    return out.reshape(bordered.shape)[:, 1:-1, 1:-1]


def _affine_coefficients(
    rng: np.random.Generator, config: AugmentConfig, changed: np.ndarray
) -> np.ndarray:
    """Per image, the inverse of (scale, then shear, then rotate, then shift) as an (n, 2, 3)
    array: source x (and y) = a * x + b * y + c for output pixel (x, y), as in AFFINE_BASIS."""
    count = len(changed)
    angle = np.float32(math.radians(config.rotation)) * _symmetric(rng, count) * changed
    slant = np.float32(math.radians(config.shear)) * _symmetric(rng, count) * changed
    size = np.float32(1) + np.float32(config.scale) * _symmetric(rng, count) * changed
    shift_x = np.float32(config.shift) * _symmetric(rng, count) * changed
    shift_y = np.float32(config.shift) * _symmetric(rng, count) * changed
    cos, sin, tan = np.cos(angle), np.sin(angle), np.tan(slant)
    # Forward: rotate [[cos, sin], [-sin, cos]] @ shear [[1, -tan], [0, 1]] @ size; its inverse:
    inverse_xx, inverse_xy = (cos + tan * sin) / size, (tan * cos - sin) / size
    inverse_yx, inverse_yy = sin / size, cos / size
    centre = np.float32(CENTRE)
    offset_x = centre - inverse_xx * shift_x - inverse_xy * shift_y
    offset_y = centre - inverse_yx * shift_x - inverse_yy * shift_y
    return np.stack(
        [inverse_xx, inverse_xy, offset_x, inverse_yx, inverse_yy, offset_y], axis=1
    ).reshape(count, 2, 3)


@cache
def _warp_basis(sigma: float) -> np.ndarray:
    """AFFINE_BASIS followed by smooth bumps: Gaussians of width sigma centred on a coarse grid of
    nodes (one per sigma) over the image. White noise weights on the bumps make a smooth random
    displacement field, and drawing noise only on the nodes is what makes it cheap. Each pixel's
    bump weights have unit length, so the field has unit variance everywhere and elastic_alpha
    is in pixels."""
    nodes = np.linspace(0, SIDE - 1, max(4, math.ceil((SIDE - 1) / sigma) + 1))
    pixels = np.arange(SIDE, dtype=np.float64)
    along_axis = np.exp(-((pixels[:, None] - nodes[None, :]) ** 2) / (2 * sigma**2))
    along_axis /= np.linalg.norm(along_axis, axis=1, keepdims=True)
    bumps = np.kron(along_axis, along_axis)  # (784, nodes**2): row = pixel, column = node
    return np.concatenate([AFFINE_BASIS, bumps.T.astype(np.float32)])


def _sample_bilinear(images: np.ndarray, sources: np.ndarray, scratch: _Scratch) -> np.ndarray:
    """Bilinear interpolation of every image at its own (n, 2, 784) source positions (x, y),
    zero outside the image: one gather per corner, from views of the flattened padded batch
    shifted by one pixel right, down, or both."""
    count = len(images)
    scratch.padded[:, PAD:-PAD, PAD:-PAD] = images
    flat = scratch.padded.reshape(-1)
    # Beyond one pixel outside the image everything reads zero, so clipping there changes nothing.
    np.clip(sources, -1, SIDE, out=sources)
    floors = np.floor(sources, out=scratch.floors)
    sources -= floors  # now the fractions
    left, top = floors[:, 0], floors[:, 1]
    top *= np.float32(PADDED)
    top += left  # small whole numbers, exact in float32
    corner = scratch.corner
    np.copyto(corner, top, casting="unsafe")
    corner += scratch.image_starts
    # Indices are in range, so mode="wrap" changes nothing but lets take write into out.
    upper = np.take(flat, corner, mode="wrap")  # becomes the result: a fresh array
    upper_right, lower, lower_right = scratch.corners
    np.take(flat[1:], corner, out=upper_right, mode="wrap")
    np.take(flat[PADDED:], corner, out=lower, mode="wrap")
    np.take(flat[PADDED + 1 :], corner, out=lower_right, mode="wrap")
    _lerp(upper, upper_right, sources[:, 0])
    _lerp(lower, lower_right, sources[:, 0])
    result = _lerp(upper, lower, sources[:, 1])
    np.clip(result, 0, 1, out=result)
    return result.reshape(count, SIDE, SIDE)


def _lerp(start: np.ndarray, end: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """start + fraction * (end - start), in place in start (exact start when fraction is 0)."""
    end -= start
    end *= fraction
    start += end
    return start


class _Scratch(threading.local):
    """Work arrays for one batch size, kept from batch to batch by each thread: allocating
    them afresh costs about as much as the arithmetic, as the allocator hands the pages back to
    the system after every batch and the kernel has to zero them again. Zero borders are never
    written, so they stay zero."""

    count = -1

    def arrays(self, count: int) -> _Scratch:
        if count != self.count:
            self.count = count
            self.bordered = np.zeros((count, BORDERED, BORDERED), dtype=np.float32)
            self.spread = np.zeros(count * BORDERED * BORDERED, dtype=np.float32)
            self.blend = np.zeros((count, SIDE, SIDE), dtype=np.float32)
            self.padded = np.zeros((count, PADDED, PADDED), dtype=np.float32)
            self.sources = np.zeros((count, 2, SIDE * SIDE), dtype=np.float32)
            self.floors = np.zeros((count, 2, SIDE * SIDE), dtype=np.float32)
            self.corner = np.zeros((count, SIDE * SIDE), dtype=np.intp)
            self.corners = np.zeros((3, count, SIDE * SIDE), dtype=np.float32)
            starts = np.arange(count) * PADDED * PADDED + PAD * PADDED + PAD
            self.image_starts = starts[:, None]
        return self


_scratch = _Scratch()
