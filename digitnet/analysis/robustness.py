"""How accuracy falls as digits are rotated, shifted, scaled, thickened or thinned, or covered in
noise: one curve per distortion, as plain data for a chart. Comparing a CNN with an MLP shows
what convolutions buy: a shifted digit is still the same pattern to a convolution, while an
MLP's weights are tied to pixel positions.

Every distortion is exact and repeatable (no random amounts): rotation and shift alternate
their direction from digit to digit (+/- angle; right, down, left, up), so a curve does not
favour one side. The warps and the stroke thickness are ``digitnet.data.augment``'s own.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from digitnet.data import augment
from digitnet.errors import DigitnetError
from digitnet.images import to_float
from digitnet.network.model import Model

# name -> (unit, values); each list holds the undistorted value (NEUTRAL), so every curve has
# its start.
DISTORTIONS: dict[str, tuple[str, tuple[float, ...]]] = {
    "rotation": ("degrees", (0, 10, 20, 30, 45, 60)),
    "shift": ("pixels", (0, 1, 2, 3, 4, 5, 6)),
    "scale": ("size factor", (0.5, 0.65, 0.8, 1.0, 1.2, 1.4)),
    "thickness": ("fraction of a 1-pixel erosion (-) or dilation (+)", (-1, -0.5, 0, 0.5, 1)),
    "noise": ("standard deviation of Gaussian pixel noise", (0, 0.1, 0.2, 0.3, 0.4, 0.5)),
}
NEUTRAL = {"rotation": 0, "shift": 0, "scale": 1, "thickness": 0, "noise": 0}
# Test digits to pass: +/-0.7% at 95% accuracy; 26 predictions of 1,000 digits take the shipped
# CNN about 40 s on this busy 2-core machine (the page caches the curves).
SUBSET = 1000


def robustness_curves(
    model: Model, images: np.ndarray, labels: np.ndarray, seed: int = 0
) -> dict[str, list[tuple[float, float]]]:
    """For each distortion in ``DISTORTIONS``, (value, accuracy) pairs for the model on the given
    digits (uint8 or float in [0, 1]; pass e.g. ``SUBSET`` test digits). Plain data: cache it
    per model checksum. ``seed`` only drives the pixel noise."""
    images = to_float(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (len(images),):
        raise DigitnetError(
            f"need (n, 28, 28) images and n labels, got {images.shape} and {labels.shape}"
        )

    def accuracy(distorted: np.ndarray) -> float:
        return float((model.predict(distorted) == labels).mean())

    clean = accuracy(images)
    return {
        name: [
            (
                float(value),
                clean if value == NEUTRAL[name] else accuracy(DISTORT[name](images, value, seed)),
            )
            for value in values
        ]
        for name, (_, values) in DISTORTIONS.items()
    }


def rotated(images: np.ndarray, degrees: float, seed: int = 0) -> np.ndarray:
    """Even digits turned anticlockwise by ``degrees``, odd ones clockwise."""
    angle = math.radians(degrees) * alternating_signs(len(images))
    return warped(images, angle, np.ones(len(images)), np.zeros((len(images), 2)))


def shifted(images: np.ndarray, pixels: float, seed: int = 0) -> np.ndarray:
    """Digits moved by ``pixels``: right, down, left, up in turn."""
    directions = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])[np.arange(len(images)) % 4]
    return warped(images, np.zeros(len(images)), np.ones(len(images)), pixels * directions)


def scaled(images: np.ndarray, factor: float, seed: int = 0) -> np.ndarray:
    """Digits grown (factor > 1) or shrunk about the image's centre."""
    count = len(images)
    return warped(images, np.zeros(count), np.full(count, factor), np.zeros((count, 2)))


def thickened(images: np.ndarray, strength: float, seed: int = 0) -> np.ndarray:
    """Strokes blended towards a one-pixel dilation (strength > 0) or erosion (< 0)."""
    return images if strength == 0 else augment.change_thickness(images, strength)


def noisy(images: np.ndarray, deviation: float, seed: int = 0) -> np.ndarray:
    """Gaussian noise added to every pixel, clipped back to [0, 1]."""
    noise = np.random.default_rng(seed).normal(0, deviation, images.shape).astype(np.float32)
    return np.clip(images + noise, 0, 1)


def warped(
    images: np.ndarray, angles: np.ndarray, sizes: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Each image rotated by its angle (radians, anticlockwise on screen), scaled by its size
    and moved by its (x, y) offset, about the centre, by ``augment.warp``: per image the
    inverse map, as in ``augment._affine_coefficients``."""
    cos, sin = np.cos(angles) / sizes, np.sin(angles) / sizes
    shift_x, shift_y = offsets[:, 0], offsets[:, 1]
    centre = augment.CENTRE
    inverse = np.stack(
        [
            cos,
            -sin,
            centre - cos * shift_x + sin * shift_y,
            sin,
            cos,
            centre - sin * shift_x - cos * shift_y,
        ],
        axis=1,
    ).reshape(len(images), 2, 3)
    return augment.warp(images, inverse)


def alternating_signs(count: int) -> np.ndarray:
    return np.where(np.arange(count) % 2 == 0, 1.0, -1.0)


DISTORT: dict[str, Callable[[np.ndarray, float, int], np.ndarray]] = {
    "rotation": rotated,
    "shift": shifted,
    "scale": scaled,
    "thickness": thickened,
    "noise": noisy,
}
