import numpy as np
import pytest

from digitnet import DigitnetError, Model
from digitnet.analysis.metrics import (
    Evaluation,
    calibration_gap,
    confusion_matrix,
    evaluate,
    expected_calibration_error,
    fit_temperature,
    per_class_report,
    reliability,
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


def top_class_predictions(confidence: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Probabilities whose top class has these confidences (more than 0.5), class 0 where
    ``right`` (the label is 0), else class 1; the rest of each row on class 2."""
    n = len(confidence)
    probabilities = np.zeros((n, 10))
    probabilities[np.arange(n), np.where(right, 0, 1)] = confidence
    probabilities[:, 2] = 1 - confidence
    return probabilities


def test_calibration_error_of_honest_and_overconfident_predictions():
    rng = np.random.default_rng(0)
    n = 20000
    confidence = rng.uniform(0.5, 1.0, n)
    labels = np.zeros(n, int)
    right = rng.random(n) < confidence
    probabilities = top_class_predictions(confidence, right)
    assert expected_calibration_error(probabilities, labels) < 0.02
    overconfident = top_class_predictions(np.ones(n), right)
    assert expected_calibration_error(overconfident, labels) > 0.2


def test_reliability_of_perfectly_calibrated_predictions():
    # In each bin of a tenth, 20 predictions as sure as 0.55, ..., 0.95, and as many right.
    confidence = np.repeat([0.55, 0.65, 0.75, 0.85, 0.95], 20)
    right = np.concatenate([np.arange(20) < 20 * c for c in (0.55, 0.65, 0.75, 0.85, 0.95)])
    table = reliability(top_class_predictions(confidence, right), np.zeros(100, int), bins=10)
    assert table.index.tolist() == [5, 6, 7, 8, 9]  # the empty bins are left out
    assert table["count"].tolist() == [20] * 5
    np.testing.assert_allclose(table["low"], [0.5, 0.6, 0.7, 0.8, 0.9])
    np.testing.assert_allclose(table["high"], [0.6, 0.7, 0.8, 0.9, 1.0])
    np.testing.assert_allclose(table["confidence"], [0.55, 0.65, 0.75, 0.85, 0.95])
    np.testing.assert_allclose(table["accuracy"], table["confidence"])
    assert calibration_gap(table) == pytest.approx(0, abs=1e-12)


def test_reliability_of_overconfident_predictions():
    # 95% sure every time, right 3 times in 5: one bin, 35 points off.
    right = np.arange(100) % 5 < 3
    probabilities = top_class_predictions(np.full(100, 0.95), right)
    table = reliability(probabilities, np.zeros(100, int), bins=10)
    assert table.index.tolist() == [9] and table["count"].tolist() == [100]
    assert table.loc[9, "confidence"] == pytest.approx(0.95)
    assert table.loc[9, "accuracy"] == pytest.approx(0.6)
    assert expected_calibration_error(probabilities, np.zeros(100, int)) == pytest.approx(0.35)


@pytest.mark.parametrize("bins", [10, 15])
def test_the_calibration_error_is_the_weighted_gap_of_the_reliability_bins(bins):
    rng = np.random.default_rng(1)
    probabilities = softmax(rng.normal(0, 2, size=(3000, 10)))
    labels = rng.integers(0, 10, 3000)
    table = reliability(probabilities, labels, bins)
    confidence = probabilities.max(axis=1)
    counts, _ = np.histogram(confidence, bins=np.linspace(0, 1, bins + 1))
    assert table["count"].tolist() == counts[counts > 0].tolist()
    in_bin = (confidence >= table["low"].iloc[0]) & (confidence < table["high"].iloc[0])
    assert table["confidence"].iloc[0] == pytest.approx(confidence[in_bin].mean())
    right = probabilities.argmax(axis=1) == labels
    assert table["accuracy"].iloc[0] == pytest.approx(right[in_bin].mean())
    weighted_gap = sum(
        row.count / 3000 * abs(row.accuracy - row.confidence) for row in table.itertuples()
    )
    assert expected_calibration_error(probabilities, labels, bins) == pytest.approx(weighted_gap)
    assert weighted_gap > 0.1  # random labels: far from calibrated


def test_an_evaluation_is_seen_before_and_after_the_temperature():
    rng = np.random.default_rng(2)
    images = rng.random((50, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, 50)
    model = Model("mlp:8", seed=0)
    model.metadata["temperature"] = 0.25
    evaluation = evaluate(model, images, labels)
    np.testing.assert_allclose(evaluation.probabilities, model.predict_proba(images), rtol=1e-6)
    before = evaluation.untempered()
    np.testing.assert_allclose(before.probabilities, softmax(model.digit_logits(images)), rtol=1e-6)
    assert (before.predictions == evaluation.predictions).all()  # the same readings...
    assert before.reliability["confidence"].mean() < evaluation.reliability["confidence"].mean()
    assert before.calibration_error != evaluation.calibration_error  # ...less sure
    with pytest.raises(DigitnetError, match="no logits"):
        Evaluation(evaluation.probabilities, labels).untempered()


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
