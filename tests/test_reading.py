"""The reading API: a verdict a person can trust ("digit", "unsure", "not a digit") with a reason,
decided by thresholds the model's card holds (fitted on its dev digits)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import digitnet
from digitnet.errors import DigitnetError
from digitnet.network.model import Model
from digitnet.network.spec import mlp_spec
from digitnet.network.weights import load_model, save_model
from digitnet.reading import Signs, Thresholds, energy, fit_thresholds, read, verdicts


def canvas_with(*bars: tuple[int, int]) -> np.ndarray:
    """A 280x280 canvas with a black upright bar between each pair of columns."""
    canvas = np.zeros((280, 280, 4), np.uint8)
    for left, right in bars:
        canvas[60:220, left:right] = (0, 0, 0, 255)
    return canvas


def model_with_logits(logits: list[float], reading: dict | None = None) -> Model:
    """A network that gives these logits whatever it is shown: zero weights, the biases set."""
    model = Model({"layers": [{"type": "flatten"}, {"type": "dense", "units": len(logits)}]})
    model.layers[-1].params["W"][...] = 0
    model.layers[-1].params["b"][...] = logits
    if reading is not None:
        model.metadata["reading"] = reading
    return model


def test_a_blank_canvas_is_not_a_digit_because_nothing_was_drawn():
    reading = digitnet.read_canvas(np.zeros((280, 280, 4), np.uint8))
    assert (reading.verdict, reading.digit, reading.reason) == (
        "not a digit",
        None,
        "nothing drawn",
    )
    assert reading.probabilities.shape == (10,) and not reading.probabilities.any()


def test_the_shipped_model_reads_a_drawn_one():
    reading = digitnet.read_canvas(canvas_with((130, 150)))
    assert reading.verdict == "digit" and reading.digit == 1 and reading.reason == "reads as a 1"
    assert reading.probabilities.sum() == pytest.approx(1, abs=1e-5)
    assert reading.image.shape == (28, 28)


def test_a_white_photo_is_not_a_digit():
    buffer = io.BytesIO()
    Image.new("L", (400, 300), 240).save(buffer, format="PNG")
    reading = digitnet.read_image(buffer.getvalue())
    assert reading.verdict == "not a digit" and reading.digit is None and reading.reason


@pytest.mark.parametrize(
    "logits, verdict, reason",
    [
        ([0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0], "digit", "reads as a 1"),
        ([0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 12], "not a digit", "doesn't look like any digit"),
        ([0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 8.5], "unsure", "might not be a digit; a 1?"),
        ([0, 0, 0, 0, 5, 0, 0, 0, 0, 5.1, 0], "unsure", "a 9 or a 4?"),
    ],
)
def test_each_verdict_and_its_reason(logits, verdict, reason):
    reading = read(np.zeros((28, 28), np.float32), model_with_logits(logits))
    assert (reading.verdict, reading.reason) == (verdict, reason)
    assert reading.digit == (None if verdict == "not a digit" else int(np.argmax(logits[:10])))


def test_a_drawing_far_from_every_digit_is_unsure_when_the_energy_is_fitted():
    image = np.zeros((28, 28), np.float32)
    quiet = model_with_logits([0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert read(image, quiet).verdict == "digit"
    familiar = float(energy(np.array([[0, 9.0] + [0] * 8]), 1.0)[0])
    fitted = model_with_logits([0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0], {"familiar": familiar})
    reading = read(image, fitted)
    assert (reading.verdict, reading.reason) == (
        "unsure",
        "unlike the digits it learned from; a 1?",
    )


def test_several_marks_side_by_side_are_named_as_the_reason():
    image = np.zeros((28, 28), np.float32)
    image[4:24, 5:9] = image[4:24, 18:22] = 1
    reading = read(image, model_with_logits([0] * 10 + [9]))
    assert reading.reason == "looks like several marks side by side"


def test_a_model_without_the_eleventh_output_never_rejects_from_it():
    reading = read(np.zeros((28, 28), np.float32), model_with_logits([0, 9] + [0] * 8))
    assert reading.not_digit == 0.0 and reading.verdict == "digit"


def test_the_thresholds_travel_in_the_weights_file(tmp_path):
    model = model_with_logits([0, 9] + [0] * 8 + [7], {"not_digit": 0.05, "doubt": 0.01})
    loaded = load_model(save_model(model, tmp_path / "m.npz"))
    assert Thresholds.of(loaded) == Thresholds(not_digit=0.05, doubt=0.01)
    assert read(np.zeros((28, 28), np.float32), loaded).verdict == "not a digit"


@pytest.mark.parametrize(
    "reading, message",
    [
        ({"not_digit": 2}, "reading.not_digit must be a finite number above 0 and at most 1"),
        ({"doubt": "high"}, "reading.doubt must be a finite number"),
        ({"familiar": float("nan")}, "reading.familiar must be a finite number"),
        ({"loud": 1}, "reading must hold only not_digit, doubt, confident, familiar"),
    ],
)
def test_a_damaged_reading_field_is_one_line_when_loaded(tmp_path, reading, message):
    path = save_model(model_with_logits([0] * 11), tmp_path / "m.npz")
    model = load_model(path)
    model.metadata["reading"] = reading
    save_model(model, tmp_path / "bad.npz")
    with pytest.raises(DigitnetError, match=message):
        load_model(tmp_path / "bad.npz")


def test_fitted_thresholds_reject_almost_no_dev_digit():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1, (5000, 11)).astype(np.float32)
    logits[np.arange(5000), rng.integers(0, 10, 5000)] += 8  # confident digits...
    logits[:, 10] += rng.normal(0, 2, 5000)  # ...with some doubt about being digits at all
    thresholds = fit_thresholds(logits, 1.0)
    signs = Signs.of(logits, 1.0, thresholds)
    assert signs.rejected.mean() <= 0.001 + 1e-9
    assert signs.doubtful.mean() <= 0.01 + 1e-9  # at most; fewer where the floor (0.2) holds
    assert 0.005 <= signs.unfamiliar.mean() <= 0.015
    assert thresholds.not_digit >= 0.5 and thresholds.doubt <= thresholds.not_digit


def test_verdicts_of_a_batch_match_one_reading_at_a_time():
    model = Model(mlp_spec((16,)), seed=3)
    images = np.random.default_rng(1).random((20, 28, 28), dtype=np.float32)
    model.metadata["reading"] = {"not_digit": 0.12, "doubt": 0.09, "confident": 0.2}
    assert list(verdicts(model, images)) == [read(image, model).verdict for image in images]


def test_an_eight_is_written_as_a_person_writes_it():
    reading = read(np.zeros((28, 28), np.float32), model_with_logits([0] * 8 + [5.1, 5, 0]))
    assert reading.reason == "an 8 or a 9?"


def test_a_photo_whose_digit_cannot_be_told_is_unsure_with_the_photos_reason():
    photo = np.full((300, 400), 235, np.uint8)
    photo[100:200, 60:75] = photo[100:200, 300:315] = 20  # two strokes alike, far apart
    reading = digitnet.read_image(photo)
    assert reading.verdict == "unsure" and reading.digit is not None
    assert reading.reason.startswith("several marks could be the digit; ")
