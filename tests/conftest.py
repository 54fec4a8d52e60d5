"""Shared fixtures.

The app's fixtures: a small MLP trained on MNIST in a few seconds (the tests are about the app,
not about the shipped weights), a clean cache folder holding it as a saved model, and helpers
to run pages with streamlit's AppTest.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitnet import Model, save_model
from digitnet.data.mnist import DATA_ENV, find_mnist, load_mnist
from digitnet.data.pendigits import PEN_ENV, find_pen_data
from digitnet.images import to_float
from digitnet.training.trainer import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_MODEL = "fixture"
KNOWING_MODEL = "knows-not-digits"
# The browser tests' fixtures (server, browser, screenshots, database), and a PostgreSQL server
# (tests/postgres.py), for every test file.
pytest_plugins = ["tests.browser", "tests.postgres"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        help="where the browser tests save their screenshots (docs/screenshots refreshes the "
        "README's); default: DIGITNET_SCREENSHOTS, else a temporary folder",
    )


@pytest.fixture(autouse=True)
def keep_main_module():
    """Put `__main__` back after each test: AppTest's script runner leaves the app script there,
    and a process started with "spawn" afterwards would run the app instead of the test's code."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="session", autouse=True)
def data_where_the_user_keeps_it():
    """After `python -m digitnet download`, MNIST and the pen digits are in the user's cache;
    pinned here as DIGITNET_DATA and DIGITNET_PEN_DATA (unless set already), because the app
    tests and the browser tests' server get a fresh cache of their own."""
    with pytest.MonkeyPatch.context() as patch:
        if not os.environ.get(DATA_ENV) and (mnist_folder := find_mnist()) is not None:
            patch.setenv(DATA_ENV, str(mnist_folder))
        if not os.environ.get(PEN_ENV) and (pen_file := find_pen_data()) is not None:
            patch.setenv(PEN_ENV, str(pen_file.parent))
        yield


def pen_data_folder() -> Path:
    """The folder of the pen digits, for the tests that need the real file."""
    if not os.environ.get(PEN_ENV):
        pytest.fail(f"no pen digits: run `python -m digitnet download`, or set {PEN_ENV}")
    return Path(os.environ[PEN_ENV])


@pytest.fixture(scope="session")
def mnist():
    """MNIST from DIGITNET_DATA (CI sets it) or the cache: these tests fail loudly without it."""
    if find_mnist() is None:
        pytest.fail("no MNIST: run `python -m digitnet download`, or set DIGITNET_DATA")
    return load_mnist(download=False)


@pytest.fixture(scope="session")
def fixture_model_file(mnist, tmp_path_factory) -> Path:
    """An MLP trained for one epoch on 20,000 MNIST digits: ~95% accurate, made in seconds."""
    model = Model("mlp:64", seed=0)
    config = TrainConfig(epochs=1, batch_size=64, schedule="constant", dev_size=0)
    Trainer(model, config, mnist.train_images[:20000], mnist.train_labels[:20000]).run()
    model.metadata.update({"name": FIXTURE_MODEL, "architecture": "mlp 64"})
    return save_model(model, tmp_path_factory.mktemp("fixture") / f"{FIXTURE_MODEL}.npz")


@pytest.fixture(scope="session")
def knowing_model_file(mnist, tmp_path_factory) -> Path:
    """An MLP that learned "not a digit" too: 12,000 MNIST digits and 1,000 drawings that are
    not digits (``NotDigits``), two epochs; made in seconds. The reading's default thresholds."""
    from digitnet.data.negatives import NotDigits
    from digitnet.data.pendigits import load_pen_data

    not_digits, not_digit_labels = NotDigits(load_pen_data(pen_data_folder())).sample(
        1000, np.random.default_rng(0)
    )
    images = np.concatenate([to_float(mnist.train_images[:12000]), not_digits])
    labels = np.concatenate([mnist.train_labels[:12000], not_digit_labels])
    model = Model("mlp:64", seed=0)
    config = TrainConfig(epochs=2, batch_size=64, schedule="constant", dev_size=0)
    Trainer(model, config, images, labels).run()
    model.metadata.update({"name": KNOWING_MODEL, "architecture": "mlp 64"})
    return save_model(model, tmp_path_factory.mktemp("knowing") / f"{KNOWING_MODEL}.npz")


@pytest.fixture
def app_cache(fixture_model_file, tmp_path, monkeypatch) -> Path:
    """A fresh DIGITNET_CACHE holding only the fixture model (no MNIST in it)."""
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    shutil.copy(fixture_model_file, cache / "models" / fixture_model_file.name)
    monkeypatch.setenv("DIGITNET_CACHE", str(cache))
    return cache


@pytest.fixture
def no_data(app_cache, monkeypatch) -> Path:
    """No DIGITNET_DATA, an empty cache, and no reachable download mirror."""
    monkeypatch.delenv("DIGITNET_DATA", raising=False)
    monkeypatch.setenv("DIGITNET_MNIST_MIRRORS", "http://127.0.0.1:9/")
    return app_cache


def canvas_state(rgba: np.ndarray, json_data: dict | None = None) -> dict:
    """What the drawable canvas puts in session state after a stroke: its PNG as a data URL,
    and its drawing as fabric.js objects (``json_data``; a bare placeholder path if None)."""
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    raw = json_data if json_data is not None else {"objects": [{"type": "path"}]}
    return {"drawing": {"raw": raw, "data": url}, "backgroundFit": None}


def digit_on_canvas(image: np.ndarray, size: int = 280) -> np.ndarray:
    """An MNIST digit (uint8, white on black) as a canvas drawing: black ink on white, RGBA."""
    ink = np.asarray(Image.fromarray(image).resize((size, size), Image.NEAREST))
    rgba = np.full((size, size, 4), 255, np.uint8)
    rgba[..., :3] = 255 - ink[..., None]
    return rgba


@pytest.fixture
def open_app(app_cache):
    """Runs the app through its router in AppTest, on a page (a file, e.g. "pages/train_page.py";
    None: the default page, Draw) with the fixture model chosen in the sidebar (model=None: the
    default choice); returns the AppTest after the page's first run."""
    from streamlit.testing.v1 import AppTest

    def open_page(
        page: str | None = None, model: str | None = f"{FIXTURE_MODEL} (saved)"
    ) -> AppTest:
        app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
        if model is not None:
            app.session_state["model_choice"] = model
        app.run()  # st.navigation registers the pages in the first run
        if page is not None:
            app.switch_page(page).run()
        return app

    return open_page
