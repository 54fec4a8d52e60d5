"""The digits: MNIST's IDX files and Kaggle "Digit Recognizer" CSVs, read strictly.

Every reader checks what it reads and raises ``DigitnetError`` with one line naming the file, the
row where it applies, and the problem, so a bad file is never silently half-used. Images come back
as uint8 (n, 28, 28) and labels as uint8 (n,); ``to_float`` makes the float32 the model takes.

MNIST is looked for, in this order, at a path given explicitly, at ``DIGITNET_DATA``, in the
cache (``DIGITNET_CACHE``, else ``$XDG_CACHE_HOME/digitnet`` or ``~/.cache/digitnet``, with
``mnist/`` under it), and is otherwise downloaded into the cache (``digitnet.data.download``) by
``load_mnist`` or ``load_mnist_test``: the one place that decides between finding and fetching.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from digitnet.data.cache import mnist_cache_dir
from digitnet.data.download import MNIST_FILES, MNIST_SPLITS, download_mnist
from digitnet.errors import DigitnetError
from digitnet.files import atomic_path, read_limited, too_large
from digitnet.images import IMAGE_SHAPE, IMAGE_SIZE, PIXELS

if TYPE_CHECKING:
    import pandas as pd

GZIP_MAGIC = b"\x1f\x8b"
IDX_UBYTE = 0x08
DATA_ENV = "DIGITNET_DATA"
KAGGLE_PIXEL_COLUMNS = [f"pixel{i}" for i in range(PIXELS)]
KAGGLE_TRAIN_COLUMNS = ["label", *KAGGLE_PIXEL_COLUMNS]
# A number as pandas reads one (Python's float() would also take "1_0", "inf" or other scripts'
# digits, which pandas refuses).
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
REPLACE_HINT = "replace it with a good copy (or delete it from the cache to download it again)"
# Files a person names are read up to these sizes only (``/dev/zero`` stops there): Kaggle's
# train.csv is 73 MB, MNIST's largest file 47 MB (10 MB gzipped).
MAX_CSV_BYTES = 200_000_000
MAX_IDX_BYTES = 100_000_000
A_CSV = "a CSV of digits: split it"  # what a refusal over MAX_CSV_BYTES says

Upload = str | os.PathLike | bytes | BinaryIO


@dataclass(frozen=True, eq=False)
class Mnist:
    """The 70,000 MNIST digits. Arrays are read-only, so one copy can be shared by every session."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    checksum: str


@dataclass(frozen=True, eq=False)
class Dataset:
    """Labelled digits to train on, from MNIST or a Kaggle train.csv, with what a model's
    metadata needs to name them. ``test_images``/``test_labels`` are MNIST's own test set, None
    for a CSV (hold out a dev set with ``split_dev`` instead)."""

    name: str
    source: str
    checksum: str
    images: np.ndarray
    labels: np.ndarray
    test_images: np.ndarray | None
    test_labels: np.ndarray | None


# --- IDX files -----------------------------------------------------------------------------


def read_payload(path: str | os.PathLike) -> bytes:
    """A file's bytes (up to MAX_IDX_BYTES), decompressed if they start with the gzip magic
    (whatever its name says)."""
    data = read_limited(path, MAX_IDX_BYTES, "an MNIST file")
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise DigitnetError(
            f"{path}: corrupted or truncated gzip data ({error}); {REPLACE_HINT}"
        ) from None


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    return _parse_idx_images(path, read_payload(path))


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    return _parse_idx_labels(path, read_payload(path))


def _parse_idx_images(path: str | os.PathLike, payload: bytes) -> np.ndarray:
    images = _parse_idx(path, payload, ndim=3)
    if images.shape[1:] != IMAGE_SHAPE:
        height, width = images.shape[1:]
        raise DigitnetError(
            f"{path}: the images are {height}x{width}, MNIST's are {IMAGE_SIZE}x{IMAGE_SIZE}; "
            f"{REPLACE_HINT}"
        )
    return images


def _parse_idx_labels(path: str | os.PathLike, payload: bytes) -> np.ndarray:
    labels = _parse_idx(path, payload, ndim=1)
    outside = np.flatnonzero(labels > 9)
    if outside.size:
        raise DigitnetError(
            f"{path}: label {labels[outside[0]]} at item {outside[0]} is outside 0-9 "
            f"({outside.size} such labels); {REPLACE_HINT}"
        )
    return labels


def _parse_idx(path: str | os.PathLike, payload: bytes, ndim: int) -> np.ndarray:
    """An IDX payload as a read-only uint8 array with ``ndim`` axes; the header is checked
    against the file's length, so a truncated file never loads as fewer images."""
    kind = "an images" if ndim == 3 else "a labels"
    if not payload:
        raise DigitnetError(f"{path}: empty file; {REPLACE_HINT}")
    expected_magic = IDX_UBYTE << 8 | ndim
    header_size = 4 + 4 * ndim
    if len(payload) < 4:
        raise DigitnetError(f"{path}: truncated: only {len(payload)} bytes; {REPLACE_HINT}")
    magic = int.from_bytes(payload[:4], "big")
    if magic != expected_magic:
        raise DigitnetError(
            f"{path}: wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x} for "
            f"{kind} IDX file; is it the right file?"
        )
    if len(payload) < header_size:
        raise DigitnetError(
            f"{path}: truncated header ({len(payload)} of {header_size} bytes); {REPLACE_HINT}"
        )
    dims = tuple(int.from_bytes(payload[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_size = header_size + int(np.prod(dims, dtype=np.int64))
    if len(payload) != expected_size:
        problem = "truncated" if len(payload) < expected_size else "too long"
        raise DigitnetError(
            f"{path}: {problem}: the header promises {dims[0]} items of shape {dims[1:]} "
            f"({expected_size} bytes) but the data holds {len(payload)} bytes; {REPLACE_HINT}"
        )
    return np.frombuffer(payload, dtype=np.uint8, offset=header_size).reshape(dims)


# --- Where MNIST is ----------------------------------------------------------------------------


def _mnist_file(directory: Path, name: str) -> Path | None:
    """The file for one of ``MNIST_FILES`` in ``directory``, gzipped or not."""
    return next(
        (path for path in (directory / f"{name}.gz", directory / name) if path.is_file()), None
    )


def find_mnist(
    path: str | os.PathLike | None = None, files: Iterable[str] = tuple(MNIST_FILES)
) -> Path | None:
    """The folder holding the MNIST ``files`` (default all four), without downloading; None if
    nothing points anywhere and the cache lacks them. A path given here or in DIGITNET_DATA
    must hold them: it is an error if it does not, never a silent fall-back to somewhere else."""
    files = tuple(files)
    if path is not None:
        return _require_mnist(Path(path), f"MNIST folder {path}", files)
    configured = os.environ.get(DATA_ENV)
    if configured:
        return _require_mnist(Path(configured).expanduser(), f"{DATA_ENV}={configured}", files)
    cache = mnist_cache_dir()
    return cache if all(_mnist_file(cache, name) for name in files) else None


def _require_mnist(directory: Path, where: str, files: tuple[str, ...]) -> Path:
    if not directory.is_dir():
        raise DigitnetError(
            f"{where}: no such folder; point it at the folder holding the MNIST files"
        )
    missing = [f"{name}[.gz]" for name in files if _mnist_file(directory, name) is None]
    if missing:
        raise DigitnetError(
            f"{where}: missing {', '.join(missing)}; point it at the folder holding the MNIST files"
        )
    return directory


def load_mnist(path: str | os.PathLike | None = None, download: bool = True) -> Mnist:
    """All of MNIST from the first place that has it (see the module docstring), downloading it
    into the cache if none has and ``download`` allows."""
    directory, arrays, checksum = _load_mnist_files(path, download, tuple(MNIST_FILES))
    train_images, train_labels, test_images, test_labels = arrays
    return Mnist(train_images, train_labels, test_images, test_labels, str(directory), checksum)


def load_mnist_test(
    path: str | os.PathLike | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's 10,000 test digits (images, labels), found or downloaded like ``load_mnist`` but
    needing only the two test files: scoring a model never fetches the training images."""
    _, (images, labels), _ = _load_mnist_files(path, download, MNIST_SPLITS["test"])
    return images, labels


def _load_mnist_files(
    path: str | os.PathLike | None, download: bool, files: tuple[str, ...]
) -> tuple[Path, list[np.ndarray], str]:
    """(folder, arrays, sha256 of the payloads) of ``files``, pairs of images then labels."""
    directory = find_mnist(path, files)
    if directory is None:
        if not download:
            raise DigitnetError(
                f"MNIST not found in {mnist_cache_dir()} and {DATA_ENV} is not set; set "
                f"{DATA_ENV} to the folder holding the MNIST files, or allow a download"
            )
        directory = download_mnist(mnist_cache_dir(), files=files)
    digest = hashlib.sha256()
    arrays = []
    for name in files:
        file = _mnist_file(directory, name)
        payload = read_payload(file)
        digest.update(payload)
        parse = _parse_idx_images if "images" in name else _parse_idx_labels
        arrays.append(parse(file, payload))
    for images, labels in zip(arrays[::2], arrays[1::2]):
        if len(images) != len(labels):
            raise DigitnetError(
                f"{directory}: {len(images)} images but {len(labels)} labels; the images and "
                "labels files do not belong together"
            )
    return directory, arrays, digest.hexdigest()


# --- Kaggle CSVs -------------------------------------------------------------------------------


def csv_text(data: bytes, name: str, expected: str) -> str:
    """A CSV file's text with one notion of a line, for counting rows and for pandas alike:
    \r\n, \r and \n all end one. Not UTF-8 or empty is one line naming ``expected``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DigitnetError(
            f"{name}: not a text CSV file (byte {error.start} is not UTF-8)"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    if not text.strip():
        raise DigitnetError(f"{name}: empty file; expected {expected}")
    return text


def read_kaggle_csv(
    source: Upload, name: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Images (n, 28, 28) uint8 and labels (n,) uint8 from a Kaggle train.csv, or labels None
    from a test.csv (told apart by the header). ``source`` is a path, bytes, or an uploaded
    file; ``name`` (else the upload's own name) is what messages call it."""
    data, name = _read_source(source, name)
    text = csv_text(data, name, "a Kaggle train.csv or test.csv")
    lines = text.split("\n")
    columns = _check_header(name, lines[0])
    if len(lines) == 1:
        raise DigitnetError(f"{name}: the file has a header but no rows")
    _check_field_counts(name, lines, len(columns))
    has_labels = columns[0] == "label"
    highest = [9 if has_labels and index == 0 else 255 for index in range(len(columns))]
    # Fast path: pandas parses straight to uint8 and refuses (never wraps) anything that is not
    # a whole number 0-255. Only then is the file read again, with inferred types, to find the
    # offending row.
    try:
        with np.errstate(invalid="ignore"):  # pandas tries casting inf, then refuses it itself
            frame = _parse_csv(text, np.uint8)
        unreadable = None
    except (ValueError, OverflowError) as error:
        frame, unreadable = _parse_csv(text, None), error
    row = _first_bad_row(frame, highest)
    if row is not None:
        raise DigitnetError(
            f"{name}, line {row + 2}: {_row_problem(lines[row + 1], columns)}; fix or remove "
            "that row"
        )
    if unreadable is not None:
        raise DigitnetError(f"{name}: the values are not all whole numbers 0-255 ({unreadable})")
    values = frame.to_numpy(dtype=np.uint8)
    images = (values[:, 1:] if has_labels else values).reshape(-1, *IMAGE_SHAPE)
    return images, values[:, 0].copy() if has_labels else None


def _parse_csv(text: str, dtype: type | None) -> pd.DataFrame:
    # pandas is imported here, not at the top: it takes a quarter of a second, and only CSVs
    # need it, while the MNIST readers are imported by every part of the data.
    import pandas as pd

    # Quotes are plain characters, so each row is exactly one line of the file. With inferred
    # types a column is typed whole (low_memory=False), not chunk by chunk.
    return pd.read_csv(
        io.BytesIO(text.encode()), quoting=csv.QUOTE_NONE, dtype=dtype, low_memory=dtype is not None
    )


def _first_bad_row(frame: pd.DataFrame, highest: list[int]) -> int | None:
    """The first row holding a value that is not a whole number from 0 to the column's
    highest; columns whose range is fine are skipped, so this stays fast on big files."""
    import pandas as pd  # see _parse_csv

    bad = np.zeros(len(frame), dtype=bool)
    for column, limit in zip(frame.columns, highest, strict=True):
        series = frame[column]
        if pd.api.types.is_integer_dtype(series):
            if series.min() >= 0 and series.max() <= limit:
                continue
        else:
            series = pd.to_numeric(series, errors="coerce")
        # Anything that is not a number is NaN here, and NaN fails every comparison.
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad |= ~((values >= 0) & (values <= limit) & (np.floor(values) == values))
    return int(np.argmax(bad)) if bad.any() else None


def _read_source(source: Upload, name: str | None) -> tuple[bytes, str]:
    """A CSV's bytes and the name messages give it; a file is read up to MAX_CSV_BYTES only,
    and bytes or an upload over it are refused too."""
    if isinstance(source, bytes):
        data, name = source, name or "uploaded file"
    elif hasattr(source, "read"):
        # getvalue(), when there is one, is the whole upload even if it was read before.
        data = source.getvalue() if hasattr(source, "getvalue") else source.read(MAX_CSV_BYTES + 1)
        data = data.encode() if isinstance(data, str) else data
        name = name or getattr(source, "name", "uploaded file")
    else:
        return read_limited(source, MAX_CSV_BYTES, A_CSV), name or str(source)
    if len(data) > MAX_CSV_BYTES:
        raise DigitnetError(f"{name}: {too_large(MAX_CSV_BYTES, A_CSV)}")
    return data, name


def _check_header(name: str, header: str) -> list[str]:
    """The header's columns, which must be Kaggle's train layout (label first) or test layout;
    a misspelt label column still reads as train, so the message names the misspelling."""
    columns = [column.strip() for column in header.split(",")]
    layouts = "label,pixel0,...,pixel783 (train.csv) or pixel0,...,pixel783 (test.csv)"
    is_train = columns[0] == "label" or len(columns) == len(KAGGLE_TRAIN_COLUMNS)
    expected = KAGGLE_TRAIN_COLUMNS if is_train else KAGGLE_PIXEL_COLUMNS
    if len(columns) != len(expected):
        raise DigitnetError(
            f"{name}, line 1: the header has {len(columns)} columns, expected {layouts}"
        )
    for found, wanted in zip(columns, expected, strict=True):
        if found != wanted:
            raise DigitnetError(
                f"{name}, line 1: header column {found!r} where {wanted!r} belongs; expected "
                f"{layouts}"
            )
    return columns


def _check_field_counts(name: str, lines: list[str], expected: int) -> None:
    """Every row has as many cells as the header; a short last row means a truncated file."""
    commas = expected - 1
    for index, line in enumerate(lines[1:], start=1):
        if line.count(",") == commas:
            continue
        line_number = index + 1
        if not line.strip():
            raise DigitnetError(f"{name}, line {line_number}: empty line; remove it")
        found = line.count(",") + 1
        if index == len(lines) - 1 and found < expected:
            raise DigitnetError(
                f"{name}, line {line_number}: the last row is cut short ({found} of {expected} "
                "values); the file looks truncated, get a complete copy"
            )
        raise DigitnetError(
            f"{name}, line {line_number}: {found} values, expected {expected} like the header; "
            "fix or remove that row"
        )


def _row_problem(line: str, columns: list[str]) -> str:
    """What is wrong with one row the vectorised check rejected, cell by cell."""
    for column, cell in zip(columns, line.split(","), strict=True):
        text = cell.strip()
        if not text:
            return f"column {column} is empty"
        if not NUMBER.fullmatch(text):
            return f"column {column} holds {text!r}, which is not a number"
        value = float(text)
        if column == "label" and not (value.is_integer() and 0 <= value <= 9):
            return f"label {text!r} is not a digit 0-9"
        if not (value.is_integer() and 0 <= value <= 255):
            return f"column {column} holds {text!r}, not a whole number from 0 to 255"
    return "a cell could not be read as a number"


def write_submission(path: str | os.PathLike, labels: np.ndarray) -> Path:
    """Kaggle's submission format (ImageId from 1), written atomically so a half-written file
    never gets uploaded."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DigitnetError(
            f"{path}: a submission needs one integer label per image, got {labels.dtype} "
            f"{labels.shape}"
        )
    if labels.size and not (labels.min() >= 0 and labels.max() <= 9):
        raise DigitnetError(f"{path}: submission labels must be digits 0-9")
    rows = "".join(f"{image_id},{label}\n" for image_id, label in enumerate(labels.tolist(), 1))
    return _write_atomically(Path(path), ("ImageId,Label\n" + rows).encode())


def _write_atomically(path: Path, data: bytes) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return path


# --- Datasets, splits, floats ------------------------------------------------------------------


# What labelled digits are needed for, as a message completes "a labelled train.csv is needed
# to ...".
PURPOSES = {"train": "train a model", "score": "score a model"}


def load_dataset(
    source: Upload = "mnist", path: str | os.PathLike | None = None, purpose: str = "train"
) -> Dataset:
    """Labelled digits for the app and the CLI: ``"mnist"`` (from ``path`` if given, else found
    or downloaded as ``load_mnist`` does) or a Kaggle train.csv (a path or an upload). A
    test.csv, which has no labels, is refused with a message for the ``purpose`` (a key of
    ``PURPOSES``: "train" for training, "score" for the Mistakes and Confusion pages)."""
    if purpose not in PURPOSES:
        raise DigitnetError(f"unknown purpose {purpose!r}: use one of {', '.join(PURPOSES)}")
    if isinstance(source, str) and source.lower() == "mnist":
        mnist = load_mnist(path)
        return Dataset(
            name="MNIST",
            source=mnist.source,
            checksum=mnist.checksum,
            images=mnist.train_images,
            labels=mnist.train_labels,
            test_images=mnist.test_images,
            test_labels=mnist.test_labels,
        )
    data, name = _read_source(source, None)
    images, labels = read_kaggle_csv(data, name)
    if labels is None:
        raise DigitnetError(
            f"{name}: has no label column: this looks like a Kaggle test.csv; a labelled "
            f"train.csv is needed to {PURPOSES[purpose]}"
        )
    images.flags.writeable = labels.flags.writeable = False
    digest = hashlib.sha256(images.tobytes())
    digest.update(labels.tobytes())
    return Dataset(
        name=Path(name).name,
        source=name,
        checksum=digest.hexdigest(),
        images=images,
        labels=labels,
        test_images=None,
        test_labels=None,
    )


def split_dev(
    images: np.ndarray, labels: np.ndarray, dev_size: int = 5000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train_images, train_labels, dev_images, dev_labels): ``dev_size`` random images held
    out of the training data to choose epochs and settings on, so the test set stays unseen.
    The same seed always holds out the same images."""
    if len(images) != len(labels):
        raise DigitnetError(f"{len(images)} images but {len(labels)} labels: they must match")
    if not 0 <= dev_size < len(images):
        raise DigitnetError(
            f"dev size {dev_size} must be from 0 to {len(images) - 1} (there are "
            f"{len(images)} training images and at least one must stay for training)"
        )
    held_out = np.zeros(len(images), dtype=bool)
    held_out[np.random.default_rng(seed).permutation(len(images))[:dev_size]] = True
    return images[~held_out], labels[~held_out], images[held_out], labels[held_out]
