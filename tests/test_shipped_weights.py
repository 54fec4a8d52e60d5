"""The weights in weights/ are what the model card says they are (CI has MNIST)."""

from __future__ import annotations

import pytest

import digitnet
from digitnet.metrics import evaluate
from digitnet.weights import DEFAULT_WEIGHTS, FAST_WEIGHTS

MAX_BYTES = 5 * 1024 * 1024
REQUIRED_METADATA = (
    "spec",
    "name",
    "architecture",
    "training",
    "dataset",
    "preprocessing_version",
    "dev_accuracy",
    "test_accuracy",
    "created",
    "digitnet_version",
    "temperature",
)


@pytest.mark.parametrize(
    "path, minimum", [(DEFAULT_WEIGHTS, 0.993), (FAST_WEIGHTS, 0.985)], ids=["cnn", "mlp"]
)
def test_shipped_model_accuracy_size_and_metadata(path, minimum, mnist):
    assert path.stat().st_size < MAX_BYTES
    model = digitnet.load_model(path)
    for key in REQUIRED_METADATA:
        assert key in model.metadata, key
    evaluation = evaluate(model, mnist.test_images, mnist.test_labels)
    assert evaluation.accuracy >= minimum
    assert evaluation.accuracy == pytest.approx(model.metadata["test_accuracy"], abs=1e-9)
    assert model.metadata["dataset"]["checksum"] == mnist.checksum


def test_the_default_is_the_cnn_and_its_confidence_is_calibrated(mnist):
    model = digitnet.load_model()
    assert model.metadata["path"] == str(DEFAULT_WEIGHTS)
    assert any(layer["type"] == "conv2d" for layer in model.spec["layers"])
    assert evaluate(model, mnist.test_images, mnist.test_labels).calibration_error < 0.02
