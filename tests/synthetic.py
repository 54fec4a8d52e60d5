"""A small, learnable stand-in for MNIST: ten fixed random templates plus noise."""

import numpy as np

from digitnet.data.mnist import Dataset
from digitnet.network.model import Model
from digitnet.training.pipeline import Split, TrainingRun
from digitnet.training.trainer import TrainConfig


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    templates = np.random.default_rng(1234).random((10, 28, 28)) > 0.7
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    noise = rng.normal(0, 0.35, size=(n, 28, 28))
    images = np.clip(templates[labels] * 0.8 + noise, 0, 1)
    return (images * 255).astype(np.uint8), labels


def synthetic_dataset(n: int = 600) -> Dataset:
    """A data set of ``n`` synthetic digits with a test split of 100."""
    images, labels = synthetic_digits(n)
    test_images, test_labels = synthetic_digits(100, seed=1)
    return Dataset("synthetic", "memory", "c" * 64, images, labels, test_images, test_labels)


def synthetic_run(
    model: Model,
    config: TrainConfig,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    dev_images: np.ndarray | None = None,
    dev_labels: np.ndarray | None = None,
) -> TrainingRun:
    """A training pipeline run on these digits exactly (no test split to score on)."""
    if dev_images is None:
        dev_images, dev_labels = train_images[:0], train_labels[:0]
    dataset = Dataset("synthetic", "memory", "c" * 64, train_images, train_labels, None, None)
    split = Split(train_images, train_labels, dev_images, dev_labels)
    return TrainingRun(model, config, dataset, name="synthetic", architecture="mlp", split=split)
