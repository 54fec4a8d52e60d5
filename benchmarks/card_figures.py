"""The figures a shipped model's card records beyond training's own (MNIST test and dev): its
accuracy and calibration on the pen-dev writers and on drawn digits, how many tight photos it
finds and reads, and how its reading (``digitnet.reading``) answers: on digits, how many it
calls "unsure" and "not a digit" and how many it reads right with "not a digit" counting as
wrong; on held-out drawings that are not digits, how many it catches (calls "unsure" or "not a
digit"). ``tests/test_shipped_weights.py`` recomputes them with ``figures`` and holds
the cards, the README and the model card (weights/README.md) to them, so a stale number fails.

    DIGITNET_DATA=../shared/data/mnist DIGITNET_PEN_DATA=../shared/data/pendigits \\
        python -m benchmarks.card_figures            # prints them for both shipped models
    python -m benchmarks.card_figures --write        # and stores them in the weights' cards
    python -m benchmarks.card_figures --fit-reading  # first fits the reading's thresholds on dev

``--write`` changes only the metadata of weights/*.npz: the arrays stay the trained ones.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import digitnet
from benchmarks.photos import cluttered_photos, photo_pairs
from digitnet.analysis.metrics import evaluate
from digitnet.data.drawn import drawn_test_set
from digitnet.data.mnist import load_dataset, load_mnist_test
from digitnet.data.negatives import held_out_negatives
from digitnet.data.pendigits import load_pen_data, pen_dev_set
from digitnet.data.preprocess import image_to_mnist
from digitnet.images import to_float
from digitnet.network.weights import DEFAULT_WEIGHTS, FAST_WEIGHTS
from digitnet.reading import Signs, Thresholds, fit_thresholds, read_image
from digitnet.training.card import dev_split

DRAWN_COUNT = 2000  # as `digitnet evaluate --split drawn`
PHOTO_COUNT = 2000  # as `python -m benchmarks.bench_photos`
NOT_DIGIT_COUNT = 1200  # held-out drawings that are not digits, 200 of each kind
TABLE_PHOTO_COUNT = 500  # phone photos of digits on paper with a table's edge along a side
NOT_DIGITS = "held-out not digits"
SHIPPED = (DEFAULT_WEIGHTS, FAST_WEIGHTS)


@dataclass(frozen=True)
class EvaluationSets:
    """The labelled inputs behind the figures, made once for every model scored on them."""

    splits: dict[str, tuple[np.ndarray, np.ndarray]]  # images ready for a model, labels
    photos: list[np.ndarray | None]  # the tight photos as read (None: no digit found)
    photo_labels: np.ndarray
    test: tuple[np.ndarray, np.ndarray]  # MNIST test, for the reading's figures there
    table_photos: list[bytes]  # photos with a table's edge, of MNIST test's last digits
    table_labels: np.ndarray
    not_digits: np.ndarray  # held-out drawings that are not digits, as a model reads them

    @classmethod
    def make(cls) -> EvaluationSets:
        test_images, test_labels = load_mnist_test(download=False)
        drawn_images, drawn_labels, _ = drawn_test_set(test_images, test_labels, n=DRAWN_COUNT)
        pairs = photo_pairs(test_images[:PHOTO_COUNT], test_labels[:PHOTO_COUNT])
        pen = load_pen_data(download=False)
        table = cluttered_photos(
            test_images[-TABLE_PHOTO_COUNT:], test_labels[-TABLE_PHOTO_COUNT:], clutter=("table",)
        )
        return cls(
            splits={"pen-dev": pen_dev_set(pen), "drawn": (drawn_images, drawn_labels)},
            photos=[image_to_mnist(pair.tight) for pair in pairs],
            photo_labels=test_labels[:PHOTO_COUNT],
            test=(test_images, test_labels),
            table_photos=[photo.photo for photo in table],
            table_labels=test_labels[-TABLE_PHOTO_COUNT:],
            not_digits=held_out_negatives(NOT_DIGIT_COUNT, data=pen).images,
        )


def figures(model: digitnet.Model, sets: EvaluationSets) -> dict[str, dict]:
    """The card's extra metrics of ``model``, by split, as the card stores them. Tight photos:
    the share read as a digit at all ("found") and the share read right, a photo not found
    counting as wrong ("accuracy"). Table-edge photos: read by ``read_image`` as the Draw page
    reads an upload, the digit it gives right ("accuracy", none counting as wrong)."""
    scores = {"test": reading_figures(model, *sets.test)}
    for split, (images, labels) in sets.splits.items():
        evaluation = evaluate(model, images, labels)
        scores[split] = {
            "accuracy": evaluation.accuracy,
            "calibration_error": evaluation.calibration_error,
            **reading_figures(model, images, labels),
        }
    found = np.array([image is not None for image in sets.photos])
    predicted = np.full(len(found), -1)
    read = np.stack([image for image in sets.photos if image is not None])
    predicted[found] = model.predict_proba(read).argmax(axis=1)
    scores["tight photos"] = {
        "accuracy": float((predicted == sets.photo_labels).mean()),
        "calibration_error": None,
        "found": float(found.mean()),
    }
    readings = [read_image(photo, model) for photo in sets.table_photos]
    scores["table-edge photos"] = {
        "accuracy": float(np.mean([r.digit == d for r, d in zip(readings, sets.table_labels)])),
        "calibration_error": None,
        "found": float(np.mean([r.image is not None for r in readings])),
        "unsure": float(np.mean([r.verdict == "unsure" for r in readings])),
        "rejected": float(np.mean([r.verdict == "not a digit" for r in readings])),
    }
    caught = reading_figures(model, sets.not_digits)
    scores[NOT_DIGITS] = {"accuracy": caught["unsure"] + caught["rejected"], **caught}
    return scores


def reading_figures(
    model: digitnet.Model, images: np.ndarray, labels: np.ndarray | None = None
) -> dict[str, float]:
    """The shares of ``images`` the reading calls "unsure" and "not a digit" and, given their
    labels, reads right ("not a digit" counting as wrong)."""
    signs = Signs.of(model.logits(to_float(images)), model.temperature, Thresholds.of(model))
    verdicts = signs.verdicts
    shares = {
        "unsure": float((verdicts == "unsure").mean()),
        "rejected": float((verdicts == "not a digit").mean()),
    }
    if labels is not None:
        right = signs.probabilities.argmax(axis=1) == labels
        shares["read"] = float((right & (verdicts != "not a digit")).mean())
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="store them in weights/*.npz")
    parser.add_argument(
        "--fit-reading",
        action="store_true",
        help="fit the reading's thresholds on each model's dev split first, as training does",
    )
    parser.add_argument("models", nargs="*", type=Path, default=SHIPPED, help="default: shipped")
    args = parser.parse_args()
    sets = EvaluationSets.make()
    for path in args.models:
        model = digitnet.load_model(path)
        if args.fit_reading:
            logits = model.logits(to_float(dev_split(model, load_dataset("mnist"))[0]))
            model.metadata["reading"] = fit_thresholds(logits, model.temperature).to_dict()
            print(f"{path.name} reading thresholds: {model.metadata['reading']}")
        scores = figures(model, sets)
        for split, score in scores.items():
            shown = ", ".join(f"{k} {v:.2%}" for k, v in score.items() if v is not None)
            print(f"{path.name} {split}: {shown}")
        if args.write:
            for split, score in scores.items():  # MNIST test keeps training's accuracy
                model.metadata["metrics"][split] = {
                    **model.metadata["metrics"].get(split, {}),
                    **score,
                }
            digitnet.save_model(model, path)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
