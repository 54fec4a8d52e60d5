"""The drawings people saved ("Right" / "No, it's a ..."), each kept for a person: the schema
and its migrations, and adding, reading, counting, splitting, sharing and deleting drawings, in
SQLite (a file, the default) or PostgreSQL (``DIGITNET_DB=postgresql://...``, which several app
servers share; ``sql`` holds what differs between the two). Also the people who came through a
personal link, and, in PostgreSQL, the saved models (``digitnet.training.catalog``).

The database is ``DIGITNET_DB``, else ``drawings.sqlite`` in the data folder
(``cache.cache_dir()``). Every write is one transaction: a crash leaves whole drawings or none.

Every drawing belongs to a person (``LOCAL_PERSON`` alone on a laptop) and every method that
reads, counts, splits, exports or deletes takes ``person``: that person's drawings only, or None
for everyone's (a teacher, the command line). A person may share a drawing with their class
(``set_shared``); a teacher reads those with ``shared_only``. The per-person limits (``limits``)
are checked in the write's transaction, counted in the database.

Each drawing has a content key (``content_key``: its label and 8-bit pixels), held once by each
person: an import skips the drawings that person already has. The Draw page keeps every answer,
so a drawing saved again is kept too, marked as a duplicate, and fine-tuning keeps duplicates on
the same side of its split.

What a drawing may hold is checked by ``checks`` before anything is written; the CSV import and
export are in ``transfer``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from digitnet.data import cache, mnist
from digitnet.data.collection import checks, sql, transfer
from digitnet.data.collection.limits import Limits
from digitnet.data.collection.sql import DB_ENV, Connection
from digitnet.data.negatives import NOT_A_DIGIT
from digitnet.data.preprocess import PREPROCESS_VERSION
from digitnet.errors import DigitnetError
from digitnet.images import IMAGE_SHAPE, to_float

DB_NAME = "drawings.sqlite"
BUSY_TIMEOUT = 5.0  # seconds a save waits for another session's save before giving up
LOCAL_PERSON = "local"  # the one person of a laptop, and whoever saved before there were people
LINK_PERSON_PREFIX = "link-"  # the persons made for a personal link


def _fill_content_keys(connection: Connection) -> None:
    """Migration 3's keys, computed here (PostgreSQL has no ``content_key`` function)."""
    rows = connection.execute("SELECT id, label, image FROM drawings")
    keys = [(content_key(label, _image(image)), id_) for id_, label, image in rows]  # not images
    connection.executemany("UPDATE drawings SET content = ? WHERE id = ?", keys)


def _keep_the_id_counter(connection: Connection) -> None:
    """Migration 4 copies the drawings into a new table: its ids go on from the old table's
    highest ever, so an id is never used twice."""
    if connection.dialect == "sqlite":
        connection.execute("DELETE FROM sqlite_sequence WHERE name = 'drawings_4'")
        connection.execute(
            "INSERT INTO sqlite_sequence (name, seq) "
            "SELECT 'drawings_4', seq FROM sqlite_sequence WHERE name = 'drawings'"
        )
    else:
        connection.execute(
            "SELECT setval(pg_get_serial_sequence('drawings_4', 'id'), "
            "nextval(pg_get_serial_sequence('drawings', 'id')), false)"
        )


# Migration i takes a database from schema version i to i + 1, in SQLite and PostgreSQL alike
# (``sql.migrate``: the types in braces are each database's). Never edit one that has shipped:
# add a new step, so every older file can still be brought up to date.
MIGRATIONS: tuple[tuple[sql.Step, ...], ...] = (
    (  # 1: canvas drawings and photos, with the model's answer at the time
        """CREATE TABLE drawings (
            id {ID},
            created TEXT NOT NULL,
            session TEXT NOT NULL,
            label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
            prediction INTEGER CHECK (prediction BETWEEN 0 AND 9),
            probabilities {BLOB},
            model_checksum TEXT,
            preprocess_version INTEGER,
            image {BLOB} NOT NULL,
            strokes {BLOB},
            canvas_width INTEGER,
            canvas_height INTEGER,
            brush_width {REAL},
            photo {BLOB}
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
        "ALTER TABLE drawings ADD COLUMN content {BLOB}",
        "ALTER TABLE drawings ADD COLUMN duplicate INTEGER NOT NULL DEFAULT 0 "
        "CHECK (duplicate IN (0, 1))",
        _fill_content_keys,
        "UPDATE drawings SET duplicate = 1 "
        "WHERE id NOT IN (SELECT min(id) FROM drawings GROUP BY content)",
        "CREATE UNIQUE INDEX drawings_by_content ON drawings (content) WHERE duplicate = 0",
    ),
    (  # 4: every drawing belongs to a person (those saved before: LOCAL_PERSON), who may share
        # it with the class; a label may be 10, not a digit. A content key is once per person.
        # The table is made anew (SQLite cannot change a CHECK). People who came by a personal
        # link, and the models saved in a shared (PostgreSQL) database.
        """CREATE TABLE drawings_4 (
            id {ID},
            created TEXT NOT NULL,
            person TEXT NOT NULL,
            session TEXT NOT NULL,
            shared INTEGER NOT NULL DEFAULT 0 CHECK (shared IN (0, 1)),
            source TEXT NOT NULL DEFAULT 'canvas' CHECK (source IN ('canvas', 'photo', 'import')),
            label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 10),
            prediction INTEGER CHECK (prediction BETWEEN 0 AND 10),
            probabilities {BLOB},
            model_checksum TEXT,
            preprocess_version INTEGER,
            image {BLOB} NOT NULL,
            content {BLOB} NOT NULL,
            duplicate INTEGER NOT NULL DEFAULT 0 CHECK (duplicate IN (0, 1)),
            strokes {BLOB},
            canvas_width INTEGER,
            canvas_height INTEGER,
            brush_width {REAL},
            photo {BLOB}
        )""",
        "INSERT INTO drawings_4 (id, created, person, session, source, label, prediction, "
        "probabilities, model_checksum, preprocess_version, image, content, duplicate, strokes, "
        "canvas_width, canvas_height, brush_width, photo) "
        "SELECT id, created, 'local', session, source, label, prediction, probabilities, "
        "model_checksum, preprocess_version, image, content, duplicate, strokes, canvas_width, "
        "canvas_height, brush_width, photo FROM drawings",
        _keep_the_id_counter,
        "DROP TABLE drawings",
        "ALTER TABLE drawings_4 RENAME TO drawings",
        "CREATE INDEX drawings_by_person ON drawings (person, label)",
        "CREATE INDEX drawings_by_session ON drawings (session)",
        "CREATE INDEX drawings_shared ON drawings (shared, label)",
        "CREATE UNIQUE INDEX drawings_by_content ON drawings (person, content) WHERE duplicate = 0",
        """CREATE TABLE people (
            person TEXT PRIMARY KEY,
            token_hash {BLOB} NOT NULL UNIQUE,
            created TEXT NOT NULL
        )""",
        """CREATE TABLE models (
            name TEXT PRIMARY KEY,
            person TEXT NOT NULL,
            created TEXT NOT NULL,
            checksum TEXT NOT NULL,
            weights {BLOB} NOT NULL
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_COLUMNS = (
    "id, created, person, session, shared, source, label, prediction, probabilities, "
    "model_checksum, preprocess_version, image, content, strokes, canvas_width, canvas_height, "
    "brush_width"
)


def database_location() -> str | Path:
    """Where the collection is: ``DIGITNET_DB`` (a file, or a PostgreSQL URL), else
    ``drawings.sqlite`` in the data folder."""
    configured = os.environ.get(DB_ENV)
    if configured and sql.is_postgres(configured):
        return configured
    return Path(configured).expanduser() if configured else cache.cache_dir() / DB_NAME


def default_path() -> Path | None:
    """The collection's SQLite file, None when it is in PostgreSQL."""
    location = database_location()
    return location if isinstance(location, Path) else None


def uses_postgres() -> bool:
    """Whether the collection (and the saved models) are in PostgreSQL."""
    return default_path() is None


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
    person: str
    session: str
    shared: bool
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
    """One label's drawings (a digit, or NOT_A_DIGIT) and how the model did on those it
    predicted when they were saved."""

    drawings: int
    predicted: int
    right: int

    @property
    def accuracy(self) -> float | None:
        return self.right / self.predicted if self.predicted else None


def total(counts: Iterable[DigitCount]) -> DigitCount:
    """All labels together (e.g. ``total(store.counts_by_digit(person=None).values())``)."""
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
    """The collection at ``where``: an SQLite file's path or a PostgreSQL URL (default
    ``database_location()``). In SQLite nothing is created until the first save: reading a
    missing file reads an empty collection. ``limits`` default to the environment's."""

    def __init__(
        self,
        where: str | os.PathLike | None = None,
        timeout: float = BUSY_TIMEOUT,
        limits: Limits | None = None,
    ):
        location = database_location() if where is None else where
        self.database = sql.open_database(location, timeout, MIGRATIONS)
        self.path = self.database.path  # the SQLite file; None in PostgreSQL
        self.where = self.database.where  # what messages call it (a URL without its password)
        self.limits = limits if limits is not None else Limits.from_environment()

    def add(
        self,
        *,
        person: str,
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
        shared: bool = False,
    ) -> int:
        """Saves one drawing of ``person`` (strokes with their canvas and brush, or a photo's
        bytes) and returns its id. Bad values, or a person at their limits, raise DigitnetError
        and save nothing. A drawing the person already has is saved again, marked as a
        duplicate: each answer on the Draw page is kept, while an import skips it."""
        if (strokes is None) == (photo is None):
            raise DigitnetError("a drawing is saved with its strokes or its photo (one of them)")
        if not isinstance(shared, bool):
            raise DigitnetError(f"shared must be True or False, got {shared!r}")
        label, image = checks.label(label, "label"), checks.image(image)
        row = {
            "created": _now(),
            "person": checks.person(person),
            "session": checks.session(session),
            "shared": int(shared),
            "source": "canvas" if strokes is not None else "photo",
            "label": label,
            "prediction": None if prediction is None else checks.label(prediction, "prediction"),
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

        def insert(connection: Connection) -> int:
            self._check_room(connection, person, adding=1, done="saved")
            self._check_pace(connection, person)
            row["duplicate"] = connection.execute(
                "SELECT count(*) FROM drawings WHERE person = ? AND content = ? AND duplicate = 0",
                (person, row["content"]),
            ).fetchone()[0]
            names, marks = ", ".join(row), ", ".join("?" * len(row))
            return connection.execute(
                f"INSERT INTO drawings ({names}) VALUES ({marks}) RETURNING id", list(row.values())
            ).fetchone()[0]

        return self.database.write(insert, "saved", person)

    def add_imported(
        self, images: np.ndarray, labels: np.ndarray, session: str, *, person: str
    ) -> Imported:
        """Saves labelled images (n, 28, 28) that have no strokes (source "import") for
        ``person``, all in one transaction, but for those the person already has
        (``content_key``), which are counted as skipped. Bad values, or more than the person's
        limits allow, raise DigitnetError and save nothing."""
        if len(labels) > self.limits.import_rows:
            raise DigitnetError(
                f"{len(labels)} rows are more than one import may add "
                f"({self.limits.import_rows}); import the file in parts (nothing was imported)"
            )
        person, session, created = checks.person(person), checks.session(session), _now()
        images, labels = checks.labelled_rows(images, labels)
        rows = (  # made one at a time: a float32 copy of every image would be four times bigger
            (created, person, session, label, to_float(image).tobytes(), content_key(label, image))
            for image, label in zip(images, labels.tolist())
        )

        def insert(connection: Connection) -> int:
            added = connection.executemany(
                "INSERT INTO drawings (created, person, session, source, label, image, content) "
                "VALUES (?, ?, ?, 'import', ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )
            self._check_room(connection, person, adding=0, done="imported")
            return added

        added = self.database.write(insert, "imported", person)
        return Imported(added, len(labels) - added)

    def get(self, drawing_id: int, *, person: str | None) -> SavedDrawing:
        """One drawing, with its photo, if it is ``person``'s (None: anyone's)."""
        where, parameters = _filters(person=person)
        with self.database.reading() as connection:
            row = connection.execute(
                f"SELECT {_COLUMNS}, photo FROM drawings WHERE id = ? AND {where}",
                [int(drawing_id), *parameters],
            ).fetchone()
        if row is None:
            raise DigitnetError(f"no drawing with id {drawing_id} {self.whose(person)}")
        return _drawing(row[:-1], photo=row[-1])

    def counts_by_digit(
        self, *, person: str | None, session: str | None = None, shared_only: bool = False
    ) -> dict[int, DigitCount]:
        """Every digit 0-9 (and NOT_A_DIGIT if there are such drawings), with how many drawings
        it has and how many the model got right."""
        where, parameters = _filters(person=person, session=session, shared_only=shared_only)
        with self.database.reading() as connection:
            rows = connection.execute(
                "SELECT label, count(*), count(prediction), "
                "sum(CASE WHEN prediction = label THEN 1 ELSE 0 END) "
                f"FROM drawings WHERE {where} GROUP BY label",
                parameters,
            ).fetchall()
        counts = {digit: DigitCount(0, 0, 0) for digit in range(NOT_A_DIGIT)}
        counts.update(
            {label: DigitCount(n, predicted, right or 0) for label, n, predicted, right in rows}
        )
        return dict(sorted(counts.items()))

    def labelled_images(
        self, *, person: str | None, session: str | None = None, shared_only: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Images (n, 28, 28) float32 and labels (n,) uint8 of a person's drawings (None:
        everyone's; or one session's, or the shared ones), oldest first: ``evaluate --split
        mine`` and the "My drawings" split."""
        return images_and_labels(self.list(person=person, session=session, shared_only=shared_only))

    def split(
        self,
        held_back: float = 0.4,
        seed: int = 0,
        *,
        person: str | None,
        shared_only: bool = False,
    ) -> tuple[list[SavedDrawing], list[SavedDrawing]]:
        """(to train on, held back) for fine-tuning on a person's drawings (None: everyone's;
        a class model: the shared ones). A drawing is held back by a hash of its id and the
        seed, so it stays on the same side however many drawings are added later, and its
        duplicates go where it goes: the model is never scored on a drawing it was trained on."""
        if not 0 <= held_back <= 1:
            raise DigitnetError(f"held_back must be a share from 0 to 1, got {held_back}")
        kept, back = [], []
        first_ids: dict[bytes, int] = {}  # of each content key, oldest first
        for drawing in self.list(person=person, shared_only=shared_only):
            first = first_ids.setdefault(drawing.content, drawing.id)
            digest = hashlib.sha256(f"{seed}:{first}".encode()).digest()
            share = int.from_bytes(digest[:8], "big") / 2**64
            (back if share < held_back else kept).append(drawing)
        return kept, back

    def delete(self, ids: Iterable[int], *, person: str | None, shared_only: bool = False) -> int:
        """Deletes these drawings of ``person`` (None: anyone's; ``shared_only``: a teacher
        removing shared drawings), all or none: an id that is not there, or not theirs,
        deletes nothing. A drawing deleted with duplicates left hands its place to the oldest
        of them, so the person still has it once for an import to skip."""
        ids = sorted({int(i) for i in ids})

        def remove(connection: Connection) -> int:
            marks = self._check_ids(connection, ids, person, shared_only, "deleted")
            deleted = connection.execute(f"DELETE FROM drawings WHERE id IN ({marks})", ids)
            connection.execute(
                "UPDATE drawings SET duplicate = 0 WHERE id IN (SELECT min(id) FROM drawings AS d "
                "WHERE duplicate = 1 AND NOT EXISTS (SELECT 1 FROM drawings AS o WHERE "
                "o.person = d.person AND o.content = d.content AND o.duplicate = 0) "
                "GROUP BY person, content)"
            )
            return deleted.rowcount

        return self.database.write(remove, "deleted", person) if ids else 0

    def delete_all(self, *, person: str | None) -> int:
        """Deletes every drawing of ``person`` (None: everyone's)."""
        if self.path is not None and not self.path.exists():
            return 0
        where, parameters = _filters(person=person)
        return self.database.write(
            lambda c: c.execute(f"DELETE FROM drawings WHERE {where}", parameters).rowcount,
            "deleted",
            person,
        )

    def set_shared(self, ids: Iterable[int], shared: bool, *, person: str | None) -> int:
        """Shares these drawings of ``person`` with the class (or stops sharing them), all or
        none, and returns how many."""
        ids = sorted({int(i) for i in ids})
        if not isinstance(shared, bool):
            raise DigitnetError(f"shared must be True or False, got {shared!r}")

        def change(connection: Connection) -> int:
            marks = self._check_ids(connection, ids, person, False, "changed")
            return connection.execute(
                f"UPDATE drawings SET shared = ? WHERE id IN ({marks})", [int(shared), *ids]
            ).rowcount

        return self.database.write(change, "changed", person) if ids else 0

    def export_csv(
        self,
        path: str | os.PathLike,
        *,
        person: str | None,
        session: str | None = None,
        shared_only: bool = False,
    ) -> int:
        """Writes the drawings as a Kaggle train.csv: ``transfer.export_csv``."""
        return transfer.export_csv(
            self, path, person=person, session=session, shared_only=shared_only
        )

    def import_csv(
        self,
        source: mnist.Upload,
        name: str | None = None,
        session: str = "import",
        *,
        person: str,
    ) -> Imported:
        """Adds the rows of a Kaggle train.csv, all or none: ``transfer.import_csv``."""
        return transfer.import_csv(self, source, name, session, person=person)

    def list(
        self,
        digit: int | None = None,
        wrong_only: bool = False,
        session: str | None = None,
        *,
        person: str | None,
        shared_only: bool = False,
    ) -> list[SavedDrawing]:
        """A person's drawings (None: everyone's), oldest first, optionally of one label, only
        those the model got wrong, only one session's, or only the shared ones."""
        where, parameters = _filters(person, digit, wrong_only, session, shared_only)
        with self.database.reading() as connection:
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM drawings WHERE {where} ORDER BY id", parameters
            ).fetchall()
        return [_drawing(row) for row in rows]

    # --- people who came by a personal link -------------------------------------------------

    def new_personal_link(self) -> tuple[str, str]:
        """(person, token) for a new person without a sign-in: the token goes in their
        personal link and brings them back to their drawings; only its hash is kept."""
        person = LINK_PERSON_PREFIX + secrets.token_hex(8)
        token = secrets.token_urlsafe(32)
        self.database.write(
            lambda c: c.execute(
                "INSERT INTO people (person, token_hash, created) VALUES (?, ?, ?)",
                (person, _token_hash(token), _now()),
            ),
            "saved",
            person,
        )
        return person, token

    def person_for_token(self, token: object) -> str | None:
        """The person a personal link's token belongs to, or None (an unknown or malformed
        token: whoever holds it gets no one's drawings)."""
        if not isinstance(token, str) or not 0 < len(token) <= 100:
            return None
        with self.database.reading() as connection:
            row = connection.execute(
                "SELECT person FROM people WHERE token_hash = ?", (_token_hash(token),)
            ).fetchone()
        return None if row is None else row[0]

    # --- saved models, in a shared (PostgreSQL) database --------------------------------------

    def save_model(self, name: str, person: str, weights: bytes, *, replace: bool) -> bool:
        """Keeps a weights file's bytes under ``name``; False (and nothing written) when the
        name is taken and not ``replace``."""
        checksum = hashlib.sha256(weights).hexdigest()
        conflict = (
            "DO UPDATE SET person = excluded.person, created = excluded.created, "
            "checksum = excluded.checksum, weights = excluded.weights"
            if replace
            else "DO NOTHING"
        )
        return bool(
            self.database.write(
                lambda c: (
                    c.execute(
                        "INSERT INTO models (name, person, created, checksum, weights) "
                        f"VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) {conflict}",
                        (name, checks.person(person), _now(), checksum, weights),
                    ).rowcount
                ),
                "saved",
                None,
            )
        )

    def saved_models(self) -> list[tuple[str, str]]:
        """(name, SHA-256 of the weights file) of every saved model, by name."""
        with self.database.reading() as connection:
            return [tuple(row) for row in connection.execute(
                "SELECT name, checksum FROM models ORDER BY name"
            ).fetchall()]  # fmt: skip

    def model_weights(self, name: str) -> bytes | None:
        with self.database.reading() as connection:
            row = connection.execute(
                "SELECT weights FROM models WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    # --- checks made in a write's transaction -----------------------------------------------

    def _check_room(self, connection: Connection, person: str, adding: int, done: str) -> None:
        """Refuses a write that leaves ``person`` more drawings than they may keep."""
        held = connection.execute(
            "SELECT count(*) FROM drawings WHERE person = ?", (person,)
        ).fetchone()[0]
        most = self.limits.drawings_per_person
        if held + adding > most:
            raise DigitnetError(
                f"{person} would have {held + adding} drawings, more than one person may keep "
                f"({most}); delete some first (nothing was {done})"
            )

    def _check_pace(self, connection: Connection, person: str) -> None:
        """Refuses a save past ``saves_per_minute`` in the last minute."""
        since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="milliseconds")
        saved = connection.execute(
            "SELECT count(*) FROM drawings WHERE person = ? AND source != 'import' AND created > ?",
            (person, since),
        ).fetchone()[0]
        if saved >= self.limits.saves_per_minute:
            raise DigitnetError(
                f"{saved} drawings saved in the last minute, the most one person may save; "
                "wait a moment and save again (nothing was saved)"
            )

    def _check_ids(
        self,
        connection: Connection,
        ids: list[int],
        person: str | None,
        shared_only: bool,
        done: str,
    ) -> str:
        """Refuses ids that are not drawings of ``person``; returns the placeholders for ids."""
        marks = ",".join("?" * len(ids))
        where, parameters = _filters(person=person, shared_only=shared_only)
        found = {
            i
            for (i,) in connection.execute(
                f"SELECT id FROM drawings WHERE id IN ({marks}) AND {where}", [*ids, *parameters]
            )
        }
        missing = [i for i in ids if i not in found]
        if missing:
            raise DigitnetError(
                f"no drawing with id {', '.join(map(str, missing))} "
                f"{self.whose(person, shared_only)}; nothing was {done}"
            )
        return marks

    def whose(self, person: str | None, shared_only: bool = False) -> str:
        """Whose drawings, as messages say it."""
        whose = ("" if person is None else f"of {person} ") + ("shared " if shared_only else "")
        return f"{whose}in {self.where}"


# --- the columns' encodings ----------------------------------------------------------------------


def _filters(
    person: str | None = None,
    digit: int | None = None,
    wrong_only: bool = False,
    session: str | None = None,
    shared_only: bool = False,
) -> tuple[str, list]:
    """A WHERE clause's condition (always one: "1 = 1" for everything) and its parameters."""
    conditions, parameters = ["1 = 1"], []
    if person is not None:
        conditions.append("person = ?")
        parameters.append(checks.person(person))
    if digit is not None:
        conditions.append("label = ?")
        parameters.append(checks.label(digit, "digit"))
    if wrong_only:
        conditions.append("prediction IS NOT NULL AND prediction != label")
    if session is not None:
        conditions.append("session = ?")
        parameters.append(session)
    if shared_only:
        conditions.append("shared = 1")
    return " AND ".join(conditions), parameters


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


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
    (id_, created, person, session, shared, source, label, prediction, probabilities, checksum,
     version, image, content, strokes, width, height, brush) = row  # fmt: skip
    return SavedDrawing(
        id=id_,
        created=created,
        person=person,
        session=session,
        shared=bool(shared),
        source=source,
        label=label,
        image=_image(image),
        content=bytes(content),
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
