import numpy as np
import pytest

from digitnet.analysis.metrics import (
    Evaluation,
    confusion_matrix,
    expected_calibration_error,
    fit_temperature,
    per_class_report,
)
from digitnet.network.layers import softmax


def test_confusion_matrix_counts_pairs():
    cm = confusion_matrix(np.array([0, 0, 1, 9, 9]), np.array([0, 1, 1, 9, 3]))
    assert cm.shape == (10, 10) and cm.sum() == 5
    assert cm[0, 0] == 1 and cm[0, 1] == 1 and cm[1, 1] == 1 and cm[9, 9] == 1 and cm[9, 3] == 1


def test_per_class_report():
    cm = confusion_matrix(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]))
    report = per_class_report(cm)
    assert report.loc[0, "precision"] == 1.0
    assert report.loc[0, "recall"] == pytest.approx(2 / 3)
    assert report.loc[1, "precision"] == 0.5 and report.loc[1, "recall"] == 1.0
    assert report.loc[0, "f1"] == pytest.approx(0.8)
    assert report.loc[5].tolist() == [0, 0, 0, 0]


def test_calibration_error_of_honest_and_overconfident_predictions():
    rng = np.random.default_rng(0)
    n = 20000
    confidence = rng.uniform(0.5, 1.0, n)
    labels = np.zeros(n, int)
    right = rng.random(n) < confidence
    predicted = np.where(right, 0, 1)
    probabilities = np.zeros((n, 10))
    probabilities[np.arange(n), predicted] = confidence
    probabilities[np.arange(n), 2] = 1 - confidence
    assert expected_calibration_error(probabilities, labels) < 0.02
    overconfident = probabilities.copy()
    overconfident[np.arange(n), predicted] = 1.0
    assert expected_calibration_error(overconfident, labels) > 0.2


def test_temperature_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 3, size=(5000, 10))
    labels = np.array([rng.choice(10, p=p) for p in softmax(true_logits.copy())])
    assert fit_temperature(true_logits * 2.5, labels) == pytest.approx(2.5, rel=0.1)


def test_evaluation_lists_confident_mistakes_first():
    probabilities = np.full((4, 10), 0.01)
    probabilities[0, 3], probabilities[1, 5], probabilities[2, 7], probabilities[3, 1] = (
        0.91,
        0.6,
        0.99,
        0.91,
    )
    evaluation = Evaluation(probabilities, np.array([3, 4, 2, 1]))
    assert evaluation.accuracy == 0.5
    assert evaluation.mistakes().tolist() == [2, 1]
    assert evaluation.confusion[2, 7] == 1
