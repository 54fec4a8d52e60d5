"""Your drawing through training: the weights of each epoch (digitnet.training.snapshots) and
the Train page's slider over them."""

from __future__ import annotations

import numpy as np
import pytest

from digitnet import DigitnetError
from digitnet.network.model import Model, copy_weights
from digitnet.training.jobs import TrainingJob
from digitnet.training.snapshots import Snapshots
from digitnet.training.trainer import EpochEvent, TrainConfig
from pages.common.inside import LATEST_DRAWING
from pages.common.through_training import reading
from tests.synthetic import synthetic_digits, synthetic_run
from tests.test_app_train import finish, job_of, trained

TRAIN = synthetic_digits(600, seed=0)
DEV = synthetic_digits(100, seed=1)


def test_a_job_keeps_each_epochs_weights_and_a_model_at_each_reads_as_it_did():
    job = TrainingJob(synthetic_run(Model("mlp:16"), TrainConfig(epochs=3), *TRAIN, *DEV))
    images = DEV[0][:5] / np.float32(255)
    seen = []  # the live model's reading at the end of each epoch
    record = job.run.on_event

    def on_event(event):
        record(event)
        if isinstance(event, EpochEvent):
            seen.append(job.model.predict_proba(images))

    job.run.on_event = on_event
    job.start()
    job.join(60)
    assert job.snapshots.epochs == [0, 1, 2]
    for epoch, probabilities in enumerate(seen):
        again = job.snapshots.model_at(epoch).predict_proba(images)
        np.testing.assert_allclose(again, probabilities, rtol=1e-5)
    assert not np.allclose(seen[0], seen[2]), "the epochs' networks should differ"


def test_past_the_limit_every_other_snapshot_goes_and_the_first_and_latest_stay():
    model = Model("mlp:16")
    size = sum(array.nbytes for array in copy_weights(model))
    snapshots = Snapshots(model, max_bytes=5 * size)
    for epoch in range(12):
        snapshots.take(epoch)
        assert snapshots.nbytes <= 5 * size
        assert snapshots.epochs[0] == 0 and snapshots.epochs[-1] == epoch
    assert len(snapshots.epochs) >= 3
    with pytest.raises(DigitnetError, match="no snapshot of epoch 2 "):
        snapshots.model_at(1)


def test_the_train_page_shows_how_each_epoch_read_your_drawing(open_app, no_data, mnist):
    app = open_app("pages/train_page.py")
    drawing = mnist.test_images[0] / np.float32(255)
    app.session_state[LATEST_DRAWING] = drawing
    app = trained(app, mnist)  # one epoch
    job = job_of(app)
    assert app.session_state["train_snapshot_epoch"] == 1
    expected = reading(job.snapshots.model_at(0).predict_proba(drawing[None])[0])
    assert any(f"At epoch 1, your last drawing: it {expected}." in m.value for m in app.markdown)


def test_the_slider_goes_back_to_an_earlier_epoch(open_app, no_data, mnist):
    from tests.test_app_train import configure, kaggle_csv, upload

    app = upload(open_app("pages/train_page.py"), "train.csv", kaggle_csv(mnist))
    drawing = mnist.test_images[1] / np.float32(255)
    app.session_state[LATEST_DRAWING] = drawing
    configure(app, epochs=3)
    app.button(key="train_start").click().run()
    app = finish(app)
    job = job_of(app)
    slider = app.select_slider(key="train_snapshot_epoch")
    assert slider.options == ["1", "2", "3"] and slider.value == 3
    app = slider.set_value(1).run()
    expected = reading(job.snapshots.model_at(0).predict_proba(drawing[None])[0])
    assert any(f"At epoch 1, your last drawing: it {expected}." in m.value for m in app.markdown)
