"""The drawings people saved ("Right" / "No, it's a ..."): one SQLite file, and the only module
that speaks SQL: the schema and its migrations, the connections, and adding, reading, counting,
splitting and deleting drawings.

The file is ``DIGITNET_DB``, else ``drawings.sqlite`` in the data folder (``cache.cache_dir()``).
It is opened afresh for every operation (so threads and processes each get their own
connection), in WAL mode (readers never wait for a writer), and every write is one transaction:
a crash leaves whole drawings or none. A file digitnet cannot use (corrupt, locked, read-only,
from a newer digitnet, or on a full disk) gives one line saying what to do and is never
rewritten or deleted.

Each drawing has a content key (``content_key``: its label and 8-bit pixels), held once by the
collection: an import skips the drawings already there. The Draw page keeps every answer, so a
drawing saved again is kept too, marked as a duplicate, and fine-tuning keeps duplicates on the
same side of its split.

What a drawing may hold is checked by ``checks`` before anything is written; the CSV import and
export are in ``transfer``.
"""

from __future__ import annotations

import hashlib
import os
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
from digitnet.data.collection import checks, transfer
from digitnet.data.preprocess import PREPROCESS_VERSION
from digitnet.errors import DigitnetError
from digitnet.images import IMAGE_SHAPE, to_float

DB_ENV = "DIGITNET_DB"
DB_NAME = "drawings.sqlite"
BUSY_TIMEOUT = 5.0  # seconds a save waits for another session's save before giving up
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
    (  # 3: each drawing's content key (``content_key``), once in the collection: an import
        # skips what is already there. A drawing identical to one saved before is kept as a
        # duplicate (the Draw page keeps every answer, and older files may hold some).
        "ALTER TABLE drawings ADD COLUMN content BLOB",
        "ALTER TABLE drawings ADD COLUMN duplicate INTEGER NOT NULL DEFAULT 0 "
        "CHECK (duplicate IN (0, 1))",
        "UPDATE drawings SET content = content_key(label, image)",
        "UPDATE drawings SET duplicate = 1 "
        "WHERE id NOT IN (SELECT min(id) FROM drawings GROUP BY content)",
        "CREATE UNIQUE INDEX drawings_by_content ON drawings (content) WHERE duplicate = 0",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_COLUMNS = (
    "id, created, session, source, label, prediction, probabilities, model_checksum, "
    "preprocess_version, image, content, strokes, canvas_width, canvas_height, brush_width"
)


def default_path() -> Path:
    configured = os.environ.get(DB_ENV)
    return Path(configured).expanduser() if configured else cache.cache_dir() / DB_NAME


def content_key(label: int, image: np.ndarray) -> bytes:
    """What makes two drawings the same drawing: the label and the image's 8-bit pixels (what
    an exported CSV row holds), hashed. Migration 3 stored it for every drawing: changing it
    takes a new migration that computes the stored keys again."""
    if image.dtype != np.uint8:
        image = np.rint(image * 255).astype(np.uint8)
    return hashlib.sha256(bytes([label]) + image.tobytes()).digest()


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
    content: bytes = field(repr=False)  # content_key(label, image)
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
class Imported:
    """What an import did: rows added as drawings, and rows skipped because the same drawing
    (``content_key``) was already in the collection, or earlier in the file."""

    added: int
    skipped: int

    @property
    def skipped_note(self) -> str:
        """The end of a message, saying how many were skipped if any were."""
        return f", skipped {self.skipped} already in the collection" if self.skipped else ""


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
        returns its id. Bad values raise DigitnetError and save nothing. A drawing already in
        the collection is saved again, marked as a duplicate: each answer on the Draw page is
        kept, while an import skips what the collection holds."""
        if (strokes is None) == (photo is None):
            raise DigitnetError("a drawing is saved with its strokes or its photo (one of them)")
        label, image = checks.digit(label, "label"), checks.image(image)
        row = {
            "created": _now(),
            "session": checks.session(session),
            "source": "canvas" if strokes is not None else "photo",
            "label": label,
            "prediction": None if prediction is None else checks.digit(prediction, "prediction"),
            "probabilities": _bytes(checks.probabilities(probabilities)),
            "model_checksum": model_checksum,
            "preprocess_version": preprocess_version,
            "image": image.tobytes(),
            "content": content_key(label, image),
            "photo": checks.photo(photo),
        }
        if strokes is not None:
            points, width, height, brush = checks.canvas(
                strokes, canvas_width, canvas_height, brush_width
            )
            row["strokes"] = _strokes_blob(points)
            row.update(canvas_width=width, canvas_height=height, brush_width=brush)

        def insert(connection: sqlite3.Connection) -> int:
            row["duplicate"] = connection.execute(
                "SELECT count(*) FROM drawings WHERE content = ? AND duplicate = 0",
                (row["content"],),
            ).fetchone()[0]
            names, marks = ", ".join(row), ", ".join(f":{name}" for name in row)
            return connection.execute(
                f"INSERT INTO drawings ({names}) VALUES ({marks})", row
            ).lastrowid

        return self._write(insert, "saved")

    def add_imported(self, images: np.ndarray, labels: np.ndarray, session: str) -> Imported:
        """Saves labelled images (n, 28, 28) that have no strokes (source "import"), all in one
        transaction, but for those the collection already holds (``content_key``), which are
        counted as skipped. Bad values raise DigitnetError and save nothing."""
        images, labels = checks.labelled_rows(images, labels)
        session, created = checks.session(session), _now()
        rows = (  # made one at a time: a float32 copy of every image would be four times bigger
            (created, session, label, to_float(image).tobytes(), content_key(label, image))
            for image, label in zip(images, labels.tolist())
        )

        def insert(connection: sqlite3.Connection) -> int:
            return connection.executemany(
                "INSERT INTO drawings (created, session, source, label, image, content) "
                "VALUES (?, ?, 'import', ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            ).rowcount

        added = self._write(insert, "imported")
        return Imported(added, len(labels) - added)

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
        and the seed, so it stays on the same side however many drawings are added later, and
        its duplicates go where it goes: the model is never scored on a drawing it was trained
        on."""
        if not 0 <= held_back <= 1:
            raise DigitnetError(f"held_back must be a share from 0 to 1, got {held_back}")
        kept, back = [], []
        first_ids: dict[bytes, int] = {}  # of each content key, oldest first
        for drawing in self.list():
            first = first_ids.setdefault(drawing.content, drawing.id)
            digest = hashlib.sha256(f"{seed}:{first}".encode()).digest()
            share = int.from_bytes(digest[:8], "big") / 2**64
            (back if share < held_back else kept).append(drawing)
        return kept, back

    def delete(self, ids: Iterable[int]) -> int:
        """Deletes these drawings, all or none: an id that is not there deletes nothing. A
        drawing deleted with duplicates left hands its place to the oldest of them, so the
        collection still holds it once for an import to skip."""
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
            deleted = connection.execute(f"DELETE FROM drawings WHERE id IN ({marks})", ids)
            connection.execute(
                "UPDATE drawings SET duplicate = 0 WHERE id IN (SELECT min(id) FROM drawings "
                "WHERE duplicate = 1 AND content NOT IN "
                "(SELECT content FROM drawings WHERE duplicate = 0) GROUP BY content)"
            )
            return deleted.rowcount

        return self._write(remove, "deleted") if ids else 0

    def delete_all(self) -> int:
        if not self.path.exists():
            return 0
        return self._write(lambda c: c.execute("DELETE FROM drawings").rowcount, "deleted")

    def export_csv(self, path: str | os.PathLike, session: str | None = None) -> int:
        """Writes the drawings as a Kaggle train.csv: ``transfer.export_csv``."""
        return transfer.export_csv(self, path, session)

    def import_csv(
        self, source: mnist.Upload, name: str | None = None, session: str = "import"
    ) -> Imported:
        """Adds the rows of a Kaggle train.csv, all or none: ``transfer.import_csv``."""
        return transfer.import_csv(self, source, name, session)

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
                _roll_back(connection)
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
        connection.create_function(
            "content_key",
            2,
            lambda label, image: content_key(label, _image(image)),
            deterministic=True,
        )
        connection.execute("BEGIN IMMEDIATE")
        try:  # read again under the lock: another session may have migrated meanwhile
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except BaseException:
            _roll_back(connection)
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
            if "disk is full" in text:  # SQLite's "database or disk is full"
                text = "disk full"
                advice = f"free some space on its disk, or set {DB_ENV} to a file on another disk"
            elif "locked" in text or "busy" in text:
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


# --- the file, and the columns' encodings -------------------------------------------------------


def _roll_back(connection: sqlite3.Connection) -> None:
    """Undoes the transaction, unless SQLite has already (it does on a full disk): a ROLLBACK
    then would fail, and its error hide the one that matters."""
    if connection.in_transaction:
        connection.execute("ROLLBACK")


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
        parameters.append(checks.digit(digit, "digit"))
    if wrong_only:
        conditions.append("prediction IS NOT NULL AND prediction != label")
    if session is not None:
        conditions.append("session = ?")
        parameters.append(session)
    return ("WHERE " + " AND ".join(conditions) if conditions else ""), parameters


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _bytes(values: np.ndarray | None) -> bytes | None:
    return None if values is None else values.tobytes()


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


def _image(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, np.float32).reshape(IMAGE_SHAPE)


def _drawing(row: tuple, photo: bytes | None = None) -> SavedDrawing:
    (id_, created, session, source, label, prediction, probabilities, checksum, version,
     image, content, strokes, width, height, brush) = row  # fmt: skip
    return SavedDrawing(
        id=id_,
        created=created,
        session=session,
        source=source,
        label=label,
        image=_image(image),
        content=content,
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
