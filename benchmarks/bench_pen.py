"""How fast pen-train digits are drawn for training, and what drawing them costs a CNN epoch.

    export DIGITNET_DATA=../shared/data/mnist DIGITNET_PEN_DATA=../shared/data/pendigits
    OPENBLAS_NUM_THREADS=1 python -m benchmarks.bench_pen
    python -m benchmarks.bench_pen --batches 100 --shares 0.125 0.25

First `PenDigits.sample` alone (digits per second, and how its time splits between stroke
augmentation, rendering and `canvas_to_mnist`). Then digitnet's own Trainer on MNIST (the shipped
"cnn" preset, image augmentation on, batches of 128) side by side in one run: alone, and with
the pen digits at each share (the CLI's default share unless told), drawn in the Trainer's
prefetch thread while the model trains on the batch before. The settings take turns in short
rounds so a busy shared machine slows all alike: the ratios are the figures to quote.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from digitnet.data.augment import AugmentConfig
from digitnet.data.mnist import load_mnist
from digitnet.data.pendigits import DEFAULT_PEN_SHARE, PenDigits
from digitnet.data.preprocess import canvas_to_mnist
from digitnet.data.stroke_augment import augment
from digitnet.data.strokes import render_batch
from digitnet.images import to_float
from digitnet.network.model import Model
from digitnet.training.trainer import BatchEvent, Event, TrainConfig, Trainer

BATCH = 128
ROUND = 10  # batches per setting per turn


def sample_speed(source: PenDigits, count: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    source.sample(count, rng)  # warm up
    start = time.perf_counter()
    for _ in range(repeats):
        source.sample(count, rng)
    per_call = (time.perf_counter() - start) / repeats
    print(f"sample({count}): {per_call * 1e3:.1f} ms, {count / per_call:,.0f} digits/s")
    digits = [source.data.strokes[i] for i in rng.integers(0, len(source.data.strokes), count)]
    parts = {"augment": 0.0, "render": 0.0, "canvas_to_mnist": 0.0}
    for _ in range(repeats):
        tick = time.perf_counter()
        drawings = augment(digits, rng, source.canvas_size, "transparent", source.config)
        parts["augment"] += time.perf_counter() - tick
        tick = time.perf_counter()
        canvases = render_batch(drawings)
        parts["render"] += time.perf_counter() - tick
        tick = time.perf_counter()
        for canvas in canvases:
            canvas_to_mnist(canvas)
        parts["canvas_to_mnist"] += time.perf_counter() - tick
    print("  " + ", ".join(f"{k} {v / repeats * 1e3:.1f} ms" for k, v in parts.items()))


class TrainerRounds:
    """The real Trainer on MNIST (image augmentation on), run ROUND batches at a time: with a
    `share` above 0 its prefetch thread also draws that share of every batch as pen digits."""

    def __init__(self, share: float, source: PenDigits, images, labels) -> None:
        self.config = TrainConfig(dev_size=0, augment=AugmentConfig(), extra_share=share)
        self.model, self.data, self.extra = Model("cnn", seed=0), (images, labels), source
        self.ticks: list[float] = []
        self.seconds: list[float] = []

    def trainer(self) -> Trainer:
        """A Trainer that stops after ROUND + 1 batches (a stopped one stays stopped)."""
        return Trainer(
            self.model,
            self.config,
            *self.data,
            on_event=self._tick,
            stop_when=lambda: len(self.ticks) > ROUND,
            extra=self.extra if self.config.extra_share else None,
        )

    def _tick(self, event: Event) -> None:
        if isinstance(event, BatchEvent):
            self.ticks.append(time.perf_counter())

    def round(self) -> None:
        """ROUND timed batches: the time between one batch's end and the next's (waiting for
        the prefetch thread included); a run's first batch, prefetched by nobody, is not timed."""
        self.ticks = []
        self.trainer().run()
        self.seconds += np.diff(self.ticks).tolist()


def trainer_cost(source: PenDigits, shares: list[float], batches: int) -> None:
    """Time per batch of 128 with and without pen digits, taking turns in short rounds."""
    mnist = load_mnist()
    images, labels = to_float(mnist.train_images[:55_000]), mnist.train_labels[:55_000]
    settings = {share: TrainerRounds(share, source, images, labels) for share in shares}
    for _ in range(-(-batches // ROUND)):
        for setting in settings.values():
            setting.round()
    alone = settings[min(shares)]
    for share, setting in settings.items():
        per_batch = float(np.median(setting.seconds))
        ratio = per_batch / float(np.median(alone.seconds))
        plan, alone_plan = setting.trainer().plan, alone.trainer().plan
        print(
            f"Trainer, pen share {share:.3f} ({plan.extras} pen digits + {plan.images} MNIST "
            f"images a batch): {per_batch * 1e3:.1f} ms a batch (median of "
            f"{len(setting.seconds)}), {ratio:.2f}x MNIST alone; an epoch (one pass over "
            f"55,000 images) is {plan.per_epoch} batches, "
            f"{ratio * plan.per_epoch / alone_plan.per_epoch:.2f}x as long"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=60, help="timed batches per setting")
    parser.add_argument("--shares", type=float, nargs="+", default=[DEFAULT_PEN_SHARE])
    args = parser.parse_args()
    source = PenDigits()
    for count in (16, 32):
        sample_speed(source, count, repeats=20)
    trainer_cost(source, sorted({0.0, *args.shares}), args.batches)


if __name__ == "__main__":
    main()
