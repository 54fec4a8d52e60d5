"""The model card: written once for the CLI and the app, read back from every weights file."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

import digitnet
from digitnet.analysis.metrics import evaluate
from digitnet.data.mnist import Dataset, split_dev
from digitnet.errors import DigitnetError
from digitnet.network.model import Model
from digitnet.network.weights import DEFAULT_WEIGHTS
from digitnet.training.card import (
    CARD_VERSION,
    DataSource,
    DevSplit,
    Score,
    card,
    describe,
    dev_split,
    write_card,
)
from digitnet.training.trainer import TrainConfig, Trainer
from tests.synthetic import synthetic_dataset


@pytest.fixture(scope="module")
def trained():
    """A small model trained on synthetic digits with a dev set of its own (100 held out with
    seed 3), and its card written as the CLI writes it."""
    dataset = synthetic_dataset()
    config = TrainConfig(epochs=1, batch_size=32, dev_size=100, seed=3)
    train_images, train_labels, dev_images, dev_labels = split_dev(
        dataset.images, dataset.labels, 100, 3
    )
    model = Model("mlp:16", seed=3)
    result = Trainer(model, config, train_images, train_labels, dev_images, dev_labels).run()
    test = evaluate(model, dataset.test_images, dataset.test_labels)
    made = write_card(
        model,
        name="tiny",
        architecture="mlp:16",
        config=config,
        dataset=dataset,
        result=result,
        scores={"test": test},
    )
    return model, dataset, made, test, result


def test_write_card_records_everything_and_survives_the_weights_file(trained, tmp_path):
    model, dataset, made, test, result = trained
    assert made.card_version == CARD_VERSION and made.digitnet_version == digitnet.__version__
    assert made.dataset == DataSource("synthetic", "c" * 64)
    assert made.dev_split == DevSplit(100, 3)
    assert made.training["epochs"] == 1 and made.training["status"] == "finished"
    assert made.metrics["test"] == Score(test.accuracy, test.calibration_error)
    assert 0 < made.metrics["dev"].accuracy <= 1 and made.temperature == model.temperature
    assert made.training_seconds == round(result.seconds, 1)
    created = datetime.fromisoformat(made.created)
    assert created.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - created).total_seconds()) < 600
    loaded = digitnet.load_model(digitnet.save_model(model, tmp_path / "tiny.npz"))
    assert card(loaded) == made


def test_dev_split_gives_back_the_digits_held_out_of_training(trained):
    model, dataset, *_ = trained
    images, labels = dev_split(model, dataset)
    _, _, expected_images, expected_labels = split_dev(dataset.images, dataset.labels, 100, 3)
    assert np.array_equal(images, expected_images) and np.array_equal(labels, expected_labels)
    _, _, default_images, _ = split_dev(dataset.images, dataset.labels, 100, 0)
    assert not np.array_equal(images, default_images), "seed 3's digits, not seed 0's"


def test_dev_split_refuses_data_the_model_was_not_trained_on(trained):
    model, dataset, *_ = trained
    other = Dataset("other.csv", "x", "d" * 64, dataset.images, dataset.labels, None, None)
    with pytest.raises(DigitnetError, match="tiny was trained on synthetic"):
        dev_split(model, other)


# The metadata of the CNN shipped before the card existed (weights/cnn.npz at 43321e6), as the
# CLI of then wrote it: loose keys, no card version.
CLI_METADATA_BEFORE_THE_CARD = {
    "architecture": "cnn",
    "best_epoch": 12,
    "created": "2026-11-22T01:27:55+00:00",
    "dataset": {"checksum": "b2d8f5bf" * 8, "name": "MNIST"},
    "dev_accuracy": 0.9914,
    "digitnet_version": "0.1.0",
    "name": "cnn",
    "preprocessing_version": 1,
    "temperature": 1.2732,
    "test_accuracy": 0.9944,
    "test_calibration_error": 0.0038859395489097125,
    "training": {"batch_size": 128, "dev_size": 5000, "epochs": 15, "seed": 0},
    "training_seconds": 368.4,
}


def test_weights_written_before_the_card_still_read_as_one(tmp_path):
    model = Model("mlp:8", metadata=CLI_METADATA_BEFORE_THE_CARD)
    made = card(digitnet.load_model(digitnet.save_model(model, tmp_path / "old.npz")))
    assert made.card_version == 0, "mapped from the loose metadata of before the card"
    assert made.name == "cnn" and made.dataset == DataSource("MNIST", "b2d8f5bf" * 8)
    assert made.dev_split == DevSplit(5000, 0)
    assert made.metrics["test"].accuracy == 0.9944 and made.metrics["dev"].accuracy == 0.9914
    assert made.created == "2026-11-22T01:27:55+00:00" and made.temperature == 1.2732


def test_the_shipped_weights_carry_a_card(mnist):
    made = card(digitnet.load_model(DEFAULT_WEIGHTS))
    assert made.card_version == CARD_VERSION
    assert made.dataset == DataSource("MNIST", mnist.checksum)
    assert made.metrics["test"].accuracy >= 0.994


def test_an_app_model_with_a_dataset_name_and_local_time_still_loads(tmp_path):
    metadata = {
        "name": "mine",
        "architecture": "MLP",
        "dataset": "MNIST",
        "created": "2026-11-20 14:03:10",
        "training": {"dev_size": 1000, "seed": 3, "epochs": 2},
        "dev_accuracy": 0.97,
    }
    model = Model("mlp:8", metadata=metadata)
    made = card(digitnet.load_model(digitnet.save_model(model, tmp_path / "mine.npz")))
    assert made.dataset == DataSource("MNIST", None)
    assert made.dev_split == DevSplit(1000, 3)
    assert made.metrics == {"dev": Score(0.97)} and made.training["epochs"] == 2
    assert datetime.fromisoformat(made.created).utcoffset().total_seconds() == 0
    assert describe(model)["dev_accuracy"] == 0.97


def test_a_model_with_no_training_record_gets_the_default_split():
    made = card(Model("mlp:8"))
    defaults = TrainConfig()
    assert made.dev_split == DevSplit(defaults.dev_size, defaults.seed)
    assert made.metrics == {} and made.created is None and made.dataset.name == "unknown"


def test_a_malformed_card_is_one_line():
    model = Model("mlp:8", metadata={"metrics": {"test": {"accuracy": 1, "bogus": 2}}})
    with pytest.raises(DigitnetError, match="malformed model card") as error:
        card(model)
    assert "\n" not in str(error.value)
