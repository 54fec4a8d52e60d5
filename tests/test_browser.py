"""The real app in headless Chromium: `streamlit run` in a subprocess, digits drawn with the mouse
(and a finger), a training started and stopped and its model saved, the other pages rendered
with data. Prints the measured latencies and memory. The server, browser and helpers are
tests/browser.py's, which also says how to keep the screenshots.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from digitnet import load_model
from digitnet.analysis.metrics import evaluate
from digitnet.training.card import card
from digitnet.training.catalog import sanitize_name
from tests.browser import (
    PHONE,
    RECORD_STROKE_END,
    canvas_origin,
    clear,
    mouse_stroke,
    one,
    open_page,
    open_train_page,
    prediction_after,
    progress_batches,
    rss_megabytes,
    screenshot,
    start_training,
    touch_stroke,
    wait_for_charts,
    zero,
)
from tests.conftest import FIXTURE_MODEL

pytestmark = pytest.mark.browser


def test_draw_a_one_and_a_zero_with_the_mouse(server, browser, screenshots):
    url, _ = server
    page = open_page(browser, url, {"width": 1280, "height": 1250})  # down to the steps
    page.evaluate(RECORD_STROKE_END)
    page.wait_for_timeout(500)
    latencies = []
    for round_ in range(2):
        x, y = canvas_origin(page)
        latencies.append(prediction_after(page, mouse_stroke, one(x, y), "1"))
        clear(page)
        x, y = canvas_origin(page)
        latencies.append(prediction_after(page, mouse_stroke, zero(x, y), "0"))
        if round_ == 0:
            wait_for_charts(page, 1)
            screenshot(page, screenshots, "draw.png")
            clear(page)
    print(f"\nstroke end -> prediction: {', '.join(f'{s * 1000:.0f} ms' for s in latencies)}")


def test_phone_layout_and_drawing_with_a_finger(server, browser, screenshots):
    url, _ = server
    page = open_page(browser, url, PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page.evaluate(RECORD_STROKE_END)
    page.wait_for_timeout(500)
    x, y = canvas_origin(page)
    assert x >= 0 and x + 280 <= PHONE["width"], "the canvas does not fit a phone's width"
    latency = prediction_after(page, touch_stroke, one(x, y), "1")
    in_words = page.get_by_text(re.compile(r"^Reads 1 \(\d+% sure\); next \d \(\d+%\)\.$"))
    in_words.wait_for()
    page.get_by_text("Inside the network").scroll_into_view_if_needed()
    wait_for_charts(page, 1)
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= PHONE["width"], f"the page is {overflow}px wide on a 390px screen"
    # The canvas, the answer and the words under it, on one screen.
    page.get_by_text("Stroke width").evaluate("label => label.scrollIntoView()")
    page.wait_for_timeout(300)
    screenshot(page, screenshots, "phone.png")
    print(f"\nfinger stroke end -> prediction: {latency * 1000:.0f} ms")


def test_train_while_another_session_draws(server, browser, screenshots):
    url, process = server
    page = open_train_page(browser, url)
    # Many epochs, so it is still running when stopped, however fast this machine is.
    start_training(page, hidden="64", epochs=100, dev_size=2000)
    page.get_by_test_id("stProgress").wait_for()
    page.wait_for_timeout(1500)
    first = progress_batches(page)
    page.wait_for_timeout(2500)
    second = progress_batches(page)
    assert second > first, "the progress did not move between two polls"

    # Another person, meanwhile: the server still answers and predicts.
    other = open_page(browser, url)
    other.evaluate(RECORD_STROKE_END)
    other.wait_for_timeout(500)
    x, y = canvas_origin(other)
    latency = prediction_after(other, mouse_stroke, one(x, y), "1")
    print(f"\nwhile training: stroke end -> prediction {latency * 1000:.0f} ms")
    other.context.close()

    wait_for_charts(page, 3, timeout=120_000)  # an epoch is done: loss and accuracy per epoch
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Training stopped").wait_for(timeout=60_000)
    wait_for_charts(page, 3)
    screenshot(page, screenshots, "train.png")
    print(
        f"server RSS with MNIST loaded and one trained model: {rss_megabytes(process.pid):.0f} MB"
    )


def test_mistakes_and_confusion_pages_render_with_data(server, browser, screenshots):
    url, _ = server
    page = open_page(browser, f"{url}/mistakes")
    page.get_by_text("mistakes out of 10,000 digits").wait_for()
    page.locator("[data-testid=stImageContainer] img").nth(11).wait_for()  # two rows at least
    assert page.get_by_text(re.compile(r"true \d, predicted \d \(\d+%\)")).count() >= 12
    page.wait_for_timeout(500)
    screenshot(page, screenshots, "mistakes.png")

    page = open_page(browser, f"{url}/confusion", {"width": 1280, "height": 1100})
    page.get_by_text("Per digit").wait_for()
    wait_for_charts(page, 1)
    # The per-digit table draws on a canvas once its grid has loaded: wait for its cells.
    page.locator("[data-testid=stDataFrame] canvas").first.wait_for()
    page.wait_for_timeout(500)
    screenshot(page, screenshots, "confusion.png")


def test_an_unusable_name_and_a_taken_name_on_save(server, browser, mnist, tmp_path):
    """Issue 8, points 4 and 2 through the real page. Point 4: a blank name gets one line and
    the result stays; names that once broke the page ('!!!') are saved under a stem of their own.
    Point 2: a name that holds another model (the fixture's, as another session saved it) is
    replaced only when asked, and then the sidebar's card describes the new network. First, the
    accuracies the page prints are the card's of the model it trained (downloaded)."""
    url, _ = server
    page = open_train_page(browser, url)
    start_training(page, hidden="16", epochs=1, dev_size=1000)
    finished = page.get_by_text("Training finished")
    finished.wait_for(timeout=120_000)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download .npz").click()
    download.value.save_as(tmp_path / "trained.npz")
    trained = load_model(tmp_path / "trained.npz")
    scores = card(trained).metrics
    expect(finished).to_contain_text(
        f": best dev accuracy {scores['dev'].accuracy:.2%} (epoch 1), test accuracy "
        f"{scores['test'].accuracy:.2%}."
    )
    test = evaluate(trained, mnist.test_images, mnist.test_labels)
    assert scores["test"].accuracy == pytest.approx(test.accuracy, abs=1e-9)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar_choice = sidebar.get_by_test_id("stSelectbox").locator("input")
    sidebar_card = sidebar.get_by_test_id("stCaptionContainer")  # "mlp 16, 12,730 parameters"
    expect(sidebar_choice).to_have_value(re.compile(r"\(this session\)$"))

    def save_as(typed: str) -> None:
        name = page.get_by_label("Model name")
        name.fill(typed)
        name.press("Enter")
        page.wait_for_timeout(300)
        page.get_by_role("button", name="Save", exact=True).click()

    save_as("   ")
    page.get_by_text("a model needs a name: type at least one letter or digit").wait_for()
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_text("Training finished").is_visible()
    assert page.get_by_role("button", name="Download .npz").is_visible()

    save_as("!!!")
    expect(sidebar_choice).to_have_value(f"{sanitize_name('!!!')} (saved)")
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_text("Training finished").is_visible()

    save_as(FIXTURE_MODEL)
    question = f"A model called {FIXTURE_MODEL} is already saved: replace it?"
    page.get_by_text(question).wait_for()
    # Nothing replaced yet: chosen in the sidebar, the fixture is still its own network.
    sidebar_choice.click()
    page.get_by_role("option", name=f"{FIXTURE_MODEL} (saved)").click()
    expect(sidebar_card).to_have_text(re.compile(r"^mlp 64,"))
    page.get_by_text(question).wait_for()
    page.get_by_role("button", name="Replace").click()
    page.get_by_text(question).wait_for(state="detached")
    expect(sidebar_choice).to_have_value(f"{FIXTURE_MODEL} (saved)")
    expect(sidebar_card).to_have_text(re.compile(r"^mlp 16,"))  # the file holds this one now
    assert page.get_by_test_id("stException").count() == 0
