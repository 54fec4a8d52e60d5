"""Measuring a model: accuracy, the confusion matrix, per-class scores and calibration."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from digitnet.errors import DigitnetError
from digitnet.images import NUM_CLASSES, to_float
from digitnet.network.layers import softmax
from digitnet.network.model import Model

# Confidence bins of the calibration error and its reliability diagram: the cards', the CLI's and
# the Confusion page's figures are all measured on these.
CALIBRATION_BINS = 15


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


def reliability(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS
) -> pd.DataFrame:
    """A reliability diagram's numbers: the top class's confidence cut into ``bins`` equal bins
    of [0, 1], and for each bin that holds a prediction, its confidence range (``low``,
    ``high``), its mean ``confidence``, the ``accuracy`` of its predictions and their ``count``.
    Where confidences mean what they say, accuracy equals confidence in every bin. (Means in the
    probabilities' own precision, as the cards' calibration errors were measured.)"""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    which_bin = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = []
    for b in np.unique(which_bin):
        in_bin = which_bin == b
        mean_confidence, accuracy = float(confidence[in_bin].mean()), float(correct[in_bin].mean())
        rows.append((b, b / bins, (b + 1) / bins, mean_confidence, accuracy, int(in_bin.sum())))
    columns = ["bin", "low", "high", "confidence", "accuracy", "count"]
    return pd.DataFrame(rows, columns=columns).set_index("bin")


def calibration_gap(table: pd.DataFrame) -> float:
    """The expected calibration error of a ``reliability`` table: the gap between accuracy and
    confidence in each bin, averaged with the bins weighted by their size (0 for no bins)."""
    gaps = (table["accuracy"] - table["confidence"]).abs()
    return float((gaps * table["count"]).sum() / max(table["count"].sum(), 1))


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """How far the confidence of the top class is from its accuracy, averaged over confidence
    bins weighted by their size (Guo et al., 2017): 0.02 means confidences are off by 2 points."""
    return calibration_gap(reliability(probabilities, labels, bins))


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
    """A model's predictions on one labelled set, and the measures derived from them.
    ``logits``: the digits' logits, before the model's temperature (``evaluate`` keeps them)."""

    probabilities: np.ndarray
    labels: np.ndarray
    logits: np.ndarray | None = None

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

    @property
    def reliability(self) -> pd.DataFrame:
        return reliability(self.probabilities, self.labels)

    def untempered(self) -> Evaluation:
        """The same predictions at temperature 1: the network's own confidence, as it was before
        the model's temperature calibrated it."""
        if self.logits is None:
            raise DigitnetError("this evaluation has no logits: make it with evaluate()")
        return Evaluation(softmax(self.logits), self.labels, self.logits)

    def mistakes(self) -> np.ndarray:
        """Indices of the misclassified examples, the most confident errors first."""
        wrong = np.flatnonzero(self.predictions != self.labels)
        return wrong[np.argsort(-self.probabilities[wrong].max(axis=1), kind="stable")]


def evaluate(model: Model, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """``images`` uint8 (0-255) or float32 in [0, 1]. One forward pass gives the logits and,
    divided by the model's temperature as ``Model.predict_proba`` does, the probabilities."""
    logits = model.digit_logits(to_float(images))
    return Evaluation(softmax(logits / np.float32(model.temperature)), np.asarray(labels), logits)
