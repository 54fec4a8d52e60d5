"""A deep link as a fresh server's very first request: the page, without a "Page not found"
dialog (a server's first run serves pages/ by file name; see streamlit_app.py), and the sidebar
lists the router's pages only, not the router-only files pages/<url>.py. Each link gets a
server of its own, since only the first request after a start shows the problem."""

from __future__ import annotations

import shutil

import pytest

from tests.browser import open_page, screenshot, streamlit_server
from tests.test_app_router import routed_pages

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("path", "heading"),
    [("train", "Train a network"), ("confusion", "Confusion matrix"), ("drawings", "My drawings")],
)
def test_a_deep_link_as_a_fresh_servers_first_request(
    path, heading, browser, screenshots, fixture_model_file, tmp_path
):
    (tmp_path / "models").mkdir()
    shutil.copy(fixture_model_file, tmp_path / "models" / fixture_model_file.name)
    with streamlit_server(tmp_path) as (url, _):
        page = open_page(browser, f"{url}/{path}", {"width": 1280, "height": 1300})
        page.get_by_role("heading", level=1, name=heading).wait_for()
        if path == "train":  # the whole page, for the screenshot
            page.get_by_role("button", name="Start").wait_for()
        page.wait_for_timeout(1_000)  # the dialog, if any, comes with the same script run
        if path == "train":
            screenshot(page, screenshots, "deeplink-train.png")
        assert page.get_by_text("Page not found").count() == 0
        links = page.get_by_test_id("stSidebarNavLink").get_by_test_id("stMarkdownContainer")
        assert links.all_inner_texts() == [title for _, title, _ in routed_pages()]
