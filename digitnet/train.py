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
from typing import Any, Literal

import numpy as np

from digitnet.augment import AugmentConfig, augment_batch
from digitnet.data import to_float
from digitnet.errors import DigitnetError
from digitnet.layers import softmax_cross_entropy
from digitnet.metrics import fit_temperature
from digitnet.model import Model
from digitnet.optim import SCHEDULES, make_optimizer, schedule_factor

DIVERGED_MESSAGE = "diverged: lower the learning rate"
# A loss this many times the first batch's is not a bad batch but a run that has blown up: it
# may stay finite for a long time (dead ReLUs give constant logits), so NaN alone is too late.
DIVERGENCE_FACTOR = 50.0


@dataclass
class TrainConfig:
    """Every knob of a training run; saved with the weights so a model says how it was made."""

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

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise DigitnetError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise DigitnetError(f"batch size must be at least 1, got {self.batch_size}")
        if self.schedule not in SCHEDULES:
            raise DigitnetError(
                f"unknown schedule {self.schedule!r}: use one of {', '.join(SCHEDULES)}"
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
    ) -> None:
        """``stop_when`` is asked before every batch (and while paused); True stops training.
        The app uses it to stop a training nobody is watching any more."""
        if len(train_images) == 0 or len(train_images) != len(train_labels):
            raise DigitnetError(
                f"need as many training labels as images, got {len(train_images)} images "
                f"and {len(train_labels)} labels"
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
        if not (learning_rate > 0 and math.isfinite(learning_rate)):
            raise DigitnetError(f"learning rate must be a positive number, got {learning_rate}")
        self.base_learning_rate = learning_rate

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
        config = self.config
        model = self.model
        shuffle_rng = np.random.default_rng(config.seed)
        augment_rng = np.random.default_rng([config.seed, 1])
        model.seed_dropout(config.seed)
        n = len(self.train_images)
        batch_size = min(config.batch_size, n)
        batches_per_epoch = math.ceil(n / batch_size)
        total_batches = batches_per_epoch * config.epochs

        best_weights = last_good_weights = snapshot(model)
        best_accuracy: float | None = None
        best_epoch: int | None = None
        history: list[EpochEvent] = []
        status, message = "finished", "finished"
        active_seconds = 0.0
        done_batches = 0
        first_loss: float | None = None
        started = time.perf_counter()

        prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digitnet-batches")
        for epoch in range(config.epochs):
            epoch_started = time.perf_counter()
            batches = self._batches(shuffle_rng.permutation(n), batch_size, augment_rng, prefetcher)
            loss_sum = correct = seen = 0
            for batch in range(batches_per_epoch):
                self._wait_while_paused()
                if self._should_stop():
                    status, message = "stopped", "stopped"
                    break
                batch_started = time.perf_counter()
                x, y = next(batches)
                with np.errstate(over="ignore", invalid="ignore"):
                    logits = model.forward(x, training=True)
                    loss, grad = softmax_cross_entropy(logits, y)
                first_loss = first_loss if first_loss is not None else loss
                if not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * first_loss:
                    status, message = "diverged", DIVERGED_MESSAGE
                    break
                model.backward(grad)
                self.optimizer.lr = self.base_learning_rate * schedule_factor(
                    config.schedule,
                    done_batches / total_batches,
                    epoch,
                    config.step_size,
                    config.gamma,
                )
                self.optimizer.step(model.gradients())
                done_batches += 1
                loss_sum += loss * len(y)
                correct += int((logits.argmax(axis=1) == y).sum())
                seen += len(y)
                active_seconds += time.perf_counter() - batch_started
                speed = done_batches * batch_size / max(active_seconds, 1e-9)
                self.on_event(
                    BatchEvent(
                        epoch=epoch,
                        batch=batch,
                        batches_per_epoch=batches_per_epoch,
                        loss=loss,
                        learning_rate=self.optimizer.lr,
                        samples_per_second=speed,
                        eta_seconds=(total_batches - done_batches) * batch_size / speed,
                        progress=done_batches / total_batches,
                    )
                )
            if status == "diverged" or seen == 0:
                break
            if not all(np.isfinite(p).all() for p in model.parameters()):
                status, message = "diverged", DIVERGED_MESSAGE
                break
            last_good_weights = snapshot(model)
            dev_loss, dev_accuracy = self._dev_scores()
            is_best = dev_accuracy is not None and (
                best_accuracy is None or dev_accuracy > best_accuracy
            )
            if is_best:
                best_weights, best_accuracy, best_epoch = last_good_weights, dev_accuracy, epoch
            event = EpochEvent(
                epoch=epoch,
                train_loss=loss_sum / seen,
                train_accuracy=correct / seen,
                dev_loss=dev_loss,
                dev_accuracy=dev_accuracy,
                seconds=time.perf_counter() - epoch_started,
                is_best=is_best,
            )
            history.append(event)
            self.on_event(event)
            if status == "stopped":
                break

        prefetcher.shutdown()
        restore(model, best_weights if best_epoch is not None else last_good_weights)
        self._record(history, best_epoch, best_accuracy, status)
        return TrainResult(
            status=status,
            message=message,
            best_epoch=best_epoch,
            best_dev_accuracy=best_accuracy,
            epochs=history,
            seconds=time.perf_counter() - started,
        )

    def _batches(
        self,
        order: np.ndarray,
        batch_size: int,
        augment_rng: np.random.Generator,
        prefetcher: ThreadPoolExecutor,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch's batches. While the model trains on one, the next is gathered and
        augmented in the background (NumPy releases the GIL): measured here, that hides most
        of augmentation's cost, which is as large as a whole MLP step."""
        count = math.ceil(len(order) / batch_size)
        buffers = [np.empty((batch_size, *self.train_images.shape[1:]), np.float32) for _ in "ab"]

        def make(batch: int) -> tuple[np.ndarray, np.ndarray]:
            indices = order[batch * batch_size : (batch + 1) * batch_size]
            x = np.take(self.train_images, indices, axis=0, out=buffers[batch % 2][: len(indices)])
            if self.config.augment is not None:
                x = augment_batch(x, augment_rng, self.config.augment)
            return x, self.train_labels[indices]

        upcoming = prefetcher.submit(make, 0)
        for batch in range(count):
            current = upcoming.result()
            if batch + 1 < count:
                upcoming = prefetcher.submit(make, batch + 1)
            yield current

    def _dev_scores(self) -> tuple[float | None, float | None]:
        if not self.has_dev:
            return None, None
        logits = self.model.logits(self.dev_images)
        loss, _ = softmax_cross_entropy(logits, self.dev_labels)
        return loss, float((logits.argmax(axis=1) == self.dev_labels).mean())

    def _record(
        self,
        history: list[EpochEvent],
        best_epoch: int | None,
        best_accuracy: float | None,
        status: str,
    ) -> None:
        """Writes how the model was made into its metadata, and calibrates it on dev."""
        metadata = self.model.metadata
        metadata["training"] = self.config.to_dict()
        metadata["training"]["status"] = status
        metadata["history"] = [asdict(event) for event in history]
        metadata["best_epoch"] = best_epoch
        if best_accuracy is not None:
            metadata["dev_accuracy"] = best_accuracy
        if self.has_dev:
            metadata["temperature"] = fit_temperature(
                self.model.logits(self.dev_images), self.dev_labels
            )


def snapshot(model: Model) -> list[np.ndarray]:
    return [array.copy() for array in model.arrays().values()]


def restore(model: Model, arrays: list[np.ndarray]) -> None:
    for target, saved in zip(model.arrays().values(), arrays):
        target[...] = saved
