"""Photos and scans cropped tight to the digit (issue 9, point 5): the ink touches the image's
edges, or the scan is 1-bit; `image_to_mnist` must still find the digit and read it as well as
the same digit photographed with a margin. The full measurement (2,000 digits) is
``python -m benchmarks.bench_photos``; this runs the same check on 300."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import digitnet
from benchmarks.bench_photos import measure
from benchmarks.photos import photo_pairs
from digitnet.data.preprocess import image_to_mnist
from tests.test_preprocess import SHAPES, draw

COUNT = 300


@pytest.fixture(scope="module")
def pairs(mnist):
    return photo_pairs(mnist.test_images[:COUNT], mnist.test_labels[:COUNT], seed=3)


@pytest.fixture(scope="module")
def cnn():
    return digitnet.load_model()


def test_tight_crops_come_out_as_digits_and_read_like_ones_with_a_margin(pairs, cnn):
    figures = measure(pairs, cnn)
    assert figures["found"] >= 0.995
    assert figures["tight accuracy"] >= figures["margin accuracy"] - 0.01


def test_the_tight_photos_touch_the_edges_they_say(pairs):
    kinds = {pair.kind for pair in pairs}
    assert kinds == {"grey", "1-bit", "jpeg"}
    for pair in pairs:
        touching = [edge.any() for edge in edges_of(dark(pair.tight))]
        assert sum(touching) == pair.edges
        assert not any(edge.any() for edge in edges_of(dark(pair.margin)))


def dark(photo: bytes) -> np.ndarray:
    """Ink: pixels clearly darker than the paper (JPEG noise stays within a few levels)."""
    grey = np.asarray(Image.open(io.BytesIO(photo)).convert("L"), np.int16)
    return grey < grey.max() - 40


def edges_of(mask: np.ndarray) -> list[np.ndarray]:
    return [mask[0], mask[-1], mask[:, 0], mask[:, -1]]


@pytest.mark.parametrize("digit", sorted(SHAPES))
@pytest.mark.parametrize("brush", [30, 50])
def test_a_one_bit_scan_with_thick_strokes_cropped_tight_is_read(cnn, digit, brush):
    clean = draw(digit, brush=brush, mode="white")
    ink = clean[..., 0] < 128
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    scan = Image.fromarray(~ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]).convert("1")
    buffer = io.BytesIO()
    scan.save(buffer, "PNG")
    image = image_to_mnist(buffer.getvalue())
    assert image is not None
    assert cnn.predict_proba(image[None])[0].argmax() == int(digit)


@pytest.mark.parametrize("edges", ["top", "left", "bottom-right"])
def test_a_photo_cut_through_the_digit_still_finds_it(edges):
    clean = draw("4", brush=16, mode="white")
    cut = {"top": np.s_[100:, :], "left": np.s_[:, 110:], "bottom-right": np.s_[:200, :190]}
    image = image_to_mnist(clean[cut[edges]][..., :3])
    assert image is not None and image.max() == pytest.approx(1.0)
