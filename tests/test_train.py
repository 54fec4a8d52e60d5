import threading

import numpy as np
import pytest

from digitnet.errors import DigitnetError
from digitnet.jobs import TrainingJob, TrainingLimit
from digitnet.model import Model
from digitnet.train import BatchEvent, EpochEvent, TrainConfig, Trainer
from tests.synthetic import synthetic_digits

TRAIN = synthetic_digits(1200, seed=0)
DEV = synthetic_digits(300, seed=1)


def make_trainer(config=None, on_event=None, spec="mlp:32", **kwargs):
    config = config or TrainConfig(epochs=3, batch_size=64, learning_rate=0.01)
    model = Model(spec, seed=config.seed)
    return Trainer(model, config, *TRAIN, *DEV, on_event=on_event, **kwargs)


def test_training_learns_and_reports_events():
    events = []
    trainer = make_trainer(on_event=events.append)
    result = trainer.run()
    batches = [e for e in events if isinstance(e, BatchEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert result.status == "finished"
    assert len(batches) == 3 * 19 and len(epochs) == 3
    assert batches[-1].progress == pytest.approx(1.0)
    assert batches[-1].eta_seconds == pytest.approx(0.0, abs=1e-6)
    assert all(e.samples_per_second > 0 for e in batches)
    assert epochs[-1].train_loss < epochs[0].train_loss
    assert result.best_dev_accuracy > 0.9
    metadata = trainer.model.metadata
    assert metadata["training"]["epochs"] == 3 and metadata["dev_accuracy"] > 0.9
    assert 0.05 < metadata["temperature"] < 20


def test_same_seed_same_result():
    config = TrainConfig(epochs=1, batch_size=50, learning_rate=0.01, seed=7)
    a, b = make_trainer(config), make_trainer(config)
    a.run(), b.run()
    assert all(np.array_equal(x, y) for x, y in zip(a.model.parameters(), b.model.parameters()))


def test_every_optimizer_and_schedule_trains():
    for optimizer, lr in [("sgd", 0.1), ("momentum", 0.05), ("adam", 0.003)]:
        for schedule in ["constant", "step", "cosine"]:
            config = TrainConfig(
                epochs=2, optimizer=optimizer, learning_rate=lr, schedule=schedule, step_size=1
            )
            assert make_trainer(config).run().best_dev_accuracy > 0.5, (optimizer, schedule)


def test_divergence_stops_with_a_clear_result_and_keeps_good_weights():
    config = TrainConfig(epochs=3, optimizer="sgd", learning_rate=1e6, schedule="constant")
    trainer = make_trainer(config)
    before = [p.copy() for p in trainer.model.parameters()]
    result = trainer.run()
    assert result.status == "diverged"
    assert result.message == "diverged: lower the learning rate"
    assert all(np.isfinite(p).all() for p in trainer.model.parameters())
    assert all(np.array_equal(p, q) for p, q in zip(before, trainer.model.parameters()))


def test_best_dev_weights_are_kept():
    trainer = make_trainer(TrainConfig(epochs=4, learning_rate=0.01))
    result = trainer.run()
    accuracy = (trainer.model.predict(DEV[0].astype(np.float32) / 255) == DEV[1]).mean()
    assert accuracy == pytest.approx(result.best_dev_accuracy)
    assert result.epochs[result.best_epoch].is_best


def test_stop_takes_effect_within_one_batch():
    events = []

    def stop_after_five(event):
        events.append(event)
        if isinstance(event, BatchEvent) and event.batch == 4:
            trainer.stop()

    trainer = make_trainer(on_event=stop_after_five)
    result = trainer.run()
    assert result.status == "stopped"
    assert sum(isinstance(e, BatchEvent) for e in events) == 5


def test_pause_blocks_and_resume_continues():
    seen = threading.Event()

    def pause_on_first(event):
        if isinstance(event, BatchEvent) and event.batch == 0 and event.epoch == 0:
            trainer.pause()
            seen.set()

    trainer = make_trainer(on_event=pause_on_first)
    thread = threading.Thread(target=trainer.run)
    thread.start()
    assert seen.wait(10)
    thread.join(0.5)
    assert thread.is_alive() and trainer.paused
    trainer.resume()
    thread.join(30)
    assert not thread.is_alive()


def test_learning_rate_change_applies_to_the_next_batch():
    rates = []

    def change(event):
        if isinstance(event, BatchEvent):
            rates.append(event.learning_rate)
            if event.batch == 1:
                trainer.set_learning_rate(0.5)

    config = TrainConfig(epochs=1, learning_rate=0.01, schedule="constant", optimizer="sgd")
    trainer = make_trainer(config, on_event=change)
    trainer.run()
    assert rates[:3] == [0.01, 0.01, 0.5]
    with pytest.raises(DigitnetError, match="learning rate"):
        trainer.set_learning_rate(0)


@pytest.mark.parametrize(
    "options, message",
    [({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch size"), ({"schedule": "x"}, "schedule")],
)
def test_bad_config_is_a_clear_error(options, message):
    with pytest.raises(DigitnetError, match=message):
        TrainConfig(**options)


def test_job_runs_in_the_background_and_respects_the_server_limit():
    limit = TrainingLimit(1)
    config = TrainConfig(epochs=50, learning_rate=0.01)
    first = TrainingJob(Model("mlp:16"), config, *TRAIN, *DEV, limit=limit)
    second = TrainingJob(Model("mlp:16"), config, *TRAIN, *DEV, limit=limit)
    first.start()
    with pytest.raises(DigitnetError, match="1 trainings are already running"):
        second.start()
    first.pause()
    assert first.progress().status in ("running", "paused")
    first.stop()
    first.join(30)
    progress = first.progress()
    assert progress.status == "stopped" and not first.running
    second.start()  # the slot was given back
    second.stop()
    second.join(30)


def test_job_nobody_watches_stops_itself():
    config = TrainConfig(epochs=1000, learning_rate=0.01)
    job = TrainingJob(Model("mlp:16"), config, *TRAIN, limit=TrainingLimit(1), idle_timeout=0.3)
    job.start()
    job.join(20)
    assert not job.running
    assert job.progress().status == "stopped"
    assert len(job.progress().batch_losses) > 0


def test_paused_job_nobody_watches_stops_too():
    config = TrainConfig(epochs=1000, learning_rate=0.01)
    job = TrainingJob(Model("mlp:16"), config, *TRAIN, limit=TrainingLimit(1), idle_timeout=0.5)
    job.start()
    job.pause()
    job.join(20)
    assert not job.running and job.progress().status == "stopped"
