"""Every page of the real app checked by axe-core, the accessibility engine behind Lighthouse, in
headless Chromium: all its rules (WCAG 2 A and AA, and best practices), run on each page once it
has drawn its content. No violation may be serious or critical (text contrast, images without a
text alternative, unnamed controls, ...); the milder ones are printed.

The pages are reached through the sidebar, in one session: Draw first, with a digit drawn and
answered "Right", so that My drawings has a drawing to show. A page the sidebar lists that this
file does not know how to wait for fails the test, so a new page gets checked too.

axe-core comes from the npm registry: `npm ci` at the repo root (package.json pins it).

    DIGITNET_DATA=... python -m pytest -s tests/test_browser_a11y.py
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from tests.browser import (
    canvas_origin,
    mouse_stroke,
    one,
    open_page,
    wait_for_charts,
    wait_for_empty_canvas,
)
from tests.conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("database")]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TALL = {"width": 1280, "height": 1300}
LONG = 300_000  # ms: the robustness curves of two models on a busy machine
BLOCKING = ("serious", "critical")
SETTLED = """() => !document.querySelector(
    '[data-stale="true"], [data-testid="stStatusWidgetRunningIcon"]')"""
NEW_HEADING = """shown => [...document.querySelectorAll('h1')]
    .some(heading => heading.innerText.trim() !== shown.trim())"""
# The rules' outcome, one entry per violated rule, with the elements that break it.
RUN_AXE = """async () => {
    const results = await axe.run(document);
    return results.violations.map(rule => ({
        id: rule.id,
        impact: rule.impact,
        help: rule.help,
        nodes: rule.nodes.map(node => ({
            html: node.html.slice(0, 120),
            why: node.failureSummary.split('\\n').slice(1).join(' ').trim(),
        })),
    }));
}"""


def draw_ready(page: Page) -> None:
    """A digit drawn, its prediction, the probabilities' chart and the inside view shown."""
    x, y = canvas_origin(page)
    mouse_stroke(page, one(x, y))
    page.get_by_test_id("stMetricValue").get_by_text("1", exact=True).wait_for()
    wait_for_charts(page, 1)
    page.get_by_text(re.compile(r"units active$")).last.wait_for()  # the view's last part


def images_ready(count: int) -> Callable[[Page], None]:
    def ready(page: Page) -> None:
        page.locator("[data-testid=stImageContainer] img").nth(count - 1).wait_for()

    return ready


def charts_ready(count: int) -> Callable[[Page], None]:
    return lambda page: wait_for_charts(page, count, timeout=LONG)


def confusion_ready(page: Page) -> None:
    wait_for_charts(page, 1)
    page.locator("[data-testid=stDataFrame] canvas").first.wait_for()
    images_ready(1)(page)


def drawings_ready(page: Page) -> None:
    page.get_by_test_id("stCheckbox").filter(has_text=re.compile(r"^1, ")).wait_for()


# What each page shows once it is complete, by its title in the sidebar (Draw is checked first).
READY = {
    "Train": lambda page: page.get_by_role("button", name="Start").wait_for(),
    "Mistakes": images_ready(12),
    "Confusion matrix": confusion_ready,
    "Explore": charts_ready(1),
    "Robustness": charts_ready(5),
    "Data": images_ready(3),
    "My drawings": drawings_ready,
}


def open_an_example(page: Page) -> None:
    """The first mistake's dialog: the digit, its probabilities' chart."""
    main = page.get_by_test_id("stMain")
    main.get_by_test_id("stButton").get_by_role("button", name="Open").first.click()
    page.get_by_test_id("stDialog").get_by_test_id("stImageContainer").wait_for()
    page.get_by_test_id("stDialog").locator(".vega-embed svg.marks").wait_for()


# Views a page opens, checked after the page itself.
OPENED = {"Mistakes": ("an example open", open_an_example)}


def axe_violations(page: Page) -> list[dict]:
    """After the script run: its stale elements (faded while it runs) gone."""
    page.wait_for_function(SETTLED)
    page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN_AXE)


def describe(violation: dict) -> str:
    """The rule, then each element breaking it (the start of its HTML) and why."""
    nodes = violation["nodes"]
    lines = [f"{violation['impact']} {violation['id']} ({violation['help']}): {len(nodes)}"]
    lines += [f"    {node['html']}\n      {node['why']}" for node in nodes]
    return "\n".join(lines)


def test_no_serious_or_critical_accessibility_violation_on_any_page(server, browser):
    if not AXE.is_file():
        pytest.fail(f"no {AXE.relative_to(ROOT)}: run `npm ci` at the repo root")
    url, _ = server
    page = open_page(browser, url, TALL)
    page.wait_for_timeout(500)
    draw_ready(page)
    found = {"Draw": axe_violations(page)}
    page.get_by_role("button", name="Right").click()
    page.get_by_text("Saved as a 1.").wait_for()
    wait_for_empty_canvas(page)

    links = page.get_by_test_id("stSidebarNavLink").get_by_test_id("stMarkdownContainer")
    titles = links.all_inner_texts()
    assert titles[0] == "Draw" and len(titles) > 1, titles
    unknown = [title for title in titles[1:] if title not in READY]
    assert not unknown, f"pages this test does not know how to wait for: {unknown}"
    for title in titles[1:]:
        shown = page.get_by_role("heading", level=1).inner_text()
        page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
        page.wait_for_function(NEW_HEADING, arg=shown)
        READY[title](page)
        page.wait_for_timeout(500)
        found[title] = axe_violations(page)
        if title in OPENED:
            view, open_view = OPENED[title]
            open_view(page)
            found[f"{title}, {view}"] = axe_violations(page)
            page.keyboard.press("Escape")

    blocking = []
    for title, violations in found.items():
        print(f"\n{title}: {sum(len(v['nodes']) for v in violations)} violating element(s)")
        for violation in violations:
            print("  " + describe(violation))
            if violation["impact"] in BLOCKING:
                blocking.append(f"{title}: {describe(violation)}")
    assert not blocking, "\n".join(blocking)
