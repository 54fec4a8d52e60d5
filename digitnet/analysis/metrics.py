"""Measuring a model: accuracy, the confusion matrix, per-class scores and calibration."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from digitnet.images import NUM_CLASSES, to_float
from digitnet.network.layers import softmax
from digitnet.network.model import Model


def confusion_matrix(true: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Counts, rows = true digit, columns = predicted digit."""
    pairs = np.asarray(true, np.int64) * NUM_CLASSES + np.asarray(predicted, np.int64)
    return np.bincount(pairs, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)


def per_class_report(confusion: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 and support per digit; 0 where a digit is never predicted or seen."""
    correct = np.diag(confusion).astype(float)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros(NUM_CLASSES), where=predicted > 0)
    recall = np.divide(correct, support, out=np.zeros(NUM_CLASSES), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros(NUM_CLASSES), where=total > 0)
    return pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": support},
        index=pd.Index(range(NUM_CLASSES), name="digit"),
    )


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 15
) -> float:
    """How far the confidence of the top class is from its accuracy, averaged over confidence
    bins weighted by their size (Guo et al., 2017): 0.02 means confidences are off by 2 points."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which_bin = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which_bin == b
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    probabilities = softmax(logits.astype(np.float64) / temperature)
    return float(-np.log(probabilities[np.arange(len(labels)), labels] + 1e-12).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the dev set's negative log-likelihood (temperature scaling,
    Guo et al., 2017): one number, so it cannot overfit and never changes a prediction.
    Golden-section search on log T, since the likelihood is unimodal in it."""
    low, high = math.log(0.05), math.log(20.0)
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(40):
        a = high - ratio * (high - low)
        b = low + ratio * (high - low)
        if negative_log_likelihood(logits, labels, math.exp(a)) < negative_log_likelihood(
            logits, labels, math.exp(b)
        ):
            high = b
        else:
            low = a
    return round(math.exp((low + high) / 2), 4)


@dataclass(frozen=True)
class Evaluation:
    """A model's predictions on one labelled set, and the measures derived from them."""

    probabilities: np.ndarray
    labels: np.ndarray

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        return float((self.predictions == self.labels).mean())

    @property
    def confusion(self) -> np.ndarray:
        return confusion_matrix(self.labels, self.predictions)

    @property
    def report(self) -> pd.DataFrame:
        return per_class_report(self.confusion)

    @property
    def calibration_error(self) -> float:
        return expected_calibration_error(self.probabilities, self.labels)

    def mistakes(self) -> np.ndarray:
        """Indices of the misclassified examples, the most confident errors first."""
        wrong = np.flatnonzero(self.predictions != self.labels)
        return wrong[np.argsort(-self.probabilities[wrong].max(axis=1), kind="stable")]


def evaluate(model: Model, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """``images`` uint8 (0-255) or float32 in [0, 1]."""
    return Evaluation(model.predict_proba(to_float(images)), np.asarray(labels))
