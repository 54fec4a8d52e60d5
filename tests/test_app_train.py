"""The Train page in AppTest: data (MNIST, upload, none), settings, the background job and its
controls, the end of a training (save, download, use), and the ways it can go wrong."""

from __future__ import annotations

import time
import tomllib

import numpy as np
import pytest

from digitnet.catalog import models_dir, sanitize_name
from digitnet.data import find_mnist
from digitnet.jobs import SERVER_LIMIT
from tests.conftest import ROOT

TRAIN = "pages/1_Train.py"
KAGGLE_HEADER = "label," + ",".join(f"pixel{i}" for i in range(784))


def kaggle_csv(mnist, rows: int = 1500) -> bytes:
    pixels = mnist.train_images[:rows].reshape(rows, -1)
    table = np.column_stack([mnist.train_labels[:rows], pixels])
    lines = [",".join(map(str, row)) for row in table.tolist()]
    return ("\n".join([KAGGLE_HEADER, *lines]) + "\n").encode()


def job_of(app):
    return app.session_state["train_job"]


def finish(app, timeout: float = 120):
    """Waits for the page's training to end (as the page's polling would), then redraws."""
    job = job_of(app)
    job.join(timeout)
    assert not job.running, "the training did not end in time"
    return app.run()


def configure(app, hidden="16", epochs=1, dev_size=300, batch=128, optimizer="adam", lr=None):
    app.text_input(key="train_hidden").input(hidden).run()
    app.number_input(key="train_epochs").set_value(epochs).run()
    app.number_input(key="train_dev_size").set_value(dev_size).run()
    app.select_slider(key="train_batch").set_value(batch).run()
    app.selectbox(key="train_optimizer").select(optimizer).run()
    if lr is not None:
        app.number_input(key="train_lr").set_value(lr).run()
    return app


def upload(app, name: str, content: bytes):
    return app.file_uploader(key="train-upload").upload(name, content, "text/csv").run()


def test_without_data_it_explains_and_offers_download_and_upload(open_app, no_data):
    app = open_app(TRAIN)
    assert not app.exception
    assert "MNIST is not on this server" in app.warning[0].value
    assert app.file_uploader(key="train-upload") is not None
    app.button(key="train-download").click().run()
    assert not app.exception
    assert "no mirror gave a good copy" in app.error[0].value
    assert "train_job" not in app.session_state


def test_upload_train_save_and_download(open_app, no_data, mnist):
    app = upload(open_app(TRAIN), "train.csv", kaggle_csv(mnist))
    assert not app.exception
    assert app.radio(key="train_data").options == ["train.csv"]
    configure(app, epochs=2)
    app.button(key="train_start").click().run()
    assert not app.exception
    finish(app)
    assert not app.exception
    assert "Training finished" in app.success[0].value
    choice = app.session_state["model_choice"]
    assert choice.endswith("(this session)")
    assert app.sidebar.selectbox(key="model_select").value == choice
    assert len(app.get("download_button")) == 1
    assert app.get("vega_lite_chart"), "the curves are missing"

    app.text_input(key="train_save_name").input("../../evil name!").run()
    app.button(key="train_save").click().run()
    assert not app.exception
    stem = sanitize_name("../../evil name!")  # "evil name-" and a hash of the typed name
    assert sorted(path.name for path in models_dir().iterdir()) == [f"{stem}.npz", "fixture.npz"]
    assert not (no_data.parent / "evil name!.npz").exists()
    assert app.sidebar.selectbox(key="model_select").value == f"{stem} (saved)"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("train.csv", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary", "not a text CSV file"),
        ("train.csv", b"id,value\n1,2\n", "line 1: the header has 2 columns"),
        (
            "test.csv",
            ",".join(f"pixel{i}" for i in range(784)).encode() + b"\n" + b"0," * 783 + b"0\n",
            "no label column",
        ),
    ],
)
def test_a_bad_upload_gets_a_clear_message(open_app, no_data, name, content, message):
    app = upload(open_app(TRAIN), name, content)
    assert not app.exception
    assert message in app.error[0].value
    assert not app.radio  # still no data to train on


def test_the_upload_size_limit_is_configured():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    # Big enough for Kaggle's 73 MB train.csv, small enough to refuse silly uploads.
    assert 75 <= config["server"]["maxUploadSize"] <= 200


def test_a_diverging_learning_rate_is_reported_and_the_session_goes_on(open_app, no_data, mnist):
    app = upload(open_app(TRAIN), "train.csv", kaggle_csv(mnist))
    configure(app, optimizer="sgd", lr=100.0)
    app.button(key="train_start").click().run()
    finish(app)
    assert not app.exception
    assert "diverged: lower the learning rate" in app.error[0].value
    assert not app.session_state["session_models"]
    configure(app, optimizer="adam", lr=0.001)
    app.button(key="train_start").click().run()
    finish(app)
    assert "Training finished" in app.success[0].value


def test_over_the_server_limit_a_user_is_told_to_wait(open_app, no_data, mnist):
    app = upload(open_app(TRAIN), "train.csv", kaggle_csv(mnist))
    configure(app)
    taken = 0
    try:
        for _ in range(SERVER_LIMIT.max_running):
            SERVER_LIMIT.acquire()
            taken += 1
        app.button(key="train_start").click().run()
    finally:
        for _ in range(taken):
            SERVER_LIMIT.release()
    assert not app.exception
    assert "trainings are already running on this server" in app.error[0].value
    assert "train_job" not in app.session_state


def test_pause_resume_live_learning_rate_and_stop(open_app, app_cache, mnist):
    app = open_app(TRAIN)
    assert app.radio(key="train_data").value == "MNIST"
    configure(app, epochs=20, batch=16, dev_size=1000)
    app.button(key="train_start").click().run()
    job = job_of(app)
    assert job.running
    assert (
        app.number_input(key="train_hidden")
        if False
        else app.text_input(key="train_hidden").disabled
    )

    app.button(key="train_pause").click().run()
    assert job.trainer.paused
    assert job.snapshot().status == "paused"
    app.button(key="train_resume").click().run()
    assert not job.trainer.paused

    app.number_input(key="train_live_lr").set_value(0.005).run()
    assert job.trainer.base_learning_rate == pytest.approx(0.005)

    before = len(job.snapshot().batch_losses)
    time.sleep(1.0)
    app.run()
    assert len(job.snapshot().batch_losses) > before, "the training is not going on"
    assert "batch" in app.get("progress")[0].proto.text

    app.button(key="train_stop").click().run()
    finish(app)
    assert "Training stopped" in app.success[0].value


def test_leaving_the_page_lets_the_idle_watchdog_stop_the_training(open_app, app_cache, mnist):
    app = open_app(TRAIN)
    configure(app, epochs=50, batch=16, dev_size=1000)
    app.button(key="train_start").click().run()
    job = job_of(app)
    app.switch_page("streamlit_app.py").run()  # the Train page no longer polls it
    job.idle_timeout = 0.5  # instead of waiting the default out
    job.join(timeout=30)
    assert not job.running
    assert job.snapshot().status == "stopped"


def test_bad_layer_sizes_are_explained_and_start_is_disabled(open_app, app_cache):
    app = open_app(TRAIN)
    app.text_input(key="train_hidden").input("64,abc").run()
    assert not app.exception
    assert "write whole numbers separated by commas" in app.error[0].value
    assert app.button(key="train_start").disabled


def test_every_engine_setting_has_a_widget(open_app, app_cache):
    app = open_app(TRAIN)
    for key in ("train_optimizer", "train_schedule", "train_activation"):
        assert app.selectbox(key=key).options
    for key in (
        "train_lr",
        "train_decay",
        "train_step_size",
        "train_gamma",
        "train_epochs",
        "train_dev_size",
        "train_seed",
    ):
        assert app.number_input(key=key) is not None
    assert app.slider(key="train_momentum").disabled  # only for the momentum optimizer
    app.selectbox(key="train_optimizer").select("momentum").run()
    assert not app.slider(key="train_momentum").disabled
    assert app.slider(key="train_dropout") is not None
    app.toggle(key="train_augment").set_value(True).run()
    assert not app.exception
    for field in (
        "rotation",
        "scale",
        "shift",
        "shear",
        "elastic_alpha",
        "elastic_sigma",
        "thickness",
        "untouched",
    ):
        assert app.slider(key=f"train_augment_{field}") is not None
    assert any("augmented copies" in caption.value for caption in app.caption)


def test_a_cnn_trains_and_shows_its_kernels(open_app, no_data, mnist):
    app = upload(open_app(TRAIN), "train.csv", kaggle_csv(mnist, rows=600))
    app.radio(key="train_kind").set_value("cnn").run()
    app.text_input(key="train_filters").input("4").run()
    app.text_input(key="train_cnn_hidden").input("16").run()
    app.number_input(key="train_epochs").set_value(1).run()
    app.number_input(key="train_dev_size").set_value(100).run()
    app.button(key="train_start").click().run()
    finish(app)
    assert not app.exception
    assert "Training finished" in app.success[0].value
    assert job_of(app).model.spec["layers"][0]["type"] == "conv2d"
    assert any(markdown.value.startswith("**First layer's weights**") for markdown in app.markdown)


def test_mnist_is_loaded_once_per_server_and_read_only(open_app, app_cache):
    from pages.common.data import cached_mnist

    first, second = open_app(TRAIN), open_app(TRAIN)
    assert not first.exception and not second.exception
    folder = str(find_mnist())
    dataset = cached_mnist(folder)
    assert cached_mnist(folder) is dataset
    assert not dataset.images.flags.writeable
    with pytest.raises(ValueError):
        dataset.images[0, 0, 0] = 1
