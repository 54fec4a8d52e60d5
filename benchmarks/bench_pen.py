"""How fast pen-train digits are drawn for training, and what drawing them costs a CNN epoch.

    DIGITNET_PEN_DATA=../shared/data/pendigits python -m benchmarks.bench_pen
    python -m benchmarks.bench_pen --batches 100 --shares 0 0.125 0.25

First `PenDigits.sample` alone (digits per second, and how its time splits between stroke
augmentation, rendering and `canvas_to_mnist`). Then CNN training steps (forward, backward, Adam
on batches of 128, the shipped "cnn" preset) side by side in one run: alone, and with a
background thread drawing `share * 128` pen digits per batch, as the trainer's extra source
does. The batches take turns in short rounds so a busy shared machine slows all alike: the
ratios are the figures to quote.
"""

from __future__ import annotations

import argparse
import queue
import threading
import time

import numpy as np

from digitnet.layers import softmax_cross_entropy
from digitnet.model import Model
from digitnet.optim import Adam
from digitnet.pendigits import PenDigits
from digitnet.preprocess import canvas_to_mnist
from digitnet.stroke_augment import augment
from digitnet.strokes import render_batch

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


class Training:
    """CNN steps on random images, optionally fed pen digits by a background thread."""

    def __init__(self, source: PenDigits, pen_count: int) -> None:
        rng = np.random.default_rng(0)
        self.images = rng.random((BATCH, 28, 28), dtype=np.float32)
        self.labels = rng.integers(0, 10, BATCH)
        self.model = Model("cnn", seed=0)
        self.model.seed_dropout(0)
        self.optimizer = Adam(self.model.parameters(), lr=1e-3)
        self.pen_count = pen_count
        self.ready: queue.Queue = queue.Queue(maxsize=2)
        if pen_count:
            threading.Thread(target=self._draw, args=(source,), daemon=True).start()

    def _draw(self, source: PenDigits) -> None:
        rng = np.random.default_rng(1)
        while True:
            self.ready.put(source.sample(self.pen_count, rng))

    def step(self) -> None:
        images, labels = self.images, self.labels
        if self.pen_count:
            pen_images, pen_labels = self.ready.get()
            images = np.concatenate([images[self.pen_count :], pen_images])
            labels = np.concatenate([labels[self.pen_count :], pen_labels])
        logits = self.model.forward(images, training=True)
        _, grad = softmax_cross_entropy(logits, labels)
        self.model.backward(grad)
        self.optimizer.step(self.model.gradients())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=60, help="timed batches per setting")
    parser.add_argument("--shares", type=float, nargs="+", default=[0.0, 0.125, 0.25])
    args = parser.parse_args()
    source = PenDigits()
    for count in (16, 32):
        sample_speed(source, count, repeats=20)
    settings = {share: Training(source, round(share * BATCH)) for share in args.shares}
    spent = dict.fromkeys(settings, 0.0)
    for setting in settings.values():
        setting.step()  # warm up
    for _ in range(-(-args.batches // ROUND)):
        for share, setting in settings.items():
            start = time.perf_counter()
            for _ in range(ROUND):
                setting.step()
            spent[share] += time.perf_counter() - start
    rounds = -(-args.batches // ROUND) * ROUND
    alone = spent[min(spent)]
    for share, seconds in spent.items():
        print(
            f"pen share {share:.3f} ({round(share * BATCH)} pen digits a batch): "
            f"{seconds / rounds * 1e3:.1f} ms a batch, {seconds / alone:.2f}x MNIST alone"
        )


if __name__ == "__main__":
    main()
