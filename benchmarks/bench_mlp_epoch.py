"""One training epoch of the default MLP over MNIST's 60,000 images: digitnet against the same
network, batch size and optimiser (Adam) in PyTorch on the CPU, alternating in one run so a
noisy shared machine slows both alike.

    DIGITNET_DATA=../shared/data/mnist python -m benchmarks.bench_mlp_epoch [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from benchmarks.torch_reference import torch, torch_model, torch_train_step
from digitnet.data.mnist import load_mnist
from digitnet.images import to_float
from digitnet.network.model import Model
from digitnet.network.spec import mlp_spec
from digitnet.training.trainer import TrainConfig, Trainer


def digitnet_epoch(spec, images, labels, batch_size, seed) -> float:
    model = Model(spec, seed=seed)
    config = TrainConfig(epochs=1, batch_size=batch_size, schedule="constant", seed=seed)
    started = time.perf_counter()
    Trainer(model, config, images, labels).run()
    return time.perf_counter() - started


def torch_epoch(spec, images, labels, batch_size, seed) -> float:
    net = torch_model(Model(spec, seed=seed))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    labels = labels.astype(np.int64)
    started = time.perf_counter()
    order = np.random.default_rng(seed).permutation(len(images))
    for first in range(0, len(images), batch_size):
        batch = order[first : first + batch_size]
        torch_train_step(net, optimizer, images[batch], labels[batch])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    mnist = load_mnist()
    images = to_float(mnist.train_images)
    labels = mnist.train_labels
    spec = mlp_spec()
    print(f"network {[layer['type'] for layer in spec['layers']]}, batch {args.batch_size}, Adam")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    ours, theirs = [], []
    for round_ in range(args.rounds):
        ours.append(digitnet_epoch(spec, images, labels, args.batch_size, round_))
        theirs.append(torch_epoch(spec, images, labels, args.batch_size, round_))
        print(f"round {round_ + 1}: digitnet {ours[-1]:.2f} s, torch {theirs[-1]:.2f} s")
    ratio = statistics.median(o / t for o, t in zip(ours, theirs))
    print(
        f"median epoch: digitnet {statistics.median(ours):.2f} s, "
        f"torch {statistics.median(theirs):.2f} s; digitnet/torch = {ratio:.2f}"
    )


if __name__ == "__main__":
    main()
