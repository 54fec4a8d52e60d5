"""The one way a network is trained: split -> train -> score -> model card -> save.

The command line (``digitnet train``), the Train page (through a background ``TrainingJob``) and
fine-tuning all build a ``TrainingRun`` and call ``run()``. The events it sends are the
Trainer's (``BatchEvent``, ``EpochEvent``: the progress bar and the live charts) and a
``StageEvent`` as each later step begins, so a page can say "Scoring..." after the last batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitnet.analysis.metrics import Evaluation, evaluate
from digitnet.data.mnist import Dataset, split_dev
from digitnet.network.model import Model
from digitnet.training.budget import estimate
from digitnet.training.card import ModelCard, write_card
from digitnet.training.trainer import (
    BatchEvent,
    DigitSource,
    EpochEvent,
    TrainConfig,
    Trainer,
    TrainResult,
)


@dataclass(frozen=True)
class StageEvent:
    """A step after training begins: ``stage`` is "score", "card" or "save"."""

    stage: str
    text: str


Event = BatchEvent | EpochEvent | StageEvent


@dataclass(frozen=True)
class Split:
    """The digits a training learns from and the dev digits it is measured on as it goes."""

    train_images: np.ndarray
    train_labels: np.ndarray
    dev_images: np.ndarray
    dev_labels: np.ndarray

    @classmethod
    def of(cls, dataset: Dataset, config: TrainConfig) -> Split:
        """The data set's training digits less ``config.dev_size`` held out, chosen by
        ``config.seed`` (the model card records both, so the split can be rebuilt)."""
        return cls(*split_dev(dataset.images, dataset.labels, config.dev_size, config.seed))

    def __iter__(self) -> Iterator[np.ndarray]:
        """Unpacks as (train images, train labels, dev images, dev labels)."""
        return iter((self.train_images, self.train_labels, self.dev_images, self.dev_labels))


@dataclass(frozen=True)
class Outcome:
    """What a run left: the Trainer's result, and for a usable model (finished or stopped) its
    scores by split, its card and where it was saved (None: not asked to save)."""

    result: TrainResult
    scores: dict[str, Evaluation] = field(default_factory=dict)
    card: ModelCard | None = None
    path: Path | None = None

    @property
    def usable(self) -> bool:
        return self.card is not None


class TrainingRun:
    """One training of ``model`` on ``dataset``, from the split to the saved file.

    ``split``: the digits to learn from (default: ``Split.of(dataset, config)``). ``extra``:
    digits mixed into every batch (``config.extra_share``). ``score_on``: more labelled digits
    to score the trained model on, by name, beside the data set's test split. ``notes``: keys
    added to the model's metadata after its card (e.g. the model a fine-tuning started from).
    ``trainer`` is there for pause, resume, stop and the learning rate.

    A training whose memory estimate (``budget.estimate``) is over ``memory_budget`` bytes (a
    server's; None: DIGITNET_MEMORY_BUDGET's, ``budget.configured_budget``) is refused with a
    one-line DigitnetError before its data is copied or its optimiser made.
    """

    def __init__(
        self,
        model: Model,
        config: TrainConfig,
        dataset: Dataset,
        *,
        name: str,
        architecture: str,
        split: Split | None = None,
        extra: DigitSource | None = None,
        score_on: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
        notes: Mapping[str, Any] | None = None,
        on_event: Callable[[Event], None] | None = None,
        stop_when: Callable[[], bool] | None = None,
        memory_budget: int | None = None,
    ) -> None:
        self.model, self.config, self.dataset = model, config, dataset
        self.name, self.architecture = name, architecture
        self.split = split or Split.of(dataset, config)
        train_count, dev_count = len(self.split.train_labels), len(self.split.dev_labels)
        estimate(model.spec, config, train_count, dev_count).check(memory_budget)
        self.score_on = dict(score_on or {})
        self.notes = dict(notes or {})
        self.on_event = on_event or (lambda event: None)
        self.trainer = Trainer(
            model,
            config,
            self.split.train_images,
            self.split.train_labels,
            self.split.dev_images,
            self.split.dev_labels,
            on_event=lambda event: self.on_event(event),
            stop_when=stop_when,
            extra=extra,
        )

    def run(self, save: Callable[[Model], Path] | None = None) -> Outcome:
        """Trains, then (unless it diverged) scores, writes the card and calls ``save``."""
        result = self.trainer.run()
        if result.status == "diverged":
            return Outcome(result)
        scores = self.score()
        self.on_event(StageEvent("card", "Writing the model card..."))
        made = write_card(
            self.model,
            name=self.name,
            architecture=self.architecture,
            config=self.config,
            dataset=self.dataset,
            result=result,
            scores=scores,
        )
        self.model.metadata.update(self.notes)
        path = None
        if save is not None:
            self.on_event(StageEvent("save", "Saving..."))
            path = save(self.model)
        return Outcome(result, scores, made, path)

    def score(self) -> dict[str, Evaluation]:
        """The trained model on the data set's test split (when it has one) and ``score_on``."""
        splits = dict(self.score_on)
        if self.dataset.test_images is not None:
            splits = {"test": (self.dataset.test_images, self.dataset.test_labels), **splits}
        scores = {}
        for split, (images, labels) in splits.items():
            self.on_event(StageEvent("score", f"Scoring it on {split} ({len(labels):,})..."))
            scores[split] = evaluate(self.model, images, labels)
        return scores
