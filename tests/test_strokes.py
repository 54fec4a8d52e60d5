"""Strokes: drawings are checked when made, the renderer draws a round anti-aliased brush on every
background and canvas size, and the canvas's fabric.js paths come back as the points drawn."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitnet.data.preprocess import canvas_to_mnist
from digitnet.data.strokes import (
    MAX_POINTS,
    Drawing,
    read_canvas_json,
    render,
    render_batch,
    to_mnist,
)
from digitnet.errors import DigitnetError

DATA = Path(__file__).parent / "data"


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 80) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def coverage(drawing: Drawing) -> np.ndarray:
    """Ink coverage in [0, 1] read back from a transparent rendering."""
    clear = Drawing(
        drawing.strokes, drawing.width, drawing.height, drawing.brush_width, "transparent"
    )
    return render(clear)[..., 3] / 255


def fabric_path(points: np.ndarray, stroke_width: float = 20) -> dict:
    """A path object as fabric.js's pencil brush makes one from mouse points: quadratic curves
    through the midpoints, the object's centre (origin "center") at the middle of its box."""
    commands = [["M", *points[0]]]
    for here, after in zip(points[1:-1], points[2:]):
        commands.append(["Q", *here, *((here + after) / 2)])
    commands.append(["L", *points[-1]])
    low, high = points.min(axis=0), points.max(axis=0)
    return {
        "type": "path",
        "path": [[c[0], *map(float, c[1:])] for c in commands],
        "left": float((low[0] + high[0]) / 2),
        "top": float((low[1] + high[1]) / 2),
        "width": float(high[0] - low[0]),
        "height": float(high[1] - low[1]),
        "originX": "center",
        "originY": "center",
        "scaleX": 1,
        "scaleY": 1,
        "angle": 0,
        "strokeWidth": stroke_width,
        "stroke": "#000000",
    }


def test_a_line_is_a_round_brush_of_its_width():
    cover = coverage(Drawing([np.array([[60, 100.5], [200, 100.5]])], 280, 200, 20))
    across = cover[:, 130]  # a column through the middle of the line
    assert across.sum() == pytest.approx(20, abs=0.01)  # exactly the brush's width of ink
    assert (across[91:110] == 1).all() and across[:90].max() == 0 and across[111:].max() == 0
    # Edges half a pixel inside a pixel half cover it: the anti-aliasing.
    assert across[90] == pytest.approx(0.5, abs=0.01) and across[110] == pytest.approx(
        0.5, abs=0.01
    )
    # Round caps: the ink ends a brush radius past each end, in a half disc.
    row = cover[100]
    assert row[49] == 0 and row[51] == 1 and row[209] == 1 and row[211] == 0
    cap_area = cover[:, :60].sum()
    assert cap_area == pytest.approx(math.pi * 10**2 / 2, rel=0.02)


def test_a_dot_is_a_disc():
    cover = coverage(Drawing([np.array([[50.3, 40.7]])], 100, 100, 16))
    assert cover.sum() == pytest.approx(math.pi * 8**2, rel=0.01)
    ys, xs = np.nonzero(cover)
    assert abs((cover.sum(axis=0) @ np.arange(100)) / cover.sum() + 0.5 - 50.3) < 0.05


@pytest.mark.parametrize("background", ["white", "transparent", "black"])
def test_every_background_is_drawn_as_the_canvas_gives_it(background):
    drawing = Drawing([ellipse(140, 140, 60, 90)], 280, 280, 18, background)
    rgba = render(drawing)
    ink = coverage(drawing)
    assert rgba.shape == (280, 280, 4) and rgba.dtype == np.uint8
    level = np.round(ink * 255).astype(np.uint8)
    if background == "white":  # black ink on opaque white, as in the app
        assert (rgba[..., 3] == 255).all() and np.array_equal(rgba[..., 0], 255 - level)
    elif background == "black":  # white ink on opaque black
        assert (rgba[..., 3] == 255).all() and np.array_equal(rgba[..., 1], level)
    else:  # untouched pixels are RGBA zeros; the ink is the alpha
        assert (rgba[ink == 0] == 0).all() and (rgba[..., :3] == 0).all()
    # canvas_to_mnist reads each the same, up to the rounding of grey levels.
    white = to_mnist(Drawing(drawing.strokes, 280, 280, 18))
    assert np.abs(to_mnist(drawing) - white).max() < 0.002


def test_any_canvas_size_gives_the_same_digit():
    """The same drawing scaled to a small, the app's and a large canvas reads the same."""
    strokes = [ellipse(120, 130, 50, 80), np.array([[150, 60.0], [190, 230]])]
    images = []
    for size in (64, 280, 560):
        factor = size / 280
        scaled = [points * factor for points in strokes]
        images.append(to_mnist(Drawing(scaled, size, size, 20 * factor)))
    assert np.abs(images[0] - images[1]).mean() < 0.02
    assert np.abs(images[2] - images[1]).mean() < 0.01


def test_a_batch_renders_each_drawing_as_alone():
    drawings = [
        Drawing([ellipse(50, 50, 20, 30)], 100, 100, 6, "transparent"),
        Drawing([np.array([[10, 10.0], [90, 90]]), np.array([[20, 80.0]])], 100, 100, 14),
        Drawing([], 100, 100, 5, "black"),
    ]
    batch = render_batch(drawings)
    for canvas, drawing in zip(batch, drawings):
        assert np.array_equal(canvas, render(drawing))
    assert (batch[2][..., :3] == 0).all()  # nothing drawn: just the background
    # A brush wider than a narrow canvas still reaches every pixel it covers.
    tall = coverage(Drawing([np.array([[5, 50.0]])], 10, 100, 40))
    assert (tall[35:65] == 1).all() and tall[:25].max() == 0
    # Strokes that leave the canvas are cut at its edge, not moved into it.
    edge = coverage(Drawing([np.array([[-50, 50.0], [30, 50]])], 100, 100, 10))
    assert edge[50, 0] == 1 and edge[50, 41] == 0


def test_canvas_paths_come_back_as_the_drawn_curves():
    mouse = ellipse(140, 150, 70, 90, n=40)[:-5]
    drawing = read_canvas_json({"objects": [fabric_path(mouse)], "background": "#FFFFFF"}, 280, 280)
    (points,) = drawing.strokes
    assert drawing.background == "white" and drawing.brush_width == 20
    # Pencil curves pass through the midpoints between mouse points, from the first to the last.
    assert np.allclose(points[0], mouse[0]) and np.allclose(points[-1], mouse[-1])
    middles = (mouse[1:-2] + mouse[2:-1]) / 2
    nearest = np.hypot(*(points[:, None] - middles[None]).transpose(2, 0, 1)).min(axis=0)
    assert nearest.max() < 1e-3
    steps = np.hypot(*np.diff(points, axis=0).T)
    assert steps.max() < 10  # curves are cut into short straight pieces
    same = to_mnist(Drawing([mouse], 280, 280, 20))
    assert np.abs(to_mnist(drawing) - same).mean() < 0.01


def test_a_moved_scaled_or_turned_path_lands_where_the_canvas_shows_it():
    line = fabric_path(np.array([[10, 20.0], [30, 20], [50, 20]]), stroke_width=4)

    def read(**changes) -> np.ndarray:
        drawing = read_canvas_json({"objects": [{**line, **changes}]}, 100, 100)
        return drawing.strokes[0][[0, -1]]

    assert np.allclose(read(), [[10, 20], [50, 20]])
    assert np.allclose(read(left=60, top=70), [[40, 70], [80, 70]])
    assert np.allclose(read(scaleX=2), [[-10, 20], [70, 20]])
    assert np.allclose(read(angle=90), [[30, 0], [30, 40]], atol=1e-4)
    assert np.allclose(read(flipX=True), [[50, 20], [10, 20]])
    # With a left/top origin, left/top is the corner of the box the stroke's ink fills.
    assert np.allclose(read(originX="left", originY="top", left=8, top=18), [[10, 20], [50, 20]])
    scaled = read_canvas_json({"objects": [{**line, "scaleX": 3, "scaleY": 3}]}, 100, 100)
    assert scaled.brush_width == pytest.approx(12)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Drawing("strokes", 280, 280, 20), "list of"),
        (lambda: Drawing([np.zeros((3, 3))], 280, 280, 20), r"shape \(n, 2\)"),
        (lambda: Drawing([np.zeros((0, 2))], 280, 280, 20), r"shape \(n, 2\)"),
        (lambda: Drawing([[["a", "b"]]], 280, 280, 20), "x, y numbers"),
        (lambda: Drawing([np.array([[1, 2], [np.nan, 3]])], 280, 280, 20), "NaN"),
        (lambda: Drawing([np.zeros((MAX_POINTS + 1, 2))], 280, 280, 20), "more than"),
        (lambda: Drawing([np.array([[10, 10], [1e6, 10]])], 280, 280, 20), "far outside"),
        (lambda: Drawing([], 280, 280, 0), "brush width"),
        (lambda: Drawing([], 0, 280, 5), "canvas size"),
        (lambda: Drawing([], 280, 280, 5, "red"), "background"),
        (lambda: read_canvas_json([1, 2], 280, 280), "objects"),
        (lambda: read_canvas_json({"objects": [{"type": "rect"}]}, 280, 280), "rect"),
        (lambda: read_canvas_json({"objects": [{"type": "path", "path": 3}]}, 280, 280), "list"),
        (
            lambda: read_canvas_json({"objects": [{"type": "path", "path": [["C", 1, 2]]}]}, 9, 9),
            "not 'M'",
        ),
        (lambda: read_canvas_json({"objects": [], "background": "#123456"}, 280, 280), "back"),
    ],
)
def test_bad_input_is_a_one_line_error(make, message):
    with pytest.raises(DigitnetError, match=message) as error:
        make()
    assert "\n" not in str(error.value)


def test_an_empty_canvas_is_an_empty_drawing():
    drawing = read_canvas_json({"objects": [], "background": ""}, 280, 280)
    assert drawing.strokes == () and drawing.background == "transparent"
    assert to_mnist(drawing) is None
    assert read_canvas_json(None, 280, 280).strokes == ()


@pytest.mark.parametrize("name", ["canvas_seven_white", "canvas_two_transparent"])
def test_the_renderer_matches_what_chromium_drew_on_the_real_canvas(name):
    """Strokes drawn with the mouse on st_canvas in headless Chromium (benchmarks/canvas_match.py
    recorded its json_data and PNG): the renderer's canvas from json_data alone agrees with
    the browser's to 0.1% of the ink on average; only anti-aliased edge pixels differ, by at
    most a third of full ink."""
    data = json.loads((DATA / f"{name}.json").read_text())
    browser = np.asarray(Image.open(DATA / f"{name}.png"))
    drawing = read_canvas_json(data, 280, 280)
    ours = render(drawing)
    if drawing.background == "transparent":
        ink_browser, ink_ours = browser[..., 3], ours[..., 3]
    else:
        ink_browser, ink_ours = 255 - browser[..., 0], 255 - ours[..., 0]
    difference = np.abs(ink_browser.astype(int) - ink_ours) / 255
    assert difference.mean() < 0.001 and difference.max() < 0.35
    assert abs(ink_ours.sum() / ink_browser.sum() - 1) < 0.005
    small = np.abs(canvas_to_mnist(browser) - to_mnist(drawing))
    assert small.mean() < 0.01
