"""Wall-clock training time until the CNN first reaches 99.0% on MNIST's test set, checking
every 50 batches (the checks themselves are not counted).

    DIGITNET_DATA=../shared/data/mnist python -m benchmarks.bench_time_to_99 [--lr 0.002]
"""

from __future__ import annotations

import argparse
import time

from digitnet.analysis.metrics import evaluate
from digitnet.data.mnist import load_mnist
from digitnet.network.model import Model
from digitnet.training.trainer import BatchEvent, TrainConfig, Trainer

TARGET = 0.99
CHECK_EVERY = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="cnn")
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--epochs", type=int, default=3, help="length of the cosine schedule")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    mnist = load_mnist()
    model = Model(args.arch, seed=args.seed)
    config = TrainConfig(epochs=args.epochs, learning_rate=args.lr, seed=args.seed, dev_size=0)
    checking = 0.0
    reached: list[tuple[int, float]] = []
    started = time.perf_counter()

    def check(event) -> None:
        nonlocal checking
        if not isinstance(event, BatchEvent):
            return
        done = event.epoch * event.batches_per_epoch + event.batch + 1
        if done % CHECK_EVERY:
            return
        check_started = time.perf_counter()
        accuracy = evaluate(model, mnist.test_images, mnist.test_labels).accuracy
        checking += time.perf_counter() - check_started
        elapsed = time.perf_counter() - started - checking
        print(f"{done} batches, {elapsed:.1f} s: test accuracy {accuracy:.2%}")
        if accuracy >= TARGET:
            reached.append((done, elapsed))
            trainer.stop()

    trainer = Trainer(model, config, mnist.train_images, mnist.train_labels, on_event=check)
    trainer.run()
    if reached:
        batches, seconds = reached[0]
        print(f"{args.arch} reached {TARGET:.1%} after {batches} batches in {seconds:.1f} s")
    else:
        print(f"{args.arch} did not reach {TARGET:.1%} in {args.epochs} epochs")


if __name__ == "__main__":
    main()
