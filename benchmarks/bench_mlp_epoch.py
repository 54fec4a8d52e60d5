"""One training epoch of the default MLP over MNIST's 60,000 images: digitnet's Trainer against
the same network, batch size, optimiser (Adam) and starting weights in PyTorch on the CPU.

    DIGITNET_DATA=../shared/data/mnist python -m benchmarks.bench_mlp_epoch [--rounds 3]
    python -m benchmarks.bench_mlp_epoch --rounds 1 --images 6000    # a quick look
    python -m benchmarks.bench_mlp_epoch --threads 2                 # both engines on 2 threads

Each engine runs in its own process pinned to ``--threads`` threads (``benchmarks.engines``),
warms up on a few batches, then they alternate epoch by epoch. The ratio is the figure to quote;
the seconds only describe this run. digitnet's epoch is the Trainer's, as ``digitnet train``
runs it: the next batch is gathered in a helper thread while the model trains on this one.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import numpy as np

from benchmarks.engines import Engines, add_threads_flag, available_engines, print_setting
from digitnet.data.mnist import load_mnist
from digitnet.images import to_float
from digitnet.network.model import Model
from digitnet.network.spec import mlp_spec
from digitnet.training.trainer import TrainConfig, Trainer

WARM_UP = (0, 20)  # seed 0, 20 batches


def make_epoch(engine: str, images: int, batch_size: int) -> Callable[[tuple], None]:
    """In the worker: the first ``images`` MNIST training digits, and a function that trains a
    fresh network for one epoch over them in ``engine``, given (seed, batches or None for all)."""
    mnist = load_mnist()
    x, y = to_float(mnist.train_images[:images]), mnist.train_labels[:images].astype(np.int64)
    epoch = digitnet_epoch if engine == "numpy" else torch_epoch
    return lambda task: epoch(x, y, batch_size, *task)


def digitnet_epoch(
    images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int, batches: int | None
) -> None:
    end = None if batches is None else batches * batch_size
    config = TrainConfig(epochs=1, batch_size=batch_size, schedule="constant", seed=seed)
    Trainer(Model(mlp_spec(), seed=seed), config, images[:end], labels[:end]).run()


def torch_epoch(
    images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int, batches: int | None
) -> None:
    from benchmarks.torch_reference import torch, torch_model, torch_train_step

    net = torch_model(Model(mlp_spec(), seed=seed))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    order = np.random.default_rng(seed).permutation(len(images))
    for first in range(0, len(images), batch_size)[:batches]:
        batch = order[first : first + batch_size]
        torch_train_step(net, optimizer, images[batch], labels[batch])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="epochs per engine, alternating")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--images", type=int, default=60_000, help="the epoch's images (fewer for a quick look)"
    )
    add_threads_flag(parser)
    args = parser.parse_args()
    print_setting()
    spec = mlp_spec()
    print(
        f"network {[layer['type'] for layer in spec['layers']]}, batch {args.batch_size}, Adam, "
        f"{args.images} images an epoch"
    )
    engines = available_engines()
    seconds: dict[str, list[float]] = {engine: [] for engine in engines}
    task_args = (args.images, args.batch_size)
    with Engines(engines, make_epoch, task_args, args.threads, warm_up=WARM_UP) as workers:
        for round_ in range(args.rounds):
            for engine in engines:
                seconds[engine].append(workers.time(engine, (round_, None)))
            times = (workers.result(engine, f"{seconds[engine][-1]:.2f} s") for engine in engines)
            print(f"round {round_ + 1}: {', '.join(times)}")
        medians = {engine: statistics.median(times) for engine, times in seconds.items()}
        times = (workers.result(engine, f"{medians[engine]:.2f} s") for engine in engines)
        print(f"median epoch: {', '.join(times)}")
        if "torch" in seconds:
            ratios = [ours / theirs for ours, theirs in zip(seconds["numpy"], seconds["torch"])]
            workers.print_ratio(statistics.median(ratios), "median of the rounds")


if __name__ == "__main__":
    main()
