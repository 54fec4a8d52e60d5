"""One training step of the "cnn" preset in digitnet's NumPy engine against the identical network
(same layers, same starting weights) in PyTorch: forward, backward and an Adam step on batches
of 128, side by side in one run.

    python -m benchmarks.bench_cnn_epoch             # 300 batches each
    python -m benchmarks.bench_cnn_epoch --full      # a whole epoch each (469 batches)
    python -m benchmarks.bench_cnn_epoch --latency   # also one-image inference latency
    python -m benchmarks.bench_cnn_epoch --threads 2 # both engines on 2 threads (default 1)

PyTorch is a benchmark dependency (``requirements-bench.txt``), never used by digitnet. Each
engine runs in its own process pinned to ``--threads`` threads (``benchmarks.engines``), warms
up on a few batches, and they take turns in short rounds, so a busy shared machine slows both
alike: the ratio is the figure to quote, the milliseconds only describe this run. The images are
random: the time of a step does not depend on the pixels.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from benchmarks.engines import (
    Engines,
    add_threads_flag,
    available_engines,
    pin_threads,
    print_setting,
)
from digitnet.images import IMAGE_SHAPE
from digitnet.network.layers import softmax_cross_entropy
from digitnet.network.model import Model
from digitnet.network.optim import Adam

BATCH = 128
EPOCH_BATCHES = -(-60_000 // BATCH)
ROUND = 10  # batches per engine per turn
DISTINCT_BATCHES = 20  # cycled: memory stays small however many batches are timed
WARM_UP = (0, 3)  # batches: allocation, first-call dispatch


class NumpyStep:
    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.model = Model("cnn", seed=0)
        self.model.seed_dropout(0)
        self.optimizer = Adam(self.model.parameters(), lr=1e-3)
        self.images, self.labels = images, labels

    def __call__(self, batch: int) -> None:
        rows = batch_rows(batch)
        logits = self.model.forward(self.images[rows], training=True)
        _, grad = softmax_cross_entropy(logits, self.labels[rows])
        self.model.backward(grad)
        self.optimizer.step(self.model.gradients())


class TorchStep:
    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        from benchmarks.torch_reference import torch, torch_model, torch_train_step

        self.net = torch_model(Model("cnn", seed=0)).train()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.train_step = torch_train_step
        self.images, self.labels = images, labels.astype(np.int64)

    def __call__(self, batch: int) -> None:
        rows = batch_rows(batch)
        self.train_step(self.net, self.optimizer, self.images[rows], self.labels[rows])


def latency(model: Model, repeats: int = 200) -> tuple[float, float]:
    """p50 and p95 in ms of one image, as the Draw page sends it."""
    image = np.random.default_rng(1).random((1, *IMAGE_SHAPE), dtype=np.float32)
    model.predict_proba(image)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_proba(image)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * len(times))]


def batch_rows(batch: int) -> slice:
    first = batch % DISTINCT_BATCHES * BATCH
    return slice(first, first + BATCH)


def make_steps(engine: str) -> Callable[[tuple[int, int]], None]:
    """In the worker: the engine's network and a function running batches [start, stop)."""
    rng = np.random.default_rng(0)
    images = rng.random((DISTINCT_BATCHES * BATCH, *IMAGE_SHAPE), dtype=np.float32)
    labels = rng.integers(0, 10, len(images)).astype(np.uint8)
    step = NumpyStep(images, labels) if engine == "numpy" else TorchStep(images, labels)

    def run(batches: tuple[int, int]) -> None:
        for batch in range(*batches):
            step(batch)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300, help="batches per engine")
    parser.add_argument("--full", action="store_true", help="a whole epoch (469 batches)")
    parser.add_argument("--latency", action="store_true", help="also time one-image inference")
    add_threads_flag(parser)
    args = parser.parse_args()
    batches = EPOCH_BATCHES if args.full else args.batches

    print_setting()
    print(f"network: {Model('cnn')}, batch {BATCH}, {batches} batches each")
    engines = available_engines()
    seconds = dict.fromkeys(engines, 0.0)
    with Engines(engines, make_steps, (), args.threads, warm_up=WARM_UP) as workers:
        for start in range(0, batches, ROUND):
            for engine in engines:  # turns: one engine runs at a time
                seconds[engine] += workers.time(engine, (start, min(start + ROUND, batches)))
        for engine, total in seconds.items():
            per_batch = total / batches
            timing = f"{per_batch * 1000:7.1f} ms/batch, {per_batch * EPOCH_BATCHES:6.1f} s/epoch"
            print(workers.result(engine, timing))
        if "torch" in seconds:
            workers.print_ratio(seconds["numpy"] / seconds["torch"], f"{batches} batches each")
    if args.latency:  # here, NumPy alone: pinned as its worker was
        threads, _ = pin_threads("numpy", args.threads)
        p50, p95 = latency(Model("cnn"))
        print(
            f"one-image inference (predict_proba): p50 {p50:.2f} ms, p95 {p95:.2f} ms "
            f"({threads} thread{'s' if threads != 1 else ''})"
        )


if __name__ == "__main__":
    main()
