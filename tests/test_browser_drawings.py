"""Issue 10, point 7, on the real app in headless Chromium: three digits drawn with the mouse
and answered on the Draw page (two "Right", one "No, it's a ..."), then My drawings: the three
are shown, exported as a CSV (a real download) and one is deleted. The collection (DIGITNET_DB
in a temporary folder) must then hold exactly what the page shows, and the CSV's rows what the
collection held when it was exported.

    DIGITNET_DATA=... python -m pytest -s tests/test_browser_drawings.py [--screenshots DIR]
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from digitnet.data.collection.store import LOCAL_PERSON
from digitnet.data.mnist import read_kaggle_csv
from tests.browser import (
    canvas_origin,
    mouse_stroke,
    one,
    open_page,
    screenshot,
    wait_for_charts,
    wait_for_empty_canvas,
    zero,
)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("database")]


def draw(page: Page, points, expected: str) -> None:
    mouse_stroke(page, points)
    page.get_by_test_id("stMetricValue").get_by_text(expected, exact=True).wait_for()


def answer(page: Page, button_text: str, saved_as: str, double_click: bool = False) -> None:
    """Clicks "Right" (or double-clicks it, as hurried people do) or a digit of "No, it's a
    ...", waits for the save and the emptied canvas."""
    if button_text == "Right":
        right = page.get_by_role("button", name="Right")
        right.dblclick() if double_click else right.click()
    else:
        page.get_by_test_id("stButtonGroup").get_by_text(button_text, exact=True).click()
    page.get_by_text(f"Saved as a {saved_as}.").wait_for()
    wait_for_empty_canvas(page)


def shown_drawings(page: Page) -> list[str]:
    """The captions of the grid's drawings ('7, read 1'), in order."""
    boxes = page.get_by_test_id("stCheckbox").filter(has_text=re.compile(r"^\d, "))
    return [box.inner_text().strip() for box in boxes.all()]


def wait_for_drawings(page: Page, count: int) -> None:
    try:
        page.wait_for_function(
            """count => [...document.querySelectorAll('[data-testid=stCheckbox]')]
                .filter(box => /^\\d, /.test(box.innerText.trim())).length === count""",
            arg=count,
        )
    except PlaywrightTimeout:
        pytest.fail(f"expected {count} drawings on the page, it shows {shown_drawings(page)}")


def test_draw_answer_see_export_and_delete(server, browser, database, screenshots, tmp_path):
    url, _ = server
    page = open_page(browser, url)
    page.wait_for_timeout(500)
    x, y = canvas_origin(page)
    draw(page, one(x, y), "1")
    answer(page, "Right", "1", double_click=True)  # saved once (checked below: three in all)
    x, y = canvas_origin(page)
    draw(page, zero(x, y), "0")
    wait_for_charts(page, 1)
    screenshot(page, screenshots, "draw-answer.png")
    answer(page, "Right", "0")
    x, y = canvas_origin(page)
    draw(page, one(x, y), "1")
    answer(page, "7", "7")  # a 7 written like a 1: the person corrects it

    page.get_by_role("link", name="My drawings").click()
    page.get_by_role("heading", name="My drawings").wait_for()
    wait_for_drawings(page, 3)
    assert shown_drawings(page) == ["1, read 1", "0, read 0", "7, read 1"]
    page.wait_for_timeout(500)
    screenshot(page, screenshots, "my-drawings.png")

    with page.expect_download() as download:
        page.get_by_role("button", name="Export these 3 drawings as CSV").click()
    exported = tmp_path / download.value.suggested_filename
    download.value.save_as(exported)
    images, labels = read_kaggle_csv(exported.read_bytes(), exported.name)
    saved = database.list(person=LOCAL_PERSON)
    assert labels.tolist() == [d.label for d in saved] == [1, 0, 7]
    assert np.array_equal(images, np.stack([np.rint(d.image * 255) for d in saved]))

    page.get_by_test_id("stCheckbox").filter(has_text="0, read 0").click()
    page.get_by_role("button", name="Delete the 1 picked").click()
    page.get_by_text("Deleted 1 drawing.").wait_for()
    wait_for_drawings(page, 2)
    assert page.get_by_test_id("stException").count() == 0

    shown = shown_drawings(page)
    kept = database.list(person=LOCAL_PERSON)
    assert shown == [f"{d.label}, read {d.prediction}" for d in kept] == ["1, read 1", "7, read 1"]
    assert page.get_by_test_id("stMetricValue").first.inner_text().strip() == str(len(kept))
    assert len({d.session for d in kept}) == 1 and {d.source for d in kept} == {"canvas"}
