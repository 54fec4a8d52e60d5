"""The figures a shipped model's card records beyond training's own (MNIST test and dev): its
accuracy and calibration on the pen-dev writers and on drawn digits, and how many tight photos
it finds and reads. ``tests/test_shipped_weights.py`` recomputes them with ``figures`` and holds
the cards, the README and the model card (weights/README.md) to them, so a stale number fails.

    DIGITNET_DATA=../shared/data/mnist DIGITNET_PEN_DATA=../shared/data/pendigits \\
        python -m benchmarks.card_figures            # prints them for both shipped models
    python -m benchmarks.card_figures --write        # and stores them in the weights' cards

``--write`` changes only the metadata of weights/*.npz: the arrays stay the trained ones.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

import digitnet
from benchmarks.photos import photo_pairs
from digitnet.analysis.metrics import evaluate
from digitnet.data.drawn import drawn_test_set
from digitnet.data.mnist import load_mnist_test
from digitnet.data.pendigits import load_pen_data, pen_dev_set
from digitnet.data.preprocess import image_to_mnist
from digitnet.network.weights import DEFAULT_WEIGHTS, FAST_WEIGHTS

DRAWN_COUNT = 2000  # as `digitnet evaluate --split drawn`
PHOTO_COUNT = 2000  # as `python -m benchmarks.bench_photos`
SHIPPED = (DEFAULT_WEIGHTS, FAST_WEIGHTS)


@dataclass(frozen=True)
class EvaluationSets:
    """The labelled inputs behind the figures, made once for every model scored on them."""

    splits: dict[str, tuple[np.ndarray, np.ndarray]]  # images ready for a model, labels
    photos: list[np.ndarray | None]  # the tight photos as read (None: no digit found)
    photo_labels: np.ndarray

    @classmethod
    def make(cls) -> EvaluationSets:
        test_images, test_labels = load_mnist_test(download=False)
        drawn_images, drawn_labels, _ = drawn_test_set(test_images, test_labels, n=DRAWN_COUNT)
        pairs = photo_pairs(test_images[:PHOTO_COUNT], test_labels[:PHOTO_COUNT])
        return cls(
            splits={
                "pen-dev": pen_dev_set(load_pen_data(download=False)),
                "drawn": (drawn_images, drawn_labels),
            },
            photos=[image_to_mnist(pair.tight) for pair in pairs],
            photo_labels=test_labels[:PHOTO_COUNT],
        )


def figures(model: digitnet.Model, sets: EvaluationSets) -> dict[str, dict]:
    """The card's extra metrics of ``model``, by split, as the card stores them. Tight photos:
    the share read as a digit at all ("found") and the share read right, a photo not found
    counting as wrong ("accuracy")."""
    scores = {}
    for split, (images, labels) in sets.splits.items():
        evaluation = evaluate(model, images, labels)
        scores[split] = {
            "accuracy": evaluation.accuracy,
            "calibration_error": evaluation.calibration_error,
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
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="store them in weights/*.npz")
    args = parser.parse_args()
    sets = EvaluationSets.make()
    for path in SHIPPED:
        model = digitnet.load_model(path)
        scores = figures(model, sets)
        for split, score in scores.items():
            shown = ", ".join(f"{k} {v:.2%}" for k, v in score.items() if v is not None)
            print(f"{path.name} {split}: {shown}")
        if args.write:
            model.metadata["metrics"].update(scores)
            digitnet.save_model(model, path)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
