import threading

import numpy as np
import pytest

from digitnet.data.augment import AugmentConfig
from digitnet.errors import DigitnetError
from digitnet.images import to_float
from digitnet.network.layers import softmax_cross_entropy
from digitnet.network.model import Model
from digitnet.training.jobs import TrainingJob, TrainingLimit
from digitnet.training.trainer import PREFETCH_THREAD, BatchEvent, EpochEvent, TrainConfig, Trainer
from tests.synthetic import synthetic_digits, synthetic_run

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
    "field, value, message",
    [
        ("epochs", 0, "epochs must be at least 1 and at most 1000, a whole number, got 0"),
        ("epochs", 1001, "epochs must be"),
        ("epochs", 2.5, "epochs must be"),
        ("batch_size", 0, "batch size must be at least 1 and at most 65536, a whole number, got 0"),
        ("batch_size", 10**6, "batch size must be"),
        ("optimizer", "rmsprop", "unknown optimizer 'rmsprop': use one of sgd, momentum, adam"),
        ("learning_rate", 0.0, "learning rate must be a positive number, got 0.0"),
        ("learning_rate", float("inf"), "learning rate must be a positive number"),
        ("learning_rate", float("nan"), "learning rate must be a positive number"),
        ("learning_rate", "0.1", "learning rate must be a positive number"),
        ("momentum", 1.0, r"momentum must be in \[0, 1\), got 1.0"),
        ("momentum", -0.1, "momentum must be"),
        ("weight_decay", -1e-4, "weight decay must be a number >= 0"),
        ("weight_decay", float("inf"), "weight decay must be"),
        ("schedule", "linear", "unknown schedule 'linear': use one of constant, step, cosine"),
        ("step_size", 0, "step size must be a whole number of epochs >= 1, got 0"),
        ("gamma", 0.0, r"gamma must be in \(0, 1\], got 0.0"),
        ("gamma", 1.5, "gamma must be"),
        ("seed", -1, "seed must be at least 0 and below 2\\*\\*32, a whole number, got -1"),
        ("seed", 2**32, "seed must be"),
        ("seed", True, "seed must be"),
        ("dev_size", -1, "dev size must be at least 0, a whole number, got -1"),
        ("extra_share", 1.0, r"extra share must be in \[0, 1\), got 1.0"),
        ("extra_share", -0.1, "extra share must be"),
        ("augment", {"rotation": 5}, "augment must be an AugmentConfig or None"),
    ],
)
def test_every_config_field_is_checked_with_a_one_line_error(field, value, message):
    with pytest.raises(DigitnetError, match=message) as caught:
        TrainConfig(**{field: value})
    assert "\n" not in str(caught.value)


def test_the_edges_of_the_config_ranges_are_accepted():
    config = TrainConfig(
        epochs=1000,
        batch_size=1,
        momentum=0.0,
        weight_decay=0.0,
        step_size=1,
        gamma=1.0,
        seed=2**32 - 1,
        dev_size=0,
        extra_share=0.0,
        augment=AugmentConfig(),
    )
    assert config.to_dict()["seed"] == 2**32 - 1


def test_job_runs_in_the_background_and_respects_the_server_limit():
    limit = TrainingLimit(1)
    config = TrainConfig(epochs=50, learning_rate=0.01)
    first = TrainingJob(synthetic_run(Model("mlp:16"), config, *TRAIN, *DEV), limit=limit)
    second = TrainingJob(synthetic_run(Model("mlp:16"), config, *TRAIN, *DEV), limit=limit)
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
    job = TrainingJob(
        synthetic_run(Model("mlp:16"), config, *TRAIN), limit=TrainingLimit(1), idle_timeout=0.3
    )
    job.start()
    job.join(20)
    assert not job.running
    assert job.progress().status == "stopped"
    assert len(job.progress().batch_losses) > 0


def test_paused_job_nobody_watches_stops_too():
    config = TrainConfig(epochs=1000, learning_rate=0.01)
    job = TrainingJob(
        synthetic_run(Model("mlp:16"), config, *TRAIN), limit=TrainingLimit(1), idle_timeout=0.5
    )
    job.start()
    job.pause()
    job.join(20)
    assert not job.running and job.progress().status == "stopped"


# --- Mixing in digits from another source ------------------------------------------------------


class BarDigits:
    """A fake extra source unlike the training templates: digit d is a bright bar on row 2d+4,
    and pixel (0, 0) carries d / 10 so a test can read the label back from the image."""

    name = "bars"

    def __init__(self):
        self.requests = []

    def sample(self, count, rng):
        self.requests.append(count)
        labels = rng.integers(0, 10, size=count)
        images = rng.random((count, 28, 28), dtype=np.float32) * 0.2
        images[np.arange(count), 2 * labels + 4, 4:24] = 1.0
        images[:, 0, 0] = labels / 10
        return images, labels


def recorded_batches(monkeypatch, trainer):
    """(images, labels) of every batch the model trains on."""
    seen = []
    forward = trainer.model.forward

    def spy_forward(x, training=False):
        seen.append([x.copy()])
        return forward(x, training=training)

    def spy_loss(logits, labels):
        seen[-1].append(labels.copy())
        return softmax_cross_entropy(logits, labels)

    monkeypatch.setattr(trainer.model, "forward", spy_forward)
    monkeypatch.setattr("digitnet.training.trainer.softmax_cross_entropy", spy_loss)
    return seen


def test_extra_digits_fill_their_share_of_every_batch_with_matching_labels(monkeypatch):
    images, labels = TRAIN[0][:1000], TRAIN[1][:1000]
    config = TrainConfig(epochs=1, batch_size=64, learning_rate=0.01, extra_share=0.25)
    source = BarDigits()
    trainer = Trainer(Model("mlp:32"), config, images, labels, extra=source)
    batches = recorded_batches(monkeypatch, trainer)
    trainer.run()
    # 16 of 64 from the source; 1000 = 20 batches of 48 images and one of 40 (with 40/48 of 16).
    assert source.requests == [16] * 20 + [13]
    assert [len(y) for _, y in batches] == [64] * 20 + [53]
    label_of_image = {image.tobytes(): label for image, label in zip(to_float(images), labels)}
    trained_on = []
    for x, y in batches:
        extras = 13 if len(y) == 53 else 16
        assert np.array_equal(np.round(x[-extras:, 0, 0] * 10), y[-extras:])
        assert [label_of_image[image.tobytes()] for image in x[:-extras]] == list(y[:-extras])
        trained_on += [image.tobytes() for image in x[:-extras]]
    assert sorted(trained_on) == sorted(label_of_image), "an epoch is one pass over the images"
    assert trainer.model.metadata["training"]["extra_share"] == 0.25
    assert trainer.model.metadata["training"]["extra_source"] == "bars"


def test_mixed_training_is_repeatable_and_learns_the_extra_digits():
    def train(extra_share):
        config = TrainConfig(epochs=3, batch_size=64, learning_rate=0.01, extra_share=extra_share)
        source = BarDigits() if extra_share else None
        trainer = Trainer(Model("mlp:32", seed=0), config, *TRAIN, extra=source)
        trainer.run()
        return trainer.model

    bars, bar_labels = BarDigits().sample(500, np.random.default_rng(99))
    mixed, again, plain = train(0.3), train(0.3), train(0.0)
    assert all(np.array_equal(a, b) for a, b in zip(mixed.parameters(), again.parameters()))
    assert (mixed.predict(bars) == bar_labels).mean() > 0.95
    assert (plain.predict(bars) == bar_labels).mean() < 0.5, "the bars must be learnt, not given"
    assert (mixed.predict(to_float(DEV[0])) == DEV[1]).mean() > 0.9


class BadSource:
    name = "broken"

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def sample(self, count, rng):
        return self.images[:count], self.labels[:count]


@pytest.mark.parametrize(
    "source, message",
    [
        (BadSource(np.zeros((100, 20, 20), np.float32), np.zeros(100)), r"\(16, 28, 28\)"),
        (BadSource(np.full((100, 28, 28), 255.0), np.zeros(100)), r"in \[0, 1\]"),
        (BadSource(np.zeros((100, 28, 28)), np.full(100, 11)), "from 0 to 10"),
    ],
)
def test_a_bad_extra_source_is_a_clear_error(source, message):
    config = TrainConfig(epochs=1, batch_size=64, extra_share=0.25)
    trainer = Trainer(Model("mlp:8"), config, *TRAIN, extra=source)
    with pytest.raises(DigitnetError, match=f"extra source broken: .*{message}"):
        trainer.run()


def test_an_extra_share_needs_a_source_and_room_for_images():
    with pytest.raises(DigitnetError, match="no extra source"):
        Trainer(Model("mlp:8"), TrainConfig(extra_share=0.5), *TRAIN)
    config = TrainConfig(batch_size=2, extra_share=0.9)
    with pytest.raises(DigitnetError, match="leaves no training images in a batch of 2"):
        Trainer(Model("mlp:8"), config, *TRAIN, extra=BarDigits())


def test_the_prefetch_thread_is_closed_when_the_model_fails_mid_epoch(monkeypatch):
    trainer = make_trainer()
    calls = []
    forward = trainer.model.forward

    def fail_on_third_batch(x, training=False):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return forward(x, training=training)

    monkeypatch.setattr(trainer.model, "forward", fail_on_third_batch)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.run()
    assert not [t for t in threading.enumerate() if t.name.startswith(PREFETCH_THREAD)]
