"""Pen-written digits (UCI "Pen-Based Recognition of Handwritten Digits", Alpaydin & Alimoglu,
1998, CC BY 4.0): 7,494 digits by 30 writers, recorded as pen trajectories on a tablet.

They are the handwriting MNIST lacks (a 7 with a crossbar, a 1 with a long upstroke, a 4 in one
open stroke), and they come with their writers, so a model can be measured on people whose hand
it never saw. The 30 writers are split once, by writer, into pen-train and pen-dev
(PEN_DEV_WRITERS: the first six of `np.random.default_rng(9).permutation` of 1..30, written
out here so the split never moves).

The file is found the way MNIST is: a path given explicitly, `DIGITNET_PEN_DATA`, the cache
(`cache_dir() / "pendigits"`), then a download from the dataset's home at UCI (or the
comma-separated URLs in `DIGITNET_PEN_MIRRORS`), kept only when the decompressed file has the
published SHA-256.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitnet.data.cache import cache_dir
from digitnet.data.download import ChecksumMismatch, describe_failure, urls_from_env
from digitnet.data.mnist import read_payload
from digitnet.data.preprocess import canvas_to_mnist
from digitnet.data.stroke_augment import StrokeAugment, augment, place
from digitnet.data.strokes import render_batch
from digitnet.errors import DigitnetError
from digitnet.files import atomic_path
from digitnet.images import IMAGE_SHAPE

PEN_FILE = "pendigits-orig.tra"
PEN_SHA256 = "a66225d68d7d68591e62944df1ad33b3f5aa608e2df2505844b41f5568a80da4"
PEN_ENV = "DIGITNET_PEN_DATA"
MIRRORS_ENV = "DIGITNET_PEN_MIRRORS"
# UCI serves the file compressed with Unix `compress` (.Z), alone and inside the dataset's zip.
DEFAULT_URLS = (
    "https://archive.ics.uci.edu/ml/machine-learning-databases/pendigits/pendigits-orig.tra.Z",
    "https://archive.ics.uci.edu/static/public/81/pen+based+recognition+of+handwritten+digits.zip",
)
TABLET_SIZE = 500  # coordinates lie in 0..500; the tablet's y axis points up
WRITERS = tuple(range(1, 31))
PEN_DEV_WRITERS = (3, 10, 15, 17, 19, 26)  # sorted(default_rng(9).permutation(1..30)[:6])
PEN_TRAIN_WRITERS = tuple(w for w in WRITERS if w not in PEN_DEV_WRITERS)
# The share of every training batch that is pen digits: 13 of 128, the shipped CNN's
# (benchmarks/bench_pen.py measures its cost).
DEFAULT_PEN_SHARE = 0.1
# Pen-train digits are drawn for training on a canvas this small (transparent, like the
# canvas's default): canvas_to_mnist gives nearly the same image as at 280 px, 5 times faster.
TRAIN_CANVAS = 64
# The share of each training batch to fill with pen-train digits: 16 of 128, about one pass over
# the 5,997 pen-train digits per MNIST epoch. `sample` draws about 2,000 digits a second on one
# core (benchmarks/bench_pen.py), so 16 a batch cost ~8 ms beside a CNN batch's ~53 ms.
TRAIN_SHARE = 0.125


@dataclass(frozen=True, eq=False)
class PenData:
    """The digits as strokes (tablet units, y down), their labels and writers (int64)."""

    strokes: tuple[tuple[np.ndarray, ...], ...]
    labels: np.ndarray
    writers: np.ndarray
    source: str
    checksum: str

    def of_writers(self, writers: tuple[int, ...]) -> PenData:
        chosen = np.flatnonzero(np.isin(self.writers, writers))
        return PenData(
            tuple(self.strokes[i] for i in chosen),
            self.labels[chosen],
            self.writers[chosen],
            self.source,
            self.checksum,
        )


# --- Reading -----------------------------------------------------------------------------------


def parse_unipen(text: str, name: str = PEN_FILE) -> PenData:
    """The digits of a pendigits UNIPEN file (see the module docstring); y is flipped so the
    digits stand upright on a screen. Any line that is not a known directive or a pen sample
    is a one-line DigitnetError naming the line."""
    strokes: list[list[np.ndarray]] = []
    labels: list[int] = []
    writers: list[int] = []
    samples: list[tuple[int, int]] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{name}, line {number}"
        if fields[0] == ".SEGMENT":
            label = fields[-1].strip('"')
            if not (len(label) == 1 and label.isdigit()):
                raise DigitnetError(f"{where}: digit label {fields[-1]} is not 0-9")
            if strokes and not strokes[-1]:
                raise DigitnetError(f"{where}: the digit before has no strokes")
            strokes.append([])
            labels.append(int(label))
            writers.append(0)
        elif fields[0] == ".COMMENT" and strokes:
            if len(fields) < 3 or not fields[2].isdigit() or fields[1] != str(labels[-1]):
                raise DigitnetError(f"{where}: expected '.COMMENT label writer ...'")
            writers[-1] = int(fields[2])
        elif fields[0] == ".PEN_DOWN":
            if not strokes or samples is not None:
                raise DigitnetError(f"{where}: .PEN_DOWN outside a digit or inside a stroke")
            samples = []
        elif fields[0] == ".PEN_UP":
            if not samples:
                raise DigitnetError(f"{where}: .PEN_UP without a .PEN_DOWN and samples")
            stroke = np.array(samples, np.float32)
            stroke[:, 1] = TABLET_SIZE - stroke[:, 1]
            stroke.flags.writeable = False
            strokes[-1].append(stroke)
            samples = None
        elif fields[0].startswith("."):
            continue  # .INCLUDE, .LEXICON, .DT, ...: no samples
        elif samples is not None and len(fields) == 2 and all(f.isdigit() for f in fields):
            samples.append((int(fields[0]), int(fields[1])))
        else:
            raise DigitnetError(f"{where}: {line.strip()[:40]!r} is not a pen sample or directive")
    if not strokes or not strokes[-1]:
        raise DigitnetError(f"{name}: no digits with strokes found; is it pendigits-orig.tra?")
    missing = [i for i, writer in enumerate(writers) if writer == 0]
    if missing:
        raise DigitnetError(f"{name}: digit {missing[0]} has no '.COMMENT label writer' line")
    checksum = hashlib.sha256(text.encode("latin-1")).hexdigest()
    return PenData(
        tuple(tuple(digit) for digit in strokes),
        np.array(labels, np.int64),
        np.array(writers, np.int64),
        name,
        checksum,
    )


def read_pendigits(path: str | os.PathLike) -> PenData:
    """A pendigits-orig.tra file, gzipped or not (Latin-1 text)."""
    return parse_unipen(read_payload(path).decode("latin-1"), str(path))


# --- Where the file is -------------------------------------------------------------------------


def pen_cache_dir() -> Path:
    return cache_dir() / "pendigits"


def _pen_file(place: Path) -> Path | None:
    """The pen file at `place` (the file itself, or a folder holding it, gzipped or not)."""
    if place.is_file():
        return place
    return next((p for p in (place / f"{PEN_FILE}.gz", place / PEN_FILE) if p.is_file()), None)


def find_pen_data(path: str | os.PathLike | None = None) -> Path | None:
    """The pen file, without downloading: at `path`, else DIGITNET_PEN_DATA (either must hold
    it: an error otherwise, never a silent fall-back), else the cache; None if none has it."""
    for given, where in ((path, f"pen data {path}"), (os.environ.get(PEN_ENV), PEN_ENV)):
        if given:
            found = _pen_file(Path(given).expanduser())
            if found is None:
                raise DigitnetError(
                    f"{where}: no {PEN_FILE}[.gz] there; point it at that file or its folder"
                )
            return found
    return _pen_file(pen_cache_dir())


def load_pen_data(path: str | os.PathLike | None = None, download: bool = True) -> PenData:
    """The pen digits from the first place that has them, downloading into the cache if none
    has and `download` allows."""
    found = find_pen_data(path)
    if found is None:
        if not download:
            raise DigitnetError(
                f"pen data not found in {pen_cache_dir()} and {PEN_ENV} is not set; set it to "
                f"the folder holding {PEN_FILE}.gz, or allow a download"
            )
        found = download_pen_data()
    return read_pendigits(found)


# --- Downloading -------------------------------------------------------------------------------


def mirrors_to_try() -> list[str]:
    """``DIGITNET_PEN_MIRRORS`` (comma-separated URLs of the file, as .gz, .Z, .zip or plain)
    if set, else UCI's."""
    return urls_from_env(MIRRORS_ENV, DEFAULT_URLS)


def download_pen_data(
    dest_dir: str | os.PathLike | None = None,
    urls: list[str] | None = None,
    progress: bool = True,
) -> Path:
    """Fetches the pen file into `dest_dir` (default the cache) as `pendigits-orig.tra.gz` and
    returns its path. Each URL is tried in turn until one gives bytes (gzip, Unix compress, a
    zip holding the file, or plain text) whose decompressed file has the published SHA-256; it
    is renamed into place only then, so the cache never holds a partial or wrong file."""
    import pooch  # only needed this once

    target = Path(dest_dir or pen_cache_dir()) / f"{PEN_FILE}.gz"
    if target.is_file() and _payload_sha256(target.read_bytes()) == PEN_SHA256:
        return target
    downloader = pooch.HTTPDownloader(progressbar=progress)
    failures = []
    for url in urls if urls is not None else mirrors_to_try():
        try:
            with atomic_path(target) as temporary:
                downloader(url, str(temporary), None)
                payload = _unpacked(temporary.read_bytes())
                if payload is None or hashlib.sha256(payload).hexdigest() != PEN_SHA256:
                    raise ChecksumMismatch
                temporary.write_bytes(gzip.compress(payload, compresslevel=6, mtime=0))
            return target
        except ChecksumMismatch:
            failures.append(f"{url}: checksum did not match")
        except OSError as error:
            failures.append(f"{url}: {describe_failure(error)}")
    raise DigitnetError(
        f"{PEN_FILE}: no URL gave a good copy ({'; '.join(failures) or 'no URLs given'}); "
        f"check the connection, or set {PEN_ENV} to the folder holding {PEN_FILE}.gz"
    )


def _payload_sha256(data: bytes) -> str | None:
    payload = _unpacked(data)
    return None if payload is None else hashlib.sha256(payload).hexdigest()


def _unpacked(data: bytes) -> bytes | None:
    """The pen file inside downloaded bytes (gzip, Unix compress, zip or plain), or None when
    they do not unpack."""
    try:
        if data.startswith(b"\x1f\x8b"):
            return gzip.decompress(data)
        if data.startswith(b"\x1f\x9d"):
            return unlzw(data)
        if data.startswith(b"PK"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = [n for n in archive.namelist() if Path(n).name.startswith(PEN_FILE)]
                return _unpacked(archive.read(names[0])) if names else None
    except (OSError, EOFError, ValueError, IndexError, zipfile.BadZipFile):
        return None
    return data


def unlzw(data: bytes) -> bytes:
    """Decompress Unix `compress` (.Z, LZW) data, as `uncompress` does: codes of 9 up to the
    header's maximum bits, least significant bit first, read in groups of 8 codes (a group is
    skipped to its end when the code width grows or the table is cleared)."""
    if len(data) < 3 or data[:2] != b"\x1f\x9d":
        raise ValueError("not Unix compress data")
    max_bits, block_mode = data[2] & 0x1F, bool(data[2] & 0x80)
    if not 9 <= max_bits <= 16:
        raise ValueError(f"bad maximum code width {max_bits}")
    body = data[3:] + bytes(4)  # room to read 3 bytes past any code
    total_bits = (len(data) - 3) * 8
    table = [bytes([i]) for i in range(256)] + ([b""] if block_mode else [])
    out = bytearray()
    width, position, group_start, previous = 9, 0, 0, b""
    while position + width <= total_bits:
        byte = position >> 3
        code = (int.from_bytes(body[byte : byte + 3], "little") >> (position & 7)) & (
            (1 << width) - 1
        )
        position += width
        if code == 256 and block_mode:
            table = table[:257]
            position = _group_end(position, group_start, width)
            width, group_start, previous = 9, position, b""
            continue
        if code < len(table):
            entry = table[code]
        elif code == len(table) and previous:
            entry = previous + previous[:1]
        else:
            raise ValueError("corrupt LZW code")
        out += entry
        if previous and len(table) < 1 << max_bits:
            table.append(previous + entry[:1])
        previous = entry
        if len(table) >= 1 << width and width < max_bits:
            position = _group_end(position, group_start, width)
            width, group_start = width + 1, position
    return bytes(out)


def _group_end(position: int, group_start: int, width: int) -> int:
    """Where the group of 8 codes of `width` bits that `position` is in ends."""
    group = 8 * width
    return group_start + -(-(position - group_start) // group) * group


# --- The pen-dev set and pen-train digits for training -------------------------------------


def pen_dev_set(
    data: PenData | None = None, seed: int = 0, canvas_size: int = 280, background: str = "white"
) -> tuple[np.ndarray, np.ndarray]:
    """The dev writers' digits drawn as canvas drawings (a size, place and brush each, chosen by
    `seed` and the digit's index) and brought back through `canvas_to_mnist`: (n, 28, 28)
    float32 images and int64 labels. The "pen drawings (unseen writers)" split."""
    dev = (data or load_pen_data()).of_writers(PEN_DEV_WRITERS)
    images = np.empty((len(dev.strokes), *IMAGE_SHAPE), np.float32)
    for index, digit in enumerate(dev.strokes):
        drawing = place([digit], np.random.default_rng([seed, index]), canvas_size, background)[0]
        images[index] = canvas_digit(render_batch([drawing])[0])
    return images, dev.labels.copy()


class PenDigits:
    """Pen-train writers' digits drawn on the fly with stroke augmentation, as a trainer's extra
    digit source (`sample(count, rng)`). Each is drawn on a small transparent canvas and read by
    `canvas_to_mnist`, like a drawing in the app."""

    name = "pen drawings"

    def __init__(
        self,
        data: PenData | None = None,
        config: StrokeAugment | None = None,
        canvas_size: int = TRAIN_CANVAS,
    ) -> None:
        self.data = (data or load_pen_data()).of_writers(PEN_TRAIN_WRITERS)
        self.config = config or StrokeAugment()
        self.canvas_size = canvas_size

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """`count` augmented digits: (count, 28, 28) float32 images in [0, 1], int64 labels."""
        chosen = rng.integers(0, len(self.data.strokes), count)
        digits = [self.data.strokes[i] for i in chosen]
        drawings = augment(digits, rng, self.canvas_size, "transparent", self.config)
        canvases = render_batch(drawings)
        images = np.stack([canvas_digit(canvas) for canvas in canvases])
        return images, self.data.labels[chosen]


def canvas_digit(canvas: np.ndarray) -> np.ndarray:
    """A canvas drawn by the renderer, read as the app reads one (``canvas_to_mnist``)."""
    image = canvas_to_mnist(canvas)
    if image is None:  # a bug: a digit 45% of the canvas tall is never too small
        raise RuntimeError("a pen digit drawn on the canvas came back blank")
    return image
