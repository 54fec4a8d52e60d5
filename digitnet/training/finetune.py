"""Fine-tuning on a person's own drawings: start from a model, train a copy on their saved
drawings, and show how much better it reads the ones it was not trained on.

The drawings are split once (``DrawingStore.split``: the same drawing stays on the same side as
more are saved): about 60% to train on, 40% held back to measure. Training sees each drawing
redrawn from its strokes with a new hand every time (``stroke_augment``), so twenty drawings
teach more than twenty images; an imported CSV row has no strokes, so its image is distorted
instead (``augment``). Every batch also holds MNIST digits and pen-train digits, with a small
learning rate for a few hundred steps, so the model does not forget the digits of everyone else:
the result reports MNIST test before and after next to the held-back drawings.

A model with the eleventh output (NOT_A_DIGIT) also learns the drawings saved as "Not a digit",
and its batches replay drawings that are not digits (``NotDigits``) as its training did, so it
keeps telling them apart; a model without that output leaves such drawings out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from digitnet.analysis.metrics import Evaluation, evaluate, fit_temperature
from digitnet.data.augment import AugmentConfig, augment_batch
from digitnet.data.collection.store import (
    LOCAL_PERSON,
    DrawingStore,
    SavedDrawing,
    images_and_labels,
)
from digitnet.data.mnist import Dataset, split_dev
from digitnet.data.negatives import NOT_A_DIGIT, NotDigits
from digitnet.data.pendigits import (
    DEFAULT_PEN_SHARE,
    PEN_DEV_WRITERS,
    TRAIN_CANVAS,
    PenData,
    PenDigits,
)
from digitnet.data.preprocess import canvas_to_mnist
from digitnet.data.stroke_augment import StrokeAugment, augment, place
from digitnet.data.strokes import render_batch, to_mnist
from digitnet.errors import DigitnetError
from digitnet.images import NUM_CLASSES
from digitnet.network.model import Model, copy_weights, load_weights
from digitnet.reading import fit_thresholds
from digitnet.training.card import card, dev_split
from digitnet.training.catalog import fingerprint
from digitnet.training.pipeline import Event, Split, StageEvent, TrainingRun
from digitnet.training.sources import DEFAULT_NOT_DIGIT_SHARE, mixed_in
from digitnet.training.trainer import BatchEvent, DigitSource, TrainConfig

MIN_TO_TRAIN = 5  # drawings on the training side, at the least
MIN_HELD_BACK = 3  # drawings held back to measure on, at the least
NAME_SUFFIX = " + my drawings"
HELD_BACK_METRIC = "my drawings (held back)"  # the card's name for the held-back score

Progress = Callable[[float, str], None]  # (share done from 0 to 1, what is happening)


@dataclass(frozen=True)
class FineTuneConfig:
    """How a fine-tuning runs. Each batch is ``mine_share`` the person's drawings,
    ``pen_share`` pen-train digits, ``not_digit_share`` drawings that are not digits (for a
    model with that output) and the rest MNIST (augmented); the learning rate falls to zero
    along a cosine over ``steps`` steps of Adam. Then every weight is moved ``keep_base`` of
    the way back to the base model's (``blend``): averaging the two networks' weights
    (WiSE-FT, Wortsman et al. 2022) keeps most of what was learned of the person and undoes
    most of the cost to everyone else (``benchmarks/bench_finetune.py``, docs/app.md)."""

    steps: int = 300
    batch_size: int = 64
    learning_rate: float = 2e-4
    mine_share: float = 0.25
    pen_share: float = DEFAULT_PEN_SHARE
    not_digit_share: float = DEFAULT_NOT_DIGIT_SHARE  # for a base with a "not a digit" output
    held_back: float = 0.4
    seed: int = 0
    keep_base: float = 0.5

    def __post_init__(self) -> None:
        if not (isinstance(self.steps, int) and 1 <= self.steps <= 100_000):
            raise DigitnetError(f"fine-tuning steps must be 1 to 100000, got {self.steps!r}")
        if not 0 <= self.keep_base < 1:
            raise DigitnetError(f"keep base must be from 0 to below 1, got {self.keep_base}")
        shares = (self.mine_share, self.pen_share, self.not_digit_share)
        if not (shares[0] > 0 and min(shares) >= 0 and sum(shares) <= 0.9):
            raise DigitnetError(
                f"mine share {self.mine_share} must be above 0, and with pen share "
                f"{self.pen_share} and not-a-digit share {self.not_digit_share} (at least 0) "
                "leave at least a tenth of every batch to MNIST"
            )
        if not 0 < self.held_back < 1:
            raise DigitnetError(f"held back must be a share between 0 and 1, got {self.held_back}")

    def mnist_per_batch(self, extra_share: float) -> int:
        """MNIST digits in a batch whose ``extra_share`` is other digits, as the Trainer counts
        them."""
        return self.batch_size - round(extra_share * self.batch_size)

    def train_config(self, dev_size: int, extra_share: float) -> TrainConfig:
        """The Trainer's settings (it checks the rest: batch size, rate, seed)."""
        return TrainConfig(
            epochs=1,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            schedule="cosine",
            seed=self.seed,
            dev_size=dev_size,
            augment=AugmentConfig(),
            extra_share=extra_share,
        )


@dataclass(frozen=True)
class BeforeAfter:
    before: float
    after: float


@dataclass(frozen=True)
class FineTuneResult:
    """The fine-tuned model (its card written) and what it changed."""

    model: Model
    held_back: BeforeAfter  # accuracy on the held-back drawings
    mnist_test: BeforeAfter
    trained_on: int  # drawings
    held_back_count: int
    seconds: float  # all of it: scoring before and after, and training

    def summary(self) -> list[str]:
        """The figures in lines for people, as the CLI prints them."""
        return [
            f"held-back drawings ({self.held_back_count}): {self.held_back.before:.2%} before, "
            f"{self.held_back.after:.2%} after",
            f"MNIST test (10,000): {self.mnist_test.before:.2%} before, "
            f"{self.mnist_test.after:.2%} after",
            f"fine-tuned on {self.trained_on} drawings in {self.seconds:.0f} s",
        ]


class MyDrawings:
    """The person's drawings as a Trainer's extra digits: each sampled drawing redrawn from its
    strokes with stroke augmentation (on a small transparent canvas, like ``PenDigits``), or,
    without strokes (an import, a photo), its image distorted by image augmentation."""

    name = "my drawings"

    def __init__(
        self,
        drawings: Sequence[SavedDrawing],
        strokes: StrokeAugment | None = None,
        images: AugmentConfig | None = None,
    ) -> None:
        usable = [d for d in drawings if _usable(d)]
        if not usable:
            raise DigitnetError("none of the drawings has strokes or an image with ink to learn")
        self.drawings = usable
        self.images, self.labels = images_and_labels(usable)
        self.has_strokes = np.array([_has_strokes(d) for d in usable])
        self.stroke_config = strokes or StrokeAugment()
        self.image_config = images or AugmentConfig()

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        chosen = rng.integers(0, len(self.drawings), count)
        images = self.images[chosen]  # a copy: the redrawn ones replace their rows
        redrawn = np.flatnonzero(self.has_strokes[chosen])
        blank = np.zeros(count, bool)
        if len(redrawn):
            digits = [self.drawings[i].strokes for i in chosen[redrawn]]
            drawings = augment(digits, rng, TRAIN_CANVAS, "transparent", self.stroke_config)
            for row, canvas in zip(redrawn, render_batch(drawings)):
                image = canvas_to_mnist(canvas)
                if image is None:  # a dot too small to read: its image, distorted, instead
                    blank[row] = True
                else:
                    images[row] = image
        distorted = ~self.has_strokes[chosen] | blank
        if distorted.any():
            images[distorted] = augment_batch(images[distorted], rng, self.image_config)
        return images, self.labels[chosen].astype(np.int64)


def split_drawings(
    store: DrawingStore,
    config: FineTuneConfig = FineTuneConfig(),
    *,
    person: str | None = LOCAL_PERSON,
    shared_only: bool = False,
) -> tuple[list[SavedDrawing], list[SavedDrawing]]:
    """(to train on, held back) of a person's usable drawings (None: everyone's; a class
    model: the shared ones), a drawing and its duplicates always on the same side
    (``DrawingStore.split``), or a one-line DigitnetError saying what is missing (no
    drawings, too few, none with strokes or ink)."""
    train, held = store.split(config.held_back, config.seed, person=person, shared_only=shared_only)
    everything, whose = len(train) + len(held), store.whose(person, shared_only)
    if not everything:
        raise DigitnetError(
            f"no drawings {whose}: save some on the Draw page, or import a Kaggle CSV "
            "with `digitnet drawings import`, then fine-tune"
        )
    train, held = [d for d in train if _usable(d)], [d for d in held if _usable(d)]
    if not train and not held:
        raise DigitnetError(
            f"none of the {everything} drawings {whose} has strokes or an image with ink: "
            "there is nothing to learn from"
        )
    check_enough(len(train), len(held), config)
    return train, held


def check_enough(to_train: int, held: int, config: FineTuneConfig, why: str = "") -> None:
    """A one-line DigitnetError if there are too few drawings to train on or to measure."""
    if to_train < MIN_TO_TRAIN or held < MIN_HELD_BACK:
        raise DigitnetError(
            f"too few drawings{why}: {to_train} to train on and {held} held back to measure; "
            f"fine-tuning needs at least {MIN_TO_TRAIN} and {MIN_HELD_BACK} (about "
            f"{round(MIN_TO_TRAIN / (1 - config.held_back)) + 2} drawings): save some more"
        )


def fine_tune(
    base: Model,
    train: Sequence[SavedDrawing],
    held: Sequence[SavedDrawing],
    mnist: Dataset,
    pen: PenDigits | None,
    config: FineTuneConfig = FineTuneConfig(),
    name: str | None = None,
    progress: Progress | None = None,
    save: Callable[[Model], Path] | None = None,
) -> FineTuneResult:
    """A copy of ``base`` fine-tuned on ``train`` (from ``split_drawings``) mixed with MNIST's
    training digits and ``pen`` (pen-train digits; None: without), scored on the digits of
    ``held`` and MNIST test before and after, through the training pipeline (its card named
    ``name``, default "<base> + my drawings"; ``save`` as the pipeline's). ``base`` itself is
    never changed.

    Drawings saved as not a digit (NOT_A_DIGIT) are learned by a base with that output, which
    then also replays drawings that are not digits (``NotDigits``, made from the pen data, so
    only with ``pen``) so as not to forget them; a base without it leaves them out."""
    if mnist.test_images is None:
        raise DigitnetError(
            f"fine-tuning mixes in MNIST and checks MNIST test, not {mnist.name}: use MNIST"
        )
    progress = progress or (lambda share, text: None)
    started = time.perf_counter()
    train, held = learnable(train, base), learnable(held, base)
    held = [d for d in held if d.label != NOT_A_DIGIT]  # the held-back score is of digits
    why = "" if base.knows_not_digit else " of digits (this model has no 'not a digit' output)"
    check_enough(len(train), len(held), config, why)
    held_images, held_labels = images_and_labels(held)
    progress(0.0, "Scoring the model before fine-tuning...")
    before_mine = evaluate(base, held_images, held_labels).accuracy
    before_test = evaluate(base, mnist.test_images, mnist.test_labels).accuracy
    made = card(base)
    extra, extra_share = extra_digits(train, pen, config, base.knows_not_digit)
    split = mnist_digits(base, mnist, config, extra_share)
    run = BlendedRun(
        base,
        config.keep_base,
        copy_model(base),
        config.train_config(len(split.dev_labels), extra_share),
        mnist,
        name=name or f"{made.name}{NAME_SUFFIX}",
        architecture=made.architecture,
        split=split,
        extra=extra,
        score_on={HELD_BACK_METRIC: (held_images, held_labels)},
        notes=_fine_tuning_notes(base, len(split.dev_labels)),
        on_event=partial(_report, progress=progress),
    )
    outcome = run.run(save=save)
    if not outcome.usable:
        raise DigitnetError(
            f"fine-tuning {outcome.result.message} (it was {config.learning_rate:g})"
        )
    progress(1.0, "Done.")
    return FineTuneResult(
        model=run.model,
        held_back=BeforeAfter(before_mine, outcome.scores[HELD_BACK_METRIC].accuracy),
        mnist_test=BeforeAfter(before_test, outcome.scores["test"].accuracy),
        trained_on=len(train),
        held_back_count=len(held),
        seconds=time.perf_counter() - started,
    )


class BlendedRun(TrainingRun):
    """The pipeline's run, with the trained weights blended with ``base``'s (``blend``) before
    they are scored, carded and saved, and calibrated again on the dev digits as the Trainer
    calibrated the unblended ones (its temperature and reading thresholds)."""

    def __init__(self, base: Model, keep_base: float, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.base, self.keep_base = base, keep_base

    def score(self) -> dict[str, Evaluation]:
        blend(self.model, self.base, self.keep_base)
        if len(self.split.dev_labels):
            logits = self.model.logits(self.split.dev_images)
            temperature = fit_temperature(logits[:, :NUM_CLASSES], self.split.dev_labels)
            self.model.metadata["temperature"] = temperature
            self.model.metadata["reading"] = fit_thresholds(logits, temperature).to_dict()
        return super().score()


def blend(model: Model, base: Model, keep_base: float) -> None:
    """Moves every array of ``model`` (weights and BatchNorm statistics), in place,
    ``keep_base`` of the way back to ``base``'s (a model of the same spec)."""
    for tuned, start in zip(model.arrays().values(), base.arrays().values(), strict=True):
        tuned += keep_base * (start - tuned)


def copy_model(model: Model) -> Model:
    """A model with the same spec and a copy of every array, with only the metadata that stays
    true of a changed model (its architecture and calibration): the card is written anew."""
    keep = {k: model.metadata[k] for k in ("architecture", "temperature") if k in model.metadata}
    twin = Model(model.spec, metadata=keep)
    load_weights(twin, copy_weights(model))
    return twin


def mnist_digits(base: Model, mnist: Dataset, config: FineTuneConfig, extra_share: float) -> Split:
    """MNIST's digits to fine-tune with: as many training digits as ``config.steps`` batches
    take beside ``extra_share`` of other digits, none of them the dev digits ``base`` held out
    of its training (if it was trained on this MNIST), so the fine-tuned model has not seen
    those either and its card's dev split stays true."""
    try:
        dev_split(base, mnist)  # refuses a base trained on other data, or without dev digits
        size = card(base).dev_split
        images, labels, dev_images, dev_labels = split_dev(
            mnist.images, mnist.labels, size.size, size.seed
        )
    except DigitnetError:
        images, labels, dev_images, dev_labels = (
            mnist.images,
            mnist.labels,
            mnist.images[:0],
            mnist.labels[:0],
        )
    count = min(len(images), config.steps * config.mnist_per_batch(extra_share))
    chosen = np.random.default_rng([config.seed, 3]).choice(len(images), count, replace=False)
    return Split(images[chosen], labels[chosen], dev_images, dev_labels)


def extra_digits(
    train: Sequence[SavedDrawing], pen: PenDigits | None, config: FineTuneConfig, not_digits: bool
) -> tuple[DigitSource, float]:
    """The drawings, the pen digits (if any) and, with ``not_digits`` (a base with that
    output) and the pen data, drawings that are not digits, as one source; and the share of
    every batch they take together."""
    negatives = NotDigits(pen.data) if pen is not None and not_digits else None
    parts = [
        (MyDrawings(train), config.mine_share),
        (pen, config.pen_share),
        (negatives, config.not_digit_share),
    ]
    return mixed_in(parts)


def learnable(drawings: Sequence[SavedDrawing], base: Model) -> list[SavedDrawing]:
    """The drawings ``base`` can learn: all, but those saved as not a digit (NOT_A_DIGIT)
    when it has no such output."""
    return [d for d in drawings if d.label < base.outputs]


def add_pen_drawings(
    store: DrawingStore,
    pen: PenData,
    writers: Sequence[int] = PEN_DEV_WRITERS[:2],
    session: str = "pen writers",
    seed: int = 0,
    person: str = LOCAL_PERSON,
) -> int:
    """Saves the pen digits of ``writers`` into ``store`` as drawings made in the app (strokes
    placed on a 280 px white canvas, its image as the model reads it): a realistic personal
    collection, for measuring fine-tuning and for tests. Returns how many."""
    digits = pen.of_writers(tuple(writers))
    drawings = place(digits.strokes, np.random.default_rng(seed))
    for drawing, label in zip(drawings, digits.labels):
        store.add(
            person=person,
            label=int(label),
            image=to_mnist(drawing),
            session=session,
            strokes=list(drawing.strokes),
            canvas_width=drawing.width,
            canvas_height=drawing.height,
            brush_width=drawing.brush_width,
        )
    return len(drawings)


def _has_strokes(drawing: SavedDrawing) -> bool:
    return bool(drawing.strokes) and sum(len(s) for s in drawing.strokes) > 0


def _usable(drawing: SavedDrawing) -> bool:
    return _has_strokes(drawing) or bool(drawing.image.max() > 0)


def _report(event: Event, progress: Progress) -> None:
    """The pipeline's events as one progress: the batches are its middle, scoring its end."""
    if isinstance(event, BatchEvent):
        progress(0.1 + 0.8 * event.progress, f"Fine-tuning: step {event.batch + 1}")
    elif isinstance(event, StageEvent):
        progress(0.9, event.text)


def _fine_tuning_notes(base: Model, dev_size: int) -> dict:
    """What the card of a fine-tuned model says beyond the pipeline's: the model it started
    from, and the dev split (the base's, which it never saw either)."""
    made = card(base)
    return {
        "fine_tuned_from": {
            "name": made.name,
            "checksum": base.metadata.get("checksum") or fingerprint(base),
        },
        "dev_split": {"size": dev_size, "seed": made.dev_split.seed},
    }
