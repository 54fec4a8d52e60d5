"""Fine-tuning on a realistic personal set: does it raise the accuracy on a person's own digits
without costing MNIST, and in under a minute?

    OPENBLAS_NUM_THREADS=1 DIGITNET_DATA=../shared/data/mnist \
    DIGITNET_PEN_DATA=../shared/data/pendigits python -m benchmarks.bench_finetune

The "person" is two pen-dev writers (``PEN_DEV_WRITERS``, whom no shipped model was trained on):
about 500 digits, drawn onto a 280 px canvas as the app's drawings are (``place``) and saved
with their strokes into a temporary drawing store. The store holds back 40% of them; the model
(the shipped CNN unless ``--weights``) is fine-tuned on the other 60% with the defaults of
``FineTuneConfig``, and the accuracy on the held-back 40% and on MNIST test is printed before
and after, with the time the whole fine-tuning took (scoring included): its wall time, the
machine's load, and the CPU time of all its threads (what it takes on an idle machine, where the
batch-drawing thread runs beside the training on the second core).

Measured 2026-11-22 (OPENBLAS_NUM_THREADS=1, 2 cores shared with other work; held-back
accuracy on about 204 drawings, then MNIST test, before -> after; ~296 drawings trained on):

    shipped CNN a500ea29 (pen share 0.1)  writers 3+10   98.53 -> 99.51  99.41 -> 99.33  32.9 s
                                          writers 15+17  99.51 -> 100.0  99.41 -> 99.33  32.3 s
                                          writers 19+26  99.02 -> 99.51  99.41 -> 99.36  26.3 s

at load 2 to 4.5 (about 22 s of CPU each). On the earlier MNIST-only CNN (44fba443) the gains
were larger, as it read these writers worse: 98.53 -> 99.02, 92.61 -> 99.51, 93.63 -> 97.06,
MNIST test 99.44 -> 99.35, 99.37, 99.33. There, 0.4 of each batch from the person's drawings
(instead of 0.25) cost MNIST test 0.34 points for writers 19+26.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import digitnet
from digitnet.data.collection.store import DrawingStore
from digitnet.data.mnist import load_dataset
from digitnet.data.pendigits import PEN_DEV_WRITERS, PenDigits, load_pen_data
from digitnet.training.finetune import FineTuneConfig, add_pen_drawings, fine_tune, split_drawings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", help="the base model (default: the shipped CNN)")
    parser.add_argument("--writers", type=int, nargs="+", default=list(PEN_DEV_WRITERS[:2]))
    parser.add_argument("--steps", type=int, default=FineTuneConfig().steps)
    parser.add_argument("--lr", type=float, default=FineTuneConfig().learning_rate)
    parser.add_argument("--mine-share", type=float, default=FineTuneConfig().mine_share)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not set(args.writers) <= set(PEN_DEV_WRITERS):
        parser.error(f"--writers must be pen-dev writers {PEN_DEV_WRITERS}: never trained on")
    base = digitnet.load_model(args.weights)
    mnist = load_dataset("mnist")
    pen = load_pen_data(download=False)
    config = FineTuneConfig(
        steps=args.steps, learning_rate=args.lr, mine_share=args.mine_share, seed=args.seed
    )
    print(f"base: {base.metadata['path']} (sha256 {base.metadata['checksum'][:16]}...)")
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    with tempfile.TemporaryDirectory() as folder:
        store = DrawingStore(Path(folder) / "drawings.sqlite")
        count = add_pen_drawings(store, pen, args.writers, seed=args.seed)
        train, held = split_drawings(store, config)
        print(
            f"{count} drawings of writers {args.writers}: {len(train)} to train, {len(held)} held"
        )
        load = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        result = fine_tune(base, train, held, mnist, PenDigits(pen), config)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"load average before: {load:.1f}, after: {os.getloadavg()[0]:.1f} (2 cores)")
    for line in result.summary():
        print(line)
    change = (result.mnist_test.after - result.mnist_test.before) * 100
    gain = (result.held_back.after - result.held_back.before) * 100
    print(f"held-back {gain:+.2f} points, MNIST test {change:+.2f} points")
    print(f"{wall:.1f} s wall, {cpu:.1f} s of CPU (all threads: the time on an idle machine)")


if __name__ == "__main__":
    main()
