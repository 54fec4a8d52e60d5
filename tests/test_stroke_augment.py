"""Stroke augmentation: each change does what it says, and nothing else, on every digit of a batch
at once (readability of augmented pen digits is in test_pendigits)."""

from __future__ import annotations

import numpy as np
import pytest

from digitnet.data.stroke_augment import HEIGHT_RANGE, StrokeAugment, augment, place
from digitnet.errors import DigitnetError

NOTHING = StrokeAugment(rotation=0, slant=0, aspect=0, jitter=0, smooth_chance=0, sparse_steps=(1,))


def digits() -> list[list[np.ndarray]]:
    """An L in two strokes, a long diagonal, and a dot."""
    ell = [np.array([[0, 0], [0, 50], [0, 100]], float), np.array([[0, 100], [60, 100]], float)]
    diagonal = [np.stack([np.linspace(0, 40, 21), np.linspace(0, 80, 21)], axis=1)]
    return [ell, diagonal, [np.array([[5.0, 5.0]])]]


def test_placed_digits_keep_their_shape_and_fit_the_canvas():
    drawings = place(digits()[:2], np.random.default_rng(0), canvas_size=100)
    for drawing, digit in zip(drawings, digits()):
        points = np.concatenate(drawing.strokes)
        original = np.concatenate(digit)
        scale = np.ptp(points[:, 1]) / np.ptp(original[:, 1])
        assert np.allclose(points - points[0], (original - original[0]) * scale, atol=1e-3)
        ink = np.ptp(points[:, 1]) + drawing.brush_width
        assert HEIGHT_RANGE[0] * 100 - 1e-3 <= ink <= HEIGHT_RANGE[1] * 100 + 1e-3
        radius = drawing.brush_width / 2
        assert points.min() >= radius - 1e-3 and points.max() <= 100 - radius + 1e-3
        assert [len(s) for s in drawing.strokes] == [len(s) for s in digit]


def test_with_every_range_zero_augment_is_place():
    first = augment(digits(), np.random.default_rng(3), 100, config=NOTHING)
    for drawing, digit in zip(first, digits()):
        points, original = np.concatenate(drawing.strokes), np.concatenate(digit)
        if len(original) > 1:
            scale = np.ptp(points[:, 1]) / np.ptp(original[:, 1])
            assert np.allclose(points - points[0], (original - original[0]) * scale, atol=1e-3)


def test_sparse_sampling_keeps_both_ends_of_every_stroke():
    config = StrokeAugment(
        rotation=0, slant=0, aspect=0, jitter=0, smooth_chance=0, sparse_steps=(3,)
    )
    (drawing,) = augment([digits()[1]], np.random.default_rng(0), 100, config=config)
    (points,) = drawing.strokes
    assert len(points) == 8  # points 0, 3, ..., 18 and the last, 20
    # The kept points are the 0th, 3rd, ... of the original, on its line, both ends included.
    along = (points - points[0]) @ (points[-1] - points[0]) / np.sum((points[-1] - points[0]) ** 2)
    assert np.allclose(along, [0, 3, 6, 9, 12, 15, 18, 20] / np.float32(20), atol=1e-4)


def test_slant_and_rotation_turn_a_vertical_stroke():
    bar = [[np.array([[0, 0], [0, 100.0]])]] * 200
    slanted = augment(
        bar,
        np.random.default_rng(0),
        280,
        config=StrokeAugment(
            rotation=0, slant=0.3, aspect=0, jitter=0, smooth_chance=0, sparse_steps=(1,)
        ),
    )
    tilt = [np.diff(d.strokes[0], axis=0)[0] for d in slanted]
    ratios = np.array([dx / dy for dx, dy in tilt])
    assert np.abs(ratios).max() <= 0.3 + 1e-4 and np.abs(ratios).max() > 0.25
    assert (ratios > 0).any() and (ratios < 0).any()


def test_jitter_and_smoothing_move_points_a_little():
    circle = [[np.stack([np.cos(t), np.sin(t)], axis=1) * 50 for t in [np.linspace(0, 6, 60)]]]
    plain = augment(circle, np.random.default_rng(0), 280, config=NOTHING)[0].strokes[0]
    shaken_config = StrokeAugment(
        rotation=0, slant=0, aspect=0, jitter=0.02, smooth_chance=1, sparse_steps=(1,)
    )
    shaken = augment(circle, np.random.default_rng(0), 280, config=shaken_config)[0].strokes[0]
    height = np.ptp(plain[:, 1])
    moved = np.hypot(*(shaken - plain).T)
    assert 0 < np.median(moved) < 0.03 * height


def test_the_same_seed_gives_the_same_drawings():
    first = augment(digits(), np.random.default_rng(11))
    again = augment(digits(), np.random.default_rng(11))
    other = augment(digits(), np.random.default_rng(12))
    for a, b, c in zip(first, again, other):
        assert a.brush_width == b.brush_width != c.brush_width
        assert all(np.array_equal(x, y) for x, y in zip(a.strokes, b.strokes))


def test_a_digit_without_strokes_is_refused():
    with pytest.raises(DigitnetError, match="at least one stroke"):
        place([[]], np.random.default_rng(0))
