"""The Train page in AppTest: data (MNIST, upload, none), settings, the background job and its
controls, the end of a training (save, download, use), and the ways it can go wrong.

Saving goes through the catalog (``save_user_model(model, name, *, overwrite)``, which raises
``catalog.NameTaken`` rather than replace another model)."""

from __future__ import annotations

import re
import time
import tomllib

import numpy as np
import pytest

from digitnet import DigitnetError, load_model
from digitnet.analysis.metrics import evaluate
from digitnet.data.mnist import find_mnist
from digitnet.data.pendigits import PEN_ENV, load_pen_data
from digitnet.training import catalog
from digitnet.training.card import DevSplit, card
from digitnet.training.catalog import fingerprint, models_dir, sanitize_name
from digitnet.training.jobs import JobProgress
from digitnet.training.trainer import BatchEvent
from pages.common.server import server
from pages.train_page import progress_text
from tests.conftest import ROOT
from tests.test_cli import write_pen_file

TRAIN = "pages/train_page.py"
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


def trained(app, mnist, seed=0):
    """The page after a one-epoch training on an uploaded CSV (a second or so)."""
    upload(app, "train.csv", kaggle_csv(mnist))
    configure(app)
    app.number_input(key="train_seed").set_value(seed).run()
    app.button(key="train_start").click().run()
    finish(app)
    assert "Training finished" in app.success[0].value
    return app


def result_is_still_shown(app) -> None:
    assert not app.exception
    assert "Training finished" in app.success[0].value
    assert len(app.get("download_button")) == 1
    assert app.get("vega_lite_chart"), "the curves are gone"


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
    limit = server().training_limit  # the one the router made for this process
    taken = 0
    try:
        for _ in range(limit.max_running):
            limit.acquire()
            taken += 1
        app.button(key="train_start").click().run()
    finally:
        for _ in range(taken):
            limit.release()
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
    assert app.text_input(key="train_hidden").disabled

    app.button(key="train_pause").click().run()
    assert job.trainer.paused
    assert job.progress().status == "paused"
    app.button(key="train_resume").click().run()
    assert not job.trainer.paused

    app.number_input(key="train_live_lr").set_value(0.005).run()
    assert job.trainer.base_learning_rate == pytest.approx(0.005)

    before = len(job.progress().batch_losses)
    time.sleep(1.0)
    app.run()
    assert len(job.progress().batch_losses) > before, "the training is not going on"
    assert "batch" in app.get("progress")[0].proto.text

    app.button(key="train_stop").click().run()
    finish(app)
    assert "Training stopped" in app.success[0].value


def test_leaving_the_page_lets_the_idle_watchdog_stop_the_training(open_app, app_cache, mnist):
    app = open_app(TRAIN)
    configure(app, epochs=50, batch=16, dev_size=1000)
    app.button(key="train_start").click().run()
    job = job_of(app)
    app.switch_page("pages/draw_page.py").run()  # the Train page no longer polls it
    job.idle_timeout = 0.5  # instead of waiting the default out
    job.join(timeout=30)
    assert not job.running
    assert job.progress().status == "stopped"


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
    from pages.common.caches import cached_mnist

    first, second = open_app(TRAIN), open_app(TRAIN)
    assert not first.exception and not second.exception
    folder = str(find_mnist())
    dataset = cached_mnist(folder)
    assert cached_mnist(folder) is dataset
    assert not dataset.images.flags.writeable
    with pytest.raises(ValueError):
        dataset.images[0, 0, 0] = 1


def test_cnn_filters_whose_shapes_do_not_fit_get_one_line_not_a_traceback(open_app, app_cache):
    app = open_app(TRAIN)
    app.radio(key="train_kind").set_value("cnn").run()
    app.text_input(key="train_filters").input("16,32,64").run()
    assert not app.exception
    (error,) = app.error
    assert "kernel (5, 5) is larger than its padded input" in error.value
    assert "\n" not in error.value
    assert app.button(key="train_start").disabled


def test_a_cnn_with_1275_filters_and_batch_1024_cannot_start_and_the_page_says_why(
    open_app, app_cache
):
    """The case: 12 GB for one training, and two may run at once. The estimate is shown beside
    the parameter count before anything is built, and Start stays disabled."""
    app = open_app(TRAIN)
    (caption,) = [c.value for c in app.caption if "parameters · about" in c.value]
    assert re.fullmatch(r"235,275 parameters · about \d+ MB to train", caption)
    assert not app.button(key="train_start").disabled
    app.radio(key="train_kind").set_value("cnn").run()
    app.text_input(key="train_filters").input("1275").run()
    app.select_slider(key="train_batch").set_value(1024).run()
    assert not app.exception
    assert app.button(key="train_start").disabled
    (error,) = app.error
    assert re.fullmatch(
        r"this training needs about \d+\.\d GB, over the 6 GB a training may use on this "
        r"server: fewer filters or a smaller batch",
        error.value,
    )
    (caption,) = [c.value for c in app.caption if "parameters · about" in c.value]
    assert re.fullmatch(r"23,535,497 parameters · about \d+\.\d GB to train", caption)
    app.select_slider(key="train_batch").set_value(32).run()  # a smaller batch fits
    assert not app.error and not app.button(key="train_start").disabled


def test_the_memory_budget_is_the_servers_setting(open_app, app_cache, monkeypatch):
    server.clear()
    monkeypatch.setenv("DIGITNET_MEMORY_BUDGET", "100MB")
    app = open_app(TRAIN)
    assert server().memory_budget == 100 * 10**6
    assert app.button(key="train_start").disabled
    (error,) = app.error
    assert error.value.endswith(
        "over the 100 MB a training may use on this server: smaller layers or a smaller batch"
    )
    server.clear()
    monkeypatch.setenv("DIGITNET_MEMORY_BUDGET", "lots")
    assert "'lots' is not an amount of memory: write it like 6GB" in open_app().error[0].value
    monkeypatch.delenv("DIGITNET_MEMORY_BUDGET")
    server.clear()


@pytest.mark.parametrize("name", ["!!!", "   ", "..", "模型"])
def test_an_unusable_model_name_gets_one_line_and_the_result_stays(open_app, no_data, mnist, name):
    app = trained(open_app(TRAIN), mnist)
    app.text_input(key="train_save_name").input(name).run()
    result_is_still_shown(app)
    download = app.get("download_button")[0].proto
    assert download.label == "Download .npz"
    app.button(key="train_save").click().run()
    result_is_still_shown(app)
    saved = sorted(path.name for path in models_dir().iterdir())
    if name.strip():  # made usable: a stem of its own, told apart by a hash of the name
        assert saved == ["fixture.npz", f"{sanitize_name(name)}.npz"]
        assert not app.error
    else:
        assert app.error[0].value.startswith("a model needs a name")
        assert saved == ["fixture.npz"]


def test_saving_over_another_sessions_model_asks_before_replacing_it(open_app, no_data, mnist):
    first = trained(open_app(TRAIN), mnist, seed=1)
    first.text_input(key="train_save_name").input("mymodel").run()
    first.button(key="train_save").click().run()
    saved = models_dir() / "mymodel.npz"
    first_model = job_of(first).model
    assert fingerprint(load_model(saved)) == fingerprint(first_model)

    second = trained(open_app(TRAIN), mnist, seed=2)
    second.text_input(key="train_save_name").input("mymodel").run()
    second.button(key="train_save").click().run()
    result_is_still_shown(second)
    question = "A model called mymodel is already saved: replace it?"
    assert question in [warning.value for warning in second.warning]
    assert fingerprint(load_model(saved)) == fingerprint(first_model)  # nothing replaced yet

    second.button(key="train_replace").click().run()
    assert not second.exception
    assert fingerprint(load_model(saved)) == fingerprint(job_of(second).model)
    assert second.sidebar.selectbox(key="model_select").value == "mymodel (saved)"
    assert question not in [warning.value for warning in second.warning]


def test_saving_where_it_cannot_shows_the_catalogs_one_line(open_app, no_data, mnist, monkeypatch):
    message = "cannot save mymodel in /srv/cache/models: the disk is full"

    def full_disk(model, name, *, overwrite=False):
        raise DigitnetError(message)

    monkeypatch.setattr(catalog, "save_user_model", full_disk)
    app = trained(open_app(TRAIN), mnist)
    app.text_input(key="train_save_name").input("mymodel").run()
    app.button(key="train_save").click().run()
    result_is_still_shown(app)
    assert [error.value for error in app.error] == [message]


def test_the_server_applies_blas_threads_and_the_training_limit_once(
    open_app, app_cache, monkeypatch
):
    from threadpoolctl import threadpool_info

    server.clear()
    monkeypatch.setenv("DIGITNET_MAX_TRAININGS", "3")
    app = open_app(TRAIN)
    assert not app.exception
    limit = server().training_limit
    assert limit.max_running == 3
    assert open_app(TRAIN) and server().training_limit is limit  # one per process
    blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and set(blas) == {1}
    server.clear()


@pytest.mark.parametrize(("value", "message"), [("two", "not a whole number"), ("0", "at least 1")])
def test_a_bad_training_limit_is_one_line(open_app, app_cache, monkeypatch, value, message):
    server.clear()
    monkeypatch.setenv("DIGITNET_MAX_TRAININGS", value)
    app = open_app()
    assert not app.exception
    assert message in app.error[0].value
    monkeypatch.delenv("DIGITNET_MAX_TRAININGS")
    assert not open_app().error  # the fixed value is read on the next run
    server.clear()


# --- MNIST + pen drawings, and the model card a training writes --------------------------------


def test_an_uploaded_csvs_training_writes_its_model_card(open_app, no_data, mnist):
    app = trained(open_app(TRAIN), mnist, seed=4)
    job = job_of(app)
    made = card(job.model)
    assert made.dataset.name == "train.csv" and made.dev_split == DevSplit(300, 4)
    assert made.created.endswith("+00:00") and made.training["status"] == "finished"
    assert made.metrics["dev"].accuracy == job.progress().result.best_dev_accuracy
    assert "test" not in made.metrics, "a train.csv has no test set"
    assert made.training["extra_share"] == 0.0
    downloaded = app.get("download_button")[0].proto
    assert downloaded.label == "Download .npz"


@pytest.fixture
def pen_folder(tmp_path, monkeypatch):
    """DIGITNET_PEN_DATA pointing at a small pen file (one pen-train, two pen-dev writers)."""
    write_pen_file(tmp_path / "pen", load_pen_data(download=False), per_writer=30)
    monkeypatch.setenv(PEN_ENV, str(tmp_path / "pen"))
    return tmp_path / "pen"


def test_mnist_and_pen_drawings_train_together_and_the_card_says_so(
    open_app, app_cache, pen_folder, mnist
):
    app = open_app(TRAIN)
    assert app.radio(key="train_data").options == ["MNIST", "MNIST + pen drawings"]
    app.radio(key="train_data").set_value("MNIST + pen drawings").run()
    assert any("30 digits by 1 writers" in caption.value for caption in app.caption)
    app.slider(key="train_pen_share").set_value(0.25).run()
    app.slider(key="train_not_digit_share").set_value(0.05).run()
    configure(app, epochs=1, dev_size=500, batch=1024)
    app.button(key="train_start").click().run()
    assert not app.exception
    job = job_of(app)
    assert job.trainer.extra.name == "pen drawings + not digits"
    assert job.trainer.plan.extras == round(0.3 * 1024)
    finish(app, timeout=300)
    assert not app.exception
    made = card(job.model)
    assert made.training["extra_share"] == 0.3 and made.dataset.name == "MNIST"
    test = evaluate(job.model, mnist.test_images, mnist.test_labels)
    assert made.metrics["test"].accuracy == test.accuracy
    assert f"test accuracy {test.accuracy:.2%}" in app.success[0].value


def test_without_pen_data_only_mnist_is_offered(open_app, app_cache, monkeypatch):
    monkeypatch.delenv(PEN_ENV, raising=False)
    app = open_app(TRAIN)
    assert app.radio(key="train_data").options == ["MNIST"]
    assert all(slider.key != "train_pen_share" for slider in app.slider)


def test_the_progress_line_gives_a_time_left_only_while_training_runs():
    latest = BatchEvent(
        epoch=16,
        batch=109,
        batches_per_epoch=454,
        loss=0.1,
        learning_rate=0.00094,
        samples_per_second=77165,
        eta_seconds=63,
        progress=0.17,
    )

    def line(status: str) -> str:
        return progress_text(JobProgress(status, [], [], latest, None, None, None))

    assert line("running") == (
        "running · epoch 17, batch 110/454 · 77,165 samples/s · ETA 63 s · learning rate 0.00094"
    )
    for status in ("paused", "stopped", "finished", "diverged"):
        assert "ETA" not in line(status) and line(status).startswith(f"{status} · epoch 17")
