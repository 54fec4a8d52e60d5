"""Photos cropped tight (benchmarks.photos): how many `image_to_mnist` reads as a digit, and the
shipped CNN's accuracy on them beside the same digits photographed with a margin, per kind.
Photos of a digit on paper among clutter (a table's edge, a shadow, ruled lines; every tenth
MNIST test digit): the share read right and read wrong at 60% or more, by kind of clutter; and
photos of the clutter alone.

    DIGITNET_DATA=../shared/data/mnist python -m benchmarks.bench_photos [--count 2000] \
        [--clutter 1000]

Cluttered photos, measured on 400 (``--clutter 400``) with the CNN retrained for issue 16,
before -> after the photo reader picked the digit-like mark: read right 68.00% -> 93.75%, wrong
at >= 60% 20.50% -> 4.00%; with a table's edge (294) 72.11% -> 96.94%, 19.39% -> 2.04%; with a
shadow (163) 38.65% -> 87.73%, 38.65% -> 7.98%; on ruled paper (178) 66.29% -> 93.82%,
23.03% -> 4.49%. Clutter alone (80): no digit found 0% -> 66.25%, read as a digit at >= 60%
76.25% -> 32.50%. Tight photos with that CNN: 98.85% -> 98.95% read right, 100% found.

Measured on the first 2,000 MNIST test digits with the shipped CNN: 100.00% of the tight photos
read as a digit, 98.80% read right, against 99.15% for the same digits with a margin (grey
99.09 / 99.39, 1-bit 98.45 / 98.76, JPEG 98.85 / 99.28). Before the photo reader handled tight
crops: 83.25% found, 81.65% right.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

import digitnet
from benchmarks.photos import (
    CLUTTER,
    KINDS,
    ClutteredPhoto,
    PhotoPair,
    clutter_only,
    cluttered_photos,
    photo_pairs,
)
from digitnet.data.mnist import load_mnist
from digitnet.data.preprocess import image_to_mnist

# A wrong reading at least this confident is one a person would believe.
CONFIDENT = 0.6


def read(photos: list[bytes], model: digitnet.Model) -> tuple[np.ndarray, np.ndarray]:
    """Found (bool per photo) and the predicted digit (-1 when none was found)."""
    found, predicted, _ = read_with_confidence(photos, model)
    return found, predicted


def read_with_confidence(
    photos: list[bytes], model: digitnet.Model
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Found, the predicted digit (-1 when none was found) and its probability (0 then)."""
    images = [image_to_mnist(photo) for photo in photos]
    found = np.array([image is not None for image in images])
    predicted = np.full(len(images), -1)
    confidence = np.zeros(len(images))
    if found.any():
        probabilities = model.predict_proba(np.stack([i for i in images if i is not None]))
        predicted[found] = probabilities.argmax(axis=1)
        confidence[found] = probabilities.max(axis=1)
    return found, predicted, confidence


def measure(pairs: list[PhotoPair], model: digitnet.Model) -> dict[str, float]:
    labels = np.array([pair.label for pair in pairs])
    found, tight = read([pair.tight for pair in pairs], model)
    _, margin = read([pair.margin for pair in pairs], model)
    return {
        "found": found.mean(),
        "tight accuracy": (tight == labels).mean(),
        "margin accuracy": (margin == labels).mean(),
    }


def measure_clutter(photos: list[ClutteredPhoto], model: digitnet.Model) -> dict[str, float]:
    """Photos of a digit among clutter: the share read right, read wrong at CONFIDENT or more,
    and found at all. Photos of clutter alone: the share read as a digit at CONFIDENT or more."""
    found, predicted, confidence = read_with_confidence([p.photo for p in photos], model)
    labels = np.array([-1 if p.label is None else p.label for p in photos])
    if (labels < 0).all():
        return {
            "no digit found": 1 - found.mean(),
            "read confidently": (confidence >= CONFIDENT).mean(),
        }
    return {
        "read right": (predicted == labels).mean(),
        "wrong confidently": ((predicted != labels) & (confidence >= CONFIDENT)).mean(),
        "found": found.mean(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="tight photos (0: none)")
    parser.add_argument("--clutter", type=int, default=1000, help="cluttered photos (0: none)")
    args = parser.parse_args()
    mnist = load_mnist()
    model = digitnet.load_model()
    started = time.perf_counter()
    if args.count:
        pairs = photo_pairs(mnist.test_images[: args.count], mnist.test_labels[: args.count])
        groups: dict[str, list[PhotoPair]] = defaultdict(list)
        for pair in pairs:
            groups[pair.kind].append(pair)
        for name, group in [("all", pairs)] + [(kind, groups[kind]) for kind in KINDS]:
            show(f"tight, {name}", measure(group, model), len(group))
    if args.clutter:
        # Every tenth MNIST test digit from the sixth on: both halves of the test set's writers.
        chosen = np.arange(5, 10_000, 10)[: args.clutter]
        photos = cluttered_photos(mnist.test_images[chosen], mnist.test_labels[chosen])
        show("cluttered, all", measure_clutter(photos, model), len(photos))
        for kind in CLUTTER:
            group = [photo for photo in photos if kind in photo.clutter]
            show(f"cluttered, with {kind}", measure_clutter(group, model), len(group))
        alone = clutter_only(args.clutter // 5)
        show("clutter alone", measure_clutter(alone, model), len(alone))
    print(f"{time.perf_counter() - started:.1f} s")


def show(name: str, figures: dict[str, float], count: int) -> None:
    print(f"{name} ({count}): " + ", ".join(f"{k} {v:.2%}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
