"""Training: mini-batch gradient descent that reports as it goes and can be paused and stopped.

The trainer never prints or draws: it sends events to a callback, so the command line shows a
progress bar and the app shows live curves from the same loop. ``pause``, ``resume``, ``stop`` and
``set_learning_rate`` may be called from another thread; they take effect before the next batch.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from digitnet.analysis.metrics import fit_temperature
from digitnet.data.augment import AugmentConfig, augment_batch
from digitnet.errors import DigitnetError
from digitnet.images import IMAGE_SHAPE, IMAGE_SIZE, NUM_CLASSES, to_float
from digitnet.network.layers import softmax_cross_entropy
from digitnet.network.model import Model, copy_weights, load_weights
from digitnet.network.optim import (
    check_learning_rate,
    check_optimizer,
    check_schedule,
    is_number,
    is_whole,
    make_optimizer,
    schedule_factor,
)
from digitnet.reading import fit_thresholds

DIVERGED_MESSAGE = "diverged: lower the learning rate"
# A loss this many times the first batch's is not a bad batch but a run that has blown up: it
# may stay finite for a long time (dead ReLUs give constant logits), so NaN alone is too late.
DIVERGENCE_FACTOR = 50.0
PREFETCH_THREAD = "digitnet-batches"
# Far beyond any useful run, but they turn a typo (an extra zero or three) into a clear error.
MAX_EPOCHS = 1000
MAX_BATCH_SIZE = 65536


@dataclass
class TrainConfig:
    """Every knob of a training run; saved with the weights so a model says how it was made.

    ``extra_share`` is the share of every batch drawn from the Trainer's ``extra`` source (e.g.
    pen drawings rendered on the fly) instead of the training images."""

    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    step_size: int = 5
    gamma: float = 0.5
    seed: int = 0
    dev_size: int = 5000
    augment: AugmentConfig | None = None
    extra_share: float = 0.0

    def __post_init__(self) -> None:
        check_optimizer(self.optimizer, self.learning_rate, self.momentum, self.weight_decay)
        check_schedule(self.schedule, self.step_size, self.gamma)
        requirements = {
            "epochs": (
                is_whole(self.epochs, 1, MAX_EPOCHS),
                f"at least 1 and at most {MAX_EPOCHS}, a whole number",
            ),
            "batch_size": (
                is_whole(self.batch_size, 1, MAX_BATCH_SIZE),
                f"at least 1 and at most {MAX_BATCH_SIZE}, a whole number",
            ),
            "seed": (
                is_whole(self.seed, 0, 2**32 - 1),
                "at least 0 and below 2**32, a whole number",
            ),
            "dev_size": (is_whole(self.dev_size, 0), "at least 0, a whole number"),
            "extra_share": (is_number(self.extra_share) and 0 <= self.extra_share < 1, "in [0, 1)"),
            "augment": (
                self.augment is None or isinstance(self.augment, AugmentConfig),
                "an AugmentConfig or None",
            ),
        }
        for name, (ok, requirement) in requirements.items():
            if not ok:
                raise DigitnetError(
                    f"{name.replace('_', ' ')} must be {requirement}, got {getattr(self, name)!r}"
                )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BatchEvent:
    epoch: int
    batch: int
    batches_per_epoch: int
    loss: float
    learning_rate: float
    samples_per_second: float
    eta_seconds: float
    progress: float


@dataclass(frozen=True)
class EpochEvent:
    epoch: int
    train_loss: float
    train_accuracy: float
    dev_loss: float | None
    dev_accuracy: float | None
    seconds: float
    is_best: bool


@dataclass
class TrainResult:
    status: Literal["finished", "stopped", "diverged"]
    message: str
    best_epoch: int | None
    best_dev_accuracy: float | None
    epochs: list[EpochEvent] = field(default_factory=list)
    seconds: float = 0.0


Event = BatchEvent | EpochEvent


class DigitSource(Protocol):
    """Digits made on demand to mix into training, e.g. pen strokes rendered with stroke
    augmentation. ``sample`` must draw only from ``rng``, so a training stays repeatable."""

    name: str

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``count`` float32 images (count, IMAGE_SIZE, IMAGE_SIZE) in [0, 1] and their labels
        0-9, or NOT_A_DIGIT for a drawing that is none (for a model with that output)."""
        ...


class Trainer:
    def __init__(
        self,
        model: Model,
        config: TrainConfig,
        train_images: np.ndarray,
        train_labels: np.ndarray,
        dev_images: np.ndarray | None = None,
        dev_labels: np.ndarray | None = None,
        on_event: Callable[[Event], None] | None = None,
        stop_when: Callable[[], bool] | None = None,
        extra: DigitSource | None = None,
    ) -> None:
        """``stop_when`` is asked before every batch (and while paused); True stops training.
        The app uses it to stop a training nobody is watching any more. ``extra`` supplies
        ``config.extra_share`` of every batch; an epoch is still one pass over the images."""
        if len(train_images) == 0 or len(train_images) != len(train_labels):
            raise DigitnetError(
                f"need as many training labels as images, got {len(train_images)} images "
                f"and {len(train_labels)} labels"
            )
        for what, labels in (("training", train_labels), ("dev", dev_labels)):
            labels = np.asarray(labels if labels is not None else [], np.int64)
            if len(labels) and not 0 <= labels.min() <= labels.max() < model.outputs:
                raise DigitnetError(
                    f"{what} labels must be from 0 to {model.outputs - 1} (the model's outputs), "
                    f"got {labels.min()} to {labels.max()}"
                )
        self.model = model
        self.config = config
        self.train_images = to_float(train_images)
        self.train_labels = np.asarray(train_labels, dtype=np.int64)
        self.has_dev = dev_images is not None and len(dev_images) > 0
        self.dev_images = to_float(dev_images) if self.has_dev else None
        self.dev_labels = np.asarray(dev_labels, dtype=np.int64) if self.has_dev else None
        self.on_event = on_event or (lambda event: None)
        self.stop_when = stop_when or (lambda: False)
        if config.extra_share > 0 and extra is None:
            raise DigitnetError(
                f"extra_share is {config.extra_share} but no extra source of digits was given"
            )
        self.extra = extra if config.extra_share > 0 else None
        self.plan = self._plan()
        self.base_learning_rate = config.learning_rate
        self.optimizer = make_optimizer(
            config.optimizer,
            model.parameters(),
            config.learning_rate,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
        self._running = threading.Event()
        self._running.set()
        self._stop_requested = False

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop_requested = True
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def set_learning_rate(self, learning_rate: float) -> None:
        """Changes the base rate; the schedule keeps scaling it."""
        self.base_learning_rate = check_learning_rate(learning_rate)

    def _wait_while_paused(self) -> None:
        """Blocks while paused, without burning CPU."""
        while not self._running.wait(timeout=0.25):
            if self.stop_when():
                self.stop()

    def _should_stop(self) -> bool:
        if not self._stop_requested and self.stop_when():
            self._stop_requested = True
        return self._stop_requested

    def run(self) -> TrainResult:
        """Trains for ``config.epochs`` unless stopped or diverged, leaves the best weights (by
        dev accuracy; else the last good ones) in the model and records how it was made."""
        started = time.perf_counter()
        weights = copy_weights(self.model)
        state = _RunState(self.plan.per_epoch * self.config.epochs, weights, weights)
        shuffle_rng = np.random.default_rng(self.config.seed)
        augment_rng = np.random.default_rng([self.config.seed, 1])
        extra_rng = np.random.default_rng([self.config.seed, 2])
        self.model.seed_dropout(self.config.seed)
        # The context closes the prefetch thread whatever happens, an exception included.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=PREFETCH_THREAD) as prefetcher:
            for epoch in range(self.config.epochs):
                order = shuffle_rng.permutation(len(self.train_images))
                batches = self._batches(order, augment_rng, extra_rng, prefetcher)
                if not self._run_epoch(epoch, batches, state):
                    break
        kept = state.best_weights if state.best_epoch is not None else state.last_good_weights
        load_weights(self.model, kept)
        self._write_training_metadata(state)
        return TrainResult(
            status=state.status,
            message=DIVERGED_MESSAGE if state.status == "diverged" else state.status,
            best_epoch=state.best_epoch,
            best_dev_accuracy=state.best_accuracy,
            epochs=state.history,
            seconds=time.perf_counter() - started,
        )

    def _plan(self) -> _BatchPlan:
        """How many training images and extra digits make a batch."""
        batch_size = self.config.batch_size
        extras = round(self.config.extra_share * batch_size)
        if extras >= batch_size:
            raise DigitnetError(
                f"extra_share {self.config.extra_share} leaves no training images in a batch "
                f"of {batch_size}: lower it or raise the batch size"
            )
        images = min(batch_size - extras, len(self.train_images))
        extras = round(images * extras / (batch_size - extras))
        return _BatchPlan(images, extras, math.ceil(len(self.train_images) / images))

    def _run_epoch(
        self,
        epoch: int,
        batches: Iterator[tuple[np.ndarray, np.ndarray]],
        state: _RunState,
    ) -> bool:
        """One pass over the training images; False when the run must not go on."""
        started = time.perf_counter()
        totals = _EpochTotals()
        for batch in range(self.plan.per_epoch):
            self._wait_while_paused()
            if self._should_stop():
                state.status = "stopped"
                break
            batch_started = time.perf_counter()
            x, y = next(batches)
            if not self._step(x, y, epoch, state, totals):
                state.status = "diverged"
                return False
            state.active_seconds += time.perf_counter() - batch_started
            self._report_batch(epoch, batch, state, totals.last_loss)
        if totals.seen == 0:
            return False
        if not all(np.isfinite(p).all() for p in self.model.parameters()):
            state.status = "diverged"
            return False
        self._end_epoch(epoch, totals, time.perf_counter() - started, state)
        return state.status == "finished"

    def _step(
        self, x: np.ndarray, y: np.ndarray, epoch: int, state: _RunState, totals: _EpochTotals
    ) -> bool:
        """One gradient step on one batch; False, without stepping, if the loss has diverged."""
        with np.errstate(over="ignore", invalid="ignore"):
            logits = self.model.forward(x, training=True)
            loss, grad = softmax_cross_entropy(logits, y)
        if self._diverged(loss, state):
            return False
        self.model.backward(grad)
        self.optimizer.lr = self.base_learning_rate * schedule_factor(
            self.config.schedule,
            state.done_batches / state.total_batches,
            epoch,
            self.config.step_size,
            self.config.gamma,
        )
        self.optimizer.step(self.model.gradients())
        state.done_batches += 1
        totals.add(loss, logits, y)
        return True

    @staticmethod
    def _diverged(loss: float, state: _RunState) -> bool:
        if state.first_loss is None:
            state.first_loss = loss
        return not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * state.first_loss

    def _report_batch(self, epoch: int, batch: int, state: _RunState, loss: float) -> None:
        batch_size = self.plan.images + self.plan.extras
        speed = state.done_batches * batch_size / max(state.active_seconds, 1e-9)
        self.on_event(
            BatchEvent(
                epoch=epoch,
                batch=batch,
                batches_per_epoch=self.plan.per_epoch,
                loss=loss,
                learning_rate=self.optimizer.lr,
                samples_per_second=speed,
                eta_seconds=(state.total_batches - state.done_batches) * batch_size / speed,
                progress=state.done_batches / state.total_batches,
            )
        )

    def _end_epoch(
        self, epoch: int, totals: _EpochTotals, seconds: float, state: _RunState
    ) -> None:
        """Scores the epoch on dev, keeps its weights if they are the best yet, and reports."""
        state.last_good_weights = copy_weights(self.model)
        dev_loss, dev_accuracy = self._dev_scores()
        is_best = dev_accuracy is not None and (
            state.best_accuracy is None or dev_accuracy > state.best_accuracy
        )
        if is_best:
            state.best_weights, state.best_accuracy = state.last_good_weights, dev_accuracy
            state.best_epoch = epoch
        event = EpochEvent(
            epoch=epoch,
            train_loss=totals.loss_sum / totals.seen,
            train_accuracy=totals.correct / totals.seen,
            dev_loss=dev_loss,
            dev_accuracy=dev_accuracy,
            seconds=seconds,
            is_best=is_best,
        )
        state.history.append(event)
        self.on_event(event)

    def _batches(
        self,
        order: np.ndarray,
        augment_rng: np.random.Generator,
        extra_rng: np.random.Generator,
        prefetcher: ThreadPoolExecutor,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch's batches. While the model trains on one, the next is gathered, augmented
        and topped up with extra digits in the background (NumPy releases the GIL): measured
        here, that hides most of augmentation's cost, which is as large as a whole MLP step."""
        plan = self.plan
        buffers = [np.empty((plan.images + plan.extras, *IMAGE_SHAPE), np.float32) for _ in "ab"]

        def make(batch: int) -> tuple[np.ndarray, np.ndarray]:
            indices = order[batch * plan.images : (batch + 1) * plan.images]
            extras = plan.extras_for(len(indices))
            x = buffers[batch % 2][: len(indices) + extras]
            images = np.take(self.train_images, indices, axis=0, out=x[: len(indices)])
            if self.config.augment is not None:
                images[...] = augment_batch(images, augment_rng, self.config.augment)
            y = self.train_labels[indices]
            if extras:
                extra_images, extra_labels = self._sample_extra(extras, extra_rng)
                x[len(indices) :] = extra_images
                y = np.concatenate([y, extra_labels])
            return x, y

        upcoming = prefetcher.submit(make, 0)
        for batch in range(plan.per_epoch):
            current = upcoming.result()
            if batch + 1 < plan.per_epoch:
                upcoming = prefetcher.submit(make, batch + 1)
            yield current

    def _sample_extra(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``count`` digits from the extra source, checked: a bad source fails loudly."""
        images, labels = self.extra.sample(count, rng)
        images, labels = np.asarray(images), np.asarray(labels)
        name = self.extra.name
        if images.shape != (count, *IMAGE_SHAPE) or labels.shape != (count,):
            raise DigitnetError(
                f"extra source {name}: asked for {count} digits, got images {images.shape} and "
                f"labels {labels.shape}; expected ({count}, {IMAGE_SIZE}, {IMAGE_SIZE}) and "
                f"({count},)"
            )
        if not (images.min() >= 0 and images.max() <= 1):
            raise DigitnetError(f"extra source {name}: image values must be in [0, 1]")
        last = self.model.outputs - 1
        if not (labels.min() >= 0 and labels.max() <= last):
            raise DigitnetError(
                f"extra source {name}: labels must be from 0 to {last} (the model's outputs)"
            )
        return images, labels.astype(np.int64, copy=False)

    def _dev_scores(self) -> tuple[float | None, float | None]:
        if not self.has_dev:
            return None, None
        logits = self.model.logits(self.dev_images)
        loss, _ = softmax_cross_entropy(logits, self.dev_labels)
        return loss, float((logits.argmax(axis=1) == self.dev_labels).mean())

    def _write_training_metadata(self, state: _RunState) -> None:
        """Writes how the model was made into its metadata, and calibrates it on dev."""
        metadata = self.model.metadata
        metadata["training"] = self.config.to_dict()
        metadata["training"]["status"] = state.status
        if self.extra is not None:
            metadata["training"]["extra_source"] = self.extra.name
        metadata["history"] = [asdict(event) for event in state.history]
        metadata["best_epoch"] = state.best_epoch
        if state.best_accuracy is not None:
            metadata["dev_accuracy"] = state.best_accuracy
        if self.has_dev:
            logits = self.model.logits(self.dev_images)
            temperature = fit_temperature(logits[:, :NUM_CLASSES], self.dev_labels)
            metadata["temperature"] = temperature
            metadata["reading"] = fit_thresholds(logits, temperature).to_dict()


@dataclass(frozen=True)
class _BatchPlan:
    """A batch: ``images`` training images (fewer in an epoch's last batch) and ``extras``
    digits from the extra source; ``per_epoch`` batches make one pass over the images."""

    images: int
    extras: int
    per_epoch: int

    def extras_for(self, images: int) -> int:
        """Extra digits for a batch of ``images`` (fewer in the last one), in proportion."""
        return round(images * self.extras / self.images)


@dataclass
class _RunState:
    """What one run has done so far, shared by its steps."""

    total_batches: int
    best_weights: list[np.ndarray]
    last_good_weights: list[np.ndarray]
    best_accuracy: float | None = None
    best_epoch: int | None = None
    history: list[EpochEvent] = field(default_factory=list)
    status: Literal["finished", "stopped", "diverged"] = "finished"
    done_batches: int = 0
    active_seconds: float = 0.0
    first_loss: float | None = None


@dataclass
class _EpochTotals:
    """Loss and accuracy over the batches of one epoch so far."""

    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    last_loss: float = 0.0

    def add(self, loss: float, logits: np.ndarray, labels: np.ndarray) -> None:
        self.loss_sum += loss * len(labels)
        self.correct += int((logits.argmax(axis=1) == labels).sum())
        self.seen += len(labels)
        self.last_loss = loss
