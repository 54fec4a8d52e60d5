"""The models a person can pick: the shipped weights, and the models they trained and saved.

Saved models live in ``models/`` under digitnet's cache folder (``digitnet.data.cache.cache_dir``:
``DIGITNET_CACHE``, else ``~/.cache/digitnet``), never next to the code, so a read-only install
still works. When the drawings are in PostgreSQL (``DIGITNET_DB=postgresql://...``), so are the
saved models, which every app server then shares: each is copied once into ``shared-models/`` of
the cache (a folder per version, named by its checksum), so the pages still load files. A name
typed by a person becomes a file name only through ``sanitize_name``: it can never be a path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from digitnet.data.cache import cache_dir
from digitnet.data.collection.store import LOCAL_PERSON, DrawingStore, uses_postgres
from digitnet.errors import DigitnetError
from digitnet.files import atomic_path, why
from digitnet.network.model import Model
from digitnet.network.weights import WEIGHTS_DIR, load_model, save_model

MAX_NAME_LENGTH = 60
# Hex digits of the name's SHA-256 appended when sanitising changed it.
HASH_LENGTH = 8
# Room in a weights file beyond its arrays: the metadata (card, history: a few kB) and headers.
METADATA_ROOM = 1 << 20


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
    return [ModelEntry(path.stem, path, True) for path in shipped] + [
        ModelEntry(path.stem, path, False) for path in saved_model_files()
    ]


def saved_model_files() -> list[Path]:
    """The saved models' files, by name: the models folder's, or in PostgreSQL, the local
    copies of the database's models."""
    if not uses_postgres():
        return sorted(models_dir().glob("*.npz")) if models_dir().is_dir() else []
    store = DrawingStore()
    copies = (_local_copy(store, name, checksum) for name, checksum in store.saved_models())
    return [path for path in copies if path is not None]


def _local_copy(store: DrawingStore, name: str, checksum: str) -> Path | None:
    """The file of the database's model ``name`` at this version, copied on first use; None if
    it was deleted meanwhile."""
    path = cache_dir() / "shared-models" / checksum[:16] / f"{name}.npz"
    if path.exists():
        return path
    weights = store.model_weights(name)
    if weights is None:
        return None
    if hashlib.sha256(weights).hexdigest() != checksum:  # replaced since it was listed
        return _local_copy(store, name, hashlib.sha256(weights).hexdigest())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, replace=True) as temporary:
            temporary.write_bytes(weights)
    except OSError as error:
        raise DigitnetError(
            f"cannot copy the saved model {name!r} to {path}: {why(error)}"
        ) from None
    return path


def load_named(name_or_path: str | os.PathLike | None = None) -> Model:
    """The model a person named: a weights file if ``name_or_path`` is one, else the shipped or
    saved model of that name (a shipped one first, as ``list_models`` orders them); None gives
    the shipped default. Anything else is one line listing the names there are."""
    if name_or_path is None or Path(name_or_path).is_file():
        return load_model(name_or_path)
    entries = list_models()
    found = next((entry for entry in entries if entry.name == str(name_or_path)), None)
    if found is None:
        names = ", ".join(entry.name for entry in entries) or "none"
        raise DigitnetError(
            f"{name_or_path}: no such weights file or model; give a .npz file or a model "
            f"name ({names})"
        )
    return load_model(found.path)


class NameTaken(DigitnetError):
    """Another model is already saved under this name: the person chooses another name or
    saves again with ``overwrite=True``."""


def sanitize_name(name: str) -> str:
    """A safe file stem: letters, digits, spaces, '-', '_' and '.', no leading dot or space, at
    most 60 characters; any other run of characters becomes '-'. Whenever that changes the name
    (other than spaces at its ends), a short hash of the name is appended, so names that clean
    up alike ('a/b' and 'a\\x00b', two long names that differ after the 60th character, '模型'
    and '数字') keep different files. Sanitising a stem again changes nothing."""
    name = name.strip()
    if not name:
        raise DigitnetError("a model needs a name: type at least one letter or digit")
    stem = re.sub(r"[^A-Za-z0-9_. -]+", "-", name)
    stem = re.sub(r"-{2,}", "-", stem).strip("-. ")[:MAX_NAME_LENGTH].strip("-. ")
    if stem == name:
        return stem
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LENGTH]
    head = stem[: MAX_NAME_LENGTH - HASH_LENGTH - 1].rstrip("-. ")
    return f"{head}-{digest}" if head else f"model-{digest}"


def save_user_model(
    model: Model, name: str, *, overwrite: bool = False, person: str = LOCAL_PERSON
) -> Path:
    """Saves under the sanitised name in the models folder (in PostgreSQL: in the database, for
    every server, kept as ``person``'s) and returns the file. A different model saved under
    that name is never replaced silently: without ``overwrite`` it raises ``NameTaken`` (saving
    the same model again is fine). Safe between sessions: the finished file (or row) is claimed
    only if the name is free (``atomic_path`` without ``replace``; the table's key), so of two
    sessions saving at once exactly one wins. Shipped names are refused, so a saved model never
    hides a shipped one. A full or read-only folder gives one line and leaves no file behind."""
    stem = sanitize_name(name)
    if (WEIGHTS_DIR / f"{stem}.npz").exists():
        raise DigitnetError(f"{stem!r} is the name of a shipped model: choose another name")
    model.metadata["name"] = stem
    if uses_postgres():
        return _save_in_database(model, stem, name, overwrite, person)
    folder = models_dir()
    target = folder / f"{stem}.npz"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with atomic_path(target, replace=overwrite) as temporary:
                save_model(model, temporary)
        except FileExistsError:
            _unless_taken(model, target, name)
    except OSError as error:
        raise DigitnetError(f"cannot save the model in {folder}: {why(error)}") from None
    return target


def _save_in_database(model: Model, stem: str, name: str, overwrite: bool, person: str) -> Path:
    """``save_user_model`` in PostgreSQL; returns the model's local copy."""
    store, weights = DrawingStore(), model_bytes(model)
    if store.save_model(stem, person, weights, replace=overwrite):
        return _local_copy(store, stem, hashlib.sha256(weights).hexdigest())
    taken = dict(store.saved_models()).get(stem)
    path = None if taken is None else _local_copy(store, stem, taken)
    if path is None:  # deleted since: the name is free again
        return _save_in_database(model, stem, name, overwrite, person)
    _unless_taken(model, path, name)
    return path


def _unless_taken(model: Model, target: Path, name: str) -> None:
    """Raises ``NameTaken`` unless the model already at ``target`` is ``model``."""
    try:
        same = fingerprint(load_model(target)) == fingerprint(model)
    except DigitnetError:  # unreadable: still someone's file, not ours to replace
        same = False
    if not same:
        raise NameTaken(
            f"a model called {name!r} is already saved: choose another name or replace it"
        )


def weights_file_bytes(model: Model) -> int:
    """About how large the model's ``.npz`` file will be, at most: its arrays (weights and
    BatchNorm statistics) uncompressed, plus room for the metadata and the archive's headers.
    For checking, before a training starts, that the file will fit."""
    return sum(array.nbytes for array in model.arrays().values()) + METADATA_ROOM


def keep_elsewhere(model: Model, stem: str) -> Path:
    """Saves a model whose file could not be written where asked (a full disk) under a new
    name in the models folder, else the system's temporary folder, and returns the file. Raises
    one line when neither has room."""
    name = f"{sanitize_name(stem)}-{time.strftime('%Y%m%d-%H%M%S')}.npz"
    failures = []
    for folder in (models_dir(), Path(tempfile.gettempdir())):
        try:
            with atomic_path(folder / name, replace=False) as temporary:
                save_model(model, temporary)
            return folder / name
        except OSError as error:
            failures.append(f"{folder}: {why(error)}")
    raise DigitnetError(f"the model could not be kept anywhere ({'; '.join(failures)})")


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
