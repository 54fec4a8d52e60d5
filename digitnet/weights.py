"""Saving and loading models: one ``.npz`` file holding the arrays and a JSON metadata text.

One file, so a model is downloaded, copied or shipped as a unit. Written atomically (a temporary
file in the same folder, then a rename), so a crash never leaves half a model behind. Loaded with
``allow_pickle=False``: a weights file is data, and can never run code.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from digitnet.errors import DigitnetError
from digitnet.files import atomic_path
from digitnet.model import Model

METADATA_KEY = "__metadata__"
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "cnn.npz"
FAST_WEIGHTS = WEIGHTS_DIR / "mlp.npz"
LOAD_ONLY_KEYS = ("checksum", "path")


def save_model(model: Model, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = dict(model.arrays())
    # Where a model was loaded from says nothing about the model itself.
    metadata = {k: v for k, v in model.metadata.items() if k not in LOAD_ONLY_KEYS}
    arrays[METADATA_KEY] = np.array(json.dumps(metadata, sort_keys=True))
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        np.savez_compressed(file, **arrays)
    return path


def load_model(path: str | os.PathLike | None = None) -> Model:
    """The model saved at ``path``; None gives the shipped default (the CNN, or the MLP if the
    CNN weights are missing)."""
    if path is None:
        path = DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.exists() else FAST_WEIGHTS
    path = Path(path)
    if not path.is_file():
        raise DigitnetError(f"{path}: no such weights file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if METADATA_KEY not in archive.files:
                raise DigitnetError(f"{path}: not a digitnet weights file (no metadata)")
            metadata = json.loads(str(archive[METADATA_KEY]))
            arrays = {name: archive[name] for name in archive.files if name != METADATA_KEY}
    except DigitnetError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DigitnetError(f"{path}: corrupted or truncated weights file ({reason})") from None
    if not isinstance(metadata, dict) or "spec" not in metadata:
        raise DigitnetError(f"{path}: the metadata has no network spec")
    try:
        model = Model(metadata["spec"], metadata=metadata)
    except DigitnetError as error:
        raise DigitnetError(f"{path}: bad spec in metadata: {error}") from None
    expected = model.arrays()
    if set(arrays) != set(expected):
        missing = sorted(set(expected) - set(arrays))
        extra = sorted(set(arrays) - set(expected))
        raise DigitnetError(
            f"{path}: the arrays do not match the spec (missing {missing}, unexpected {extra})"
        )
    for name, target in expected.items():
        if arrays[name].shape != target.shape:
            raise DigitnetError(
                f"{path}: array {name} has shape {arrays[name].shape}, "
                f"the spec needs {target.shape}"
            )
        if not np.all(np.isfinite(arrays[name])):
            raise DigitnetError(f"{path}: array {name} holds NaN or infinite values")
        target[...] = arrays[name]
    model.metadata["checksum"] = file_checksum(path)
    model.metadata["path"] = str(path)
    return model


def file_checksum(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes: names a model for caches, whatever its file is called."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe(model: Model) -> dict[str, Any]:
    """The metadata a person wants to see first."""
    keys = ("name", "architecture", "test_accuracy", "dev_accuracy", "created", "temperature")
    return {key: model.metadata[key] for key in keys if key in model.metadata}
