"""What the browser tests share: the app started as a user would (`streamlit run` in a
subprocess, on 127.0.0.1), headless Chromium, drawing with the mouse or a finger, waiting for the
prediction and the charts, the Train page's controls. The fixtures (server, browser, screenshots,
database) reach every test through conftest's pytest_plugins; the helpers are imported.

Screenshots go to a temporary folder, so a test run leaves the tree as it was. To refresh the
README's, ask for them:

    python -m pytest tests/test_browser*.py --screenshots docs/screenshots
    DIGITNET_SCREENSHOTS=docs/screenshots python -m pytest tests/test_browser*.py

Needs Debian's chromium at /usr/bin/chromium (Playwright's own browser download does not work
here) and MNIST (the cache after `python -m digitnet download`, or DIGITNET_DATA).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from digitnet.data.collection.store import DB_ENV, DrawingStore
from digitnet.data.mnist import DATA_ENV
from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS_ENV = "DIGITNET_SCREENSHOTS"
DESKTOP = {"width": 1280, "height": 1000}
PHONE = {"width": 390, "height": 844}
# What the Draw page says the drawing is: the digit (its metric), or the heading of a reading that
# is not a sure digit ("Not sure: a 4 or a 9?", "That doesn't look like a digit"); null before.
VERDICT = """(() => {
    const shown = document.querySelector('[data-testid="stMetricValue"]')
        ?? document.querySelector('[data-testid="stMain"] [data-testid="stHeading"] h3');
    return shown && shown.innerText.trim();
})()"""
# The time from the end of a stroke (mouseup or touchend, as the page saw it) until the page
# says the expected verdict ("7", or a heading), measured inside the page.
PREDICTION_SHOWN = f"""(expected) => {{
    if ({VERDICT} !== expected || window.strokeEnded === undefined) {{
        return false;
    }}
    return (performance.now() - window.strokeEnded) / 1000;
}}"""
RECORD_STROKE_END = """() => {
    for (const kind of ["mouseup", "touchend"]) {
        window.addEventListener(kind, () => { window.strokeEnded = performance.now(); }, true);
    }
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def streamlit_server(
    cache: Path, port: int | None = None, options: Sequence[str] = ()
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`streamlit run streamlit_app.py` as a user would start it, on 127.0.0.1 at ``port``
    (default: a free one), with DIGITNET_CACHE=cache (its log in cache/server.log) and these
    more command-line options: (url, process) once it answers, stopped on leaving."""
    port = port or free_port()
    log = (cache / "server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "streamlit_app.py",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            *options,
        ],
        cwd=ROOT,
        env={**os.environ, "DIGITNET_CACHE": str(cache)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, cache / "server.log")
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start: {log.read_text()}") from None
            time.sleep(0.3)


@pytest.fixture(scope="module")
def server(fixture_model_file, tmp_path_factory):
    """The app as a user would start it, with a fresh cache holding the fixture model (the
    default model is the shipped one when weights/ has it)."""
    yield from server_with_models(tmp_path_factory, fixture_model_file)


def server_with_models(
    tmp_path_factory, *models: Path, port: int | None = None, options: Sequence[str] = ()
) -> Iterator[tuple[str, subprocess.Popen]]:
    """For a ``server`` fixture: the app with a fresh cache holding these weights files as saved
    models (``port`` and ``options``: ``streamlit_server``'s)."""
    if not os.environ.get(DATA_ENV):  # set by conftest when the cache has MNIST
        pytest.fail(f"no MNIST: run `python -m digitnet download`, or set {DATA_ENV}")
    cache = tmp_path_factory.mktemp("browser-cache")
    (cache / "models").mkdir()
    for model in models:
        shutil.copy(model, cache / "models" / model.name)
    with streamlit_server(cache, port, options) as running:
        yield running


@pytest.fixture(scope="module")
def screenshots(request, tmp_path_factory) -> Path:
    """The folder for the screenshots: --screenshots, else DIGITNET_SCREENSHOTS, else a
    temporary one."""
    chosen = request.config.getoption("--screenshots") or os.environ.get(SCREENSHOTS_ENV)
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """The server's collection: DIGITNET_DB in a temporary folder. A module that needs it asks
    for it with `pytest.mark.usefixtures("database")`, so that it is set before the server
    starts."""
    path = tmp_path_factory.mktemp("drawings") / "drawings.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DB_ENV, str(path))
        yield DrawingStore(path)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser, url: str, viewport=DESKTOP, **options) -> Page:
    page = browser.new_context(viewport=viewport, **options).new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.get_by_role("heading", level=1).wait_for()
    return page


def go_to(page: Page, title: str, heading: str) -> None:
    """Through the sidebar, so the session (its drawing, its model) stays."""
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=heading).wait_for()


def no_exception(page: Page) -> None:
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_test_id("stAlertContentError").count() == 0


def canvas_origin(page: Page) -> tuple[float, float]:
    # Fabric's upper canvas takes the pointer; it exists once fabric has set the canvas up (a
    # stroke drawn before that, on a busy machine right after a Clear, would be lost).
    canvas = page.locator("canvas.upper-canvas").last
    canvas.wait_for()
    box = canvas.bounding_box()
    return box["x"], box["y"]


def one(x: float, y: float) -> list[tuple[float, float]]:
    return [(x + 140, y + 50 + 18 * i) for i in range(11)]


def zero(x: float, y: float) -> list[tuple[float, float]]:
    return [
        (
            x + 140 + 65 * math.sin(2 * math.pi * i / 24),
            y + 140 - 95 * math.cos(2 * math.pi * i / 24),
        )
        for i in range(25)
    ]


def mouse_stroke(page: Page, points) -> None:
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=2)
    page.mouse.up()


def touch_stroke(page: Page, points) -> None:
    """A finger drawing: raw touch events through the DevTools protocol (Playwright's
    touchscreen can only tap)."""
    devtools = page.context.new_cdp_session(page)

    def touch(kind: str, point=None) -> None:
        touch_points = [] if point is None else [{"x": point[0], "y": point[1]}]
        devtools.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touch_points})

    touch("touchStart", points[0])
    for point in points[1:]:
        touch("touchMove", point)
    touch("touchEnd")


def prediction_after(page: Page, stroke, points, expected: str) -> float:
    """Draws, waits for the prediction to read ``expected``; the seconds it took."""
    page.evaluate("() => { delete window.strokeEnded; }")
    stroke(page, points)
    handle = page.wait_for_function(PREDICTION_SHOWN, arg=expected, polling="raf")
    return handle.json_value()


# Dark pixels on the drawing canvas (fabric's canvases, white where there is no ink).
INK = """canvases => canvases.reduce((dark, canvas) => {
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3] > 0 && pixels[i] < 128) dark++;
    }
    return dark;
}, 0)"""


def ink(page: Page) -> int:
    return page.locator("canvas.lower-canvas, canvas.upper-canvas").evaluate_all(INK)


def wait_for_empty_canvas(page: Page, timeout: float = 30.0) -> None:
    """After Clear or an answer: the prediction gone, the hint back, the canvas blank."""
    page.get_by_test_id("stMetricValue").wait_for(state="detached")
    page.get_by_text("Draw a digit from 0 to 9").wait_for()
    deadline = time.monotonic() + timeout
    while ink(page) > 0:
        assert time.monotonic() < deadline, f"the canvas still has {ink(page)} dark pixels"
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)  # the emptied drawing reaches the server


def clear(page: Page) -> None:
    page.get_by_role("button", name="Clear").click()
    wait_for_empty_canvas(page)


def wait_for_charts(page: Page, count: int, timeout: float = 30_000) -> None:
    page.wait_for_function(
        "count => document.querySelectorAll('.vega-embed svg, .vega-embed canvas').length >= count",
        arg=count,
        timeout=timeout,
    )
    page.wait_for_timeout(500)


def screenshot(page: Page, folder: Path, name: str) -> Path:
    path = folder / name
    page.screenshot(path=path)
    return path


def rss_megabytes(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def open_train_page(browser, url: str) -> Page:
    """The Train page, reached through the sidebar as a person would: a fresh server's very
    first session opened at /train shows the page under a "Page not found" dialog."""
    page = open_page(browser, url, {"width": 1280, "height": 1300})
    page.get_by_test_id("stSidebarNav").get_by_text("Train", exact=True).click()
    page.get_by_role("heading", name="Train a network").wait_for()
    return page


def start_training(page: Page, hidden: str, epochs: int, dev_size: int) -> None:
    """On the Train page: an MLP with these hidden layer sizes, on MNIST, then Start."""
    field = page.get_by_label("Hidden layer sizes")
    field.fill(hidden)
    field.press("Enter")
    page.get_by_role("tab", name="Optimizer").click()
    for label, value in (("Epochs", epochs), ("Dev size", dev_size)):
        field = page.get_by_label(label, exact=True)
        field.fill(str(value))
        field.press("Enter")
        page.wait_for_timeout(300)
    page.get_by_role("button", name="Start").click()


def progress_batches(page: Page) -> int:
    text = page.get_by_test_id("stProgress").inner_text()
    done = re.search(r"epoch (\d+), batch (\d+)/(\d+)", text)
    assert done, text
    epoch, batch, per_epoch = (int(group) for group in done.groups())
    return (epoch - 1) * per_epoch + batch
