"""One training step of the "cnn" preset in digitnet's NumPy engine against the identical network
(same layers, same starting weights) in PyTorch: forward, backward and an Adam step on batches
of 128, side by side in one run.

    python -m benchmarks.bench_cnn_epoch             # 300 batches each
    python -m benchmarks.bench_cnn_epoch --full      # a whole epoch each (469 batches)
    python -m benchmarks.bench_cnn_epoch --latency   # also one-image inference latency

PyTorch is an optional benchmark dependency (``pip install torch==2.13.0``), never used by
digitnet. Each engine runs in its own process (so neither one's idle thread pool gets in the
other's way) and they take turns in short rounds, so a busy shared machine slows both alike:
the ratio is the figure to quote, the milliseconds only describe this run. The images are
random: the time of a step does not depend on the pixels.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import platform
import statistics
import time

import numpy as np

from digitnet.images import IMAGE_SHAPE
from digitnet.network.layers import softmax_cross_entropy
from digitnet.network.model import Model
from digitnet.network.optim import Adam

BATCH = 128
EPOCH_BATCHES = -(-60_000 // BATCH)
ROUND = 10  # batches per engine per turn
DISTINCT_BATCHES = 20  # cycled: memory stays small however many batches are timed
THREAD_SETTINGS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
)


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
        self.description = f"torch {torch.__version__}: {torch.get_num_threads()} threads"

    def __call__(self, batch: int) -> None:
        rows = batch_rows(batch)
        self.train_step(self.net, self.optimizer, self.images[rows], self.labels[rows])


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl to see)"
    pools = [
        f"{pool['internal_api']} {pool.get('version')} ({pool.get('architecture')} kernels), "
        f"{pool['num_threads']} threads"
        for pool in threadpool_info()
        if pool["user_api"] == "blas"
    ]
    return "; ".join(pools) or "none found"


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


def serve(engine: str, connection) -> None:
    """Runs one engine's batches when told to, and answers with the seconds they took."""
    rng = np.random.default_rng(0)
    images = rng.random((DISTINCT_BATCHES * BATCH, *IMAGE_SHAPE), dtype=np.float32)
    labels = rng.integers(0, 10, len(images)).astype(np.uint8)
    if engine == "numpy":
        step = NumpyStep(images, labels)
    else:
        step = TorchStep(images, labels)
        connection.send(step.description)
    for batch in range(3):  # warm up: allocation, first-call dispatch
        step(batch)
    connection.send("ready")
    while (task := connection.recv()) is not None:
        start, stop = task
        begin = time.perf_counter()
        for batch in range(start, stop):
            step(batch)
        connection.send(time.perf_counter() - begin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300, help="batches per engine")
    parser.add_argument("--full", action="store_true", help="a whole epoch (469 batches)")
    parser.add_argument("--latency", action="store_true", help="also time one-image inference")
    args = parser.parse_args()
    batches = EPOCH_BATCHES if args.full else args.batches

    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    print(f"numpy BLAS: {blas_threads()}")
    for name in THREAD_SETTINGS:
        print(f"{name}={os.environ.get(name, '(unset)')}")
    engines = ["numpy"]
    if importlib.util.find_spec("torch") is None:
        print("PyTorch is not installed: timing NumPy alone (pip install torch==2.13.0 to compare)")
    else:
        engines.append("torch")
    print(f"network: {Model('cnn')}, batch {BATCH}, {batches} batches each")

    context = multiprocessing.get_context("spawn")
    connections, workers = {}, []
    for engine in engines:
        ours, theirs = context.Pipe()
        worker = context.Process(target=serve, args=(engine, theirs), daemon=True)
        worker.start()
        connections[engine] = ours
        workers.append(worker)
    for connection in connections.values():
        while (message := connection.recv()) != "ready":
            print(message)

    seconds = dict.fromkeys(engines, 0.0)
    for start in range(0, batches, ROUND):
        for engine, connection in connections.items():  # turns: one engine runs at a time
            connection.send((start, min(start + ROUND, batches)))
            seconds[engine] += connection.recv()
    for connection in connections.values():
        connection.send(None)
    for worker in workers:
        worker.join()

    for engine, total in seconds.items():
        per_batch = total / batches
        epoch = per_batch * EPOCH_BATCHES
        print(f"{engine:6s} {per_batch * 1000:7.1f} ms/batch, {epoch:6.1f} s/epoch")
    if "torch" in seconds:
        print(f"ratio numpy/torch: {seconds['numpy'] / seconds['torch']:.2f}")
    if args.latency:
        p50, p95 = latency(Model("cnn"))
        print(f"one-image inference (predict_proba): p50 {p50:.2f} ms, p95 {p95:.2f} ms")


if __name__ == "__main__":
    main()
