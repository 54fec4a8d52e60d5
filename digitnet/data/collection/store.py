"""The drawings people saved ("Right" / "No, it's a ..."): one SQLite file, and the only module
that speaks SQL.

The file is ``DIGITNET_DB``, else ``drawings.sqlite`` in the data folder (``cache.cache_dir()``).
It is opened afresh for every operation (so threads and processes each get their own
connection), in WAL mode (readers never wait for a writer), and every write is one transaction:
a crash leaves whole drawings or none. A file digitnet cannot use (corrupt, locked, read-only, or
from a newer digitnet) gives one line saying what to do and is never rewritten or deleted.

Rules for what a drawing may hold (absurd input is thinned or refused, never stored as is):
strokes hold at most ``MAX_POINTS`` points in all (more are thinned evenly, stroke by stroke)
and at most ``MAX_STROKES`` strokes; points are clipped to the canvas grown by its longer side
on every side (a stroke that leaves the canvas still renders as drawn, as ``digitnet.data.strokes``
allows, and a point a mile away cannot be stored); a NaN or infinite point, a canvas over
``MAX_CANVAS`` pixels a side, or a photo over ``MAX_PHOTO_BYTES`` is refused.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import numpy as np

from digitnet.data import cache, mnist
from digitnet.data.preprocess import PREPROCESS_VERSION
from digitnet.errors import DigitnetError
from digitnet.files import atomic_path
from digitnet.images import IMAGE_SHAPE, to_float

DB_ENV = "DIGITNET_DB"
DB_NAME = "drawings.sqlite"
BUSY_TIMEOUT = 5.0  # seconds a save waits for another session's save before giving up
MAX_POINTS = 5_000
MAX_STROKES = 500
MAX_CANVAS = 4_096
MAX_BRUSH = 200.0
MAX_PHOTO_BYTES = 2 * 1024 * 1024
MAX_REPORTED_ROWS = 20  # bad rows an import names before it stops looking
_CSV_LINE = re.compile(r", line (\d+): ")
T = TypeVar("T")

# Migration i takes a file from schema version i to i + 1 (``PRAGMA user_version``). Never edit
# one that has shipped: add a new step, so every older file can still be brought up to date.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: canvas drawings and photos, with the model's answer at the time
        """CREATE TABLE drawings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created TEXT NOT NULL,
            session TEXT NOT NULL,
            label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
            prediction INTEGER CHECK (prediction BETWEEN 0 AND 9),
            probabilities BLOB,
            model_checksum TEXT,
            preprocess_version INTEGER,
            image BLOB NOT NULL,
            strokes BLOB,
            canvas_width INTEGER,
            canvas_height INTEGER,
            brush_width REAL,
            photo BLOB
        )""",
    ),
    (  # 2: imported CSV rows have no strokes, so each drawing says where it came from
        "ALTER TABLE drawings ADD COLUMN source TEXT NOT NULL DEFAULT 'canvas' "
        "CHECK (source IN ('canvas', 'photo', 'import'))",
        "UPDATE drawings SET source = 'photo' WHERE photo IS NOT NULL",
        "CREATE INDEX drawings_by_label ON drawings (label)",
        "CREATE INDEX drawings_by_session ON drawings (session)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_COLUMNS = (
    "id, created, session, source, label, prediction, probabilities, model_checksum, "
    "preprocess_version, image, strokes, canvas_width, canvas_height, brush_width"
)


def default_path() -> Path:
    configured = os.environ.get(DB_ENV)
    return Path(configured).expanduser() if configured else cache.cache_dir() / DB_NAME


def new_session_id() -> str:
    """An anonymous id for one browser session: random, so it says nothing about the person."""
    return uuid.uuid4().hex


@dataclass(frozen=True, eq=False)
class SavedDrawing:
    """One saved drawing. ``image`` is the (28, 28) float32 the model saw; ``strokes`` the
    (n, 2) x, y canvas points of each stroke in drawing order (None for photos and imports);
    ``photo`` is only filled by ``DrawingStore.get`` (lists leave it out: it can be 2 MB)."""

    id: int
    created: str
    session: str
    source: str
    label: int
    image: np.ndarray = field(repr=False)
    prediction: int | None = None
    probabilities: np.ndarray | None = field(default=None, repr=False)
    model_checksum: str | None = None
    preprocess_version: int | None = None
    strokes: list[np.ndarray] | None = field(default=None, repr=False)
    canvas_width: int | None = None
    canvas_height: int | None = None
    brush_width: float | None = None
    photo: bytes | None = field(default=None, repr=False)

    @property
    def wrong(self) -> bool:
        """The model read something else (imports, which have no prediction, are never wrong)."""
        return self.prediction is not None and self.prediction != self.label


@dataclass(frozen=True)
class DigitCount:
    """One digit's drawings and how the model did on those it predicted when they were saved."""

    drawings: int
    predicted: int
    right: int

    @property
    def accuracy(self) -> float | None:
        return self.right / self.predicted if self.predicted else None


def total(counts: Iterable[DigitCount]) -> DigitCount:
    """All digits together (e.g. ``total(store.counts_by_digit().values())``)."""
    counts = list(counts)
    return DigitCount(
        *(sum(getattr(c, name) for c in counts) for name in DigitCount.__annotations__)
    )


class BadRows(DigitnetError):
    """An import refused: ``problems`` holds one line per bad row (the message joins them)."""

    def __init__(self, problems: list[str], name: str) -> None:
        self.problems = problems
        more = " (and maybe more: stopped looking)" if len(problems) >= MAX_REPORTED_ROWS else ""
        summary = f"{name}: {len(problems)} bad row(s){more}; nothing was imported"
        super().__init__("\n".join([*problems, summary]))


def images_and_labels(drawings: Sequence[SavedDrawing]) -> tuple[np.ndarray, np.ndarray]:
    """The drawings as the model takes them: images (n, 28, 28) float32 and labels (n,) uint8."""
    images = np.zeros((len(drawings), *IMAGE_SHAPE), np.float32)
    for index, drawing in enumerate(drawings):
        images[index] = drawing.image
    return images, np.array([d.label for d in drawings], dtype=np.uint8)


class DrawingStore:
    """The collection in one SQLite file (``path``, default ``default_path()``). Nothing is
    created until the first save: reading a missing file reads an empty collection."""

    def __init__(self, path: str | os.PathLike | None = None, timeout: float = BUSY_TIMEOUT):
        self.path = Path(path) if path is not None else default_path()
        self.timeout = timeout

    def add(
        self,
        *,
        label: int,
        image: np.ndarray,
        session: str,
        strokes: Sequence[np.ndarray] | None = None,
        canvas_width: int | None = None,
        canvas_height: int | None = None,
        brush_width: float | None = None,
        photo: bytes | None = None,
        prediction: int | None = None,
        probabilities: np.ndarray | None = None,
        model_checksum: str | None = None,
        preprocess_version: int | None = PREPROCESS_VERSION,
    ) -> int:
        """Saves one drawing (strokes with their canvas and brush, or a photo's bytes) and
        returns its id. Bad values raise DigitnetError and save nothing."""
        if (strokes is None) == (photo is None):
            raise DigitnetError("a drawing is saved with its strokes or its photo (one of them)")
        row = {
            "created": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "session": _checked_session(session),
            "source": "canvas" if strokes is not None else "photo",
            "label": _checked_digit(label, "label"),
            "prediction": None if prediction is None else _checked_digit(prediction, "prediction"),
            "probabilities": _probabilities_blob(probabilities),
            "model_checksum": model_checksum,
            "preprocess_version": preprocess_version,
            "image": _image_blob(image),
            "photo": _checked_photo(photo),
        }
        if strokes is not None:
            row.update(_checked_canvas(strokes, canvas_width, canvas_height, brush_width))
        return self._insert([row])[0]

    def get(self, drawing_id: int) -> SavedDrawing:
        with self._reading() as connection:
            row = connection.execute(
                f"SELECT {_COLUMNS}, photo FROM drawings WHERE id = ?", (int(drawing_id),)
            ).fetchone()
        if row is None:
            raise DigitnetError(f"no drawing with id {drawing_id} in {self.path}")
        return _drawing(row[:-1], photo=row[-1])

    def counts_by_digit(self, session: str | None = None) -> dict[int, DigitCount]:
        """Every digit 0-9, with how many drawings it has and how many the model got right."""
        where, parameters = _filters(session=session)
        with self._reading() as connection:
            rows = connection.execute(
                "SELECT label, count(*), count(prediction), sum(prediction = label) "
                f"FROM drawings {where} GROUP BY label",
                parameters,
            ).fetchall()
        counts = {digit: DigitCount(0, 0, 0) for digit in range(10)}
        counts.update(
            {label: DigitCount(n, predicted, right or 0) for label, n, predicted, right in rows}
        )
        return counts

    def labelled_images(self, session: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Images (n, 28, 28) float32 and labels (n,) uint8 of every drawing (or one
        session's), oldest first: ``evaluate --split mine`` and the "My drawings" split."""
        return images_and_labels(self.list(session=session))

    def split(
        self, held_back: float = 0.4, seed: int = 0
    ) -> tuple[list[SavedDrawing], list[SavedDrawing]]:
        """(to train on, held back) for fine-tuning. A drawing is held back by a hash of its id
        and the seed, so it stays on the same side however many drawings are added later."""
        if not 0 <= held_back <= 1:
            raise DigitnetError(f"held_back must be a share from 0 to 1, got {held_back}")
        kept, back = [], []
        for drawing in self.list():
            digest = hashlib.sha256(f"{seed}:{drawing.id}".encode()).digest()
            share = int.from_bytes(digest[:8], "big") / 2**64
            (back if share < held_back else kept).append(drawing)
        return kept, back

    def delete(self, ids: Iterable[int]) -> int:
        """Deletes these drawings, all or none: an id that is not there deletes nothing."""
        ids = sorted({int(i) for i in ids})

        def remove(connection: sqlite3.Connection) -> int:
            marks = ",".join("?" * len(ids))
            found = {
                i
                for (i,) in connection.execute(
                    f"SELECT id FROM drawings WHERE id IN ({marks})", ids
                )
            }
            missing = [i for i in ids if i not in found]
            if missing:
                raise DigitnetError(
                    f"no drawing with id {', '.join(map(str, missing))} in {self.path}; "
                    "nothing was deleted"
                )
            return connection.execute(f"DELETE FROM drawings WHERE id IN ({marks})", ids).rowcount

        return self._write(remove, "deleted") if ids else 0

    def delete_all(self) -> int:
        if not self.path.exists():
            return 0
        return self._write(lambda c: c.execute("DELETE FROM drawings").rowcount, "deleted")

    def export_csv(self, path: str | os.PathLike, session: str | None = None) -> int:
        """Writes the drawings as a Kaggle train.csv (label,pixel0..pixel783, 0-255), atomically,
        and returns how many."""
        images, labels = self.labelled_images(session)
        if not len(labels):
            raise DigitnetError(f"no drawings to export in {self.path}; nothing was written")
        pixels = np.rint(images.reshape(len(labels), -1) * 255).astype(np.uint8)
        table = np.column_stack([labels, pixels])
        with atomic_path(path) as temporary:
            np.savetxt(
                temporary,
                table,
                fmt="%d",
                delimiter=",",
                comments="",
                header=",".join(mnist.KAGGLE_TRAIN_COLUMNS),
            )
        return len(labels)

    def import_csv(
        self, source: mnist.Upload, name: str | None = None, session: str = "import"
    ) -> int:
        """Adds every row of a Kaggle train.csv (a path, bytes or an upload) as a drawing with
        no strokes (source "import"), in one transaction. Every row is checked first: bad rows
        raise ``BadRows`` naming each (up to ``MAX_REPORTED_ROWS``) and nothing is imported."""
        images, labels = _read_all_rows(source, name)
        session = _checked_session(session)
        created = datetime.now(UTC).isoformat(timespec="milliseconds")
        floats = to_float(images)
        rows = [
            {
                "created": created,
                "session": session,
                "source": "import",
                "label": int(label),
                "image": image.tobytes(),
                "preprocess_version": None,
            }
            for image, label in zip(floats, labels)
        ]
        return len(self._insert(rows))

    def list(
        self, digit: int | None = None, wrong_only: bool = False, session: str | None = None
    ) -> list[SavedDrawing]:
        """The drawings, oldest first, optionally of one digit, only those the model got
        wrong, or only one session's."""
        where, parameters = _filters(digit, wrong_only, session)
        with self._reading() as connection:
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM drawings {where} ORDER BY id", parameters
            ).fetchall()
        return [_drawing(row) for row in rows]

    # --- the connection -----------------------------------------------------------------------

    def _insert(self, rows: list[dict]) -> list[int]:
        def insert(connection: sqlite3.Connection) -> list[int]:
            ids = []
            for row in rows:
                names = ", ".join(row)
                marks = ", ".join(f":{name}" for name in row)
                ids.append(
                    connection.execute(
                        f"INSERT INTO drawings ({names}) VALUES ({marks})", row
                    ).lastrowid
                )
            return ids

        return self._write(insert, "saved")

    def _write(self, change: Callable[[sqlite3.Connection], T], done: str) -> T:
        """Runs ``change(connection)`` in one immediate transaction: all of it or none."""
        read_only = _why_read_only(self.path)
        if read_only:
            raise DigitnetError(
                f"{self.path}: cannot write, {read_only}; make it writable or set {DB_ENV} to "
                f"a file in a writable folder (nothing was {done})"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DigitnetError(
                f"{self.path}: cannot make its folder ({error.strerror}); set {DB_ENV} to a file "
                f"in a folder you can write (nothing was {done})"
            ) from None
        with self._errors(done), self._open(uri=f"file:{quote(str(self.path))}") as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = change(connection)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return result

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():  # an empty collection, without creating a file
            with self._errors("read"), self._open(uri=":memory:") as connection:
                yield connection
            return
        uri = f"file:{quote(str(self.path))}"
        if _why_read_only(self.path):
            uri += "?mode=ro"
        with self._errors("read"), self._open(uri) as connection:
            yield connection

    @contextmanager
    def _open(self, uri: str) -> Iterator[sqlite3.Connection]:
        """A connection to a file at the current schema version (migrated if older)."""
        connection = sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None)
        try:
            try:
                version = connection.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.OperationalError:
                if not uri.endswith("mode=ro"):
                    raise
                # A WAL file in a read-only folder cannot get its shared-memory file beside it:
                # read it as a file nobody changes (what a read-only folder promises).
                connection.close()
                connection = sqlite3.connect(uri[: -len("mode=ro")] + "immutable=1", uri=True)
                version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                self._migrate(connection, read_only=uri.endswith("mode=ro"))
            yield connection
        finally:
            connection.close()

    def _migrate(self, connection: sqlite3.Connection, read_only: bool) -> None:
        connection.execute("BEGIN")  # one look at the file: another session may be setting it up
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        has_tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
        connection.execute("COMMIT")
        if version > SCHEMA_VERSION:
            raise DigitnetError(
                f"{self.path}: made by a newer digitnet; upgrade digitnet to use it (its schema "
                f"is {version}, this one knows up to {SCHEMA_VERSION}), or set {DB_ENV} to "
                "another file (nothing was read or written)"
            )
        if version == 0 and has_tables:
            raise DigitnetError(
                f"{self.path}: an SQLite file of another program (it has tables but no digitnet "
                f"schema version); set {DB_ENV} to another file (nothing was changed)"
            )
        if version == SCHEMA_VERSION:
            return
        if read_only:
            raise DigitnetError(
                f"{self.path}: made by an older digitnet and read-only, so it cannot be brought "
                f"up to date; make it writable once (nothing was changed)"
            )
        self._switch_to_wal(connection)
        connection.execute("BEGIN IMMEDIATE")
        try:  # read again under the lock: another session may have migrated meanwhile
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _switch_to_wal(self, connection: sqlite3.Connection) -> None:
        """WAL lets sessions read while one writes. The switch needs the file to itself, and
        SQLite answers "locked" at once rather than wait when two connections ask together, so
        it is tried again until the timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @contextmanager
    def _errors(self, done: str) -> Iterator[None]:
        """SQLite's errors as one line saying what to do; the file is left as it is."""
        try:
            yield
        except sqlite3.Error as error:
            text = str(error)
            if "locked" in text or "busy" in text:
                advice = (
                    f"another program has held it locked for over {self.timeout:g} s; close "
                    "it or try again"
                )
            elif "not a database" in text or "malformed" in text:
                advice = (
                    "it is not a readable drawings database; it was left untouched: move it "
                    f"aside to start a new collection, or set {DB_ENV} to another file"
                )
            elif "readonly" in text:
                advice = f"it is read-only; make it writable or set {DB_ENV} to another file"
            else:
                advice = f"check the file and its folder, or set {DB_ENV} to another file"
            raise DigitnetError(f"{self.path}: {text}: {advice} (nothing was {done})") from None


# --- checks and encodings ----------------------------------------------------------------------


def _why_read_only(path: Path) -> str | None:
    """Why digitnet must not write here, or None. Permission bits count even for root, who
    could write anyway: a file made read-only was made so on purpose."""
    if path.exists() and not _writable(path):
        return "the file is read-only"
    # The folder too: WAL keeps two files beside the database while it is open.
    folder = next(parent for parent in path.parents if parent.exists())
    return None if _writable(folder) else f"its folder {folder} is read-only"


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)


def _filters(
    digit: int | None = None, wrong_only: bool = False, session: str | None = None
) -> tuple[str, list]:
    conditions, parameters = [], []
    if digit is not None:
        conditions.append("label = ?")
        parameters.append(_checked_digit(digit, "digit"))
    if wrong_only:
        conditions.append("prediction IS NOT NULL AND prediction != label")
    if session is not None:
        conditions.append("session = ?")
        parameters.append(session)
    return ("WHERE " + " AND ".join(conditions) if conditions else ""), parameters


def _checked_digit(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value <= 9:
        raise DigitnetError(f"the {what} must be a digit 0-9, got {value!r}")
    return int(value)


def _checked_session(session: object) -> str:
    if not isinstance(session, str) or not 0 < len(session) <= 64:
        raise DigitnetError(f"the session id must be a text of 1 to 64 characters, got {session!r}")
    return session


def _image_blob(image: np.ndarray) -> bytes:
    image = to_float(image)
    if image.shape != IMAGE_SHAPE:
        raise DigitnetError(f"the image must be 28x28, got {image.shape}")
    if not (np.isfinite(image).all() and image.min() >= 0 and image.max() <= 1):
        raise DigitnetError("the image must hold values from 0 to 1 (no NaN)")
    return image.tobytes()


def _probabilities_blob(probabilities: np.ndarray | None) -> bytes | None:
    if probabilities is None:
        return None
    values = np.asarray(probabilities, dtype=np.float32)
    if values.shape != (10,) or not np.isfinite(values).all() or values.min() < 0:
        raise DigitnetError("the probabilities must be ten finite numbers from 0 to 1")
    if abs(float(values.sum()) - 1) > 1e-3:
        raise DigitnetError(f"the ten probabilities must sum to 1, got {values.sum():.4f}")
    return values.tobytes()


def _checked_photo(photo: bytes | None) -> bytes | None:
    if photo is not None and not isinstance(photo, bytes):
        raise DigitnetError(f"the photo must be its file's bytes, got {type(photo).__name__}")
    if photo is not None and len(photo) > MAX_PHOTO_BYTES:
        raise DigitnetError(
            f"the photo is {len(photo) / 2**20:.1f} MB; at most {MAX_PHOTO_BYTES / 2**20:g} MB "
            "can be saved with a drawing: save a smaller photo"
        )
    return photo


def _checked_canvas(
    strokes: Sequence[np.ndarray], width: int | None, height: int | None, brush: float | None
) -> dict:
    """The canvas columns of a drawing, after the module's rules (see its docstring)."""
    for value, what in ((width, "canvas width"), (height, "canvas height")):
        if not isinstance(value, int | np.integer) or not 0 < value <= MAX_CANVAS:
            raise DigitnetError(f"the {what} must be 1 to {MAX_CANVAS} pixels, got {value!r}")
    if not (isinstance(brush, int | float) and math.isfinite(brush) and 0 < brush <= MAX_BRUSH):
        raise DigitnetError(
            f"the brush width must be above 0 and at most {MAX_BRUSH:g}, got {brush!r}"
        )
    arrays = [stroke for stroke in map(_points, strokes) if len(stroke)]
    if len(arrays) > MAX_STROKES:
        raise DigitnetError(f"a drawing holds at most {MAX_STROKES} strokes, got {len(arrays)}")
    if not all(np.isfinite(stroke).all() for stroke in arrays):
        raise DigitnetError("a stroke holds a NaN or infinite point; the drawing was not saved")
    total = sum(len(stroke) for stroke in arrays)
    if total > MAX_POINTS:  # every step-th point of each stroke: the shape stays, evenly thinner
        step = math.ceil(total / (MAX_POINTS - len(arrays)))
        arrays = [stroke[::step] for stroke in arrays]
    margin = max(width, height)
    return {
        "strokes": _strokes_blob(
            [np.clip(stroke, -margin, [width + margin, height + margin]) for stroke in arrays]
        ),
        "canvas_width": int(width),
        "canvas_height": int(height),
        "brush_width": float(brush),
    }


def _points(stroke: object) -> np.ndarray:
    try:
        points = np.asarray(stroke, dtype=np.float64)
    except (TypeError, ValueError):
        points = None
    if points is None or (points.size and (points.ndim != 2 or points.shape[1] != 2)):
        raise DigitnetError("each stroke must be an (n, 2) array of x, y points in canvas pixels")
    return points.reshape(-1, 2)


def _strokes_blob(strokes: list[np.ndarray]) -> bytes:
    """Strokes as little-endian uint32 (stroke count, then each stroke's point count) followed
    by float32 x, y pairs: a twentieth of the time JSON takes to read back, half its size."""
    counts = np.array([len(strokes), *(len(stroke) for stroke in strokes)], "<u4")
    points = np.concatenate([*strokes, np.empty((0, 2))]).astype("<f4")
    return counts.tobytes() + points.tobytes()


def _strokes_from_blob(blob: bytes) -> list[np.ndarray]:
    strokes = int(np.frombuffer(blob, "<u4", count=1)[0])
    counts = np.frombuffer(blob, "<u4", count=strokes, offset=4)
    points = np.frombuffer(blob, "<f4", offset=4 * (strokes + 1)).reshape(-1, 2)
    return np.split(points, np.cumsum(counts)[:-1]) if strokes else []


def _drawing(row: tuple, photo: bytes | None = None) -> SavedDrawing:
    (id_, created, session, source, label, prediction, probabilities, checksum, version,
     image, strokes, width, height, brush) = row  # fmt: skip
    return SavedDrawing(
        id=id_,
        created=created,
        session=session,
        source=source,
        label=label,
        image=np.frombuffer(image, np.float32).reshape(IMAGE_SHAPE),
        prediction=prediction,
        probabilities=None if probabilities is None else np.frombuffer(probabilities, np.float32),
        model_checksum=checksum,
        preprocess_version=version,
        strokes=None if strokes is None else _strokes_from_blob(strokes),
        canvas_width=width,
        canvas_height=height,
        brush_width=brush,
        photo=photo,
    )


def _read_all_rows(source: mnist.Upload, name: str | None) -> tuple[np.ndarray, np.ndarray]:
    """A Kaggle train.csv's images and labels, read by ``mnist.read_kaggle_csv``; when it finds
    a bad row, that row is set aside and the rest read again, so every bad row is named."""
    raw, name = mnist._read_source(source, name)
    try:
        images, labels = mnist.read_kaggle_csv(raw, name)
    except DigitnetError as error:
        if _bad_line(error) is None:  # the file as a whole (encoding, header): one line
            raise
        raise BadRows(_every_bad_row(raw, name, error), name) from None
    if labels is None:
        raise DigitnetError(
            f"{name}: no label column (a test.csv?); drawings need labels: import a train.csv "
            "(label,pixel0,...,pixel783)"
        )
    return images, labels


def _bad_line(error: DigitnetError) -> int | None:
    """The line of the row an error of ``read_kaggle_csv`` names, None if it names no row."""
    found = _CSV_LINE.search(str(error))
    return int(found[1]) if found and int(found[1]) > 1 else None


def _every_bad_row(raw: bytes, name: str, first: DigitnetError) -> list[str]:
    """One line per bad row (up to ``MAX_REPORTED_ROWS``), numbered as in the original file and
    in its order."""
    text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    lines = text.split("\n")
    kept = list(range(1, len(lines)))  # indices into lines of the rows still being read
    found, error = {}, first
    while (line := _bad_line(error)) is not None:
        original = kept.pop(line - 2) + 1
        found[original] = str(error).replace(f", line {line}: ", f", line {original}: ", 1)
        if len(found) >= MAX_REPORTED_ROWS or not kept:
            break
        try:
            mnist.read_kaggle_csv("\n".join([lines[0], *(lines[i] for i in kept)]).encode(), name)
            break
        except DigitnetError as next_error:
            error = next_error
    problems = [found[line] for line in sorted(found)]
    return problems if _bad_line(error) is not None or not kept else [*problems, str(error)]
