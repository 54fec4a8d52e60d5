"""Drawings that are not digits, made the way the canvas makes drawings: strokes, then the stroke
augmentation (`augment`), the canvas's renderer and `canvas_to_mnist`, exactly as pen digits are
(`digitnet.data.pendigits`). A network taught to answer NOT_A_DIGIT for them stops reading a "+"
as a 4 at 100%; the held-out ones measure how often a model answers a non-digit with confidence.

Six kinds (KINDS):

- letters and symbols: glyphs of the Hershey stroke fonts (the `hershey-fonts` package, single
  pen strokes like a hand's), upright sans, serif and script letters and the punctuation a person
  might draw (SYMBOLS). Glyphs a hand draws like a digit are never made (DIGIT_LIKE, and in the
  script fonts SCRIPT_DIGIT_LIKE): teaching "an S is not a digit" would teach "a 5 is not a digit";
- shapes: geometric figures drawn here (SHAPES) and a few pictures of the Hershey "symbolic" font
  (PICTURES); never a plain circle (a 0), a single line near vertical (a 1), an arrow pointing up
  or down (a 1 with a flag on each side);
- scribbles: a long random smooth curve that loops over itself, or a zigzag crossing-out;
- several digits: 2 or 3 pen digits side by side on one canvas (a number is not a digit);
- partial digits: a stretch of a pen 0, 2, 4 or 6 with half or more of its trajectory removed,
  kept only when what is left does not read as a digit (`digit_like_part`): no line, no thin
  upright hook, no loop, no 7's shape, no crossing. Other digits' parts still read as digits
  (NO_PARTS).

Every drawing is augmented with a brush up to 24 px at 280 (AUGMENT), where pen digits go to 34.

Held out of training, for measuring (`held_out_negatives`): the fonts HELD_OUT_FONTS, the symbols
HELD_OUT_SYMBOLS in every font, the shapes HELD_OUT_SHAPES, and pen digits by the pen-dev writers
(PEN_DEV_WRITERS). `NotDigits` (the trainer's extra source) draws only from the rest. Photos that
are not digits are not made here.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from digitnet.data.pendigits import (
    PEN_DEV_WRITERS,
    PEN_TRAIN_WRITERS,
    TRAIN_CANVAS,
    PenData,
    canvas_digit,
    load_pen_data,
)
from digitnet.data.stroke_augment import StrokeAugment, augment
from digitnet.data.strokes import render_batch
from digitnet.images import IMAGE_SHAPE, NOT_A_DIGIT

Strokes = tuple[np.ndarray, ...]

# --- Glyphs of the stroke fonts ---------------------------------------------------------------

# Fonts by style: upright sans (single and double line), upright serif (plain and bold), script.
TRAIN_FONTS = ("futural", "futuram", "timesr", "timesrb", "scripts", "cursive")
# Never trained on: slanted serif (the training sees only upright serif) and the heavy script.
HELD_OUT_FONTS = ("timesi", "timesib", "scriptc")
SCRIPT_FONTS = ("scripts", "scriptc", "cursive")
# The punctuation that is drawn: the rest is a line a hand draws as a 1 (! / \ | ( ) [ ] { }),
# a speck that `canvas_to_mnist` blows up into a dash or a blob (' ` " , . : ;), or an S ($).
SYMBOLS = "#%&*+-<=>?@^_~"
HELD_OUT_SYMBOLS = "?#&~"
# Letters (in every font) that a hand draws like a digit, and the digit: never made.
DIGIT_LIKE = {
    "O": "0",
    "o": "0",
    "Q": "0 (a 0 whose stroke runs on)",
    "D": "0",
    "I": "1",
    "l": "1",
    "i": "1",
    "j": "1",
    "T": "7",
    "Z": "2",
    "z": "2",
    "S": "5",
    "s": "5",
    "B": "8",
    "b": "6",
    "G": "6",
    "a": "9 (a single-storey a)",
    "g": "9",
    "q": "9",
    "y": "4",
}
# ... and in the script fonts, where the letters are loops and hooks.
SCRIPT_DIGIT_LIKE = {
    "F": "7 (a crossbar over a hooked stem)",
    "J": "7 (likewise)",
    "L": "2 (a looped L)",
    "f": "1 (a tall thin loop)",
    "^": "1 (an arrow up in these fonts)",
}


def usable_chars(font: str) -> str:
    """The characters of `font` that are made: letters and SYMBOLS, less the digit-like."""
    excluded = {**DIGIT_LIKE, **(SCRIPT_DIGIT_LIKE if font in SCRIPT_FONTS else {})}
    return "".join(c for c in string.ascii_letters + SYMBOLS if c not in excluded)


@functools.cache
def font(name: str) -> dict[str, Strokes]:
    """Every glyph of a built-in Hershey font: character -> strokes (font units, y down)."""
    from HersheyFonts import HersheyFonts  # read once per font, when first drawn

    fonts = HersheyFonts()
    fonts.load_default_font(name)
    return {
        char: tuple(np.array(stroke, np.float32) for stroke in drawn.strokes)
        for char, drawn in fonts.all_glyphs.items()
    }


def glyph_names(fonts: Sequence[str], letters: bool, only: str | None = None) -> list[str]:
    """The names ("font:char") of the usable letters of `fonts` (or, `letters` False, their
    symbols; only those in `only` when given), in a fixed order."""
    return [
        f"{name}:{char}"
        for name in fonts
        for char in usable_chars(name)
        if char.isalpha() == letters and (only is None or char in only)
    ]


def glyph(name: str) -> Strokes:
    """The strokes of a "font:char" glyph."""
    font_name, char = name.split(":", 1)
    return font(font_name)[char]


# --- Shapes -----------------------------------------------------------------------------------
# Each takes the generator and gives strokes in any units (y down): the augmentation scales them.
# Lines are kept at least 60 degrees from vertical and arrows 50: the augmentation's slant and
# rotation turn them by up to about 30 degrees, and a line near vertical is a 1.

POINTS_PER_TURN = 48


def _circle(rng: np.random.Generator) -> np.ndarray:
    """A circle as a hand closes it: from any angle, either way, overshooting a little."""
    start = rng.uniform(0, 2 * np.pi)
    sweep = rng.choice([-1, 1]) * rng.uniform(1.0, 1.08) * 2 * np.pi
    angles = start + np.linspace(0, sweep, POINTS_PER_TURN)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _closed(corners: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A polygon in one stroke from a random corner, either way round, corners a little off."""
    corners = corners + rng.normal(0, 0.04, corners.shape)
    corners = np.roll(corners, rng.integers(len(corners)), axis=0)[:: rng.choice([-1, 1])]
    return np.concatenate([corners, corners[:1]])


def _line(start: Sequence[float], end: Sequence[float]) -> np.ndarray:
    return np.array([start, end], np.float64)


def circle_with_cross(rng: np.random.Generator) -> Strokes:
    """A circle with a + or an x through it (never one line: a slashed 0 is a 0)."""
    reach = rng.uniform(0.75, 1.25)
    angle = rng.choice([0.0, np.pi / 4]) + rng.uniform(-0.15, 0.15)
    arms = [
        _line(reach * np.array([-np.cos(a), -np.sin(a)]), reach * np.array([np.cos(a), np.sin(a)]))
        for a in (angle, angle + np.pi / 2)
    ]
    return (_circle(rng), *arms)


def square(rng: np.random.Generator) -> Strokes:
    """A square about as wide as tall (a tall narrow box is a seven-segment 0)."""
    half = rng.uniform(0.9, 1.1)
    return (_closed(np.array([[-1, -half], [1, -half], [1, half], [-1, half]]), rng),)


def crossed_box(rng: np.random.Generator) -> Strokes:
    """A square with one or both diagonals."""
    (box,) = square(rng)
    diagonals = [_line((-1, -1), (1, 1)), _line((1, -1), (-1, 1))]
    return (box, *diagonals[: rng.integers(1, 3)])


def triangle(rng: np.random.Generator) -> Strokes:
    """A triangle pointing up, down, left or right."""
    turn = rng.integers(4) * np.pi / 2 + rng.uniform(-0.2, 0.2)
    angles = turn - np.pi / 2 + np.array([0, 2, 4]) * np.pi / 3
    return (_closed(np.stack([np.cos(angles), np.sin(angles)], axis=1), rng),)


def star(rng: np.random.Generator) -> Strokes:
    """A five-pointed star: a pentagram in one stroke, or its outline."""
    turn = rng.uniform(-0.2, 0.2) - np.pi / 2
    if rng.random() < 0.5:
        angles = turn + np.arange(5) * 4 * np.pi / 5
        radii = np.ones(5)
    else:
        angles = turn + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, 1.0, rng.uniform(0.35, 0.5))
    corners = np.stack([np.cos(angles), np.sin(angles)], axis=1) * radii[:, None]
    return (_closed(corners, rng),)


def arrow(rng: np.random.Generator) -> Strokes:
    """An arrow within 40 degrees of horizontal, either way: a shaft, then its head."""
    angle = rng.uniform(-0.7, 0.7) + rng.choice([0.0, np.pi])
    tip = np.array([np.cos(angle), np.sin(angle)])
    barb, spread = rng.uniform(0.5, 0.8), rng.uniform(0.4, 0.7)
    sides = [
        tip - barb * np.array([np.cos(angle + s), np.sin(angle + s)]) for s in (-spread, spread)
    ]
    return (_line(-tip, tip), np.stack([sides[0], tip, sides[1]]))


def lines(rng: np.random.Generator) -> Strokes:
    """One to four parallel lines within 30 degrees of horizontal."""
    angle = rng.uniform(-0.52, 0.52)
    along = np.array([np.cos(angle), np.sin(angle)])
    across = np.array([-along[1], along[0]])
    gap = rng.uniform(0.25, 0.45)
    return tuple(
        _line(-along + k * gap * across, along + k * gap * across)
        for k in range(rng.integers(1, 5))
    )


SHAPES: dict[str, Callable[[np.random.Generator], Strokes]] = {
    "circle with cross": circle_with_cross,
    "square": square,
    "crossed box": crossed_box,
    "triangle": triangle,
    "star": star,
    "arrow": arrow,
    "lines": lines,
}
# Pictures of the "symbolic" font, by their character there.
PICTURES = {
    "heart": "n",
    "spade": "m",
    "club": "p",
    "clover": "h",
    "star of David": "`",
    "bell": "a",
    "fir tree": "c",
}
HELD_OUT_SHAPES = ("star", "arrow", "star of David", "bell")
SHAPE_NAMES = (*SHAPES, *PICTURES)


def shape(name: str, rng: np.random.Generator) -> Strokes:
    """A shape of SHAPES drawn anew, or a picture of PICTURES (the augmentation varies it)."""
    if name in PICTURES:
        return font("symbolic")[PICTURES[name]]
    return SHAPES[name](rng)


# --- Scribbles, several digits, parts of digits -----------------------------------------------


def smooth_curve(points: np.ndarray, per_segment: int = 12) -> np.ndarray:
    """A Catmull-Rom spline through `points` (the ends repeated so it passes through them)."""
    padded = np.concatenate([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None, None]
    p0, p1, p2, p3 = padded[:-3], padded[1:-2], padded[2:-1], padded[3:]
    curve = 0.5 * (
        2 * p1
        + (p2 - p0) * t
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
        + (3 * p1 - p0 - 3 * p2 + p3) * t**3
    )
    return np.concatenate([curve.transpose(1, 0, 2).reshape(-1, 2), points[-1:]])


SCRIBBLE_LENGTH = 5


def scribble(rng: np.random.Generator) -> Strokes:
    """A smooth curve through 8 to 14 random points, at least SCRIBBLE_LENGTH times as long as
    its box is wide or tall (so it loops over itself: a shorter one can be a 2), or a zigzag
    crossing-out at any angle."""
    while rng.random() < 0.6:
        curve = smooth_curve(rng.uniform(0, 1, (rng.integers(8, 15), 2)))
        if np.hypot(*np.diff(curve, axis=0).T).sum() >= SCRIBBLE_LENGTH * np.ptp(curve, 0).max():
            return (curve,)
    turns = rng.integers(5, 12)
    across = np.where(np.arange(turns) % 2 == 0, 0.0, 1.0) + rng.normal(0, 0.08, turns)
    down = np.linspace(0, rng.uniform(0.5, 1.2), turns) + rng.normal(0, 0.03, turns)
    angle = rng.uniform(0, np.pi)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (np.stack([across, down], axis=1) @ rotation.T,)


def side_by_side(digits: Sequence[Strokes], rng: np.random.Generator) -> Strokes:
    """Digits written in a row, each scaled to about the same height, a small gap between."""
    placed, left = [], 0.0
    for digit in digits:
        points = np.concatenate(digit)
        low, high = points.min(axis=0), points.max(axis=0)
        scale = rng.uniform(0.85, 1.15) / max(high[1] - low[1], 1e-6)
        shift = np.array([left, rng.uniform(-0.1, 0.1)])
        origin = np.array([low[0], (low[1] + high[1]) / 2])
        placed.extend((stroke - origin) * scale + shift for stroke in digit)
        left += (high[0] - low[0]) * scale + rng.uniform(0.15, 0.4)
    return tuple(placed)


PART_RANGE = (0.3, 0.5)  # the share of a digit's trajectory a partial digit keeps
PART_TRIES = 20
STRAIGHT = 0.15  # a part less than this wide across its main axis as along it is a line,
THIN = 0.45  # ... and less than this, standing within NEAR_VERTICAL degrees, a 1 or a bracket
NEAR_VERTICAL = 45
LOOP_TURN = 240  # degrees
CLOSED = 0.15  # a part that comes this close to itself (a share of its size) crosses itself
MIN_PIECE = 0.15  # a piece of another stroke shorter than this share of the part is dropped
# Digits no partial digit is made of, because their parts still read as digits: every part of
# a 1 is a line; a 7's is a shorter 7, a corner or a line; a 5 without its bar is a 5, an 8's
# part that is not a loop an S (a 5), a 3's halves a 2's top or a 5's bottom, a 9's loop open
# at the top an open 4. Parts of a 0, 2, 4 and 6 are arcs, corners and hooks.
NO_PARTS = (1, 3, 5, 7, 8, 9)
TRACE_POINTS = 60  # a part is judged on this many points evenly along it


def _along(strokes: Strokes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All points of the strokes, the stroke of each, and how far along the trajectory each
    lies (0 to 1 of its length; the pen's moves between strokes count for nothing)."""
    points = np.concatenate(strokes).astype(np.float64)
    stroke_of = np.repeat(np.arange(len(strokes)), [len(s) for s in strokes])
    step = np.hypot(*np.diff(points, axis=0).T) * (np.diff(stroke_of) == 0)
    along = np.concatenate([[0.0], np.cumsum(step)])
    return points, stroke_of, along / max(along[-1], 1e-9)


def part_of(digit: Strokes, rng: np.random.Generator) -> Strokes | None:
    """A stretch of `digit`'s trajectory (PART_RANGE of its length, anywhere along it, less
    any speck of another stroke), or None when PART_TRIES stretches were all digit-like
    (`digit_like_part`)."""
    points, stroke_of, along = _along(digit)
    for _ in range(PART_TRIES):
        share = rng.uniform(*PART_RANGE)
        start = rng.uniform(0, 1 - share)
        kept = (along >= start) & (along <= start + share)
        pieces = [kept & (stroke_of == s) for s in range(len(digit))]
        part = tuple(
            points[piece]
            for piece in pieces
            if piece.sum() >= 2 and np.ptp(along[piece]) >= MIN_PIECE * share
        )
        if part and not digit_like_part(part):
            return part
    return None


def digit_like_part(part: Strokes) -> bool:
    """Whether a stretch of a digit is still digit-like: a straight line, or a thin one within
    NEAR_VERTICAL degrees of vertical (a 1, a 1 with its flag, a bracket), alone or beside a
    speck; a curve that turns LOOP_TURN degrees or more (a 0, a 6's or a 9's loop, open or not);
    a 7's shape, from the left across the top right and down to the bottom (the top of a 2 or
    a 3, an open 4); or a trajectory that comes back to itself (a crossing: a 4)."""
    points, _, along = _along(part)
    longest = max(part, key=lambda piece: np.ptp(piece, axis=0).max())
    if _one_like(points) or _one_like(longest):
        return True
    if max(abs(_turning(stroke)) for stroke in part) >= np.radians(LOOP_TURN):
        return True
    even = np.linspace(0, 1, TRACE_POINTS)
    trace = np.stack([np.interp(even, along, points[:, i]) for i in (0, 1)], axis=1)
    low, size = trace.min(axis=0), np.ptp(trace, axis=0)
    x, y = ((trace - low) / np.maximum(size, 1e-9)).T  # the box is 0 to 1 both ways, y down
    top_right = ((x > 0.6) & (y < 0.35)).any()
    for start, end in ((0, -1), (-1, 0)):
        if x[start] < 0.5 and y[end] > 0.7 and y[end] - y[start] > 0.3 and top_right:
            return True
    close = np.hypot(*(trace[:, None] - trace[None]).transpose(2, 0, 1)) < CLOSED * size.max()
    far_along = np.abs(even[:, None] - even[None]) > 0.25
    return bool((close & far_along).any())


def _one_like(points: np.ndarray) -> bool:
    """A straight line, or a thin one within NEAR_VERTICAL degrees of vertical."""
    centred = points - points.mean(axis=0)
    axes = np.linalg.svd(centred, full_matrices=False)[2]
    extent = np.ptp(centred @ axes.T, axis=0)  # along its main axis, and across
    thinness = extent[1] / max(extent[0], 1e-9)
    upright = abs(axes[0, 1]) > np.cos(np.radians(NEAR_VERTICAL))
    return bool(thinness < STRAIGHT or (thinness < THIN and upright))


def _turning(stroke: np.ndarray) -> float:
    """How far a stroke turns, in radians, left turns positive: a circle's is 2 pi."""
    steps = np.diff(stroke, axis=0)
    steps = steps[np.hypot(*steps.T) > 0]
    headings = np.arctan2(steps[:, 1], steps[:, 0])
    return float(np.angle(np.exp(1j * np.diff(headings))).sum())


DENSE_STEP = 1 / 40  # the longest segment, as a share of the drawing's longer side


def dense(strokes: Strokes) -> Strokes:
    """The strokes with points added along every segment, at most DENSE_STEP of the drawing's
    size apart, as a pen samples them: the augmentation's sparse sampling drops points, and
    dropping one of a font's few corners would turn a < into a |."""
    step = max(np.ptp(np.concatenate(strokes), axis=0).max() * DENSE_STEP, 1e-9)
    filled = []
    for stroke in strokes:
        stroke = np.asarray(stroke, np.float32)
        pieces = np.maximum(np.ceil(np.hypot(*np.diff(stroke, axis=0).T) / step), 1).astype(int)
        segment = np.repeat(np.arange(len(pieces)), pieces)
        share = np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        share = (share / pieces[segment])[:, None].astype(np.float32)
        between = stroke[segment] + (stroke[segment + 1] - stroke[segment]) * share
        filled.append(np.concatenate([between, stroke[-1:]]))
    return tuple(filled)


# --- Making them -------------------------------------------------------------------------------

# The kinds, and the share of each in training batches.
KIND_SHARES = {
    "letters": 0.3,
    "symbols": 0.15,
    "shapes": 0.2,
    "scribbles": 0.1,
    "several digits": 0.125,
    "partial digits": 0.125,
}
KINDS = tuple(KIND_SHARES)
TRAIN_SYMBOLS = "".join(c for c in SYMBOLS if c not in HELD_OUT_SYMBOLS)
HELD_OUT_CANVAS = 280  # the app's canvas
# The augmentation of pen digits but for the brush, 6 to 24 px at 280 instead of 34: a glyph has
# more inside it than a digit (the a of an @, the four lines of a #), and a brush that thick on
# a small one fills it into a blob that `canvas_to_mnist` thins into a ring, a 0.
AUGMENT = StrokeAugment(brush_range=(6.0, 24.0))
RENDER_CHUNK = 64  # held-out drawings rendered together


@dataclass(frozen=True, eq=False)
class Negatives:
    """Drawings that are not digits: (n, 28, 28) float32 images in [0, 1], the kind of each
    (of KINDS) and what it was made from ("font:char", "shape:name", "scribble", "pen:3+7" for
    pen digits side by side, "part of pen:5")."""

    images: np.ndarray
    kinds: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def labels(self) -> np.ndarray:
        return np.full(len(self.images), NOT_A_DIGIT, np.int64)


@dataclass(frozen=True)
class Makings:
    """What each kind is made from: glyph names, shape names and pen digits."""

    letters: tuple[str, ...]
    symbols: tuple[str, ...]
    shapes: tuple[str, ...]
    digits: PenData

    def make(self, kind: str, rng: np.random.Generator) -> tuple[Strokes, str]:
        """One drawing of `kind` (its strokes, any units) and what it was made from."""
        if kind in ("letters", "symbols"):
            names = self.letters if kind == "letters" else self.symbols
            name = names[rng.integers(len(names))]
            return dense(glyph(name)), name
        if kind == "shapes":
            name = self.shapes[rng.integers(len(self.shapes))]
            return dense(shape(name, rng)), f"shape:{name}"
        if kind == "scribbles":
            return dense(scribble(rng)), "scribble"
        if kind == "several digits":
            chosen = rng.integers(0, len(self.digits.strokes), rng.integers(2, 4))
            strokes = side_by_side([self.digits.strokes[i] for i in chosen], rng)
            return strokes, "pen:" + "+".join(str(self.digits.labels[i]) for i in chosen)
        whole = np.flatnonzero(~np.isin(self.digits.labels, NO_PARTS))
        while True:  # partial digits: retried until a digit has a part that is not digit-like
            chosen = whole[rng.integers(len(whole))]
            part = part_of(self.digits.strokes[chosen], rng)
            if part is not None:
                return part, f"part of pen:{self.digits.labels[chosen]}"


def training_makings(data: PenData | None = None) -> Makings:
    """Everything not held out: TRAIN_FONTS, TRAIN_SYMBOLS, the shapes not in HELD_OUT_SHAPES,
    the pen-train writers' digits."""
    return Makings(
        tuple(glyph_names(TRAIN_FONTS, letters=True)),
        tuple(glyph_names(TRAIN_FONTS, letters=False, only=TRAIN_SYMBOLS)),
        tuple(name for name in SHAPE_NAMES if name not in HELD_OUT_SHAPES),
        (data or load_pen_data()).of_writers(PEN_TRAIN_WRITERS),
    )


def held_out_makings(data: PenData | None = None) -> Makings:
    """Only what training never sees: HELD_OUT_FONTS' letters, their symbols and every font's
    HELD_OUT_SYMBOLS, HELD_OUT_SHAPES, the pen-dev writers' digits."""
    return Makings(
        tuple(glyph_names(HELD_OUT_FONTS, letters=True)),
        tuple(
            glyph_names(HELD_OUT_FONTS, letters=False)
            + glyph_names(TRAIN_FONTS, letters=False, only=HELD_OUT_SYMBOLS)
        ),
        HELD_OUT_SHAPES,
        (data or load_pen_data()).of_writers(PEN_DEV_WRITERS),
    )


class NotDigits:
    """Drawings that are not digits, made on the fly from what is not held out, with stroke
    augmentation on a small transparent canvas like `PenDigits`: a trainer's extra source
    (`sample(count, rng)`, labels all NOT_A_DIGIT), kinds mixed by KIND_SHARES."""

    name = "not digits"

    def __init__(self, data: PenData | None = None) -> None:
        self.makings = training_makings(data)

    def draw(self, count: int, rng: np.random.Generator) -> Negatives:
        """`count` drawings, their kinds and sources, drawn only from `rng`."""
        kinds = [KINDS[k] for k in rng.choice(len(KINDS), count, p=list(KIND_SHARES.values()))]
        made = [self.makings.make(kind, rng) for kind in kinds]
        every_stroke = [strokes for strokes, _ in made]
        drawings = augment(every_stroke, rng, TRAIN_CANVAS, "transparent", AUGMENT)
        images = np.stack([canvas_digit(canvas) for canvas in render_batch(drawings)])
        return Negatives(images, tuple(kinds), tuple(source for _, source in made))

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """`count` drawings: (count, 28, 28) float32 images in [0, 1], int64 labels NOT_A_DIGIT."""
        made = self.draw(count, rng)
        return made.images, made.labels


def held_out_negatives(count: int, seed: int = 0, data: PenData | None = None) -> Negatives:
    """The fixed evaluation set: `count` drawings of held-out makings (`held_out_makings`), the
    kinds in turn, each drawn with stroke augmentation on the app's white 280 px canvas by its
    own generator (`seed`, its index), so the first n are the same whatever the count."""
    makings = held_out_makings(data)
    kinds, sources, drawings = [], [], []
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        kind = KINDS[index % len(KINDS)]
        strokes, source = makings.make(kind, rng)
        drawings.append(augment([strokes], rng, HELD_OUT_CANVAS, "white", AUGMENT)[0])
        kinds.append(kind)
        sources.append(source)
    images = np.empty((count, *IMAGE_SHAPE), np.float32)
    for start in range(0, count, RENDER_CHUNK):
        canvases = render_batch(drawings[start : start + RENDER_CHUNK])
        images[start : start + len(canvases)] = [canvas_digit(canvas) for canvas in canvases]
    return Negatives(images, tuple(kinds), tuple(sources))
