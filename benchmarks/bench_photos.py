"""Photos cropped tight (benchmarks.photos): how many `image_to_mnist` reads as a digit, and the
shipped CNN's accuracy on them beside the same digits photographed with a margin, per kind.

    DIGITNET_DATA=../shared/data/mnist python -m benchmarks.bench_photos [--count 2000]

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
from benchmarks.photos import KINDS, PhotoPair, photo_pairs
from digitnet.data.mnist import load_mnist
from digitnet.data.preprocess import image_to_mnist


def read(photos: list[bytes], model: digitnet.Model) -> tuple[np.ndarray, np.ndarray]:
    """Found (bool per photo) and the predicted digit (-1 when none was found)."""
    images = [image_to_mnist(photo) for photo in photos]
    found = np.array([image is not None for image in images])
    predicted = np.full(len(images), -1)
    if found.any():
        batch = np.stack([image for image in images if image is not None])
        predicted[found] = model.predict_proba(batch).argmax(axis=1)
    return found, predicted


def measure(pairs: list[PhotoPair], model: digitnet.Model) -> dict[str, float]:
    labels = np.array([pair.label for pair in pairs])
    found, tight = read([pair.tight for pair in pairs], model)
    _, margin = read([pair.margin for pair in pairs], model)
    return {
        "found": found.mean(),
        "tight accuracy": (tight == labels).mean(),
        "margin accuracy": (margin == labels).mean(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    mnist = load_mnist()
    model = digitnet.load_model()
    started = time.perf_counter()
    pairs = photo_pairs(mnist.test_images[: args.count], mnist.test_labels[: args.count])
    groups: dict[str, list[PhotoPair]] = defaultdict(list)
    for pair in pairs:
        groups[pair.kind].append(pair)
    for name, group in [("all", pairs)] + [(kind, groups[kind]) for kind in KINDS]:
        figures = measure(group, model)
        print(f"{name} ({len(group)}): " + ", ".join(f"{k} {v:.2%}" for k, v in figures.items()))
    print(f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
