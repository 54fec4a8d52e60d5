"""Saving and loading models: one ``.npz`` file holding the arrays and a JSON metadata text.

One file, so a model is downloaded, copied or shipped as a unit. Written atomically (a temporary
file in the same folder, then a rename), so a crash never leaves half a model behind. Loaded with
``allow_pickle=False``: a weights file is data, and can never run code.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from digitnet.errors import DigitnetError
from digitnet.files import atomic_path
from digitnet.network.model import Model
from digitnet.network.spec import array_shapes


def _shipped_weights_dir() -> Path:
    """Inside the package once installed (a wheel maps weights/ there); else weights/ at the top
    of the checkout, which a plain or editable checkout uses."""
    package = Path(__file__).resolve().parents[1]  # digitnet/, above digitnet/network/
    installed = package / "_weights"
    return installed if installed.is_dir() else package.parent / "weights"


METADATA_KEY = "__metadata__"
WEIGHTS_DIR = _shipped_weights_dir()
DEFAULT_WEIGHTS = WEIGHTS_DIR / "cnn.npz"
FAST_WEIGHTS = WEIGHTS_DIR / "mlp.npz"
LOAD_ONLY_KEYS = ("checksum", "path")
ZIP_MAGIC = b"PK\x03\x04"
MAX_METADATA_BYTES = 16 * 1024 * 1024  # the training history is a few kB; this is far above
# The metadata's fields (``check_metadata``): a temperature divides the logits, so it is above 0;
# fitted ones are about 1 to 2. Seeds as TrainConfig takes them; a score's fields as the card's.
MAX_TEMPERATURE = 100.0
MAX_SEED = 2**32 - 1
MAX_WHOLE = 2**63 - 1
MAX_TEXT = 1_000  # characters of a name, an architecture, a date, a checksum
SCORE_KEYS = ("accuracy", "calibration_error", "found", "read", "unsure", "rejected")
# Where a reading's verdict changes (digitnet.reading.Thresholds), fitted when a training ends.
READING_KEYS = ("not_digit", "doubt", "confident", "familiar")
HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


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
    CNN weights are missing). The metadata's fields are checked (``check_metadata``), and every
    member of the file (name, dtype, shape, size) from its header before anything is read from
    it, so a crafted file costs no memory and fails in one line here, not later."""
    if path is None:
        path = DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.exists() else FAST_WEIGHTS
    path = Path(path)
    if not path.is_file():
        raise DigitnetError(f"{path}: no such weights file")
    with open(path, "rb") as file:
        is_zip = file.read(len(ZIP_MAGIC)) == ZIP_MAGIC  # a truncated .npz still starts so
    if not is_zip:
        raise DigitnetError(f"{path}: not a digitnet weights file (not a .npz archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            model = _read_archive(path, archive)
    except DigitnetError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DigitnetError(f"{path}: corrupted or truncated weights file ({reason})") from None
    model.metadata["checksum"] = file_checksum(path)
    model.metadata["path"] = str(path)
    return model


def _read_archive(path: Path, archive: zipfile.ZipFile) -> Model:
    """The model in an open archive. Its metadata and spec are checked first, then every array
    against the shapes the spec gives (``array_shapes``) and read, all before the model is built:
    a small file whose spec asks for millions of weights it does not hold allocates nothing."""
    members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
    if METADATA_KEY not in members:
        raise DigitnetError(f"{path}: not a digitnet weights file (no metadata)")
    text = _read_member(path, archive, members.pop(METADATA_KEY), METADATA_KEY, None)
    metadata = _metadata(path, text[()])
    with spec_errors(f"{path}: bad spec in metadata"):
        expected = array_shapes(metadata["spec"])
    if set(members) != set(expected):
        missing = sorted(set(expected) - set(members))
        extra = sorted(set(members) - set(expected))
        raise DigitnetError(
            f"{path}: the arrays do not match the spec (missing {missing}, unexpected {extra})"
        )
    arrays = {}
    for name, shape in expected.items():
        arrays[name] = _read_member(path, archive, members[name], name, shape)
        if not np.all(np.isfinite(arrays[name])):
            raise DigitnetError(f"{path}: array {name} holds NaN or infinite values")
    with spec_errors(f"{path}: bad spec in metadata"):
        model = Model(metadata["spec"], metadata=metadata)
    for name, target in model.arrays().items():
        target[...] = arrays[name]
    return model


def _read_member(
    path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, shape: tuple | None
) -> np.ndarray:
    """One ``.npy`` member, its header checked first: float arrays of ``shape``, or (shape None)
    the metadata text, at most ``MAX_METADATA_BYTES``."""
    with archive.open(info) as stream:
        version = np.lib.format.read_magic(stream)
        if version not in HEADER_READERS:
            raise DigitnetError(f"{path}: array {name} has an unknown .npy version {version}")
        found, fortran_order, dtype = HEADER_READERS[version](stream)
        if shape is None:
            if dtype.kind != "U" or found != () or dtype.itemsize > MAX_METADATA_BYTES:
                raise DigitnetError(f"{path}: the metadata is not a text of JSON")
        elif dtype.kind != "f":
            raise DigitnetError(f"{path}: array {name} holds {dtype}, not floating-point numbers")
        elif found != shape:
            raise DigitnetError(f"{path}: array {name} has shape {found}, the spec needs {shape}")
        size = int(np.prod(found, dtype=np.int64)) * dtype.itemsize
        if info.file_size > stream.tell() + size:
            raise DigitnetError(
                f"{path}: member {info.filename} declares {info.file_size:,} bytes, "
                f"more than its {size:,} bytes of data"
            )
        payload = stream.read(size)
    if len(payload) != size:
        raise DigitnetError(f"{path}: corrupted or truncated weights file (array {name} is short)")
    return np.frombuffer(payload, dtype).reshape(found, order="F" if fortran_order else "C")


def _metadata(path: Path, text: object) -> dict[str, Any]:
    """The metadata's JSON object, every field checked (``check_metadata``), with a spec."""
    try:
        metadata = json.loads(str(text))
    except (json.JSONDecodeError, RecursionError):
        raise DigitnetError(f"{path}: the metadata is not valid JSON") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("spec"), dict):
        raise DigitnetError(f"{path}: the metadata has no network spec (a JSON object)")
    try:
        check_metadata(metadata)
    except DigitnetError as error:
        raise DigitnetError(f"{path}: {error}") from None
    return metadata


def check_metadata(metadata: dict[str, Any]) -> None:
    """Every field digitnet reads from a model's metadata (the model card's, and the loose keys
    of files older than the card), checked for type and range, each number finite: a damaged
    or crafted file is refused in one line when it is loaded, not on every page that shows it.
    Fields nobody reads are left alone."""
    _number("temperature", metadata.get("temperature", 1.0), 0.0, MAX_TEMPERATURE, zero=False)
    _number("training_seconds", metadata.get("training_seconds"), 0.0, math.inf, optional=True)
    for key in ("name", "architecture", "created", "digitnet_version"):
        _text(key, metadata.get(key))
    for key in ("preprocessing_version", "card_version"):
        _whole(key, metadata.get(key, 0), MAX_WHOLE)
    dataset = metadata.get("dataset")
    if isinstance(dataset, dict):
        _text("dataset.name", dataset.get("name"))
        _text("dataset.checksum", dataset.get("checksum"))
    else:
        _text("dataset", dataset)
    training = _object("training", metadata.get("training", {}))
    _whole("training.dev_size", training.get("dev_size", 0), MAX_WHOLE)
    _whole("training.seed", training.get("seed", 0), MAX_SEED)
    if metadata.get("dev_split"):
        split = _object("dev_split", metadata["dev_split"])
        _whole("dev_split.size", split.get("size"), MAX_WHOLE)
        _whole("dev_split.seed", split.get("seed"), MAX_SEED)
    for split, score in _object("metrics", metadata.get("metrics", {})).items():
        score = _object(f"metrics.{split}", score)
        if "accuracy" not in score or not set(score) <= set(SCORE_KEYS):
            raise DigitnetError(
                f"metadata field metrics.{split} must hold an accuracy and at most "
                f"{', '.join(SCORE_KEYS[1:])}, got {_shown(sorted(score))}"
            )
        for key in SCORE_KEYS:
            _number(f"metrics.{split}.{key}", score.get(key), 0.0, 1.0, optional=key != "accuracy")
    reading = _object("reading", metadata.get("reading", {}))
    if not set(reading) <= set(READING_KEYS):
        raise DigitnetError(
            f"metadata field reading must hold only {', '.join(READING_KEYS)}, "
            f"got {_shown(sorted(reading))}"
        )
    for key in READING_KEYS[:3]:
        _number(f"reading.{key}", reading.get(key), 0.0, 1.0, optional=True, zero=False)
    _number("reading.familiar", reading.get("familiar"), -math.inf, math.inf, optional=True)
    for split in ("test", "dev"):  # before the card
        for key in (f"{split}_accuracy", f"{split}_calibration_error"):
            _number(key, metadata.get(key), 0.0, 1.0, optional=True)


def _number(
    field: str, value: object, low: float, high: float, optional: bool = False, zero: bool = True
) -> None:
    """A finite number from ``low`` (or just above it, unless ``zero``) to ``high``; or None,
    if ``optional``."""
    if optional and value is None:
        return
    number = (
        isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < math.inf
    )
    if not (number and (low <= value if zero else low < value) and value <= high):
        bounds = f"from {low:g}" if zero else f"above {low:g}"
        if high < math.inf:
            bounds += f" to {high:g}" if zero else f" and at most {high:g}"
        raise DigitnetError(
            f"metadata field {field} must be a finite number {bounds}, got {_shown(value)}"
        )


def _whole(field: str, value: object, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise DigitnetError(
            f"metadata field {field} must be a whole number from 0 to {high:,}, got {_shown(value)}"
        )


def _text(field: str, value: object) -> None:
    """A text of at most MAX_TEXT characters, or None."""
    if value is not None and not (isinstance(value, str) and len(value) <= MAX_TEXT):
        raise DigitnetError(
            f"metadata field {field} must be a text of at most {MAX_TEXT:,} characters, "
            f"got {_shown(value)}"
        )


def _object(field: str, value: object) -> dict:
    if not isinstance(value, dict):
        raise DigitnetError(f"metadata field {field} must be a JSON object, got {_shown(value)}")
    return value


def _shown(value: object) -> str:
    """A value as a message shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


@contextmanager
def spec_errors(where: str) -> Iterator[None]:
    """Any way a spec from outside (a file, a flag) fails to build, as one line starting with
    ``where``: the backstop under spec.py's own checks, so a crafted spec never gives a
    traceback."""
    try:
        yield
    except DigitnetError as error:
        raise DigitnetError(f"{where}: {error}") from None
    except MemoryError:
        raise DigitnetError(f"{where}: too large to fit in memory") from None
    except RecursionError:
        raise DigitnetError(f"{where}: nested too deeply") from None
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as error:
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise DigitnetError(f"{where}: {reason}") from None


def file_checksum(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes: names a model for caches, whatever its file is called."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
