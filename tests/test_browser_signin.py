"""Signing in on a server a class shares, in headless Chromium: the app as `streamlit run` starts
it with DIGITNET_SHARED=1 and a secrets.toml (in a temporary folder, named by --secrets.files)
whose [auth] section names an identity provider: oauth2-mock-server (package.json) on
127.0.0.1, started by tests/oidc_provider.mjs, which signs in ada@school.example. Clicking "Sign
in" goes through the provider and back; the page then says who is signed in and shows only
Ada's drawings, and still does after a reload (Streamlit's identity cookie). Without [auth],
the personal link the sidebar shows brings its person back on another device.

    npm ci && python -m pytest -s tests/test_browser_signin.py [--screenshots DIR]
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page

from digitnet.data.collection.store import DrawingStore
from tests.browser import (
    DESKTOP,
    free_port,
    go_to,
    no_exception,
    open_page,
    screenshot,
    server_with_models,
)
from tests.conftest import ROOT

ADA, BOB = "ada@school.example", "bob@school.example"
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("database")]


@pytest.fixture(scope="module")
def identity_provider() -> str:
    """The mock OIDC provider, signing in Ada: its issuer URL while it runs."""
    process = subprocess.Popen(
        ["node", "tests/oidc_provider.mjs", ADA],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    issuer = process.stdout.readline().strip()
    if not issuer.startswith("http://127.0.0.1:"):
        process.kill()
        pytest.fail(f"the identity provider did not start (npm ci?): {process.stderr.read()}")
    yield issuer
    process.terminate()
    process.wait(timeout=15)


@pytest.fixture(scope="module")
def server(identity_provider, fixture_model_file, tmp_path_factory, database):
    """The app on a shared server that signs people in with the identity provider."""
    port = free_port()
    secrets = tmp_path_factory.mktemp("secrets") / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-secret-only-for-this-test"\n'
        'client_id = "digitnet"\n'
        'client_secret = "digitnet-test"\n'
        f'server_metadata_url = "{identity_provider}/.well-known/openid-configuration"\n'
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DIGITNET_SHARED", "1")
        yield from server_with_models(
            tmp_path_factory,
            fixture_model_file,
            port=port,
            options=["--secrets.files", str(secrets)],
        )


@pytest.fixture(scope="module")
def link_server(fixture_model_file, tmp_path_factory, database):
    """The app on a shared server without sign-in: people come by personal links."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DIGITNET_SHARED", "1")
        yield from server_with_models(tmp_path_factory, fixture_model_file)


def add(store: DrawingStore, person: str, labels: list[int], mnist) -> None:
    """MNIST test digits of these labels, saved as ``person``'s photos."""
    for label in labels:
        index = int(np.flatnonzero(mnist.test_labels == label)[len(labels)])
        store.add(
            person=person,
            label=label,
            image=mnist.test_images[index] / 255,
            session="earlier",
            photo=b"a photo",
            prediction=label,
        )


def shown_drawings(page: Page) -> list[str]:
    boxes = page.get_by_test_id("stCheckbox").filter(has_text=re.compile(r"^\d+, "))
    return [box.inner_text().strip() for box in boxes.all()]


def test_signing_in_shows_who_and_only_their_drawings(
    server, browser, database, mnist, screenshots: Path
):
    add(database, ADA, [3, 1, 4, 1, 5], mnist)
    add(database, BOB, [2, 7], mnist)
    url, _ = server
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()  # to the provider and back
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text(f"Signed in as {ADA}").wait_for()
    go_to(page, "My drawings", "My drawings")
    page.get_by_text("read 5").wait_for()
    no_exception(page)
    assert shown_drawings(page) == ["3, read 3", "1, read 1", "4, read 4", "1, read 1", "5, read 5"]
    page.get_by_text("Share with my class").wait_for()
    screenshot(page, screenshots, "drawings-signed-in.png")

    page.reload()  # Streamlit's identity cookie keeps Ada signed in
    sidebar.get_by_text(f"Signed in as {ADA}").wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    assert page.get_by_text("Signed in as").count() == 0


def test_a_personal_link_brings_its_person_back_on_another_device(
    link_server, browser, database, mnist, screenshots: Path
):
    url, _ = link_server
    first = open_page(browser, url)
    link = first.get_by_test_id("stSidebar").get_by_test_id("stCode").inner_text().strip()
    assert re.fullmatch(re.escape(url) + r"/?\?me=[\w-]{40,}", link), link
    person = database.person_for_token(link.split("?me=")[1])
    assert person is not None and person.startswith("link-")
    add(database, person, [7, 2], mnist)
    go_to(first, "My drawings", "My drawings")
    first.get_by_text("read 2").wait_for()
    assert shown_drawings(first) == ["7, read 7", "2, read 2"]
    first.wait_for_url(re.compile(r"\?me="))  # the address is still the link on another page

    other = open_page(browser, link)  # another device: no cookie, only the link
    go_to(other, "My drawings", "My drawings")
    other.get_by_text("read 2").wait_for()
    assert shown_drawings(other) == ["7, read 7", "2, read 2"]
    no_exception(other)
    screenshot(other, screenshots, "drawings-personal-link.png")

    stranger = open_page(browser, url)  # no link: a new person, with none of these
    go_to(stranger, "My drawings", "My drawings")
    stranger.get_by_text("No drawings saved yet").wait_for()
    assert shown_drawings(stranger) == []
