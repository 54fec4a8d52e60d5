"""Fine-tuning on one person's drawings: how many of their other drawings does it stop misreading,
and what does it cost everyone else? Several seeds, with 95% intervals.

    OPENBLAS_NUM_THREADS=1 DIGITNET_DATA=../shared/data/mnist \\
    DIGITNET_PEN_DATA=../shared/data/pendigits python -m benchmarks.bench_finetune

A "person" is one pen-dev writer (``PEN_DEV_WRITERS``, whom no shipped model was trained on): about
250 digits, drawn onto a 280 px canvas as the app's drawings are (``place``) and saved with their
strokes into a temporary drawing store. The store holds back half of them (the split changes with
the seed); the model (the shipped CNN unless ``--weights``) is fine-tuned on the other half, and
the benchmark prints, before -> after, the misread held-back drawings and the change in accuracy
on two checks of everyone else: MNIST digits and the other pen-dev writers' drawings
(``pen_dev_set``). Each figure is a mean over ``--seeds`` seeds with its 95% interval (Student's
t; the spread of fine-tuning itself: the split, the batches, the augmentation, on fixed checks).

Two modes, so that the settings are never chosen on what is reported:

- ``--tune``: the person is each of TUNING_WRITERS in turn, everyone else is the base model's own
  MNIST dev digits (5,000 training digits that neither it nor the fine-tuning trained on) and the
  other tuning writers. Settings are compared here.
- the default reports on REPORTED_WRITERS, the pen-dev writers the shipped CNN reads worst, with
  MNIST test and every other pen-dev writer as everyone else.

Flags set the ``FineTuneConfig`` fields (``--lr``, ``--mine-share``, ...; default: its
defaults). ``--keep-base`` takes several shares of the base's weights to keep (``blend``): each
fine-tuning is then scored at each of them, so they are compared on the same runs.

Measured 2026-12-03 (OPENBLAS_NUM_THREADS=1, a machine loaded 8-20 on 2 cores, each (writer,
seed) run side by side with ``--seeds 1 --first-seed N``, which gives what one run of all seeds
gives), mean [95% interval] over 10 runs. Chosen on ``--tune --writers 3 10 --keep-base 0 0.25
0.5 0.75`` (17 and 26, read at 100%, left out for time): the change on the base's MNIST dev
digits. Reported with ``--keep-base 0 0.25 0.5 0.75`` (writers 15 and 19, 5 seeds each;
keep_base 0 is the fine-tuning as it was): held-back errors of ~123 and the change on MNIST test
and on the other pen-dev writers, in points.

The shipped CNN with the "not a digit" output (62d6b464; held-back errors 2.0 [1.5, 2.5] before):

keep  tune: MNIST dev         errors after    MNIST test               other pen-dev
0     -0.068 [-0.120, -0.016]  1.3 [0.8, 1.8]  -0.087 [-0.131, -0.043]  -0.088 [-0.162, -0.014]
0.25  -0.024 [-0.058, +0.010]  1.4 [0.9, 1.9]  -0.051 [-0.081, -0.021]  -0.048 [-0.115, +0.019]
0.5   +0.012 [-0.014, +0.038]  1.5 [1.1, 1.9]  -0.015 [-0.039, +0.009]  -0.040 [-0.080, +0.000]
0.75  +0.016 [+0.001, +0.031]  1.8 [1.3, 2.3]  -0.001 [-0.010, +0.008]  -0.032 [-0.072, +0.008]

The earlier CNN with ten outputs (b367a182; held-back errors 1.8 [1.2, 2.4] before):

0     -0.052 [-0.096, -0.008]  1.2 [0.6, 1.8]  -0.156 [-0.200, -0.112]  +0.184 [+0.123, +0.245]
0.25  -0.050 [-0.091, -0.009]  1.4 [0.7, 2.1]  -0.098 [-0.137, -0.059]  +0.192 [+0.125, +0.259]
0.5   -0.038 [-0.075, -0.001]  1.4 [0.7, 2.1]  -0.060 [-0.082, -0.038]  +0.168 [+0.111, +0.225]
0.75  -0.030 [-0.062, +0.002]  1.4 [0.7, 2.1]  -0.023 [-0.038, -0.008]  +0.104 [+0.057, +0.151]

About 200-300 s a run there (21 s on an idle machine); docs/app.md ("Teach it your handwriting").
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import digitnet
from digitnet.analysis.metrics import evaluate
from digitnet.data.collection.limits import Limits
from digitnet.data.collection.store import DrawingStore, images_and_labels
from digitnet.data.mnist import Dataset, load_dataset
from digitnet.data.pendigits import PEN_DEV_WRITERS, PenData, PenDigits, load_pen_data, pen_dev_set
from digitnet.network.model import Model
from digitnet.training.card import dev_split
from digitnet.training.finetune import (
    FineTuneConfig,
    add_pen_drawings,
    blend,
    copy_model,
    fine_tune,
    split_drawings,
)

# The pen-dev writers the earlier (10-output) shipped CNN read worst: 98.8% each, 3 of 250 misread.
REPORTED_WRITERS = (15, 19)
TUNING_WRITERS = tuple(w for w in PEN_DEV_WRITERS if w not in REPORTED_WRITERS)
SAVES = 1000  # a writer's drawings saved at once, past the app's limit of saves a minute
HELD_BACK = 0.5  # half the person's drawings to train on, half to measure
# Student's t 97.5% quantile by degrees of freedom (seeds - 1), for seeds 2 to 10.
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
WHEN = ("before", "after")
SETTINGS = ("steps", "learning_rate", "mine_share", "pen_share")


@dataclasses.dataclass(frozen=True)
class Run:
    """One fine-tuning, blended with ``keep`` of the base's weights: misread held-back drawings
    and their cross-entropy (nats: learning shows in it before any error) before and after, and
    the changes in points on the two checks of everyone else."""

    writer: int
    seed: int
    keep: float
    held: int
    errors_before: int
    loss_before: float
    errors_after: int
    loss_after: float
    mnist_change: float
    pen_change: float
    seconds: float


class Checks:
    """Everyone else: the MNIST digits (as the test split of the data set fine-tuning gets) and
    pen-dev drawings by writers, each scored once on the base model."""

    def __init__(self, base: Model, mnist: Dataset, pen: PenData, tune: bool) -> None:
        if tune:
            images, labels = dev_split(base, mnist)
            mnist = dataclasses.replace(mnist, test_images=images, test_labels=labels)
        self.mnist, self.mnist_name = mnist, "MNIST dev (the base's)" if tune else "MNIST test"
        self.pen_images, self.pen_labels = pen_dev_set(pen)
        self.pen_writers = pen.of_writers(PEN_DEV_WRITERS).writers
        self.others = TUNING_WRITERS if tune else PEN_DEV_WRITERS
        self.base = base

    def of_others(self, writer: int) -> np.ndarray:
        """Which pen-dev drawings are everyone else's."""
        return np.isin(self.pen_writers, [w for w in self.others if w != writer])

    def score(
        self, model: Model, writer: int, held_images: np.ndarray, held_labels: np.ndarray
    ) -> tuple[int, float, float, float]:
        """Misread held-back drawings, their cross-entropy (at temperature 1: the network's own,
        whatever a model's calibration), and the accuracy on MNIST and on the other pen-dev
        writers."""
        held = evaluate(model, held_images, held_labels)
        right = held.untempered().probabilities[np.arange(len(held_labels)), held_labels]
        chosen = self.of_others(writer)
        return (
            int((held.predictions != held_labels).sum()),
            float(-np.log(right + 1e-12).mean()),
            evaluate(model, self.mnist.test_images, self.mnist.test_labels).accuracy,
            evaluate(model, self.pen_images[chosen], self.pen_labels[chosen]).accuracy,
        )


def run_once(
    checks: Checks, pen: PenData, writer: int, config: FineTuneConfig, keeps: list[float]
) -> list[Run]:
    """One fine-tuning (without blending), then, for each share of the base's weights kept in
    ``keeps``, the blend (``blend``: what ``fine_tune`` with that ``keep_base`` returns) scored."""
    with tempfile.TemporaryDirectory() as folder:
        store = DrawingStore(
            Path(folder) / "drawings.sqlite", limits=Limits(saves_per_minute=SAVES)
        )
        add_pen_drawings(store, pen, [writer], seed=config.seed)
        train, held = split_drawings(store, config)
        started = time.perf_counter()
        result = fine_tune(checks.base, train, held, checks.mnist, PenDigits(pen), config)
        seconds = time.perf_counter() - started
    held_images, held_labels = images_and_labels(held)
    before = checks.score(checks.base, writer, held_images, held_labels)
    runs = []
    for keep in keeps:
        model = copy_model(result.model)
        blend(model, checks.base, keep)
        after = checks.score(model, writer, held_images, held_labels)
        changes = [(a - b) * 100 for a, b in zip(after[2:], before[2:])]
        runs.append(
            Run(writer, config.seed, keep, len(held), *before[:2], *after[:2], *changes, seconds)
        )
    return runs


def interval(values: list[float], form: str = "+.3f") -> str:
    """Mean and 95% interval of the mean over the runs (Student's t); the mean alone of one."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return f"{mean:{form}}"
    half = T_975[len(values) - 1] * float(np.std(values, ddof=1)) / np.sqrt(len(values))
    return f"{mean:{form}} [{mean - half:{form}}, {mean + half:{form}}]"


def summary(runs: list[Run], checks: Checks) -> list[str]:
    """By share of the base's weights kept, per writer and over all, mean [95% interval]."""
    writers = sorted({r.writer for r in runs})
    lines = []
    for keep in sorted({r.keep for r in runs}):
        lines.append(f"keep_base {keep:g}:")
        for writer in writers + ([None] if len(writers) > 1 else []):
            mine = [r for r in runs if r.keep == keep and writer in (None, r.writer)]
            errors = [interval([getattr(r, f"errors_{w}") for r in mine], ".1f") for w in WHEN]
            losses = [np.mean([getattr(r, f"loss_{w}") for r in mine]) for w in WHEN]
            lines.append(
                f"{f'writer {writer}' if writer else 'all writers':>14}: held-back errors "
                f"{errors[0]} -> {errors[1]} of ~{np.mean([r.held for r in mine]):.0f}, "
                f"loss {losses[0]:.3f} -> {losses[1]:.3f}; "
                f"{checks.mnist_name} {interval([r.mnist_change for r in mine])} points; "
                f"other pen-dev {interval([r.pen_change for r in mine])} points; "
                f"{np.mean([r.seconds for r in mine]):.0f} s"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", help="the base model (default: the shipped CNN)")
    parser.add_argument("--tune", action="store_true", help="the tuning writers and MNIST dev")
    parser.add_argument("--writers", type=int, nargs="+", help="instead of the mode's writers")
    parser.add_argument("--seeds", type=int, default=5, choices=range(1, 11))
    parser.add_argument("--first-seed", type=int, default=0, help="to run seeds side by side")
    defaults = FineTuneConfig()
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--lr", dest="learning_rate", type=float, default=defaults.learning_rate)
    for name in SETTINGS[2:]:
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=float, default=getattr(defaults, name))
    parser.add_argument(
        "--keep-base",
        type=float,
        nargs="+",
        default=[defaults.keep_base],
        help="shares of the base's weights to keep, each scored on the same fine-tunings",
    )
    args = parser.parse_args()
    writers = args.writers or (TUNING_WRITERS if args.tune else REPORTED_WRITERS)
    if not set(writers) <= set(PEN_DEV_WRITERS):
        parser.error(f"--writers must be pen-dev writers {PEN_DEV_WRITERS}: never trained on")
    settings = {name: getattr(args, name) for name in SETTINGS}
    base = digitnet.load_model(args.weights)
    pen = load_pen_data(download=False)
    checks = Checks(base, load_dataset("mnist"), pen, args.tune)
    print(f"base: {base.metadata['path']} (sha256 {base.metadata['checksum'][:16]}...)")
    print(
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
        f"load {os.getloadavg()[0]:.1f}; writers {list(writers)}, seeds {args.first_seed} to "
        f"{args.first_seed + args.seeds - 1}; {settings}, keep_base {args.keep_base}"
    )
    runs = []
    for writer in writers:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            config = FineTuneConfig(**settings, held_back=HELD_BACK, seed=seed, keep_base=0)
            for r in run_once(checks, pen, writer, config, args.keep_base):
                runs.append(r)
                print(
                    f"  writer {writer} seed {seed} keep_base {r.keep:g}: errors "
                    f"{r.errors_before} -> {r.errors_after} of {r.held} (loss "
                    f"{r.loss_before:.3f} -> {r.loss_after:.3f}), MNIST {r.mnist_change:+.2f}, "
                    f"pen {r.pen_change:+.2f}, {r.seconds:.0f} s",
                    flush=True,
                )
    print("\n".join(summary(runs, checks)))


if __name__ == "__main__":
    main()
