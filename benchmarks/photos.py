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


# --- Photos of a digit on paper among clutter (issue 16) ---------------------------------------
#
# A phone photo of a digit written on a sheet of paper: the sheet lit unevenly (a gradient and a
# vignette), sensor noise and a JPEG, and at least one of: the dark table showing along one side
# of the frame (its edge slanted, touching the border), a soft shadow across part of the sheet,
# ruled lines (light blue, slightly tilted, sometimes a red margin line). The digit sits on the
# paper near the middle, clear of the table and the frame. `clutter_only` makes the same photos
# with no digit at all. Every choice comes from a generator seeded by (seed, index).
CLUTTER = ("table edge", "shadow", "ruled lines")
CLUTTER_CHANCE = (0.7, 0.4, 0.4)
PHOTO_LONGER_SIDE = (640, 1600)
# The digit's ink height as a share of the photo's shorter side, and how far its centre may be
# from the photo's centre (a share of each side).
DIGIT_HEIGHT = (0.22, 0.45)
OFF_CENTRE = 0.15
TABLE_DEPTH = (0.06, 0.22)  # the table's share of the side it comes in from
CLUTTER_JPEG_QUALITY = (60, 95)


@dataclass(frozen=True)
class ClutteredPhoto:
    """A JPEG photo of one digit (``label``) or of none (None) among ``clutter``."""

    photo: bytes
    label: int | None
    clutter: tuple[str, ...]


def cluttered_photos(
    images: np.ndarray, labels: np.ndarray, seed: int = 0, clutter: tuple[str, ...] = ()
) -> list[ClutteredPhoto]:
    """A cluttered photo of each (28, 28) uint8 MNIST digit, among ``clutter`` (names from
    CLUTTER) or, when none is given, each kind with its CLUTTER_CHANCE."""
    return [
        _cluttered(image, int(label), np.random.default_rng([seed, index]), clutter)
        for index, (image, label) in enumerate(zip(images, labels, strict=True))
    ]


def clutter_only(count: int, seed: int = 0, clutter: tuple[str, ...] = ()) -> list[ClutteredPhoto]:
    """``count`` photos made as `cluttered_photos` makes them, of paper with no digit."""
    return [
        _cluttered(None, None, np.random.default_rng([seed, index, 1]), clutter)
        for index in range(count)
    ]


def _cluttered(
    image: np.ndarray | None,
    label: int | None,
    rng: np.random.Generator,
    clutter: tuple[str, ...],
) -> ClutteredPhoto:
    chosen = rng.random(len(CLUTTER)) < CLUTTER_CHANCE
    if not chosen.any():
        chosen[rng.integers(len(CLUTTER))] = True
    clutter = clutter or tuple(name for name, on in zip(CLUTTER, chosen, strict=True) if on)
    longer = int(rng.integers(PHOTO_LONGER_SIDE[0], PHOTO_LONGER_SIDE[1] + 1))
    height, width = (longer * 3 // 4, longer) if rng.random() < 0.5 else (longer, longer * 3 // 4)
    y, x = np.ogrid[0:height, 0:width]
    y, x = np.broadcast_arrays(y.astype(np.float32), x.astype(np.float32))
    paper = rng.uniform(200, 245) * np.array([1, rng.uniform(0.96, 1), rng.uniform(0.88, 0.98)])
    picture = np.ones((height, width, 3), np.float32) * paper.astype(np.float32)
    if "ruled lines" in clutter:
        picture *= 1 - _ruling(y, x, rng)[..., None] * (1 - np.array([0.6, 0.75, 0.95], np.float32))
    table = _table(y, x, rng) if "table edge" in clutter else None
    if image is not None:
        picture = _written(picture, image, table, rng)
    picture *= _light(y, x, rng)[..., None]
    if table is not None:
        coverage, colour = table
        picture = picture * (1 - coverage[..., None]) + coverage[..., None] * colour
    if "shadow" in clutter:
        picture *= 1 - rng.uniform(0.2, 0.5) * _half_plane(y, x, rng)[..., None]
    picture += rng.uniform(2, 7) * rng.standard_normal(picture.shape, np.float32)
    buffer = io.BytesIO()
    quality = int(rng.integers(CLUTTER_JPEG_QUALITY[0], CLUTTER_JPEG_QUALITY[1] + 1))
    Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    return ClutteredPhoto(buffer.getvalue(), label, clutter)


def _ruling(y: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Coverage (0-1) of ruled lines, tilted up to 1.5 degrees, and now and then a margin line."""
    height, width = y.shape
    spacing = rng.uniform(0.06, 0.1) * height
    thickness = max(1.0, rng.uniform(0.002, 0.005) * min(height, width))
    tilt = np.tan(np.radians(rng.uniform(-1.5, 1.5)))
    along = (y - tilt * x - rng.uniform(0, spacing)) % spacing
    distance = np.minimum(along, spacing - along)
    coverage = np.clip(thickness / 2 + 0.5 - distance, 0, 1)
    if rng.random() < 0.5:
        margin = np.abs(x + tilt * y - rng.uniform(0.08, 0.18) * width)
        coverage = np.maximum(coverage, 0.8 * np.clip(thickness / 2 + 0.5 - margin, 0, 1))
    return coverage


def _table(y: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Coverage of the table along one side (its edge slanted up to 7 degrees) and its colour,
    dark wood or grey with a grain along the edge."""
    height, width = y.shape
    side = int(rng.integers(4))  # left, right, top, bottom
    across, along, size = [
        (x, y, width),
        (width - x, y, width),
        (y, x, height),
        (height - y, x, height),
    ][side]
    slant = np.tan(np.radians(rng.uniform(-7, 7)))
    edge = rng.uniform(*TABLE_DEPTH) * size + slant * (along - along.mean())
    coverage = np.clip(edge - across + 0.5, 0, 1)
    base = rng.uniform(25, 100) * (
        np.array([1.0, 0.75, 0.55]) if rng.random() < 0.6 else np.ones(3)
    )
    grain = 1 + 0.12 * np.sin(
        along[..., None] * rng.uniform(0.02, 0.1) + 3 * np.sin(across[..., None] * 0.01)
    )
    return coverage, (grain * base).astype(np.float32)


def _written(
    picture: np.ndarray,
    image: np.ndarray,
    table: tuple[np.ndarray, np.ndarray] | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """The digit written in dark ink on the paper, clear of the table and of the frame."""
    height, width = picture.shape[:2]
    solid = image > 0  # the whole digit, soft ends and all: nothing cuts it on paper
    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    ink = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = rng.uniform(*DIGIT_HEIGHT) * min(height, width) / ink.shape[0]
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    large = np.asarray(Image.fromarray(ink).resize(size, Image.BICUBIC), np.float32) / 255
    free = np.ones((height, width), bool) if table is None else table[0] < 0.01
    # The digit's box is kept a twentieth of the frame away from the table and the frame.
    gap_y, gap_x = height // 20, width // 20
    for _ in range(100):
        top = round(height * (0.5 + rng.uniform(-OFF_CENTRE, OFF_CENTRE)) - size[1] / 2)
        left = round(width * (0.5 + rng.uniform(-OFF_CENTRE, OFF_CENTRE)) - size[0] / 2)
        window = np.s_[top - gap_y : top + size[1] + gap_y, left - gap_x : left + size[0] + gap_x]
        if (
            top >= gap_y
            and left >= gap_x
            and free[window].all()
            and free[window].shape
            == (
                size[1] + 2 * gap_y,
                size[0] + 2 * gap_x,
            )
        ):
            break
    else:
        raise ValueError("no room for the digit beside the table")
    colour = np.array([rng.uniform(10, 50), rng.uniform(10, 50), rng.uniform(20, 90)], np.float32)
    area = picture[top : top + size[1], left : left + size[0]]
    area[:] = area * (1 - large[..., None]) + large[..., None] * colour
    return picture


def _light(y: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uneven light: a gradient in a random direction and a vignette, 0.6 to 1."""
    height, width = y.shape
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * x / width + np.sin(angle) * y / height
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    radius = ((x / width - 0.5) ** 2 + (y / height - 0.5) ** 2) * 2
    return 1 - rng.uniform(0.05, 0.25) * ramp - rng.uniform(0, 0.15) * radius


def _half_plane(y: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A soft shadow (0-1) over 15% to 45% of the frame, from a random direction."""
    height, width = y.shape
    angle = rng.uniform(0, 2 * np.pi)
    reach = np.cos(angle) * (x - width / 2) + np.sin(angle) * (y - height / 2)
    level = np.quantile(reach[::8, ::8], 1 - rng.uniform(0.15, 0.45))
    softness = rng.uniform(0.01, 0.08) * min(height, width)
    return np.clip((reach - level) / softness + 0.5, 0, 1)
