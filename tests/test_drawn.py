"""The drawn-digit set: skeletons are thin and connected, canvases are drawn as asked, everything
follows from the seed, and the set comes back through the canvas preprocessing like MNIST."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitnet.data.drawn import (
    CANVAS_SIZE,
    HEIGHT_RANGE,
    STROKE_RANGE,
    digit_skeletons,
    drawn_digits,
    drawn_test_set,
    skeletonize,
)
from digitnet.data.preprocess import stroke_width
from digitnet.errors import DigitnetError


def neighbour_counts(mask: np.ndarray) -> np.ndarray:
    padded = np.pad(mask, 1).astype(int)
    height, width = mask.shape
    return sum(
        padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
        if dy or dx
    )


def components(mask: np.ndarray) -> int:
    """Number of 8-connected components, by flood fill (plain Python: the masks are small)."""
    seen = np.zeros_like(mask)
    count = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        count += 1
        stack = [start]
        seen[start] = True
        while stack:
            y, x = stack.pop()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    inside = 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1]
                    if inside and mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
    return count


def shape(draw_it) -> np.ndarray:
    image = Image.new("1", (120, 120))
    draw_it(ImageDraw.Draw(image))
    return np.asarray(image)


def brush_line(pen: ImageDraw.ImageDraw, start: tuple[int, int], end: tuple[int, int]) -> None:
    """An 11 px line with round ends, as a brush draws it."""
    pen.line([start, end], fill=1, width=11)
    for x, y in (start, end):
        pen.ellipse([x - 5, y - 5, x + 5, y + 5], fill=1)


@pytest.mark.parametrize("end", [(100, 30), (100, 100), (30, 100)])
def test_skeleton_of_a_thick_line_is_one_pixel_wide_and_connected(end):
    line = shape(lambda pen: brush_line(pen, (20, 20), end))
    skeleton = skeletonize(line)
    assert (skeleton <= line).all()
    assert components(skeleton) == 1
    # One pixel wide: no 2x2 block is all skeleton, and it runs about the line's length in
    # steps of one pixel (a chessboard length, as 8-connected pixels step).
    assert not (skeleton[:-1, :-1] & skeleton[1:, :-1] & skeleton[:-1, 1:] & skeleton[1:, 1:]).any()
    length = max(abs(end[0] - 20), abs(end[1] - 20))
    assert 0.8 * length <= skeleton.sum() <= 1.25 * length
    assert (neighbour_counts(skeleton)[skeleton] == 1).sum() == 2  # two free ends


def test_skeleton_of_a_ring_is_a_closed_loop():
    ring = shape(lambda pen: pen.ellipse([15, 15, 105, 105], outline=1, width=12))
    skeleton = skeletonize(ring)
    assert components(skeleton) == 1
    assert (neighbour_counts(skeleton)[skeleton] >= 2).all()  # no free end: the hole is kept
    radius = np.hypot(*(np.nonzero(skeleton) - np.array([[60], [60]])))
    assert np.abs(radius - 39.5).max() < 3  # in the middle of the ring


def test_skeletonize_treats_each_image_of_a_batch_alone():
    lines = np.stack(
        [
            shape(lambda pen: pen.line([(20, 20), (100, 60)], fill=1, width=9)),
            shape(lambda pen: pen.rectangle([30, 30, 90, 90], fill=1)),
            np.zeros((120, 120), bool),
        ]
    )
    together = skeletonize(lines)
    for single, image in zip(together, lines, strict=True):
        assert np.array_equal(single, skeletonize(image))
    assert not together[2].any()


def test_digit_skeletons_are_connected_like_the_digits(mnist):
    images = mnist.test_images[:50]
    skeletons = digit_skeletons(images)
    assert skeletons.shape == (50, 112, 112) and skeletons.dtype == bool
    pieces = [components(skeleton) for skeleton in skeletons]
    assert np.mean(np.array(pieces) == 1) > 0.85  # a few MNIST digits are themselves broken
    for skeleton in skeletons:  # spurs pruned, curves 1 pixel wide
        assert not (
            skeleton[:-1, :-1] & skeleton[1:, :-1] & skeleton[:-1, 1:] & skeleton[1:, 1:]
        ).any()


def test_canvases_are_drawn_as_their_params_say(mnist):
    shortest, tallest = (round(CANVAS_SIZE * share) for share in HEIGHT_RANGE)
    widths_asked, widths_seen = [], []
    for canvas, params in drawn_digits(mnist.test_images[:40], seed=3):
        assert canvas.shape == (CANVAS_SIZE, CANVAS_SIZE, 4) and canvas.dtype == np.uint8
        alpha = canvas[..., 3]
        assert (canvas[..., :3][alpha > 0] == 0).all()  # black ink on transparent
        assert (canvas[alpha == 0] == 0).all()
        rows = np.flatnonzero((alpha >= 128).any(axis=1))
        cols = np.flatnonzero((alpha >= 128).any(axis=0))
        assert abs(rows[0] - params.top) <= 1 and abs(cols[0] - params.left) <= 1
        assert abs(rows[-1] + 1 - rows[0] - params.height) <= 1
        assert abs(cols[-1] + 1 - cols[0] - params.width) <= 1
        assert params.width <= CANVAS_SIZE and params.height <= tallest
        # A digit wider than tall may be drawn shorter, to fit the canvas's width.
        assert params.height >= shortest or params.width >= CANVAS_SIZE - 1
        assert STROKE_RANGE[0] <= params.stroke_width <= STROKE_RANGE[1]
        widths_asked.append(params.stroke_width)
        widths_seen.append(stroke_width(alpha / 255))
    ratio = np.array(widths_seen) / widths_asked
    # Junctions and round ends make strokes look a little wider than the brush on average.
    assert 0.9 < np.median(ratio) < 1.25 and ratio.min() > 0.8 and ratio.max() < 1.45
    assert np.corrcoef(widths_asked, widths_seen)[0, 1] > 0.9
    assert ((alpha > 0) & (alpha < 255)).any()  # anti-aliased edges


def test_black_background_is_the_same_drawing(mnist):
    images = mnist.test_images[:5]
    transparent = list(drawn_digits(images, seed=1))
    black = list(drawn_digits(images, seed=1, background="black"))
    for (clear, params), (opaque, same_params) in zip(transparent, black, strict=True):
        assert params == same_params
        assert (opaque[..., 3] == 255).all()
        assert np.array_equal(opaque[..., 0], clear[..., 3])


def test_drawing_is_decided_by_the_seed_alone(mnist):
    images = mnist.test_images[:8]
    first = list(drawn_digits(images, seed=7))
    again = list(drawn_digits(images, seed=7))
    other = list(drawn_digits(images, seed=8))
    longer_batch = list(drawn_digits(mnist.test_images[:12], seed=7))
    for i, (canvas, params) in enumerate(first):
        assert np.array_equal(canvas, again[i][0]) and params == again[i][1]
        assert np.array_equal(canvas, longer_batch[i][0]) and params == longer_batch[i][1]
    assert [params for _, params in first] != [params for _, params in other]


def test_drawn_test_set_comes_back_like_mnist(mnist):
    count = 150
    indices = np.arange(mnist.test_images.shape[0])
    images, picked, params = drawn_test_set(mnist.test_images, indices, n=count, seed=0)
    assert images.shape == (count, 28, 28) and images.dtype == np.float32
    assert len(params) == count and len(set(picked.tolist())) == count
    index = np.arange(28)
    mass = images.sum(axis=(1, 2))
    centre_y = images.sum(axis=2) @ index / mass
    centre_x = images.sum(axis=1) @ index / mass
    assert np.abs(centre_y - 14).max() < 0.5 and np.abs(centre_x - 14).max() < 0.5
    # Each image still looks like the MNIST digit it was drawn from, more than like the others.
    sources = mnist.test_images[picked].reshape(count, -1).astype(np.float32)
    drawn = images.reshape(count, -1)
    sources = (sources - sources.mean(1, keepdims=True)) / sources.std(1, keepdims=True)
    drawn = (drawn - drawn.mean(1, keepdims=True)) / drawn.std(1, keepdims=True)
    similarity = drawn @ sources.T / drawn.shape[1]
    own = np.diag(similarity)
    assert own.mean() > 0.75 > similarity.mean() + 0.3
    # Similar digits (many 1s) can come close, but the source stays among the three nearest.
    assert np.mean((similarity > own[:, None]).sum(axis=1) < 3) > 0.9
    again = drawn_test_set(mnist.test_images, indices, n=count, seed=0)
    assert np.array_equal(again[0], images) and np.array_equal(again[1], picked)
    labels = drawn_test_set(mnist.test_images, mnist.test_labels, n=count, seed=0)[1]
    assert np.array_equal(labels, mnist.test_labels[picked])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: drawn_digits(np.zeros((2, 28, 28), np.float32)), "uint8"),
        (lambda: drawn_digits(np.zeros((2, 28, 28), np.uint8), background="red"), "red"),
        (lambda: list(drawn_digits(np.zeros((2, 28, 28), np.uint8))), "no ink"),
        (lambda: drawn_test_set(np.zeros((5, 28, 28), np.uint8), np.zeros(4), n=2), "labels"),
        (lambda: drawn_test_set(np.zeros((5, 28, 28), np.uint8), np.zeros(5), n=6), "n must"),
        (lambda: skeletonize(np.zeros(5, bool)), "skeletonize"),
    ],
)
def test_bad_input_raises_one_line_errors(call, message):
    with pytest.raises(DigitnetError, match=message) as error:
        call()
    assert "\n" not in str(error.value)
