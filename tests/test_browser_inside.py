"""Inside the network, the map, the robustness curves and the data, in the real app in headless
Chromium (the server, browser and screenshot fixtures are tests/browser.py's): a digit
drawn with the mouse, its inside view, then the Explore, Robustness and Data pages in the same
session. Prints how long each took; screenshots as tests/browser.py says (inside.png,
explore.png, robustness.png, data.png).
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page

from tests.browser import (
    PHONE,
    PREDICTION_SHOWN,
    RECORD_STROKE_END,
    canvas_origin,
    clear,
    go_to,
    mouse_stroke,
    no_exception,
    one,
    open_page,
    screenshot,
    wait_for_charts,
    zero,
)

pytestmark = pytest.mark.browser

TALL = {"width": 1280, "height": 1700}
# Seconds from the end of a stroke until the inside view's last part (the hidden units) shows.
INSIDE_SHOWN = """() => {
    const found = [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
        .some(element => /units active/.test(element.innerText));
    if (!found || window.strokeEnded === undefined) {
        return false;
    }
    return (performance.now() - window.strokeEnded) / 1000;
}"""
LONG = 300_000  # ms: t-SNE and the robustness curves of two models on a busy machine


def hover_shows_a_digit(page: Page) -> bool:
    """Moves the mouse over the map's middle until a point's tooltip shows its picture."""
    box = page.locator(".vega-embed").first.bounding_box()
    tooltip = page.locator("#vg-tooltip-element.visible img")
    for row in range(8):
        for column in range(12):
            x = box["x"] + box["width"] * (0.2 + 0.6 * column / 11)
            y = box["y"] + box["height"] * (0.25 + 0.5 * row / 7)
            page.mouse.move(x, y)
            page.wait_for_timeout(60)
            if tooltip.count():
                src = tooltip.first.get_attribute("src")
                return src.startswith("data:image/png;base64,")
    return False


def stroke_until_inside(page: Page, points, expected: str) -> tuple[float, float]:
    """Draws; seconds until the prediction reads ``expected``, and until the inside view is
    complete."""
    page.evaluate("() => { delete window.strokeEnded; }")
    mouse_stroke(page, points)
    predicted = page.wait_for_function(PREDICTION_SHOWN, arg=expected, polling="raf")
    inside = page.wait_for_function(INSIDE_SHOWN, polling="raf", timeout=60_000)
    return predicted.json_value(), inside.json_value()


def test_inside_view_map_robustness_and_data(server, browser, screenshots):
    if not os.environ.get("DIGITNET_PEN_DATA"):
        pytest.fail("set DIGITNET_PEN_DATA to the folder holding pendigits-orig.tra.gz")
    url, _ = server
    page = open_page(browser, url, TALL)
    page.evaluate(RECORD_STROKE_END)
    page.wait_for_timeout(500)
    x, y = canvas_origin(page)
    first = stroke_until_inside(page, one(x, y), "1")  # builds the nearest-digit index
    clear(page)
    x, y = canvas_origin(page)
    predicted, inside = stroke_until_inside(page, zero(x, y), "0")
    print(
        f"\nstroke end -> prediction {predicted * 1000:.0f} ms, -> inside view complete "
        f"{inside * 1000:.0f} ms (first stroke, index built: {first[1]:.1f} s)"
    )
    assert predicted <= inside
    view = page.get_by_test_id("stExpander")
    for text in ("What mattered for the answer", "The most alike training digits"):
        assert view.get_by_text(text).count() == 1
    assert view.get_by_text(re.compile(r"^a \d \(\d\.\d\d\)$")).count() == 3
    assert view.get_by_text(re.compile(r"^Convolution [12]: \d+ feature maps$")).count() == 2
    no_exception(page)
    page.wait_for_timeout(500)
    view.screenshot(path=screenshots / "inside.png")

    go_to(page, "Explore", "Map of the digits")
    wait_for_charts(page, 1, timeout=LONG)
    page.get_by_text("the star is your latest drawing").wait_for()
    no_exception(page)
    assert hover_shows_a_digit(page), "no digit picture in the map's tooltip"
    screenshot(page, screenshots, "explore.png")
    page.get_by_text("t-SNE", exact=True).click()
    computed = page.get_by_text(re.compile(r"Computed in \d+ s"))
    computed.wait_for(timeout=LONG)
    print("t-SNE of 3,000 digits:", re.search(r"Computed in \d+ s", computed.inner_text())[0])
    wait_for_charts(page, 1)
    no_exception(page)

    go_to(page, "Robustness", "Robustness")
    wait_for_charts(page, 5, timeout=LONG)
    assert page.get_by_text("Pixel noise").count() >= 1
    no_exception(page)
    screenshot(page, screenshots, "robustness.png")

    go_to(page, "Data", "The data")
    page.get_by_text(re.compile(r"^1-60 of [\d,]+ 0s$")).wait_for()
    page.get_by_text("Pen drawings, pen-dev writers (unseen)").click()
    page.get_by_text("Stroke augmentation:").wait_for()
    page.wait_for_timeout(500)
    no_exception(page)
    screenshot(page, screenshots, "data.png")


def test_the_inside_view_fits_a_phone(server, browser):
    url, _ = server
    page = open_page(browser, url, PHONE)
    page.evaluate(RECORD_STROKE_END)
    page.wait_for_timeout(500)
    x, y = canvas_origin(page)
    stroke_until_inside(page, one(x, y), "1")
    page.wait_for_timeout(500)
    no_exception(page)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a 390px screen"
