"""Training in a background thread, for a web page that polls it.

The thread never touches the UI: it records events under a lock, and the page reads the job's
``progress()`` whenever it redraws. Two safeguards keep a shared server healthy:

- a limit on trainings running at once (a ``TrainingLimit`` shared by every job of a server; the
  app makes one at start-up from ``DIGITNET_MAX_TRAININGS``), and
- an idle watchdog: the page calls ``touch()`` each time it polls; a training nobody has polled
  for ``idle_timeout`` seconds (the tab was closed, the user left the page) stops by itself.

The process-wide settings a server wants (one BLAS thread per training) are the app's to make:
a library does not change the whole process it is imported into.

A job that fails logs its traceback (logger ``digitnet.training.jobs``) for whoever runs the server,
and keeps a one-line message for the page.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from digitnet.errors import DigitnetError
from digitnet.network.model import Model
from digitnet.training.pipeline import Event, Outcome, StageEvent, TrainingRun
from digitnet.training.snapshots import Snapshots
from digitnet.training.trainer import BatchEvent, EpochEvent, TrainConfig, Trainer, TrainResult

DEFAULT_IDLE_TIMEOUT = 30.0
logger = logging.getLogger(__name__)


class TrainingLimit:
    """How many trainings may run at once; a semaphore that says no instead of waiting."""

    def __init__(self, max_running: int) -> None:
        if max_running < 1:
            raise DigitnetError(f"the training limit must be at least 1, got {max_running}")
        self.max_running = max_running
        self._slots = threading.BoundedSemaphore(max_running)

    def acquire(self) -> None:
        if not self._slots.acquire(blocking=False):
            raise DigitnetError(
                f"{self.max_running} trainings are already running on this server: "
                "wait for one to finish and try again"
            )

    def release(self) -> None:
        self._slots.release()


@dataclass(frozen=True)
class JobProgress:
    """What a page needs to draw the state of a training, copied so the thread can go on."""

    status: str  # "running", "paused", "finished", "stopped", "diverged", "failed"
    batch_losses: list[float]
    epochs: list[EpochEvent]
    latest: BatchEvent | None
    stage: StageEvent | None  # after the last batch: scoring, the card
    outcome: Outcome | None
    error: str | None

    @property
    def result(self) -> TrainResult | None:
        return None if self.outcome is None else self.outcome.result


@dataclass
class TrainingJob:
    """A ``TrainingRun`` (the one training pipeline) run in a thread. ``limit`` is shared by
    the jobs of one server (None: no limit, for a script or a test)."""

    run: TrainingRun
    limit: TrainingLimit | None = None
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    _batch_losses: list[float] = field(default_factory=list, init=False)
    _epochs: list[EpochEvent] = field(default_factory=list, init=False)
    _latest: BatchEvent | None = field(default=None, init=False)
    _stage: StageEvent | None = field(default=None, init=False)
    _outcome: Outcome | None = field(default=None, init=False)
    _error: str | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.snapshots = Snapshots(self.run.model)  # the weights of each epoch, for the page
        self.run.on_event = self._on_event
        self.run.trainer.stop_when = self._nobody_watching
        self.touch()

    @property
    def model(self) -> Model:
        return self.run.model

    @property
    def config(self) -> TrainConfig:
        return self.run.config

    @property
    def trainer(self) -> Trainer:
        return self.run.trainer

    def start(self) -> None:
        """Raises DigitnetError when the server is at its limit of running trainings."""
        if self._thread is not None:
            raise DigitnetError("this training has already been started")
        if self.limit is not None:
            self.limit.acquire()
        self._thread = threading.Thread(target=self._work, name="digitnet-training", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            outcome = self.run.run()
            with self._lock:
                self._outcome = outcome
        except Exception as error:  # shown on the page and logged; the server must go on
            logger.exception("training of %s failed", self.run.architecture)
            with self._lock:
                self._error = f"training failed: {error}"
        finally:
            if self.limit is not None:
                self.limit.release()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, EpochEvent):
            self.snapshots.take(event.epoch)
        with self._lock:
            if isinstance(event, BatchEvent):
                self._batch_losses.append(event.loss)
                self._latest = event
            elif isinstance(event, EpochEvent):
                self._epochs.append(event)
            else:
                self._stage = event

    def touch(self) -> None:
        """The page is still watching."""
        self.last_seen = time.monotonic()

    def _nobody_watching(self) -> bool:
        return time.monotonic() - self.last_seen > self.idle_timeout

    def pause(self) -> None:
        self.trainer.pause()

    def resume(self) -> None:
        self.trainer.resume()

    def stop(self) -> None:
        self.trainer.stop()

    def set_learning_rate(self, learning_rate: float) -> None:
        self.trainer.set_learning_rate(learning_rate)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def progress(self) -> JobProgress:
        """The state of the training now, safe to read while it goes on."""
        with self._lock:
            if self._error is not None:
                status = "failed"
            elif self._outcome is not None:
                status = self._outcome.result.status
            else:
                status = "paused" if self.trainer.paused else "running"
            return JobProgress(
                status=status,
                batch_losses=list(self._batch_losses),
                epochs=list(self._epochs),
                latest=self._latest,
                stage=self._stage,
                outcome=self._outcome,
                error=self._error,
            )
