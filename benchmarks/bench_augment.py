"""How long augmentation adds to a training epoch: augment_batch over 60,000 MNIST images in
batches of 128, as the trainer calls it. Optionally saves a PNG grid of originals and augmented
copies to judge the defaults by eye.

    python -m benchmarks.bench_augment [--repeats 3] [--grid /tmp/augment_grid.png]
    python -m benchmarks.bench_augment --epochs mlp cnn   # + a training epoch with and without

Reads the training images from DIGITNET_DATA (default /work/shared/data/mnist).
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from digitnet.data.augment import AugmentConfig, augment_batch, preview
from digitnet.network.model import Model
from digitnet.training.trainer import TrainConfig, Trainer
from pages.common.pictures import tile

BATCH_SIZE = 128


def read_train_images() -> np.ndarray:
    """The 60,000 training images as float32 in [0, 1] (IDX: 16-byte header, then pixels)."""
    folder = Path(os.environ.get("DIGITNET_DATA", "/work/shared/data/mnist"))
    with gzip.open(folder / "train-images-idx3-ubyte.gz") as file:
        pixels = np.frombuffer(file.read(), dtype=np.uint8, offset=16)
    return pixels.reshape(-1, 28, 28).astype(np.float32) / np.float32(255)


def time_epoch(images: np.ndarray, config: AugmentConfig, seed: int) -> tuple[float, float]:
    """Wall-clock and CPU seconds: on a shared machine the CPU time is the steadier figure."""
    rng = np.random.default_rng(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    for first in range(0, len(images), BATCH_SIZE):
        augment_batch(images[first : first + BATCH_SIZE], rng, config)
    return time.perf_counter() - wall, time.process_time() - cpu


def training_epoch(arch: str, images: np.ndarray, config: AugmentConfig | None) -> float:
    """One epoch through the real Trainer, as `python -m digitnet train` runs it."""
    labels = np.random.default_rng(0).integers(0, 10, len(images))  # timing only
    trainer = Trainer(Model(arch), TrainConfig(epochs=1, augment=config), images, labels)
    start = time.perf_counter()
    trainer.run()
    return time.perf_counter() - start


def save_grid(images: np.ndarray, config: AugmentConfig, path: Path, copies: int = 9) -> None:
    """The first 20 training digits, one row each: the original, then augmented copies."""
    chosen = images[:20]
    grid = tile(preview(chosen, config, seed=0, copies=copies), columns=copies + 1)
    picture = Image.fromarray((255 * (1 - grid)).astype(np.uint8))  # dark ink on white
    picture.resize((picture.width * 3, picture.height * 3), Image.NEAREST).save(path)
    print(f"grid of {len(chosen)} digits x {copies} copies saved to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="epochs to time")
    parser.add_argument("--grid", type=Path, help="save a PNG of augmented digits here")
    parser.add_argument(
        "--epochs",
        nargs="*",
        default=[],
        metavar="ARCH",
        help="also time one training epoch of these architectures with and without augmentation",
    )
    args = parser.parse_args()

    images = read_train_images()
    config = AugmentConfig()
    print(f"{config}\n{len(images)} images, batches of {BATCH_SIZE}")
    walls, cpus = zip(*(time_epoch(images, config, seed) for seed in range(args.repeats)))
    for name, seconds in (("wall", walls), ("cpu", cpus)):
        best = min(seconds)
        print(
            f"augment per epoch ({name}): best {best:.2f} s, "
            f"median {statistics.median(seconds):.2f} s "
            f"({1e6 * best / len(images):.1f} us/image, "
            f"{1e3 * best * BATCH_SIZE / len(images):.2f} ms per batch of {BATCH_SIZE})"
        )
    if args.grid:
        save_grid(images, config, args.grid)
    for arch in args.epochs:
        plain, augmented = training_epoch(arch, images, None), training_epoch(arch, images, config)
        print(
            f"{arch} training epoch: {plain:.1f} s plain, {augmented:.1f} s augmented "
            f"(+{augmented / plain - 1:.0%})"
        )


if __name__ == "__main__":
    main()
