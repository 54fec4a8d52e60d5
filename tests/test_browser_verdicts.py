"""The Draw page's verdicts in the real app (headless Chromium): a "#" drawn with the mouse is "That
doesn't look like a digit", its probabilities one click away, with no serious or critical
accessibility violation (axe-core, as tests/test_browser_a11y.py), answered "Right: not a
digit" and saved as such; an open "c" is "Not sure: ..." with its best guess. The model is one
that learned "not a digit" (conftest's ``knowing_model_file``). Screenshots:
draw_not_a_digit.png, draw_unsure.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from digitnet.data.collection.store import LOCAL_PERSON
from digitnet.images import NOT_A_DIGIT
from pages.draw_page import NOT_DIGIT
from tests.browser import (
    VERDICT,
    canvas_origin,
    mouse_stroke,
    open_page,
    screenshot,
    server_with_models,
    wait_for_empty_canvas,
)
from tests.conftest import KNOWING_MODEL
from tests.test_browser_a11y import BLOCKING, axe_violations, describe
from tests.test_browser_draw import CANVAS_STEP, STEPS_CHANGED
from tests.test_browser_values import choose_model

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("database")]

SCREEN = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def server(knowing_model_file, tmp_path_factory):
    yield from server_with_models(tmp_path_factory, knowing_model_file)


# Strokes through these corners, in canvas pixels, as in tests/test_app_draw.py.
HASH = [[(100, 50), (100, 230)], [(180, 50), (180, 230)], [(50, 110), (230, 110)]]
HASH += [[(50, 170), (230, 170)]]
OPEN_C = [[(200, 70), (90, 70), (90, 210), (200, 210)]]


def on_canvas(page: Page, strokes) -> list[list[tuple[float, float]]]:
    """The strokes as mouse points on the page: eight steps along each segment."""
    x, y = canvas_origin(page)
    return [
        [
            (x + ax + (bx - ax) * i / 8, y + ay + (by - ay) * i / 8)
            for (ax, ay), (bx, by) in zip(corners, corners[1:])
            for i in range(9)
        ]
        for corners in strokes
    ]


def draw(page: Page, strokes) -> str:
    """Draws the strokes, each once the page has read the one before (its first step's picture
    changed), and returns the verdict the page shows after the last."""
    for points in strokes:
        canvas = page.locator(CANVAS_STEP)
        before = canvas.get_attribute("src") if canvas.count() else None
        mouse_stroke(page, points)
        page.wait_for_function(STEPS_CHANGED, arg=[CANVAS_STEP, before])
    return page.evaluate(VERDICT)


def test_not_a_digit_and_not_sure_in_the_browser(server, browser, database, screenshots):
    url, _ = server
    page = open_page(browser, url, SCREEN)
    choose_model(page, f"{KNOWING_MODEL} (saved)")
    assert draw(page, on_canvas(page, HASH)) == NOT_DIGIT
    bars = page.get_by_test_id("stExpander").filter(has_text="The probabilities")
    expect(bars.locator(".vega-embed").first).to_be_hidden()  # one click away
    expect(page.get_by_text("The probabilities")).to_have_count(1)  # a rerun's stale copy gone
    page.get_by_text("The probabilities").click()
    expect(bars.locator(".vega-embed svg.marks").first).to_be_visible()
    page.get_by_text("As a digit, it reads").wait_for()
    page.wait_for_timeout(500)  # the bars drawn
    screenshot(page, screenshots, "draw_not_a_digit.png")
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
    assert not blocking, [describe(violation) for violation in blocking]
    page.get_by_role("button", name="Right: not a digit").click()
    page.get_by_text("Saved as not a digit.").wait_for()
    wait_for_empty_canvas(page)
    [saved] = database.list(person=LOCAL_PERSON)
    assert (saved.label, saved.prediction) == (NOT_A_DIGIT, NOT_A_DIGIT)

    shown = draw(page, on_canvas(page, OPEN_C))
    assert shown.startswith("Not sure: "), shown
    page.get_by_text(re.compile(r"^Reads \d \(\d+% sure\); next \d \(\d+%\)\.$")).wait_for()
    page.get_by_role("button", name=re.compile(r"^Right: an? \d$")).wait_for()
    screenshot(page, screenshots, "draw_unsure.png")
    assert page.get_by_test_id("stException").count() == 0
