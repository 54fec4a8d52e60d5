"""The store of saved drawings: what goes in comes out, and nothing is lost or half-written
whatever happens to the file or the program. The helpers here (a drawing, a Kaggle CSV) serve
the other collection tests too."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from datetime import datetime

import numpy as np
import pandas
import pytest

from digitnet.data.collection import store as drawings
from digitnet.data.collection.limits import Limits
from digitnet.data.collection.store import LOCAL_PERSON, DrawingStore, images_and_labels, total
from digitnet.errors import DigitnetError

ME = LOCAL_PERSON

SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter, like a second app process
# For what only an SQLite file meets: the tests so marked run on SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("collection_db", ["sqlite"], indirect=True)


def image_for(number: int) -> np.ndarray:
    """A distinct, recognisable 28x28 image for each number, so a row can be checked whole."""
    return np.random.default_rng(number).random((28, 28)).astype(np.float32)


def canvas_drawing(number: int = 0, label: int = 3, prediction: int | None = 5, **changes):
    """Everything the Draw page passes to ``add`` for one canvas drawing."""
    probabilities = np.full(10, 0.02, np.float32)
    if prediction is not None:
        probabilities[prediction] = 0.82
    values = {
        "person": ME,
        "label": label,
        "image": image_for(number),
        "session": "session-a",
        "strokes": [np.array([[10.5, 20.25], [30, 40], [50, 60]]), np.array([[100, 100]])],
        "canvas_width": 280,
        "canvas_height": 280,
        "brush_width": 18.0,
        "prediction": prediction,
        "probabilities": None if prediction is None else probabilities,
        "model_checksum": f"checksum-{number}",
    }
    return values | changes


def single_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and message
    return message


@pytest.fixture
def sqlite_store(tmp_path) -> DrawingStore:
    """A new collection in an SQLite file, for what only a file meets."""
    return DrawingStore(tmp_path / "drawings.sqlite")


def kaggle_csv(rows: list[str]) -> bytes:
    header = ",".join(["label", *(f"pixel{i}" for i in range(784))])
    return ("\n".join([header, *rows]) + "\n").encode()


def good_row(label: int, number: int = 0) -> str:
    """A valid CSV row; its first three pixels spell ``number``, so rows of different numbers
    are different drawings."""
    return ",".join(map(str, [label, *number.to_bytes(3, "big"), *[0] * 780, 255]))


def full_disk(monkeypatch, spare_pages: int = 8) -> None:
    """From now on, the collection's disk fills up after ``spare_pages`` more pages: every new
    connection gets an SQLite page limit, and SQLite fails as on a full disk ("database or disk
    is full"), rolling the transaction back itself."""
    connect = sqlite3.connect

    def connect_to_a_full_disk(*args, **kwargs) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages + spare_pages}")
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect_to_a_full_disk)


def count_parses(monkeypatch) -> list:
    """The calls to pandas' CSV parser from now on: one for each reading of a file."""
    calls, parse = [], pandas.read_csv

    def counted(*args, **kwargs):
        calls.append(args)
        return parse(*args, **kwargs)

    monkeypatch.setattr(pandas, "read_csv", counted)
    return calls


def contents(store: DrawingStore) -> list[tuple]:
    """Every drawing as (id, label, content key, duplicate or not), to see that none changed."""
    with store.database.reading() as connection:
        rows = connection.execute(
            "SELECT id, label, content, duplicate FROM drawings ORDER BY id"
        ).fetchall()
    return [(i, label, bytes(content), duplicate) for i, label, content, duplicate in rows]


# --- what goes in comes out --------------------------------------------------------------------


def test_a_saved_drawing_comes_back_as_it_was_saved(store):
    values = canvas_drawing(7, label=4, prediction=9)
    drawing = store.get(store.add(**values), person=ME)
    assert (drawing.label, drawing.prediction, drawing.source) == (4, 9, "canvas")
    np.testing.assert_array_equal(drawing.image, values["image"])
    np.testing.assert_array_equal(drawing.probabilities, values["probabilities"])
    assert len(drawing.strokes) == 2
    for got, sent in zip(drawing.strokes, values["strokes"]):
        np.testing.assert_array_equal(got, sent)
    assert (drawing.canvas_width, drawing.canvas_height, drawing.brush_width) == (280, 280, 18.0)
    assert drawing.model_checksum == "checksum-7"
    assert drawing.preprocess_version == drawings.PREPROCESS_VERSION
    assert drawing.session == "session-a" and drawing.photo is None and drawing.wrong
    assert datetime.fromisoformat(drawing.created).utcoffset().total_seconds() == 0


def test_reading_a_collection_that_does_not_exist_creates_nothing(tmp_path):
    store = DrawingStore(tmp_path / "not-yet" / "drawings.sqlite")
    assert store.list(person=ME) == []
    assert total(store.counts_by_digit(person=ME).values()).drawings == 0
    assert store.labelled_images(person=ME)[0].shape == (0, 28, 28)
    assert store.delete_all(person=ME) == 0
    assert not (tmp_path / "not-yet").exists()


def test_the_file_is_in_the_data_folder_unless_digitnet_db_says_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DIGITNET_DB", raising=False)
    assert DrawingStore().path == tmp_path / "cache" / "drawings.sqlite"
    monkeypatch.setenv("DIGITNET_DB", str(tmp_path / "mine.sqlite"))
    store = DrawingStore()
    store.add(**canvas_drawing())
    assert (tmp_path / "mine.sqlite").is_file() and not (tmp_path / "cache").exists()


@SQLITE_ONLY
def test_the_file_is_in_wal_mode_at_the_current_schema_version(store):
    store.add(**canvas_drawing())
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        version = connection.execute("PRAGMA user_version").fetchone()[0]
    assert version == drawings.SCHEMA_VERSION == len(drawings.MIGRATIONS)


def test_lists_filter_by_digit_wrong_only_and_session(store):
    right = store.add(**canvas_drawing(1, label=2, prediction=2))
    wrong = store.add(**canvas_drawing(2, label=2, prediction=7))
    other = store.add(**canvas_drawing(3, label=5, prediction=5, session="session-b"))
    unpredicted = store.add(**canvas_drawing(4, label=5, prediction=None))
    assert [d.id for d in store.list(person=ME)] == [right, wrong, other, unpredicted]
    assert [d.id for d in store.list(digit=2, person=ME)] == [right, wrong]
    assert [d.id for d in store.list(wrong_only=True, person=ME)] == [wrong]
    assert [d.id for d in store.list(session="session-b", person=ME)] == [other]
    assert [d.id for d in store.list(digit=5, session="session-a", person=ME)] == [unpredicted]


def test_counts_by_digit_give_the_accuracy_of_the_stored_predictions(store):
    for number, (label, prediction) in enumerate([(2, 2), (2, 7), (2, 2), (5, None), (5, 5)]):
        store.add(**canvas_drawing(number, label=label, prediction=prediction))
    counts = store.counts_by_digit(person=ME)
    assert sorted(counts) == list(range(10))
    assert counts[2] == drawings.DigitCount(drawings=3, predicted=3, right=2)
    assert counts[2].accuracy == pytest.approx(2 / 3)
    assert counts[5] == drawings.DigitCount(drawings=2, predicted=1, right=1)
    assert counts[0].accuracy is None
    assert total(counts.values()) == drawings.DigitCount(5, 4, 3)
    assert store.counts_by_digit(session="nobody", person=ME)[2].drawings == 0


def test_a_photo_keeps_its_bytes_which_lists_leave_out(store):
    photo = bytes(range(256)) * 40
    values = canvas_drawing(strokes=None, canvas_width=None, canvas_height=None, brush_width=None)
    drawing_id = store.add(**values, photo=photo)
    assert store.get(drawing_id, person=ME).photo == photo
    assert (
        store.get(drawing_id, person=ME).source == "photo"
        and store.get(drawing_id, person=ME).strokes is None
    )
    assert store.list(person=ME)[0].photo is None


def test_labelled_images_are_the_images_the_model_saw(store):
    for number in range(4):
        store.add(**canvas_drawing(number, label=number, session=f"s{number % 2}"))
    images, labels = store.labelled_images(person=ME)
    assert images.dtype == np.float32 and labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, [0, 1, 2, 3])
    np.testing.assert_array_equal(images, np.stack([image_for(n) for n in range(4)]))
    np.testing.assert_array_equal(store.labelled_images(session="s1", person=ME)[1], [1, 3])


def test_the_held_back_share_is_the_same_drawings_however_many_are_added(store):
    store.import_csv(
        kaggle_csv([good_row(n % 10, n) for n in range(200)]), person=ME
    )  # one transaction
    kept, back = store.split(held_back=0.4, seed=0, person=ME)
    assert len(kept) + len(back) == 200 and 60 <= len(back) <= 100
    assert not {d.id for d in kept} & {d.id for d in back}
    store.import_csv(kaggle_csv([good_row(n % 10, n) for n in range(200, 250)]), person=ME)
    kept_later, back_later = store.split(held_back=0.4, seed=0, person=ME)
    assert {d.id for d in back} == {d.id for d in back_later if d.id <= 200}
    assert {d.id for d in store.split(held_back=0.4, seed=1, person=ME)[1]} != {
        d.id for d in back_later
    }
    assert (
        store.split(held_back=0.0, person=ME)[1] == []
        and store.split(held_back=1.0, person=ME)[0] == []
    )
    images, labels = images_and_labels(back)
    assert images.shape == (len(back), 28, 28) and len(labels) == len(back)


def test_the_held_back_share_keeps_a_drawing_and_its_duplicates_on_one_side(store):
    # Two sessions answering the same drawing (the Draw page keeps both), twenty times.
    for number in range(20):
        for session in ("a", "b"):
            store.add(**canvas_drawing(number, label=number % 10, session=session))
    kept, back = store.split(held_back=0.4, seed=0, person=ME)
    assert len(kept) + len(back) == 40 and kept and back
    assert not {d.content for d in kept} & {d.content for d in back}
    assert sorted(d.id for d in back) == sorted(
        d.id for d in store.list(person=ME) if d.content in {b.content for b in back}
    )


def test_saving_the_same_drawing_twice_keeps_both_and_marks_the_second_a_duplicate(store):
    first = store.add(**canvas_drawing(1, label=4, session="a"))
    second = store.add(**canvas_drawing(1, label=4, session="b"))
    other_label = store.add(**canvas_drawing(1, label=5, session="b"))
    assert [d.id for d in store.list(person=ME)] == [first, second, other_label]
    assert [duplicate for *_, duplicate in contents(store)] == [0, 1, 0]
    assert (
        store.get(first, person=ME).content
        == store.get(second, person=ME).content
        != store.get(other_label, person=ME).content
    )


def test_deleting_a_drawing_keeps_its_duplicate_as_the_one_an_import_meets(store, tmp_path):
    store.add(**canvas_drawing(1, label=4, session="a"))
    store.add(**canvas_drawing(1, label=4, session="b"))
    store.export_csv(tmp_path / "mine.csv", person=ME)  # two rows, the same drawing
    store.delete([1], person=ME)
    assert [(i, duplicate) for i, _, _, duplicate in contents(store)] == [(2, 0)]
    assert store.import_csv(tmp_path / "mine.csv", person=ME) == drawings.Imported(
        added=0, skipped=2
    )
    assert [d.id for d in store.list(person=ME)] == [2]


def test_a_held_back_share_outside_0_to_1_is_refused(store):
    with pytest.raises(DigitnetError, match="share from 0 to 1"):
        store.split(held_back=40, person=ME)


def test_session_ids_are_random_and_anonymous():
    first, second = drawings.new_session_id(), drawings.new_session_id()
    assert first != second and len(first) == 32 and int(first, 16) >= 0


# --- delete ------------------------------------------------------------------------------------


def test_delete_removes_exactly_the_given_drawings(store):
    ids = [store.add(**canvas_drawing(n)) for n in range(4)]
    assert store.delete([ids[1], ids[3]], person=ME) == 2
    assert [d.id for d in store.list(person=ME)] == [ids[0], ids[2]]


def test_delete_with_an_unknown_id_deletes_nothing(store):
    ids = [store.add(**canvas_drawing(n)) for n in range(3)]
    with pytest.raises(DigitnetError, match="no drawing with id 99 of local in .*; nothing was"):
        store.delete([ids[0], 99], person=ME)
    assert [d.id for d in store.list(person=ME)] == ids


def test_delete_all_empties_the_collection_and_ids_are_never_reused(store):
    ids = [store.add(**canvas_drawing(n)) for n in range(3)]
    assert store.delete_all(person=ME) == 3 and store.list(person=ME) == []
    assert store.add(**canvas_drawing(9)) > max(ids)


# --- nothing lost --------------------------------------------------------------------------------


def add_many(path: str, session: str, count: int) -> None:
    """One app session saving ``count`` drawings, each marked so a duplicate would show; its
    person is named after it (two sessions are two people, each within their limits)."""
    store = DrawingStore(path, timeout=30, limits=Limits(saves_per_minute=count))
    for number in range(count):
        store.add(**canvas_drawing(number, label=number % 10, session=session, person=session))


def assert_exactly(store: DrawingStore, sessions: list[str], count: int) -> None:
    saved = store.list(person=None)
    marks = {(d.person, d.session, d.model_checksum) for d in saved}
    assert len(saved) == len(marks) == len(sessions) * count
    assert marks == {(s, s, f"checksum-{n}") for s in sessions for n in range(count)}
    for drawing in saved:
        number = int(drawing.model_checksum.split("-")[1])
        np.testing.assert_array_equal(drawing.image, image_for(number))


def two_sessions_in_threads(path: str, count: int) -> list[str]:
    """Sessions "a" and "b" each saving ``count`` drawings at once; the errors they met."""
    errors = []

    def save(session: str) -> None:
        try:
            add_many(path, session, count)
        except DigitnetError as error:
            errors.append(str(error))

    threads = [threading.Thread(target=save, args=(session,)) for session in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_two_sessions_making_a_new_collection_at_once_both_keep_their_drawings(tmp_path):
    # The first save creates the file: both sessions may find it new and set it up together.
    # Before the set-up was done under the lock, one in eight such pairs lost a drawing.
    for trial in range(60):
        path = str(tmp_path / f"drawings-{trial}.sqlite")
        assert two_sessions_in_threads(path, 1) == []
        assert_exactly(DrawingStore(path), ["a", "b"], 1)


def test_two_sessions_saving_at_once_in_threads(store, collection_db):
    assert two_sessions_in_threads(collection_db, 40) == []
    assert_exactly(store, ["a", "b"], 40)


def test_two_sessions_saving_at_once_in_two_processes(store, collection_db):
    processes = [
        SPAWN.Process(target=add_many, args=(collection_db, session, 40)) for session in ("a", "b")
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0, 0]
    assert_exactly(store, ["a", "b"], 40)


def test_the_app_killed_mid_write_leaves_only_whole_drawings(store, collection_db):
    writer = SPAWN.Process(target=add_many, args=(collection_db, "doomed", 100_000))
    writer.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(store.list(person="doomed")) < 30:
        time.sleep(0.05)
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()
    assert writer.exitcode == -signal.SIGKILL
    if store.path is not None:
        with sqlite3.connect(store.path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    saved = store.list(person="doomed")
    assert len(saved) >= 30
    assert [int(d.model_checksum.split("-")[1]) for d in saved] == list(range(len(saved)))
    for drawing in saved:
        np.testing.assert_array_equal(drawing.image, image_for(int(drawing.model_checksum[9:])))
    assert store.add(**canvas_drawing(0)) > saved[-1].id


@SQLITE_ONLY
def test_a_corrupt_file_gives_one_line_and_is_left_untouched(store):
    garbage = np.random.default_rng(0).bytes(8192)
    store.path.write_bytes(garbage)
    for action in (
        lambda: store.list(person=ME),
        lambda: store.add(**canvas_drawing()),
        lambda: store.delete_all(person=ME),
    ):
        with pytest.raises(DigitnetError) as error:
            action()
        assert "not a readable drawings database" in single_line(error)
        assert "move it aside" in str(error.value)
    assert store.path.read_bytes() == garbage
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["drawings.sqlite"]


@SQLITE_ONLY
def test_a_locked_file_gives_one_line_and_saves_nothing(store):
    store.add(**canvas_drawing(0))
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        impatient = DrawingStore(store.path, timeout=0.2)
        started = time.monotonic()
        with pytest.raises(DigitnetError) as error:
            impatient.add(**canvas_drawing(1))
        assert "held it locked for over 0.2 s; close it or try again" in single_line(error)
        assert "nothing was saved" in str(error.value)
        assert time.monotonic() - started < 5
        assert len(impatient.list(person=ME)) == 1  # reading still works (WAL: readers never wait)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert len(store.list(person=ME)) == 1
    store.add(**canvas_drawing(1))
    assert len(store.list(person=ME)) == 2


@SQLITE_ONLY
def test_a_read_only_file_can_be_read_but_saving_gives_one_line(store):
    store.add(**canvas_drawing(0))
    before = store.path.read_bytes()
    store.path.chmod(0o444)
    try:
        assert len(store.list(person=ME)) == 1 and store.get(1, person=ME).label == 3
        for action in (
            lambda: store.add(**canvas_drawing(1)),
            lambda: store.delete([1], person=ME),
            lambda: store.delete_all(person=ME),
            lambda: store.import_csv(kaggle_csv([good_row(1)]), person=ME),
        ):
            with pytest.raises(DigitnetError) as error:
                action()
            assert "the file is read-only; make it writable" in single_line(error)
        assert store.path.read_bytes() == before
    finally:
        store.path.chmod(0o644)
    assert len(store.list(person=ME)) == 1


def test_a_read_only_folder_can_be_read_but_saving_gives_one_line(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    store = DrawingStore(folder / "drawings.sqlite")
    store.add(**canvas_drawing(0))
    fresh = DrawingStore(folder / "fresh.sqlite")
    folder.chmod(0o555)
    try:
        assert len(store.list(person=ME)) == 1 and fresh.list(person=ME) == []
        for target in (store, fresh):
            with pytest.raises(DigitnetError) as error:
                target.add(**canvas_drawing(1))
            assert f"its folder {folder} is read-only" in single_line(error)
        assert not fresh.path.exists()
    finally:
        folder.chmod(0o755)
    assert len(store.list(person=ME)) == 1


def test_a_path_that_cannot_be_a_database_gives_one_line(tmp_path):
    (tmp_path / "a-file").write_text("mine")
    for path, problem in (
        (tmp_path, "unable to open database file"),
        (tmp_path / "a-file" / "drawings.sqlite", "cannot make its folder"),
    ):
        with pytest.raises(DigitnetError) as error:
            DrawingStore(path).add(**canvas_drawing())
        assert problem in single_line(error) and "DIGITNET_DB" in str(error.value)
    assert (tmp_path / "a-file").read_text() == "mine"


@SQLITE_ONLY
def test_a_file_from_a_newer_digitnet_gives_one_line_and_nothing_is_written(store):
    with sqlite3.connect(store.path) as connection:
        connection.execute("CREATE TABLE drawings (id INTEGER PRIMARY KEY, future BLOB)")
        connection.execute("INSERT INTO drawings (future) VALUES (x'00')")
        connection.execute(f"PRAGMA user_version = {drawings.SCHEMA_VERSION + 1}")
    before = store.path.read_bytes()
    for action in (
        lambda: store.list(person=ME),
        lambda: store.add(**canvas_drawing()),
        lambda: store.delete_all(person=ME),
    ):
        with pytest.raises(DigitnetError) as error:
            action()
        assert "made by a newer digitnet; upgrade digitnet" in single_line(error)
    assert store.path.read_bytes() == before


@SQLITE_ONLY
def test_another_programs_sqlite_file_is_left_alone(store):
    with sqlite3.connect(store.path) as connection:
        connection.execute("CREATE TABLE recipes (name TEXT)")
    before = store.path.read_bytes()
    for action in (lambda: store.list(person=ME), lambda: store.add(**canvas_drawing())):
        with pytest.raises(DigitnetError) as error:
            action()
        assert "an SQLite file of another program" in single_line(error)
    assert store.path.read_bytes() == before


@SQLITE_ONLY
def test_a_version_1_file_is_migrated_without_losing_rows(store):
    # Written out by hand, as version 1 of digitnet wrote it, so a change to the migrations
    # that would break old files fails here.
    image = image_for(1).tobytes()
    # Strokes: uint32 stroke count, uint32 points per stroke, then float32 x, y pairs.
    two_points = np.array([1, 2], "<u4").tobytes() + np.array([[1, 2], [3, 4]], "<f4").tobytes()
    one_point = np.array([1, 1], "<u4").tobytes() + np.array([[5, 6]], "<f4").tobytes()
    with sqlite3.connect(store.path) as connection:
        connection.execute(
            "CREATE TABLE drawings (id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, "
            "session TEXT NOT NULL, label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9), "
            "prediction INTEGER CHECK (prediction BETWEEN 0 AND 9), probabilities BLOB, "
            "model_checksum TEXT, preprocess_version INTEGER, image BLOB NOT NULL, strokes TEXT, "
            "canvas_width INTEGER, canvas_height INTEGER, brush_width REAL, photo BLOB)"
        )
        connection.executemany(
            "INSERT INTO drawings (created, session, label, prediction, image, strokes, "
            "canvas_width, canvas_height, brush_width, photo) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ("2026-01-01T00:00Z", "s", 1, 7, image, two_points, 280, 280, 9.0, None),
                ("2026-01-02T00:00Z", "s", 2, 2, image, None, None, None, None, b"png"),
                ("2026-01-03T00:00Z", "t", 3, None, image, one_point, 200, 100, 4.0, None),
            ],
        )  # fmt: skip
        connection.execute("PRAGMA user_version = 1")
    saved = store.list(person=ME)
    assert [(d.id, d.label, d.source, d.session) for d in saved] == [
        (1, 1, "canvas", "s"),
        (2, 2, "photo", "s"),
        (3, 3, "canvas", "t"),
    ]
    np.testing.assert_array_equal(saved[0].strokes[0], [[1, 2], [3, 4]])
    assert saved[0].wrong and store.get(2, person=ME).photo == b"png"
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == drawings.SCHEMA_VERSION
    assert store.add(**canvas_drawing(4)) == 4 and len(store.list(person=ME)) == 4


@SQLITE_ONLY
def test_a_version_2_file_is_migrated_keeping_every_drawing_and_marking_duplicates(store):
    # Version 2 as it was written, holding a CSV imported twice (rows 1 and 2) and a canvas
    # drawing with the same label and pixels (3): kept, the later ones marked as duplicates.
    same = (np.arange(784).reshape(28, 28) % 256).astype(np.uint8)
    image, other = (same / np.float32(255)).tobytes(), (same[::-1] / np.float32(255)).tobytes()
    with sqlite3.connect(store.path) as connection:
        connection.execute(
            "CREATE TABLE drawings (id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, "
            "session TEXT NOT NULL, label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9), "
            "prediction INTEGER CHECK (prediction BETWEEN 0 AND 9), probabilities BLOB, "
            "model_checksum TEXT, preprocess_version INTEGER, image BLOB NOT NULL, strokes BLOB, "
            "canvas_width INTEGER, canvas_height INTEGER, brush_width REAL, photo BLOB, "
            "source TEXT NOT NULL DEFAULT 'canvas' "
            "CHECK (source IN ('canvas', 'photo', 'import')))"
        )
        connection.execute("CREATE INDEX drawings_by_label ON drawings (label)")
        connection.execute("CREATE INDEX drawings_by_session ON drawings (session)")
        connection.executemany(
            "INSERT INTO drawings (created, session, source, label, image) VALUES (?, ?, ?, ?, ?)",
            [
                ("2026-01-01T00:00Z", "s", "import", 1, image),
                ("2026-01-02T00:00Z", "s", "import", 1, image),
                ("2026-01-03T00:00Z", "t", "canvas", 1, image),
                ("2026-01-04T00:00Z", "t", "import", 2, image),
                ("2026-01-05T00:00Z", "t", "import", 1, other),
            ],
        )
        connection.execute("PRAGMA user_version = 2")
    assert [(d.id, d.label, d.source) for d in store.list(person=ME)] == [
        (1, 1, "import"), (2, 1, "import"), (3, 1, "canvas"), (4, 2, "import"), (5, 1, "import")
    ]  # fmt: skip
    key = drawings.content_key
    assert contents(store) == [
        (1, 1, key(1, same), 0),
        (2, 1, key(1, same), 1),
        (3, 1, key(1, same), 1),
        (4, 2, key(2, same), 0),
        (5, 1, key(1, same[::-1]), 0),
    ]
    again = kaggle_csv([",".join(map(str, [label, *same.ravel()])) for label in (1, 2, 3)])
    assert store.import_csv(again, person=ME) == drawings.Imported(added=1, skipped=2)
    kept, back = store.split(person=ME)
    assert {d.id for d in kept} >= {1, 2, 3} or {d.id for d in back} >= {1, 2, 3}
