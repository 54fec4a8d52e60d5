"""The model card: what a network is, what it was trained on and how well it does, as one typed
record that travels in its weights file.

The training pipeline writes it with ``write_card``; ``card`` reads it back from any model,
including files written before the card existed (their loose metadata is mapped onto it), so
every model can say which digits it never saw (``dev_split``) and how it scored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

import digitnet
from digitnet.analysis.metrics import Evaluation
from digitnet.data.mnist import Dataset, split_dev
from digitnet.data.preprocess import PREPROCESS_VERSION
from digitnet.errors import DigitnetError
from digitnet.network.model import Model
from digitnet.network.weights import check_metadata
from digitnet.training.trainer import TrainConfig, TrainResult

CARD_VERSION = 1


@dataclass(frozen=True)
class DataSource:
    """The data a model was trained on; ``checksum`` is None for files older than the card."""

    name: str
    checksum: str | None = None


@dataclass(frozen=True)
class DevSplit:
    """The digits held out of training: ``data.split_dev(images, labels, size, seed)``."""

    size: int
    seed: int


@dataclass(frozen=True)
class Score:
    accuracy: float
    calibration_error: float | None = None
    found: float | None = None  # photos: the share read as a digit at all
    # How the reading (digitnet.reading) answers: the share called "unsure" and "not a digit",
    # and on digits the share read right with "not a digit" counting as wrong. On drawings that
    # are not digits, ``accuracy`` is the share caught: called "unsure" or "not a digit".
    read: float | None = None
    unsure: float | None = None
    rejected: float | None = None


@dataclass(frozen=True)
class ModelCard:
    spec: dict[str, Any]
    name: str
    architecture: str
    training: dict[str, Any]  # TrainConfig.to_dict(), plus the run's "status"
    dataset: DataSource
    dev_split: DevSplit
    preprocessing_version: int
    metrics: dict[str, Score] = field(default_factory=dict)  # by split: "test", "dev", ...
    temperature: float = 1.0
    reading: dict[str, float | None] = field(default_factory=dict)  # its Thresholds, fitted on dev
    created: str | None = None  # UTC, ISO 8601
    training_seconds: float | None = None
    digitnet_version: str | None = None
    card_version: int = CARD_VERSION

    def to_metadata(self) -> dict[str, Any]:
        """The JSON-ready dict stored in a weights file."""
        return asdict(self)


def write_card(
    model: Model,
    *,
    name: str,
    architecture: str,
    config: TrainConfig,
    dataset: Dataset,
    result: TrainResult,
    scores: Mapping[str, Evaluation] | None = None,
) -> ModelCard:
    """The card of a model just trained by ``result``, stored in its metadata (and returned).
    ``scores``: its evaluations by split ("test": the data set's test split, when it has one)."""
    metrics = {}
    if result.best_dev_accuracy is not None:
        metrics["dev"] = Score(result.best_dev_accuracy)
    for split, evaluation in (scores or {}).items():
        metrics[split] = Score(evaluation.accuracy, evaluation.calibration_error)
    made = ModelCard(
        spec=model.spec,
        name=name,
        architecture=architecture,
        # what the Trainer recorded (e.g. the extra digit source), then the settings themselves
        training={
            **model.metadata.get("training", {}),
            **config.to_dict(),
            "status": result.status,
        },
        dataset=DataSource(dataset.name, dataset.checksum),
        dev_split=DevSplit(config.dev_size, config.seed),
        preprocessing_version=PREPROCESS_VERSION,
        metrics=metrics,
        temperature=model.temperature,
        reading=model.metadata.get("reading", {}),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        training_seconds=round(result.seconds, 1),
        digitnet_version=digitnet.__version__,
    )
    model.metadata.update(made.to_metadata())
    return made


def card(model: Model) -> ModelCard:
    """The card of any model, old files included (their loose keys mapped onto it); its fields
    are checked as a weights file's are on load (``check_metadata``), so a model built with
    crafted metadata gets one line too."""
    try:
        check_metadata(model.metadata)
    except DigitnetError as error:
        where = model.metadata.get("path", "the model")
        raise DigitnetError(f"{where}: malformed model card: {error}") from None
    return _read_card(model)


def _read_card(model: Model) -> ModelCard:
    meta = model.metadata
    training = meta.get("training", {})
    defaults = TrainConfig()
    split = meta.get("dev_split") or {
        "size": training.get("dev_size", defaults.dev_size),
        "seed": training.get("seed", defaults.seed),
    }
    return ModelCard(
        spec=model.spec,
        name=str(meta.get("name", "model")),
        architecture=str(meta.get("architecture", "custom")),
        training=training,
        dataset=_data_source(meta.get("dataset")),
        dev_split=DevSplit(int(split["size"]), int(split["seed"])),
        preprocessing_version=int(meta.get("preprocessing_version", PREPROCESS_VERSION)),
        metrics=_metrics(meta),
        temperature=model.temperature,
        reading=meta.get("reading", {}),
        created=_utc(meta.get("created")),
        training_seconds=meta.get("training_seconds"),
        digitnet_version=meta.get("digitnet_version"),
        card_version=int(meta.get("card_version", 0)),  # 0: written before the card
    )


def describe(model: Model) -> dict[str, Any]:
    """What a person wants to see first, from the model's card."""
    made = card(model)
    shown = {"name": made.name, "architecture": made.architecture, "created": made.created}
    for split in ("test", "dev"):
        if split in made.metrics:
            shown[f"{split}_accuracy"] = made.metrics[split].accuracy
    shown["temperature"] = made.temperature
    return {key: value for key, value in shown.items() if value is not None}


def dev_split(model: Model, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) ``model`` held out of training, rebuilt from its card: the digits it
    never saw. Refused when ``dataset`` is not the data it was trained on."""
    made = card(model)
    trained_on = made.dataset
    if trained_on.name != dataset.name or trained_on.checksum not in (None, dataset.checksum):
        raise DigitnetError(
            f"{made.name} was trained on {trained_on.name} ({trained_on.checksum or 'no checksum'})"
            f", not on this {dataset.name}: its dev digits cannot be told apart"
        )
    if made.dev_split.size == 0:
        raise DigitnetError(f"{made.name} was trained without a dev set (dev size 0)")
    _, _, images, labels = split_dev(
        dataset.images, dataset.labels, made.dev_split.size, made.dev_split.seed
    )
    return images, labels


def _data_source(value: object) -> DataSource:
    if isinstance(value, dict):
        return DataSource(str(value.get("name", "unknown")), value.get("checksum"))
    return DataSource(str(value) if value else "unknown")  # before the card: just a name


def _metrics(meta: dict[str, Any]) -> dict[str, Score]:
    if isinstance(meta.get("metrics"), dict):
        return {split: Score(**score) for split, score in meta["metrics"].items()}
    metrics = {}  # before the card: loose keys
    for split in ("test", "dev"):
        if meta.get(f"{split}_accuracy") is not None:
            error = meta.get(f"{split}_calibration_error")
            metrics[split] = Score(meta[f"{split}_accuracy"], error)
    return metrics


def _utc(created: object) -> str | None:
    """ISO 8601 in UTC; the app once wrote naive local time ("2026-11-20 14:03:10")."""
    if not isinstance(created, str):
        return None
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds")
