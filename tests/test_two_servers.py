"""Past one machine (issue 17): two `streamlit run` servers on one PostgreSQL, as behind a load
balancer, each driven the way a browser drives it (Streamlit's websocket protocol, with
benchmarks/class_load.py's client). A drawing saved through one server is on the other's My
drawings for the same personal link, and a model trained and saved through one is in the other's
model chooser."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from benchmarks.class_load import (
    Drawer,
    Results,
    Trainer,
    Training,
    app_servers,
    connected,
    pen_drawings,
)
from benchmarks.load_test import server_tracebacks
from digitnet.data.collection.store import DB_ENV
from pages.common.server import SHARED_ENV

SMALL = Training(hidden="16", epochs=1, dev_size=500)  # trained in a second or two


@pytest.fixture
def two_servers(postgres_url, tmp_path, monkeypatch):
    """Two app servers on one PostgreSQL database, shared by a class; no traceback in their
    logs afterwards."""
    monkeypatch.setenv(DB_ENV, postgres_url)
    monkeypatch.setenv(SHARED_ENV, "1")
    with app_servers(2, tmp_path) as servers:
        yield servers
    for server in servers:
        assert server_tracebacks(server.log) == []


def test_a_drawing_saved_on_one_server_is_the_persons_on_the_other(two_servers):
    first, second = two_servers

    async def scenario() -> tuple[int, str]:
        async with connected(first.url, "on the first server") as session:
            drawer = Drawer(session, pen_drawings(1), np.random.default_rng(0), Results())
            await drawer.open()  # the Draw page: one digit, drawn and answered
            link = session.query
        async with connected(second.url, "on the second server", query=link) as session:
            with session.patient():  # a server's first visit
                await session.rerun(page="drawings")  # the personal link opened at /drawings
                run = await session.choose("Show", string_array_value={"data": ["All mine"]})
        return drawer.saved, run.element("metric", "Drawings").body

    saved, shown = asyncio.run(scenario())
    assert saved == 1
    assert shown == "1"


def test_a_model_saved_on_one_server_is_in_the_other_servers_chooser(two_servers):
    first, second = two_servers

    async def scenario() -> tuple[list[str], list[str]]:
        async with connected(second.url, "before") as session:
            with session.patient():  # a server's first visit
                before = (await session.rerun()).element("selectbox", "Model").options
        async with connected(first.url, "trainer") as session:
            trainer = Trainer(session, Results(), SMALL)
            await trainer.open()
            with session.patient():  # a training, its scores and its card
                await trainer.poll_until(await session.click("Start"), "Training finished")
            await session.choose("Model name", string_value="class model")
            await session.click("Save")
        async with connected(second.url, "after") as session:
            after = (await session.rerun()).element("selectbox", "Model").options
        return list(before), list(after)

    before, after = asyncio.run(scenario())
    assert "class model (saved)" not in before
    assert "class model (saved)" in after
