"""Augmentation: identity when off, exact geometry when the strengths are pinned, and the
random strengths within their bounds."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from digitnet.data.augment import AugmentConfig, augment_batch, change_thickness, preview, warp
from digitnet.errors import DigitnetError
from pages.common.pictures import tile

OFF = AugmentConfig.none()


class PinnedRng:
    """Stands in for np.random.Generator with every uniform draw equal to `value`: 1.0 puts each
    strength at its maximum, 0.0 at its minimum (the negative end), so the distortion is known."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self, size: int, dtype: type = np.float64) -> np.ndarray:
        return np.full(size, self.value, dtype=dtype)


def soft_stroke(
    start: tuple[float, float], end: tuple[float, float], width: float = 1.0
) -> np.ndarray:
    """A 28x28 anti-aliased pen stroke from start to end ((x, y) pixels), like an MNIST stroke."""
    rows, cols = np.mgrid[0:28, 0:28].astype(np.float32)
    (x0, y0), (x1, y1) = start, end
    along = np.clip(
        ((cols - x0) * (x1 - x0) + (rows - y0) * (y1 - y0)) / ((x1 - x0) ** 2 + (y1 - y0) ** 2),
        0,
        1,
    )
    distance = np.hypot(cols - (x0 + along * (x1 - x0)), rows - (y0 + along * (y1 - y0)))
    return np.clip(1.5 - distance / width, 0, 1).astype(np.float32)


def digit_like_batch(count: int, seed: int = 0) -> np.ndarray:
    """Strokes of random direction and length near the centre, a stand-in for digits."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        centre = 13.5 + rng.uniform(-3, 3, size=2)
        angle, half = rng.uniform(0, math.pi), rng.uniform(4, 8)
        offset = half * np.array([math.cos(angle), math.sin(angle)])
        images.append(
            soft_stroke(tuple(centre - offset), tuple(centre + offset), rng.uniform(0.8, 1.6))
        )
    return np.stack(images)


def centre_of_mass(images: np.ndarray) -> np.ndarray:
    """(n, 2) ink-weighted mean (x, y) position."""
    rows, cols = np.mgrid[0:28, 0:28]
    mass = images.sum(axis=(1, 2))
    return (
        np.stack([(images * cols).sum(axis=(1, 2)), (images * rows).sum(axis=(1, 2))], 1)
        / mass[:, None]
    )


def principal_angle(image: np.ndarray) -> float:
    """Direction of the ink's long axis in degrees, anticlockwise from +x with y pointing up."""
    rows, cols = np.mgrid[0:28, 0:28]
    weights = image / image.sum()
    x, y = cols - (weights * cols).sum(), -(rows - (weights * rows).sum())
    xx, yy, xy = (weights * x * x).sum(), (weights * y * y).sum(), (weights * x * y).sum()
    return math.degrees(0.5 * math.atan2(2 * xy, xx - yy))


def test_identity_configs_return_the_input_exactly():
    images = digit_like_batch(16)
    zeros = AugmentConfig(**{name: 0 for name in AugmentConfig.__dataclass_fields__})
    always_untouched = replace(AugmentConfig(), untouched=1.0)
    for config in (OFF, zeros, always_untouched):
        out = augment_batch(images, np.random.default_rng(3), config)
        np.testing.assert_array_equal(out, images)
        assert out is not images


def test_output_shape_dtype_range_and_input_left_alone():
    images = np.random.default_rng(0).random((50, 28, 28), dtype=np.float32)
    before = images.copy()
    strong = AugmentConfig(rotation=45, scale=0.4, shift=6, shear=30, elastic_alpha=4, thickness=1)
    for config in (AugmentConfig(), strong):
        out = augment_batch(images, np.random.default_rng(1), config)
        assert out.shape == (50, 28, 28) and out.dtype == np.float32
        assert out.min() >= 0 and out.max() <= 1
        assert not np.array_equal(out, images)
    np.testing.assert_array_equal(images, before)
    as_float64 = augment_batch(images.astype(np.float64), np.random.default_rng(1))
    assert as_float64.dtype == np.float32
    assert augment_batch(images[:0], np.random.default_rng(1)).shape == (0, 28, 28)


def test_same_seed_same_result_other_seed_other_result():
    images = digit_like_batch(32)
    first = augment_batch(images, np.random.default_rng(7))
    again = augment_batch(images, np.random.default_rng(7))
    other = augment_batch(images, np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("pinned, expected", [(1.0, 2.5), (0.0, -2.5)])
def test_pinned_shift_moves_the_centre_of_mass_by_that_many_pixels(pinned, expected):
    images = digit_like_batch(8)
    config = replace(OFF, shift=2.5)
    moved = augment_batch(images, PinnedRng(pinned), config)
    displacement = centre_of_mass(moved) - centre_of_mass(images)
    np.testing.assert_allclose(displacement, expected, atol=0.02)
    np.testing.assert_allclose(moved.sum(axis=(1, 2)), images.sum(axis=(1, 2)), rtol=1e-4)


def test_shift_is_in_output_pixels_whatever_the_rotation_and_scale():
    rows, cols = np.mgrid[0:28, 0:28]
    blob = np.exp(-((cols - 13.5) ** 2 + (rows - 13.5) ** 2) / (2 * 2.0**2)).astype(np.float32)
    config = replace(OFF, shift=2.0, rotation=20, scale=0.2, shear=10)
    moved = augment_batch(blob[None], PinnedRng(1.0), config)
    np.testing.assert_allclose(centre_of_mass(moved) - centre_of_mass(blob[None]), 2.0, atol=0.05)


def test_outside_the_image_is_blank_paper():
    full = np.ones((1, 28, 28), np.float32)
    moved = augment_batch(full, PinnedRng(1.0), replace(OFF, shift=3.0))[0]
    assert moved[:, :2].max() == 0 and moved[:2, :].max() == 0  # nothing smeared in
    np.testing.assert_array_equal(moved[3:, 3:], 1)


def test_random_shifts_stay_within_the_strength_and_use_it():
    images = np.repeat(digit_like_batch(1), 300, axis=0)
    moved = augment_batch(images, np.random.default_rng(0), replace(OFF, shift=3.0))
    displacement = centre_of_mass(moved) - centre_of_mass(images)
    assert np.abs(displacement).max() <= 3.0 + 0.02
    assert np.abs(displacement).max() >= 2.7
    assert 1.5 < displacement.std() < 2.0  # uniform on [-3, 3] has std sqrt(3)


def test_positive_rotation_turns_a_horizontal_bar_anticlockwise():
    bar = soft_stroke((6, 13.5), (21, 13.5))[None]
    assert abs(principal_angle(bar[0])) < 0.5
    for pinned, expected in ((1.0, 30.0), (0.0, -30.0)):
        turned = augment_batch(bar, PinnedRng(pinned), replace(OFF, rotation=30))
        assert principal_angle(turned[0]) == pytest.approx(expected, abs=1.0)
        np.testing.assert_allclose(centre_of_mass(turned), centre_of_mass(bar), atol=0.05)


def test_positive_shear_slants_the_top_of_a_vertical_bar_to_the_right():
    bar = soft_stroke((13.5, 6), (13.5, 21))[None]
    slanted = augment_batch(bar, PinnedRng(1.0), replace(OFF, shear=20))
    assert principal_angle(slanted[0]) == pytest.approx(90 - 20, abs=1.0)
    top, bottom = slanted[0, :10], slanted[0, -10:]
    assert centre_of_mass(np.pad(top, ((0, 18), (0, 0)))[None])[0, 0] > 14
    assert centre_of_mass(np.pad(bottom, ((18, 0), (0, 0)))[None])[0, 0] < 13


def test_scale_stretches_the_ink_about_the_centre():
    bar = soft_stroke((6, 13.5), (21, 13.5))[None]
    rows, cols = np.mgrid[0:28, 0:28]

    def spread_along_x(image: np.ndarray) -> float:
        weights = image / image.sum()
        mean = (weights * cols).sum()
        return math.sqrt((weights * (cols - mean) ** 2).sum())

    for pinned, factor in ((1.0, 1.2), (0.0, 0.8)):
        scaled = augment_batch(bar, PinnedRng(pinned), replace(OFF, scale=0.2))
        assert spread_along_x(scaled[0]) / spread_along_x(bar[0]) == pytest.approx(factor, rel=0.03)
        np.testing.assert_allclose(centre_of_mass(scaled), centre_of_mass(bar), atol=0.05)


def test_thickness_adds_ink_when_thicker_and_removes_it_when_thinner():
    images = digit_like_batch(10)
    mass = images.sum(axis=(1, 2))
    config = replace(OFF, thickness=1.0)
    thicker = augment_batch(images, PinnedRng(1.0), config).sum(axis=(1, 2))
    thinner = augment_batch(images, PinnedRng(0.0), config).sum(axis=(1, 2))
    assert np.all(thicker > 1.3 * mass)
    assert np.all(thinner < 0.8 * mass)
    assert np.all(thinner > 0.2 * mass)  # thinner, not erased
    random = augment_batch(np.repeat(images[:1], 200, axis=0), np.random.default_rng(0), config)
    ratios = random.sum(axis=(1, 2)) / mass[0]
    assert ratios.min() < 0.8 and ratios.max() > 1.3


def test_elastic_moves_pixels_but_keeps_most_of_the_ink():
    images = digit_like_batch(200)
    config = replace(OFF, elastic_alpha=1.5, elastic_sigma=5)
    warped = augment_batch(images, np.random.default_rng(0), config)
    mass = images.sum(axis=(1, 2))
    changed = np.abs(warped - images).sum(axis=(1, 2)) / mass
    assert np.median(changed) > 0.2
    # A smooth warp stretches or squeezes strokes locally, as a scale change does (these single
    # strokes feel it more than whole digits): on average the ink is kept, for most images it
    # changes by less than 30%, and no image loses most of it.
    ratio = warped.sum(axis=(1, 2)) / mass
    assert ratio.mean() == pytest.approx(1, abs=0.03)
    assert np.mean(np.abs(ratio - 1) < 0.3) > 0.75
    assert ratio.min() > 0.4


def test_elastic_alpha_is_the_rms_displacement_in_pixels():
    rows, cols = np.mgrid[0:28, 0:28]
    blob = np.exp(-((cols - 13.5) ** 2 + (rows - 13.5) ** 2) / (2 * 1.2**2)).astype(np.float32)
    blobs = np.repeat(blob[None], 1000, axis=0)
    for alpha in (1.0, 2.0):
        moved = augment_batch(
            blobs, np.random.default_rng(0), replace(OFF, elastic_alpha=alpha, elastic_sigma=5)
        )
        displacement = centre_of_mass(moved) - centre_of_mass(blobs)
        rms = np.sqrt((displacement**2).mean(axis=0))
        np.testing.assert_allclose(rms, alpha, rtol=0.12)


def test_untouched_passes_about_that_share_of_images_unchanged():
    images = digit_like_batch(400)
    out = augment_batch(images, np.random.default_rng(0), replace(AugmentConfig(), untouched=0.5))
    unchanged = np.all(out == images, axis=(1, 2)).mean()
    assert 0.4 < unchanged < 0.6


@pytest.mark.parametrize(
    "changes",
    [
        {"rotation": -5},
        {"rotation": 120},
        {"scale": 0.9},
        {"shift": -1},
        {"shift": 30},
        {"shear": 75},
        {"elastic_alpha": -1},
        {"elastic_alpha": 50},
        {"elastic_sigma": 1.0},
        {"elastic_sigma": 40},
        {"thickness": 1.5},
        {"untouched": 1.2},
        {"rotation": math.nan},
        {"shift": math.inf},
        {"scale": "0.1"},
        {"shear": True},
    ],
)
def test_bad_configs_raise_a_one_line_digitnet_error(changes):
    with pytest.raises(DigitnetError) as error:
        AugmentConfig(**changes)
    assert "\n" not in str(error.value)
    assert next(iter(changes)) in str(error.value)


def test_bad_batches_raise_digitnet_error():
    rng = np.random.default_rng(0)
    with pytest.raises(DigitnetError, match="shaped"):
        augment_batch(np.zeros((4, 784), np.float32), rng)
    with pytest.raises(DigitnetError, match="float"):
        augment_batch(np.zeros((4, 28, 28), np.uint8), rng)
    with pytest.raises(DigitnetError, match="copies"):
        preview(np.zeros((2, 28, 28), np.float32), copies=0)


def test_preview_puts_each_original_before_its_copies():
    images = digit_like_batch(3)
    shown = preview(images, seed=5, copies=4)
    assert shown.shape == (15, 28, 28) and shown.dtype == np.float32
    grid = shown.reshape(3, 5, 28, 28)
    np.testing.assert_array_equal(grid[:, 0], images)
    for row in range(3):
        for copy in range(1, 5):
            assert not np.array_equal(grid[row, copy], images[row])
    np.testing.assert_array_equal(preview(images, seed=5, copies=4), shown)
    as_uint8 = np.round(images * 255).astype(np.uint8)
    from_uint8 = preview(as_uint8, seed=5, copies=4)
    np.testing.assert_allclose(from_uint8, shown, atol=1 / 255 + 1e-6)


def test_tile_lays_images_out_row_by_row_with_gaps():
    images = np.stack([np.full((28, 28), value, np.float32) for value in (0.0, 0.25, 1.0)])
    picture = tile(images, columns=2, gap=2)
    assert picture.shape == (58, 58)
    assert picture[0, 0] == 0.0 and picture[0, 30] == 0.25 and picture[30, 0] == 1.0
    assert picture[0, 28] == 0.5 and picture[30, 30] == 0.5  # gap, then the empty cell
    assert tile(images, columns=3, gap=0).shape == (28, 84)


def test_warp_moves_each_image_by_its_own_inverse_map():
    images = np.zeros((2, 28, 28), np.float32)
    images[:, 10, 10] = 1
    identity = [[1, 0, 13.5], [0, 1, 13.5]]
    two_right = [[1, 0, 13.5 - 2], [0, 1, 13.5]]  # output (x, y) reads source (x - 2, y)
    moved = warp(images, np.array([identity, two_right]))
    assert np.array_equal(moved[0], images[0])
    assert moved[1, 10, 12] == 1 and moved[1].sum() == 1
    with pytest.raises(DigitnetError, match="one \\(2, 3\\) inverse map per image"):
        warp(images, np.array([identity]))


def test_change_thickness_is_a_fresh_array_with_strength_checked():
    images = np.zeros((1, 28, 28), np.float32)
    images[0, 8:20, 13:15] = 1
    thicker, thinner = change_thickness(images, 1.0), change_thickness(images, -1.0)
    assert thicker.sum() > images.sum() > thinner.sum()  # thinner did not overwrite thicker
    assert images.sum() == 24  # the input is untouched
    with pytest.raises(DigitnetError, match="from -1 to 1"):
        change_thickness(images, 1.5)
