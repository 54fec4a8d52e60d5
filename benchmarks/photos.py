"""Photos and scans of digits cropped tight, for a robustness check of `image_to_mnist`.

A scanner's crop or a phone photo cropped to the digit leaves the ink touching the image's
edges, which a photo reader that looks for paper around the digit can miss. This set is made
from MNIST test digits (so the labels are known): each is cropped to its ink box, scaled up 3 to
8 times, printed dark on light paper, and stored one of three ways (a grey PNG, a 1-bit scan,
a JPEG of quality 30 to 90). The ink touches one to four edges. Every tight photo has a control:
the same digit, made the same way, with a margin of paper all round, so the difference in
accuracy between the two is what the tight crop costs. Every choice comes from a generator
seeded by (seed, index of the digit).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

# MNIST pixels at least this dark (0-255) are ink: the box is cut through the strokes' soft
# fringe, as a crop to the visible ink is.
INK_LEVEL = 128
SCALE_RANGE = (3.0, 8.0)
JPEG_QUALITY = (30, 90)
KINDS = ("grey", "1-bit", "jpeg")
# Margin of the control photos, as a share of the digit's longer side, on every edge.
MARGIN = 0.3


@dataclass(frozen=True)
class PhotoPair:
    """One digit as a tight photo and as its control with a margin (both PNG or JPEG bytes)."""

    tight: bytes
    margin: bytes
    label: int
    kind: str
    edges: int  # how many edges of the tight photo the ink touches


def photo_pairs(images: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[PhotoPair]:
    """A tight photo and its control for each (28, 28) uint8 MNIST digit."""
    return [
        _pair(image, int(label), np.random.default_rng([seed, index]))
        for index, (image, label) in enumerate(zip(images, labels, strict=True))
    ]


def _pair(image: np.ndarray, label: int, rng: np.random.Generator) -> PhotoPair:
    solid = image >= INK_LEVEL
    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    ink = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = rng.uniform(*SCALE_RANGE)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    large = np.asarray(Image.fromarray(ink).resize(size, Image.BICUBIC), np.float32) / 255
    paper, dark = rng.uniform(200, 250), rng.uniform(0, 70)
    kind = KINDS[int(rng.integers(len(KINDS)))]
    quality = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
    # Paper left on 0 to 3 of the four sides of the tight photo: the ink touches the others.
    sides = rng.permutation(4)[: int(rng.integers(4))]
    tight_margins = [round(0.1 * max(size)) if side in sides else 0 for side in range(4)]
    margins = [round(MARGIN * max(size))] * 4
    return PhotoPair(
        tight=_encoded(_page(large, tight_margins), paper, dark, kind, quality),
        margin=_encoded(_page(large, margins), paper, dark, kind, quality),
        label=label,
        kind=kind,
        edges=4 - len(sides),
    )


def _page(ink: np.ndarray, margins: list[int]) -> np.ndarray:
    top, bottom, left, right = margins
    height, width = ink.shape
    page = np.zeros((height + top + bottom, width + left + right), np.float32)
    page[top : top + height, left : left + width] = ink
    return page


def _encoded(ink: np.ndarray, paper: float, dark: float, kind: str, quality: int) -> bytes:
    grey = Image.fromarray(np.round(paper - (paper - dark) * ink).astype(np.uint8))
    buffer = io.BytesIO()
    if kind == "1-bit":
        # Ink from 30% coverage: strokes come out thick, as in a dark scan.
        level = paper - 0.3 * (paper - dark)
        grey.point(lambda value: 255 if value > level else 0).convert("1").save(buffer, "PNG")
    elif kind == "jpeg":
        grey.save(buffer, "JPEG", quality=quality)
    else:
        grey.save(buffer, "PNG")
    return buffer.getvalue()
