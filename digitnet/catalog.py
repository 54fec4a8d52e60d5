"""The models a person can pick: the shipped weights, and the models they trained and saved.

Saved models live in ``models/`` under digitnet's cache folder (``digitnet.data.cache_dir``:
``DIGITNET_CACHE``, else ``~/.cache/digitnet``), never next to the code, so a read-only install
still works. A name typed by a person becomes a file name only through ``sanitize_name``: it can
never be a path.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from digitnet.data import cache_dir
from digitnet.errors import DigitnetError
from digitnet.model import Model
from digitnet.weights import WEIGHTS_DIR, save_model

MAX_NAME_LENGTH = 60


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    shipped: bool

    @property
    def label(self) -> str:
        return self.name if self.shipped else f"{self.name} (saved)"


def models_dir() -> Path:
    return cache_dir() / "models"


def list_models() -> list[ModelEntry]:
    """Shipped models first (cnn before mlp: the better one is the default), then saved ones
    by name."""
    shipped = sorted(WEIGHTS_DIR.glob("*.npz"), key=lambda path: (path.stem != "cnn", path.stem))
    saved = sorted(models_dir().glob("*.npz")) if models_dir().is_dir() else []
    return [ModelEntry(path.stem, path, True) for path in shipped] + [
        ModelEntry(path.stem, path, False) for path in saved
    ]


def sanitize_name(name: str) -> str:
    """A safe file stem: letters, digits, '-', '_' and '.', no leading dot, at most 60
    characters; anything else becomes '-'."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", name.strip())
    stem = re.sub(r"-{2,}", "-", stem).strip("-.")[:MAX_NAME_LENGTH].strip("-.")
    if not stem:
        raise DigitnetError(
            f"{name!r} is not usable as a model name: use letters, digits, '-' or '_'"
        )
    return stem


def save_user_model(model: Model, name: str) -> Path:
    """Saves under the sanitised name in the models folder (replacing a model of that name).
    Shipped names are refused, so a saved model never hides a shipped one."""
    stem = sanitize_name(name)
    if (WEIGHTS_DIR / f"{stem}.npz").exists():
        raise DigitnetError(f"{stem!r} is the name of a shipped model: choose another name")
    model.metadata["name"] = stem
    return save_model(model, models_dir() / f"{stem}.npz")


def model_bytes(model: Model) -> bytes:
    """The model as the bytes of a ``.npz`` weights file, for a download."""
    with tempfile.TemporaryDirectory() as folder:
        return save_model(model, Path(folder) / "model.npz").read_bytes()


def fingerprint(model: Model) -> str:
    """SHA-256 of a model's arrays and spec: names an in-memory model for caches the way
    ``file_checksum`` names a saved one."""
    digest = hashlib.sha256(json.dumps(model.spec, sort_keys=True).encode())
    for name, array in model.arrays().items():
        digest.update(name.encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
