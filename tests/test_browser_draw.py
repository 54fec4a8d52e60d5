"""The Draw page read as a person uses it, in the real app in headless Chromium (the server,
browser and screenshot fixtures are tests/browser.py's): 30 pen digits by writers the shipped
models never saw (pen-dev, digitnet.data.pendigits), drawn stroke by stroke with the mouse,
Clear between them. Each stroke's prediction is waited for; the digit counts as read when the
last one names its label. Prints how many were read and the seconds from the end of each digit's
first stroke to its prediction on the emptied page (p50, p95 over the 30); screenshots as
tests/browser.py says (draw_steps.png: the preprocessing's steps under the prediction).

    DIGITNET_DATA=... DIGITNET_PEN_DATA=... python -m pytest -s tests/test_browser_draw.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page

from digitnet.data.pendigits import PEN_DEV_WRITERS, load_pen_data
from tests.browser import (
    RECORD_STROKE_END,
    VERDICT,
    canvas_origin,
    clear,
    mouse_stroke,
    open_page,
)
from tests.conftest import pen_data_folder

pytestmark = pytest.mark.browser

PER_DIGIT = 3  # of each of the ten, so 30 digits
MIN_READ = 0.9
DIGIT_HEIGHT = 190  # canvas pixels, of the 280 px canvas
DIGIT_WIDTH = 220  # at most
# The canvas as the page's first step shows it: its picture changes with every stroke.
CANVAS_STEP = 'img[alt="Your drawing on the canvas, dark on light"]'
STEPS_HEADING = "From your digit to what the network reads"
# After Clear there is no verdict: the seconds from the end of the stroke until one shows.
FIRST_READ = f"""() => {{
    return {VERDICT} !== null && window.strokeEnded !== undefined
        && (performance.now() - window.strokeEnded) / 1000;
}}"""
# The run of the last stroke has reached the page: the steps show the canvas with it.
STEPS_CHANGED = """([selector, before]) => {
    const canvas = document.querySelector(selector);
    return canvas !== null && canvas.getAttribute('src') !== before;
}"""


def pen_dev_digits() -> list[tuple[int, tuple[np.ndarray, ...]]]:
    """PER_DIGIT of each digit by the pen-dev writers, chosen once (seed 0): (label, strokes in
    tablet units, y down)."""
    dev = load_pen_data(pen_data_folder(), download=False).of_writers(PEN_DEV_WRITERS)
    rng = np.random.default_rng(0)
    chosen = [
        index
        for label in range(10)
        for index in rng.choice(np.flatnonzero(dev.labels == label), PER_DIGIT, replace=False)
    ]
    return [(int(dev.labels[i]), dev.strokes[i]) for i in chosen]


def on_canvas(strokes: tuple[np.ndarray, ...], x: float, y: float) -> list[list[tuple]]:
    """The strokes as page coordinates on the canvas whose corner is at (x, y): scaled to
    DIGIT_HEIGHT tall (DIGIT_WIDTH wide at most), centred."""
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    height, width = high[1] - low[1], high[0] - low[0]
    scale = min(DIGIT_HEIGHT / max(height, 1), DIGIT_WIDTH / max(width, 1))
    middle = (low + high) / 2
    return [
        [(x + 140 + float(px), y + 140 + float(py)) for px, py in (stroke - middle) * scale]
        for stroke in strokes
    ]


def stroke_and_wait(page: Page, points) -> float:
    """Draws one stroke and waits until the page has read it; the seconds until a prediction
    showed, when there was none before."""
    canvas = page.locator(CANVAS_STEP)
    before = canvas.get_attribute("src") if canvas.count() else None
    page.evaluate("() => { delete window.strokeEnded; }")
    mouse_stroke(page, points)
    shown = page.wait_for_function(FIRST_READ, polling="raf").json_value()
    page.wait_for_function(STEPS_CHANGED, arg=[CANVAS_STEP, before])
    return shown


def screenshot_steps(page: Page, path: Path) -> None:
    """The steps: their heading down to the last caption."""
    pictures = page.get_by_test_id("stImage").filter(has=page.locator(CANVAS_STEP))
    page.wait_for_timeout(500)  # the pictures loaded
    top = page.get_by_text(STEPS_HEADING).bounding_box()["y"] - 8
    box = pictures.bounding_box()
    height = box["y"] + box["height"] + 8 - top
    page.screenshot(path=path, clip={"x": box["x"] - 8, "y": top, "width": 600, "height": height})


def test_held_out_pen_digits_drawn_with_the_mouse_are_read(server, browser, screenshots):
    url, _ = server
    page = open_page(browser, url, {"width": 1280, "height": 1400})
    page.evaluate(RECORD_STROKE_END)
    page.wait_for_timeout(500)
    latencies, read, misread = [], 0, []
    for number, (label, strokes) in enumerate(pen_dev_digits()):
        x, y = canvas_origin(page)
        first, *others = on_canvas(strokes, x, y)
        latencies.append(stroke_and_wait(page, first))
        for points in others:
            stroke_and_wait(page, points)
        shown = page.evaluate(VERDICT)  # a digit, or "Not sure: ..." (not read)
        if shown == str(label):
            read += 1
        else:
            misread.append(f"{label} as {shown}")
        if number == 0:
            screenshot_steps(page, screenshots / "draw_steps.png")
        clear(page)
    p50, p95 = np.percentile(latencies, [50, 95])
    total = PER_DIGIT * 10
    print(
        f"\n{read} of {total} pen-dev digits read ({', '.join(misread) or 'no misreads'}); "
        f"first stroke end -> prediction: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
    )
    assert page.get_by_test_id("stException").count() == 0
    assert read >= MIN_READ * total
