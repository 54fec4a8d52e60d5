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
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from digitnet.errors import DigitnetError
from digitnet.files import atomic_path
from digitnet.network.model import Model


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
    CNN weights are missing). Every member of the file is checked (name, dtype, shape, size)
    from its header before anything is read from it, so a crafted file costs no memory."""
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
    members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
    if METADATA_KEY not in members:
        raise DigitnetError(f"{path}: not a digitnet weights file (no metadata)")
    text = _read_member(path, archive, members.pop(METADATA_KEY), METADATA_KEY, None)
    model = _model_for(path, text[()])
    expected = model.arrays()
    if set(members) != set(expected):
        missing = sorted(set(expected) - set(members))
        extra = sorted(set(members) - set(expected))
        raise DigitnetError(
            f"{path}: the arrays do not match the spec (missing {missing}, unexpected {extra})"
        )
    for name, target in expected.items():
        array = _read_member(path, archive, members[name], name, target.shape)
        if not np.all(np.isfinite(array)):
            raise DigitnetError(f"{path}: array {name} holds NaN or infinite values")
        target[...] = array
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


def _model_for(path: Path, text: object) -> Model:
    """An untrained model of the spec in the metadata: the arrays it needs, and no more."""
    try:
        metadata = json.loads(str(text))
    except (json.JSONDecodeError, RecursionError):
        raise DigitnetError(f"{path}: the metadata is not valid JSON") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("spec"), dict):
        raise DigitnetError(f"{path}: the metadata has no network spec (a JSON object)")
    with spec_errors(f"{path}: bad spec in metadata"):
        return Model(metadata["spec"], metadata=metadata)


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
