"""Strokes as data: a drawn digit is a list of strokes, each an (n, 2) float32 array of x, y
points in the order they were drawn, in canvas pixels with y pointing down.

Three jobs, one representation: read what the drawing canvas returns (`read_canvas_json`, the
fabric.js paths of `st_canvas`'s `json_data`), draw strokes the way the browser canvas does
(`render`: round caps and joins, anti-aliased, on any of the canvas's backgrounds), and turn a
drawing into what the network reads (`to_mnist`, through the same `canvas_to_mnist` as the app).

The renderer computes, for every pixel near a segment, its distance d to the segment: the brush
of radius r covers it by clip(r + 0.5 - d, 0, 1), the one-pixel ramp a browser's anti-aliasing
draws. Segments are cut into pieces no longer than the brush radius, and each piece only looks at
a small square window around itself, so the work grows with the ink, not with the canvas. Within a
drawing the coverage is the maximum over its segments (the browser composites separate strokes
"source-over": the two differ only where the soft edges of two strokes cross).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digitnet.data.preprocess import canvas_to_mnist
from digitnet.errors import DigitnetError

# Backgrounds a canvas can have, and the ink drawn on each: the app's black ink on white, the
# canvas's default transparent background (RGBA zeros; the ink is the alpha), white ink on black.
BACKGROUNDS = ("white", "transparent", "black")
# A drawing holds at most this many points (ten minutes of drawing at 30 points a second): more
# is not a hand-drawn digit, and would only make rendering slow.
MAX_POINTS = 20_000
# Points may lie outside the canvas (a stroke that leaves it), but not farther than this share of
# the canvas's longer side: such points come from broken input, never from a hand.
MAX_OUTSIDE = 1.0
# Largest canvas side accepted, in pixels.
MAX_CANVAS = 4096
# Quadratic curves of a canvas path are cut into straight pieces that stray at most this far
# (pixels) from the curve.
CURVE_TOLERANCE = 0.1
# What the canvas's json_data may hold (`read_canvas_json`), besides MAX_POINTS points and
# commands in all: paths; coordinates (path points, left, top, sizes) in pixels either way, as far
# as MAX_OUTSIDE lets a point lie off the largest canvas; scales; skews in degrees (tan 90 is
# infinite).
MAX_OBJECTS = 500
MAX_COORDINATE = round((1 + MAX_OUTSIDE) * MAX_CANVAS)
MAX_SCALE = 100
MAX_SKEW = 80


@dataclass(frozen=True, eq=False)
class Drawing:
    """Strokes on a canvas of `width` x `height` pixels, drawn with a round brush `brush_width`
    pixels across, on one of BACKGROUNDS. Checked when made (see `check_strokes`)."""

    strokes: tuple[np.ndarray, ...]
    width: int
    height: int
    brush_width: float
    background: str = "white"

    def __post_init__(self) -> None:
        if not all(isinstance(side, int | np.integer) for side in (self.width, self.height)):
            raise DigitnetError(f"canvas size must be whole pixels, got {self.width}x{self.height}")
        if not (0 < self.width <= MAX_CANVAS and 0 < self.height <= MAX_CANVAS):
            raise DigitnetError(
                f"canvas size {self.width}x{self.height} is outside 1..{MAX_CANVAS} pixels"
            )
        longer = max(self.width, self.height)
        brush = float(self.brush_width)
        if not (math.isfinite(brush) and 0 < brush <= longer):
            raise DigitnetError(f"brush width {self.brush_width} must be in (0, {longer}] pixels")
        if self.background not in BACKGROUNDS:
            raise DigitnetError(
                f"unknown background {self.background!r}: use one of {', '.join(BACKGROUNDS)}"
            )
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        object.__setattr__(self, "brush_width", brush)
        object.__setattr__(self, "strokes", check_strokes(self.strokes, self.width, self.height))


def check_strokes(strokes: object, width: int, height: int) -> tuple[np.ndarray, ...]:
    """The strokes as a tuple of read-only (n, 2) float32 arrays, or a one-line DigitnetError:
    not a list, a stroke that is not n x 2 numbers (n >= 1), a NaN or infinite point, more than
    MAX_POINTS points in all, or a point more than MAX_OUTSIDE canvas sides outside the canvas."""
    if not isinstance(strokes, list | tuple):
        kind = type(strokes).__name__
        raise DigitnetError(f"strokes must be a list of (n, 2) arrays, got {kind}")
    margin = MAX_OUTSIDE * max(width, height)
    checked, total = [], 0
    for number, stroke in enumerate(strokes, start=1):
        try:
            points = np.array(stroke, dtype=np.float32)
        except (TypeError, ValueError):
            raise DigitnetError(f"stroke {number} is not an array of x, y numbers") from None
        if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
            raise DigitnetError(f"stroke {number} must have shape (n, 2), not {points.shape}")
        total += points.shape[0]
        if total > MAX_POINTS:
            raise DigitnetError(f"the drawing has more than {MAX_POINTS} points: not a digit")
        if not np.isfinite(points).all():
            raise DigitnetError(f"stroke {number} has a NaN or infinite point")
        low, high = points.min(axis=0), points.max(axis=0)
        if (low < -margin).any() or high[0] > width + margin or high[1] > height + margin:
            raise DigitnetError(
                f"stroke {number} has points far outside the {width}x{height} canvas "
                f"(x {low[0]:g}..{high[0]:g}, y {low[1]:g}..{high[1]:g})"
            )
        points.flags.writeable = False
        checked.append(points)
    return tuple(checked)


# --- Rendering -------------------------------------------------------------------------------


def render(drawing: Drawing) -> np.ndarray:
    """The (height, width, 4) uint8 RGBA array the browser canvas gives for this drawing."""
    return render_batch([drawing])[0]


def render_batch(drawings: Sequence[Drawing]) -> np.ndarray:
    """(n, height, width, 4) uint8 RGBA canvases of drawings that share one canvas size, all
    computed together (one vectorised pass over every segment of every drawing)."""
    if not drawings:
        raise DigitnetError("render_batch needs at least one drawing")
    width, height = drawings[0].width, drawings[0].height
    if any((d.width, d.height) != (width, height) for d in drawings):
        raise DigitnetError("render_batch: every drawing must have the same canvas size")
    coverage = _coverage(drawings, height, width)
    return np.stack([_canvas(cover, d.background) for cover, d in zip(coverage, drawings)])


def to_mnist(drawing: Drawing) -> np.ndarray | None:
    """What the network reads from this drawing: its rendered canvas through `canvas_to_mnist`
    ((28, 28) float32, or None when nothing digit-sized is drawn)."""
    return canvas_to_mnist(render(drawing))


def segments(strokes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points (m, 2) of every straight segment of the strokes; a one-point stroke
    is a dot, a segment of length 0."""
    starts = [s[:-1] if len(s) > 1 else s for s in strokes]
    ends = [s[1:] if len(s) > 1 else s for s in strokes]
    if not starts:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    return np.concatenate(starts), np.concatenate(ends)


def _coverage(drawings: Sequence[Drawing], height: int, width: int) -> np.ndarray:
    """(n, height, width) float32 brush coverage in [0, 1] of each drawing."""
    pieces = [segments(d.strokes) for d in drawings]
    counts = np.array([len(start) for start, _ in pieces])
    covered = np.zeros((len(drawings), height * width), np.float32)
    if counts.sum() == 0:
        return covered.reshape(-1, height, width)
    start = np.concatenate([p[0] for p in pieces])
    end = np.concatenate([p[1] for p in pieces])
    owner = np.repeat(np.arange(len(drawings)), counts)
    radius = np.array([d.brush_width / 2 for d in drawings], np.float32)[owner]
    start, end, owner, radius = _split(start, end, owner, radius)
    reach = float(radius.max()) + 1.0
    piece = float(np.abs(end - start).max(initial=0.0))
    needed = math.ceil(piece + 2 * reach) + 1
    window_x, window_y = min(needed, width), min(needed, height)
    # Each piece looks at a window around itself, moved inside the canvas: every canvas pixel
    # the brush can reach from the piece is still in it.
    corner = np.floor(np.minimum(start, end) - reach).astype(np.int64)
    corner[:, 0] = np.clip(corner[:, 0], 0, width - window_x)
    corner[:, 1] = np.clip(corner[:, 1], 0, height - window_y)
    origin = corner.astype(np.float32) - start
    direction = end - start
    scaled = direction / np.maximum((direction**2).sum(axis=1), 1e-12)[:, None]
    # Distance from each pixel centre (m, window_y, window_x) to its piece: the projection's
    # share `along` of the piece, clipped to its ends, then the length of what is left.
    rel_x = (origin[:, 0, None] + np.arange(window_x, dtype=np.float32) + 0.5)[:, None, :]
    rel_y = (origin[:, 1, None] + np.arange(window_y, dtype=np.float32) + 0.5)[:, :, None]
    along = rel_x * scaled[:, 0, None, None] + rel_y * scaled[:, 1, None, None]
    np.clip(along, 0.0, 1.0, out=along)
    off_x = rel_x - along * direction[:, 0, None, None]
    along *= direction[:, 1, None, None]
    np.subtract(rel_y, along, out=along)
    np.multiply(off_x, off_x, out=off_x)
    np.multiply(along, along, out=along)
    off_x += along
    reach2 = (radius + 0.5) ** 2
    hit = off_x < reach2[:, None, None]
    piece_of, row, col = np.nonzero(hit)
    cover = radius[piece_of] + 0.5 - np.sqrt(off_x[hit])
    np.minimum(cover, 1.0, out=cover)
    index = (
        owner[piece_of] * (height * width)
        + (corner[piece_of, 1] + row) * width
        + corner[piece_of, 0]
        + col
    )
    np.maximum.at(covered.reshape(-1), index, cover)
    return covered.reshape(-1, height, width)


def _split(
    start: np.ndarray, end: np.ndarray, owner: np.ndarray, radius: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Segments cut into collinear pieces no longer than the brush radius (at least 2 px), so
    every piece's window is small; the union of the pieces is the segment."""
    length = np.sqrt(((end - start) ** 2).sum(axis=1))
    count = np.maximum(np.ceil(length / np.maximum(radius, 2.0)), 1).astype(np.int64)
    if (count == 1).all():
        return start, end, owner, radius
    which = np.repeat(np.arange(len(start)), count)
    first = np.repeat(np.cumsum(count) - count, count)
    part = (np.arange(which.size) - first).astype(np.float32)
    share = (1.0 / count.astype(np.float32))[which]
    direction = (end - start)[which]
    new_start = start[which] + direction * (part * share)[:, None]
    new_end = start[which] + direction * ((part + 1) * share)[:, None]
    return new_start, new_end, owner[which], radius[which]


def _canvas(coverage: np.ndarray, background: str) -> np.ndarray:
    """RGBA as the browser's canvas gives it: on white, black ink (grey level 255 * (1 - c));
    on transparent, black ink whose alpha is the coverage and untouched pixels (0, 0, 0, 0);
    on black, white ink (grey level 255 * c). Built as one uint32 per pixel, viewed as bytes."""
    level = (coverage * 255 + 0.5).astype("<u4")
    if background == "transparent":
        packed = level << 24
    elif background == "black":
        packed = level * 0x010101 | 0xFF000000
    else:
        packed = (255 - level) * 0x010101 | 0xFF000000
    return packed.view(np.uint8).reshape(*coverage.shape, 4)


# --- The canvas's own drawing ------------------------------------------------------------------

# fabric.js origins as a share of the object's size from its centre.
_ORIGINS = {"left": -0.5, "top": -0.5, "center": 0.0, "right": 0.5, "bottom": 0.5}
_ARITY = {"M": 2, "L": 2, "Q": 4, "Z": 0, "z": 0}  # the numbers each path command takes
_BACKGROUND_NAMES = {
    "": "transparent",
    "transparent": "transparent",
    "#ffffff": "white",
    "#fff": "white",
    "white": "white",
    "#000000": "black",
    "#000": "black",
    "black": "black",
}


def read_canvas_json(
    json_data: object, width: int, height: int, background: str | None = None
) -> Drawing:
    """The strokes of what `st_canvas(drawing_mode="freedraw")` returns as `json_data`: a dict
    whose "objects" are fabric.js paths, each `["M", x, y], ["Q", cx, cy, x, y], ...,
    ["L", x, y]` in the path's own coordinates, placed on the canvas by the object's `left`,
    `top`, origin, `scaleX`/`scaleY`, `angle`, flips and skews (a stroke moved or resized with
    the canvas's edit tool lands where the canvas shows it). Curves are cut into straight pieces
    within CURVE_TOLERANCE px. The canvas size is not in `json_data`: pass it. The background is
    json_data's "background" unless given; the brush is the median of the paths' widths.

    The browser sends json_data, so it is checked as it is read, before any curve is cut: at
    most MAX_OBJECTS paths, MAX_POINTS points and commands in all, every number finite and
    within its field's range (coordinates within MAX_COORDINATE). Anything else is one line."""
    if json_data is None:
        return Drawing((), width, height, 1.0, background or "transparent")
    if not isinstance(json_data, dict) or not isinstance(json_data.get("objects"), list):
        raise DigitnetError("canvas drawing must be a dict with an 'objects' list (st_canvas json)")
    if background is None:
        colour = json_data.get("background", "")
        background = _BACKGROUND_NAMES.get(str(colour).strip().lower())
        if background is None:
            raise DigitnetError(f"canvas background {colour!r} is not one of {BACKGROUNDS}")
    objects = json_data["objects"]
    if len(objects) > MAX_OBJECTS:
        raise DigitnetError(
            f"the canvas drawing has {len(objects):,} objects; a digit has at most {MAX_OBJECTS}"
        )
    strokes, brushes = [], []
    room = MAX_POINTS  # the points and commands the drawing may still hold
    for number, shape in enumerate(objects, start=1):
        if not isinstance(shape, dict) or str(shape.get("type", "")).lower() != "path":
            kind = shape.get("type") if isinstance(shape, dict) else type(shape).__name__
            raise DigitnetError(f"canvas object {number} is a {kind!r}, not a freedraw path")
        try:
            path_strokes, brush, used = _path_strokes(shape, room)
        except DigitnetError as error:
            raise DigitnetError(f"canvas object {number}: {error}") from None
        except (TypeError, ValueError, KeyError, IndexError) as error:
            message = f"canvas object {number} is not a readable path ({error})"
            raise DigitnetError(message) from None
        strokes.extend(path_strokes)
        brushes.append(brush)
        room -= used
    brush = float(np.median(brushes)) if brushes else 1.0
    return Drawing(tuple(strokes), width, height, brush, background)


def _path_strokes(shape: dict, room: int) -> tuple[list[np.ndarray], float, int]:
    """One fabric.js path object's subpaths as canvas points, its brush width on the canvas,
    and how much of the drawing's ``room`` it used (see ``_path_points``)."""
    subpaths, box_centre, used = _path_points(shape["path"], room)
    if not subpaths:
        raise DigitnetError("a canvas path has no points")
    linear, offset = _object_transform(shape, box_centre)
    stroke_width = _field(shape, "strokeWidth", 1, 0, MAX_COORDINATE)
    uniform = bool(shape.get("strokeUniform", False))
    brush = stroke_width if uniform else stroke_width * math.sqrt(abs(np.linalg.det(linear)))
    strokes = [(points @ linear.T + offset).astype(np.float32) for points in subpaths]
    return strokes, brush, used


def _path_points(commands: object, room: int) -> tuple[list[np.ndarray], np.ndarray, int]:
    """Points along each subpath (started by an "M") of fabric.js path commands; the middle
    of the path's box the way fabric.js computes it (its `pathOffset`, which `toObject` leaves
    out): a Q curve's box is that of the cubic with both controls at Q's control, an L's that
    of the subpath's start and the L's end; and the room used: a command takes one, a curve as
    many as the points it is cut into. Refused as soon as that passes ``room``, before the
    curve is cut."""
    if not isinstance(commands, list):
        raise DigitnetError("a canvas path's 'path' must be a list of commands")
    if len(commands) > room:
        raise DigitnetError(_too_many_points())
    subpaths: list[list[np.ndarray]] = []
    boxed: list[np.ndarray] = []
    current = first = None
    used = 0
    cubic = np.linspace(0.0, 1.0, 17)[:, None]
    for command in commands:
        letter, values = _command(command)
        if letter == "M":
            current = first = values[:2]
            subpaths.append([current[None]])
        elif current is None:
            raise DigitnetError(f"a canvas path starts with {letter!r}, not 'M'")
        elif letter == "L":
            boxed.append(np.stack([first, values[:2]]))
            current = values[:2]
            subpaths[-1].append(current[None])
        elif letter == "Q":
            control, end = values[:2], values[2:4]
            pieces = curve_pieces(current, control, end)
            used += pieces - 1  # the command's own one below
            if used + len(commands) > room:
                raise DigitnetError(_too_many_points())
            subpaths[-1].append(quadratic_points(current, control, end, pieces)[1:])
            u = 1 - cubic
            boxed.append(u**3 * current + 3 * u * cubic * control + cubic**3 * end)
            current = end
        elif letter not in ("Z", "z"):
            raise DigitnetError(f"canvas path command {letter!r} is not M, L, Q or Z")
    used += len(commands)
    if not subpaths:
        return [], np.zeros(2), used
    points = np.concatenate(boxed or [parts[0] for parts in subpaths])
    centre = (points.min(0) + points.max(0)) / 2
    return [np.concatenate(parts) for parts in subpaths], centre, used


def _command(command: object) -> tuple[str, np.ndarray]:
    """A path command's letter and its numbers, each a finite canvas coordinate: M and L take
    x, y; Q takes cx, cy, x, y; Z none. An unknown letter comes back with no numbers."""
    if not isinstance(command, list) or not command:
        raise DigitnetError(
            f"a canvas path command must be a list like ['L', x, y], got {command!r:.40}"
        )
    letter, *numbers = command
    if not isinstance(letter, str) or letter not in _ARITY:
        return str(letter)[:20], np.zeros(0)  # the path's reader says what is wrong with it
    if len(numbers) != _ARITY[letter] or not all(map(_coordinate, numbers)):
        raise DigitnetError(
            f"canvas path command {letter!r} takes {_ARITY[letter]} finite numbers from "
            f"{-MAX_COORDINATE:,} to {MAX_COORDINATE:,}, got {numbers!r:.60}"
        )
    return letter, np.array(numbers, np.float64)


def _coordinate(value: object) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and -MAX_COORDINATE <= value <= MAX_COORDINATE


def _too_many_points() -> str:
    return f"the canvas drawing has more than {MAX_POINTS:,} points or commands: not a digit"


def curve_pieces(start: np.ndarray, control: np.ndarray, end: np.ndarray) -> int:
    """How many straight pieces a quadratic Bezier curve is cut into so that none strays more
    than CURVE_TOLERANCE px from it (the chord of a piece 1/n of the curve strays
    |start - 2 control + end| / (4 n^2))."""
    bend = float(np.hypot(*(start - 2 * control + end)))
    return max(1, math.ceil(math.sqrt(bend / (4 * CURVE_TOLERANCE))))


def quadratic_points(
    start: np.ndarray, control: np.ndarray, end: np.ndarray, pieces: int
) -> np.ndarray:
    """``pieces + 1`` points along a quadratic Bezier curve, its ends included."""
    t = np.linspace(0.0, 1.0, pieces + 1)[:, None]
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end


def _object_transform(shape: dict, box_centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 2x2 matrix and offset taking path coordinates to canvas pixels, as fabric.js places a
    Path: canvas = centre + R(angle) S(scale, flip) Kx(skewX) Ky(skewY) (p - pathOffset)."""
    scale_x = _field(shape, "scaleX", 1, -MAX_SCALE, MAX_SCALE) * (-1 if shape.get("flipX") else 1)
    scale_y = _field(shape, "scaleY", 1, -MAX_SCALE, MAX_SCALE) * (-1 if shape.get("flipY") else 1)
    skew_x = math.tan(math.radians(_field(shape, "skewX", 0, -MAX_SKEW, MAX_SKEW)))
    skew_y = math.tan(math.radians(_field(shape, "skewY", 0, -MAX_SKEW, MAX_SKEW)))
    angle = math.radians(_field(shape, "angle", 0, -360, 360))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    shaped = (
        np.diag([scale_x, scale_y])
        @ np.array([[1, skew_x], [0, 1]])
        @ np.array([[1, 0], [skew_y, 1]])
    )
    linear = rotation @ shaped
    offset = shape.get("pathOffset")
    if offset is None:
        path_offset = box_centre
    else:
        path_offset = np.array(
            [_field(offset, key, 0, -MAX_COORDINATE, MAX_COORDINATE) for key in "xy"]
        )
    # The object's box on the canvas (stroke included) fixes where its origin point sits.
    stroke = _field(shape, "strokeWidth", 1, 0, MAX_COORDINATE)
    uniform = bool(shape.get("strokeUniform", False))
    box = np.array([_field(shape, key, 0, 0, MAX_COORDINATE) for key in ("width", "height")])
    box = box if uniform else box + stroke
    size = np.abs(shaped) @ box + (stroke if uniform else 0.0)
    origin = np.array([_origin(shape.get(key, "center")) for key in ("originX", "originY")])
    corner = [_field(shape, key, None, -MAX_COORDINATE, MAX_COORDINATE) for key in ("left", "top")]
    centre = np.array(corner) + rotation @ (-origin * size)
    return linear, centre - linear @ path_offset


def _field(shape: dict, key: str, default: float | None, low: float, high: float) -> float:
    """A fabric.js object's number: finite, from ``low`` to ``high`` (``default`` when it is
    missing; None: it must be there)."""
    value = shape.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise DigitnetError(f"{key} must be a number from {low:,g} to {high:,g}, got {value!r:.40}")
    return float(value)


def _origin(value: object) -> float:
    if isinstance(value, str):
        if value not in _ORIGINS:
            raise DigitnetError(f"unknown fabric.js origin {value!r:.40}")
        return _ORIGINS[value]
    return _field({"origin": value}, "origin", 0, 0, 1) - 0.5
