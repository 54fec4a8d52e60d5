"""Drawings that are not digits: what they are made of, what is held out, and the evaluation."""

from __future__ import annotations

import string

import numpy as np
import pytest

from digitnet.cli import CONFIDENT, main
from digitnet.data.negatives import (
    DIGIT_LIKE,
    HELD_OUT_FONTS,
    HELD_OUT_SHAPES,
    HELD_OUT_SYMBOLS,
    KINDS,
    NOT_A_DIGIT,
    PART_RANGE,
    SCRIPT_DIGIT_LIKE,
    SCRIPT_FONTS,
    SHAPE_NAMES,
    TRAIN_FONTS,
    Negatives,
    NotDigits,
    arrow,
    dense,
    digit_like_part,
    font,
    held_out_makings,
    held_out_negatives,
    lines,
    part_of,
    side_by_side,
    training_makings,
    usable_chars,
)
from digitnet.data.pendigits import PEN_DEV_WRITERS, PEN_TRAIN_WRITERS, load_pen_data
from digitnet.images import IMAGE_SHAPE
from digitnet.training.catalog import load_named
from tests.conftest import pen_data_folder


@pytest.fixture(scope="module")
def pen():
    return load_pen_data(pen_data_folder(), download=False)


@pytest.fixture(scope="module")
def source(pen):
    return NotDigits(pen)


@pytest.fixture(scope="module")
def trained_on(source):
    """A few hundred training drawings, with what each was made from."""
    return source.draw(300, np.random.default_rng(0))


@pytest.fixture(scope="module")
def held(pen):
    return held_out_negatives(24, seed=0, data=pen)


def assert_images(images: np.ndarray, count: int) -> None:
    assert images.dtype == np.float32 and images.shape == (count, *IMAGE_SHAPE)
    assert images.min() >= 0 and images.max() <= 1
    assert (images.reshape(count, -1).max(axis=1) > 0.5).all()  # every one has ink


def test_samples_are_images_labelled_not_a_digit(source, held):
    images, labels = source.sample(40, np.random.default_rng(1))
    assert_images(images, 40)
    assert labels.dtype == np.int64 and (labels == NOT_A_DIGIT).all() and NOT_A_DIGIT == 10
    assert_images(held.images, 24)
    assert (held.labels == NOT_A_DIGIT).all() and held.labels.shape == (24,)


def test_the_same_generator_gives_the_same_drawings(source, pen):
    first = source.draw(30, np.random.default_rng(5))
    again = source.draw(30, np.random.default_rng(5))
    other = source.draw(30, np.random.default_rng(6))
    assert np.array_equal(first.images, again.images) and first.sources == again.sources
    assert not np.array_equal(first.images, other.images)
    # The held-out set is fixed: the first n drawings are the same whatever the count.
    shorter = held_out_negatives(8, seed=0, data=pen)
    assert np.array_equal(shorter.images, held_out_negatives(24, seed=0, data=pen).images[:8])


def test_training_mixes_every_kind_and_the_held_out_set_takes_them_in_turn(trained_on, held):
    assert set(trained_on.kinds) == set(KINDS)
    assert held.kinds == KINDS * 4


def glyph_of(source: str) -> tuple[str, str] | None:
    """(font, char) of a drawing made from a font's glyph, None for the other kinds."""
    made_of, _, char = source.partition(":")
    return (made_of, char) if made_of in (*TRAIN_FONTS, *HELD_OUT_FONTS) else None


def test_held_out_fonts_symbols_shapes_and_writers_never_reach_training(pen, trained_on):
    assert not set(TRAIN_FONTS) & set(HELD_OUT_FONTS)
    training = training_makings(pen)
    glyphs = [name.split(":", 1) for name in training.letters + training.symbols]
    assert {f for f, _ in glyphs} == set(TRAIN_FONTS)
    assert not {c for _, c in glyphs} & set(HELD_OUT_SYMBOLS)
    assert not set(training.shapes) & set(HELD_OUT_SHAPES)
    assert set(training.digits.writers) == set(PEN_TRAIN_WRITERS)
    # Every drawing made says what it came from: none of it is held out.
    made = [glyph_of(s) for s in trained_on.sources]
    assert sum(g is not None for g in made) > 100
    assert all(f in TRAIN_FONTS and c not in HELD_OUT_SYMBOLS for f, c in filter(None, made))
    shapes = {s.removeprefix("shape:") for s in trained_on.sources if s.startswith("shape:")}
    assert shapes and not shapes & set(HELD_OUT_SHAPES)


def test_the_held_out_set_is_made_only_of_what_training_never_sees(pen, held):
    makings = held_out_makings(pen)
    for name in makings.letters + makings.symbols:
        font_name, char = name.split(":", 1)
        assert font_name in HELD_OUT_FONTS or char in HELD_OUT_SYMBOLS
    assert set(makings.shapes) == set(HELD_OUT_SHAPES) and set(HELD_OUT_SHAPES) < set(SHAPE_NAMES)
    assert set(makings.digits.writers) == set(PEN_DEV_WRITERS)
    for font_name, char in filter(None, map(glyph_of, held.sources)):
        assert font_name in HELD_OUT_FONTS or char in HELD_OUT_SYMBOLS


def test_digit_like_glyphs_are_never_made(trained_on, held):
    for font_name in (*TRAIN_FONTS, *HELD_OUT_FONTS):
        excluded = set(string.digits) | set(DIGIT_LIKE)
        if font_name in SCRIPT_FONTS:
            excluded |= set(SCRIPT_DIGIT_LIKE)
        assert not set(usable_chars(font_name)) & excluded
    made = list(filter(None, map(glyph_of, trained_on.sources + held.sources)))
    assert made and all(c not in DIGIT_LIKE and c not in string.digits for _, c in made)
    assert all(c not in SCRIPT_DIGIT_LIKE for f, c in made if f in SCRIPT_FONTS)


def test_several_digits_are_two_or_three_whole_digits_side_by_side(pen, trained_on):
    digits = [pen.strokes[i] for i in (0, 1, 2)]
    row = side_by_side(digits, np.random.default_rng(0))
    assert len(row) == sum(len(d) for d in digits)
    boxes, placed = [], iter(row)
    for digit in digits:
        strokes = [next(placed) for _ in digit]
        # Each digit whole: every stroke is the original, scaled and moved the same way.
        scale = np.ptp(np.concatenate(strokes)[:, 1]) / np.ptp(np.concatenate(digit)[:, 1])
        shift = strokes[0][0] - digit[0][0] * scale
        for original, moved in zip(digit, strokes):
            assert np.allclose(moved, original * scale + shift, atol=1e-4)
        xs = np.concatenate(strokes)[:, 0]
        boxes.append((xs.min(), xs.max()))
    assert all(left[1] < right[0] for left, right in zip(boxes, boxes[1:]))  # in a row, apart
    several = [s for k, s in zip(trained_on.kinds, trained_on.sources) if k == "several digits"]
    assert several and all(2 <= len(s.removeprefix("pen:").split("+")) <= 3 for s in several)


def circle(start: float, sweep: float) -> np.ndarray:
    angles = np.radians(np.linspace(start, start + sweep, 60))
    return np.stack([np.cos(angles), np.sin(angles)], axis=1) * 100


def test_parts_that_still_read_as_digits_are_refused():
    seven = (np.array([[0, 0], [100, 0], [40, 150]], np.float32),)
    one = (np.array([[0, 0], [10, 150]], np.float32),)
    flagged_one = (np.array([[-30, 30], [0, 0], [5, 150]], np.float32),)
    loop = (circle(0, 300),)  # an open 0
    for digit_like in (seven, one, flagged_one, loop):
        assert digit_like_part(dense(digit_like))
    cup = (circle(20, 140),)  # a U, y down
    corner = (np.array([[0, 0], [0, 100], [80, 100]], np.float32),)  # an L
    for not_digit_like in (cup, corner):
        assert not digit_like_part(dense(not_digit_like))


def test_a_partial_digit_is_a_stretch_of_its_trajectory(pen):
    rng = np.random.default_rng(2)
    for index in np.flatnonzero(np.isin(pen.labels, (0, 2, 4, 6)))[:40]:
        digit = pen.strokes[index]
        part = part_of(digit, rng)
        if part is None:
            continue
        kept = np.concatenate(part)
        everything = np.concatenate(digit)
        assert (kept[:, None] == everything[None]).all(axis=2).any(axis=1).all()
        length = sum(np.hypot(*np.diff(s, axis=0).T).sum() for s in part)
        total = sum(np.hypot(*np.diff(s, axis=0).T).sum() for s in digit)
        assert length <= PART_RANGE[1] * total + 1e-3 and not digit_like_part(part)


def test_lines_and_arrows_never_stand_near_vertical():
    rng = np.random.default_rng(3)
    for _ in range(200):
        for stroke, limit in [*((s, 30) for s in lines(rng)), (arrow(rng)[0], 40)]:
            dx, dy = np.abs(stroke[-1] - stroke[0])
            assert np.degrees(np.arctan2(dy, dx)) <= limit + 1e-6


def test_dense_keeps_a_glyphs_corners_and_fills_its_segments():
    less_than = font("futural")["<"]
    filled = dense(less_than)
    for original, more in zip(less_than, filled):
        assert (original[:, None] == more[None]).all(axis=2).any(axis=1).all()
        size = np.ptp(np.concatenate(less_than), axis=0).max()
        assert np.hypot(*np.diff(more, axis=0).T).max() <= size / 40 + 1e-4


def test_evaluate_not_digits_reports_confident_shares_per_kind(pen, capsys):
    count = 12
    arguments = ["evaluate", "mlp", "--split", "not-digits", "--negative-count", str(count)]
    assert main([*arguments, "--pen-data", str(pen_data_folder())]) == 0
    out = capsys.readouterr().out.splitlines()
    held: Negatives = held_out_negatives(count, data=pen)
    sure = load_named("mlp").predict_proba(held.images).max(axis=1)
    rows = {line[:16].strip(): line[16:].split() for line in out[2:]}
    assert list(rows) == [*KINDS, "all"]
    for kind, row in rows.items():
        chosen = np.array([kind in (k, "all") for k in held.kinds])
        assert int(row[0]) == chosen.sum()
        for share, confident in zip(row[1:3], CONFIDENT):
            assert share == f"{(sure[chosen] >= confident).mean():.1%}"


def test_evaluate_not_digits_refuses_a_count_below_one(capsys):
    assert main(["evaluate", "mlp", "--split", "not-digits", "--negative-count", "0"]) == 2
    assert capsys.readouterr().err == "error: --negative-count must be at least 1, got 0\n"
