"""Values, not presence: what the pages print, read from the real app in headless Chromium,
equals the library's figures for the same model and data. The Confusion page's counts, scores
and calibration; the Explore page's misread digits, the Robustness page's accuracies and the
Data page's counts. The models are the fixture model and a copy of it with a temperature (the
default model, the shipped CNN, would take minutes here). Screenshot: calibration.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Locator, Page, expect

from digitnet import load_model, save_model
from digitnet.analysis import robustness
from digitnet.analysis.metrics import evaluate, fit_temperature
from digitnet.data.pendigits import PEN_DEV_WRITERS, load_pen_data
from digitnet.images import to_float
from tests.browser import go_to, no_exception, open_page, server_with_models, wait_for_charts
from tests.conftest import FIXTURE_MODEL, pen_data_folder

pytestmark = pytest.mark.browser

TALL = {"width": 1280, "height": 1300}
LONG = 300_000  # ms: the Robustness page also draws the curves of the shipped CNN
TEMPERED = "tempered"
# Each row of an HTML table (st.table, or the accessible table behind st.dataframe's canvas) as
# the texts of its cells.
ROWS = """table => [...table.querySelectorAll('tr')]
    .map(row => [...row.children].map(cell => cell.textContent.trim()))"""


@pytest.fixture(scope="module")
def tempered_model_file(fixture_model_file, mnist, tmp_path_factory) -> Path:
    """The fixture model with a temperature, fitted as training fits one on its dev set: on
    5,000 training digits it never saw (it learnt from the first 20,000)."""
    model = load_model(fixture_model_file)
    images, labels = to_float(mnist.train_images[50000:55000]), mnist.train_labels[50000:55000]
    model.metadata.update(name=TEMPERED, temperature=fit_temperature(model.logits(images), labels))
    assert model.temperature != 1.0
    return save_model(model, tmp_path_factory.mktemp("tempered") / f"{TEMPERED}.npz")


@pytest.fixture(scope="module")
def server(fixture_model_file, tempered_model_file, tmp_path_factory):
    """tests/browser.py's server, with the tempered copy of the fixture model saved beside it."""
    yield from server_with_models(tmp_path_factory, fixture_model_file, tempered_model_file)


def choose_model(page: Page, label: str) -> None:
    choice = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").locator("input")
    choice.click()
    page.get_by_role("option", name=label).click()
    expect(choice).to_have_value(label)


def rows(table: Locator) -> list[list[str]]:
    return table.evaluate(ROWS)


def text(page: Page, starts: str) -> Locator:
    """The page's text that starts with these words (a caption, a line of Markdown)."""
    return page.get_by_text(re.compile(f"^{re.escape(starts)}")).first


def test_the_confusion_page_counts_and_calibration_are_the_librarys(
    server, browser, screenshots, mnist, tempered_model_file
):
    url, _ = server
    page = open_page(browser, url, TALL)  # the Draw page: cheap with any model
    choose_model(page, f"{TEMPERED} (saved)")
    go_to(page, "Confusion matrix", "Confusion matrix")
    model = load_model(tempered_model_file)
    evaluation = evaluate(model, mnist.test_images, mnist.test_labels)
    expect(text(page, "Accuracy ")).to_contain_text(
        f"Accuracy {evaluation.accuracy:.2%} on 10,000 digits.", timeout=60_000
    )
    wait_for_charts(page, 3)  # the heatmap and the reliability diagram's two charts
    no_exception(page)

    # The heatmap's cells, row by row: each count the chart writes in its cell.
    heatmap = page.get_by_test_id("stVegaLiteChart").first
    cells = heatmap.locator("g.mark-text").first.locator("text").all_text_contents()
    assert [int(count) for count in cells] == evaluation.confusion.ravel().tolist()
    # The same counts as a table.
    page.get_by_text("The counts as a table").click()
    counts = rows(page.get_by_test_id("stTable").first)
    assert counts[0] == ["true digit", *(f"as {digit}" for digit in range(10))]
    assert [row[0] for row in counts[1:]] == [str(digit) for digit in range(10)]
    assert [[int(count) for count in row[1:]] for row in counts[1:]] == (
        evaluation.confusion.tolist()
    )
    # The per-digit table (its accessible table holds the unrounded values).
    page.locator("[data-testid=stDataFrame] table td").first.wait_for(state="attached")
    report = rows(page.get_by_test_id("stDataFrame").locator("table"))
    assert report[0] == ["digit", "precision", "recall", "f1", "support"]
    expected = evaluation.report
    assert [int(row[0]) for row in report[1:]] == list(range(10))
    assert [int(row[4]) for row in report[1:]] == expected["support"].tolist()
    scores = np.array([[float(value) for value in row[1:4]] for row in report[1:]])
    np.testing.assert_allclose(scores, expected[["precision", "recall", "f1"]] * 100, rtol=1e-9)

    # Calibration: the two ECEs, and each curve's bins.
    before = evaluation.untempered()
    summary = (
        f"Before the temperature {before.calibration_error:.2%} ECE, after "
        f"{evaluation.calibration_error:.2%} (temperature {model.temperature:g})."
    )
    expect(text(page, "Before the temperature")).to_have_text(summary)
    diagram = page.get_by_test_id("stVegaLiteChart").nth(1)
    assert diagram.get_attribute("aria-label") == summary  # the chart's text alternative
    page.get_by_text("The diagram's numbers").click()
    tables = page.get_by_test_id("stTable").all()[1:]
    for table, each in zip(tables, (before, evaluation), strict=True):
        assert rows(table) == [
            ["bin", "confidence", "accuracy", "digits"],
            *(
                [
                    f"{b.low:.0%}-{b.high:.0%}",
                    f"{b.confidence:.1%}",
                    f"{b.accuracy:.1%}",
                    f"{b.count:,}",
                ]
                for b in each.reliability.itertuples()
            ),
        ]
    page.get_by_role("heading", name="Calibration").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=screenshots / "calibration.png")


def test_explore_robustness_and_data_figures_are_the_librarys(
    server, browser, mnist, fixture_model_file
):
    url, _ = server
    page = open_page(browser, url, TALL)
    choose_model(page, f"{FIXTURE_MODEL} (saved)")
    model = load_model(fixture_model_file)

    go_to(page, "Explore", "Map of the digits")
    misread = len(evaluate(model, mnist.test_images[:3000], mnist.test_labels[:3000]).mistakes())
    expect(text(page, "3,000 MNIST test digits")).to_contain_text(
        f"Crosses are the {misread} it misreads", timeout=60_000
    )
    no_exception(page)

    go_to(page, "Robustness", "Robustness")
    page.get_by_text("The curves' numbers").click(timeout=LONG)
    rotation = rows(page.get_by_test_id("stTable").filter(has_text="degrees"))
    assert rotation[0] == ["degrees", f"{FIXTURE_MODEL} (saved)", "cnn"]
    images = to_float(mnist.test_images[: robustness.SUBSET])
    labels = mnist.test_labels[: robustness.SUBSET]

    def accuracy(degrees: float) -> str:
        turned = images if degrees == 0 else robustness.rotated(images, degrees)
        return f"{(model.predict(turned) == labels).mean():.1%}"

    _, amounts = robustness.DISTORTIONS["rotation"]
    expected = [[f"{degrees:g}", accuracy(degrees)] for degrees in amounts]
    assert [row[:2] for row in rotation[1:]] == expected
    no_exception(page)

    go_to(page, "Data", "The data")
    caption = page.get_by_text(re.compile(r"^1-60 of [\d,]+ \ds$"))
    expect(caption).to_have_text(f"1-60 of {(mnist.train_labels == 0).sum():,} 0s")
    sources, digits = page.get_by_test_id("stRadio").all()
    sources.get_by_text("MNIST test", exact=True).click()
    digits.get_by_text("7", exact=True).click()
    expect(caption).to_have_text(f"1-60 of {(mnist.test_labels == 7).sum():,} 7s")
    sources.get_by_text("Pen drawings, pen-dev writers (unseen)", exact=True).click()
    pen = load_pen_data(pen_data_folder()).of_writers(PEN_DEV_WRITERS)
    expect(caption).to_have_text(f"1-60 of {(pen.labels == 7).sum():,} 7s", timeout=60_000)
    no_exception(page)
