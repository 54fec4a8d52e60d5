"""The weights in weights/ are what the model card says they are (CI has MNIST)."""

from __future__ import annotations

import pytest

import digitnet
from digitnet.analysis.metrics import evaluate
from digitnet.data.mnist import load_dataset
from digitnet.data.pendigits import find_pen_data, load_pen_data, pen_dev_set
from digitnet.data.preprocess import PREPROCESS_VERSION
from digitnet.network.weights import DEFAULT_WEIGHTS, FAST_WEIGHTS
from digitnet.training.card import card, dev_split

MAX_BYTES = 5 * 1024 * 1024


# Issue 9: MNIST test at least 99.4% (CNN) and 98.8% (MLP); the CNN reads at least 99% of the
# pen-dev writers' drawings (the MLP is held to 98.5% there, below its measured 99.4%).
SHIPPED = [(DEFAULT_WEIGHTS, 0.994, 0.99), (FAST_WEIGHTS, 0.988, 0.985)]


@pytest.fixture(scope="module")
def pen_dev():
    """The pen-dev writers' digits drawn as canvas drawings (CI sets DIGITNET_PEN_DATA)."""
    if find_pen_data() is None:
        pytest.fail("no pen data: set DIGITNET_PEN_DATA to the folder of pendigits-orig.tra.gz")
    return pen_dev_set(load_pen_data(download=False))


@pytest.mark.parametrize("path, minimum, _", SHIPPED, ids=["cnn", "mlp"])
def test_shipped_model_accuracy_size_and_card(path, minimum, _, mnist):
    assert path.stat().st_size < MAX_BYTES
    model = digitnet.load_model(path)
    made = card(model)
    assert made.name == path.stem and made.training["epochs"] > 0 and made.created
    assert made.training["extra_share"] > 0, "trained on MNIST and pen drawings together"
    assert made.digitnet_version and made.preprocessing_version == PREPROCESS_VERSION
    assert made.dataset.checksum == mnist.checksum and made.temperature != 1.0
    evaluation = evaluate(model, mnist.test_images, mnist.test_labels)
    assert evaluation.accuracy >= minimum
    assert evaluation.accuracy == pytest.approx(made.metrics["test"].accuracy, abs=1e-9)
    dev_images, dev_labels = dev_split(model, load_dataset("mnist"))
    assert evaluate(model, dev_images, dev_labels).accuracy == pytest.approx(
        made.metrics["dev"].accuracy, abs=1e-4
    )


def test_the_default_is_the_cnn_and_its_confidence_is_calibrated(mnist):
    model = digitnet.load_model()
    assert model.metadata["path"] == str(DEFAULT_WEIGHTS)
    assert any(layer["type"] == "conv2d" for layer in model.spec["layers"])
    assert evaluate(model, mnist.test_images, mnist.test_labels).calibration_error < 0.02


@pytest.mark.parametrize("path, _, minimum", SHIPPED, ids=["cnn", "mlp"])
def test_shipped_models_read_the_unseen_pen_writers(path, _, minimum, pen_dev):
    assert evaluate(digitnet.load_model(path), *pen_dev).accuracy >= minimum
