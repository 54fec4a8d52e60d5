"""The collection in and out as a Kaggle train.csv: an export reads back as the same digits, and
an import is all or nothing, reads the file once, names the bad rows and counts them all, skips
the drawings already in the collection, and says so when the disk is full."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import time

import numpy as np
import pytest

from digitnet.data.collection import transfer
from digitnet.data.collection.store import DrawingStore, Imported, total
from digitnet.data.collection.transfer import BadRows
from digitnet.data.mnist import read_kaggle_csv
from digitnet.errors import DigitnetError
from tests.test_drawings import (
    ME,
    SPAWN,
    SQLITE_ONLY,
    canvas_drawing,
    contents,
    count_parses,
    full_disk,
    good_row,
    image_for,
    kaggle_csv,
    single_line,
)


def test_export_then_import_gives_the_same_digits(store, tmp_path):
    for number in range(5):
        store.add(**canvas_drawing(number, label=number))
    assert store.export_csv(tmp_path / "mine.csv", person=ME) == 5
    images, labels = read_kaggle_csv(tmp_path / "mine.csv")
    np.testing.assert_array_equal(labels, range(5))
    expected = np.rint(np.stack([image_for(n) for n in range(5)]) * 255).astype(np.uint8)
    np.testing.assert_array_equal(images, expected)
    other = DrawingStore(tmp_path / "other.sqlite")
    assert other.import_csv(tmp_path / "mine.csv", person=ME) == Imported(added=5, skipped=0)
    imported = other.list(person=ME)
    assert {d.source for d in imported} == {"import"}
    assert all(d.strokes is None and d.prediction is None for d in imported)
    np.testing.assert_allclose(other.labelled_images(person=ME)[0], expected / 255, atol=1e-7)
    assert not list(tmp_path.glob(".mine.csv.*"))  # no temporary file left behind


def test_export_of_an_empty_collection_writes_nothing(store, tmp_path):
    with pytest.raises(DigitnetError, match="no drawings to export"):
        store.export_csv(tmp_path / "mine.csv", person=ME)
    assert not (tmp_path / "mine.csv").exists()


def test_an_import_reads_the_file_once_and_names_every_bad_row(store, monkeypatch):
    store.add(**canvas_drawing())
    monkeypatch.setattr(transfer, "ROWS_AT_ONCE", 2)  # the bad rows in different chunks
    parses = count_parses(monkeypatch)
    rows = [good_row(1), good_row(12), good_row(2), "x" + good_row(3)[1:], good_row(4)]
    rows += [good_row(5, 1) + ",0", good_row(6), "", good_row(7, 2).replace(",0,", ",1.5,", 1)]
    rows += [good_row(8, 3), good_row(9, 4)[:-3] + "TRUE", ",".join(["5", *["0"] * 700])]
    with pytest.raises(BadRows) as error:
        store.import_csv(kaggle_csv(rows), name="mine.csv", person=ME)
    assert error.value.problems == [
        "mine.csv, line 3: label '12' is not a digit 0-9; fix or remove that row",
        "mine.csv, line 5: column label holds 'x', which is not a number; fix or remove that row",
        "mine.csv, line 7: 786 values, expected 785 like the header; fix or remove that row",
        "mine.csv, line 9: empty line; remove it",
        "mine.csv, line 10: column pixel0 holds '1.5', not a whole number from 0 to 255; fix or "
        "remove that row",
        "mine.csv, line 12: column pixel783 holds 'TRUE', which is not a number; fix or remove "
        "that row",
        "mine.csv, line 13: the last row is cut short (701 of 785 values); the file looks "
        "truncated, get a complete copy",
    ]
    assert str(error.value).endswith("mine.csv: 7 bad row(s); nothing was imported")
    assert error.value.count == 7 and len(parses) == 1
    assert len(store.list(person=ME)) == 1


def test_an_import_names_the_first_20_bad_rows_and_counts_them_all(store):
    rows = [good_row(1), *[good_row(10)] * 30, good_row(2), good_row(99)]
    with pytest.raises(BadRows) as error:
        store.import_csv(kaggle_csv(rows), name="many.csv", person=ME)
    assert len(error.value.problems) == transfer.MAX_REPORTED_ROWS == 20
    assert error.value.problems[-1].startswith("many.csv, line 22: label '10'")
    assert error.value.count == 31
    assert str(error.value).endswith(
        "many.csv: 31 bad row(s), the first 20 of them named; nothing was imported"
    )
    assert store.list(person=ME) == []


def test_importing_the_same_csv_twice_adds_its_drawings_once(store, tmp_path):
    rows = [good_row(n % 10, n) for n in range(100)]
    assert store.import_csv(kaggle_csv(rows), person=ME) == Imported(added=100, skipped=0)
    assert store.import_csv(kaggle_csv(rows), person=ME) == Imported(added=0, skipped=100)
    # A row met earlier in the same file, and an export of the collection, add nothing either.
    again = kaggle_csv([good_row(3, 1000), good_row(3, 1000), good_row(4, 1000), rows[5]])
    assert store.import_csv(again, person=ME) == Imported(added=2, skipped=2)
    store.export_csv(tmp_path / "all.csv", person=ME)
    assert store.import_csv(tmp_path / "all.csv", person=ME) == Imported(added=0, skipped=102)
    assert len(store.list(person=ME)) == 102


@SQLITE_ONLY
def test_a_full_disk_during_an_import_says_disk_full_and_keeps_the_collection(store, monkeypatch):
    store.import_csv(kaggle_csv([good_row(n % 10, n) for n in range(5)]), person=ME)
    before = contents(store)
    with monkeypatch.context() as disk, pytest.raises(DigitnetError) as error:
        full_disk(disk)
        store.import_csv(kaggle_csv([good_row(n % 10, n) for n in range(5, 500)]), person=ME)
    assert single_line(error) == (
        f"{store.path}: disk full: free some space on its disk, or set DIGITNET_DB to a file on "
        "another disk (nothing was imported)"
    )
    assert contents(store) == before
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_import_of_a_bad_header_is_one_line(store):
    with pytest.raises(DigitnetError) as error:
        store.import_csv(b"label,pixels\n1,2\n", name="odd.csv", person=ME)
    assert single_line(error).startswith("odd.csv, line 1: the header has 2 columns")


def test_an_import_of_a_test_csv_without_labels_is_refused(store):
    header = ",".join(f"pixel{i}" for i in range(784))
    with pytest.raises(DigitnetError, match="no label column"):
        store.import_csv(
            f"{header}\n{','.join(['0'] * 784)}\n".encode(), name="test.csv", person=ME
        )
    assert store.list(person=ME) == []


def test_an_uploaded_file_imports_under_its_own_name(store):
    upload = io.BytesIO(kaggle_csv([good_row(8), good_row(80)]))
    upload.name = "upload.csv"
    with pytest.raises(BadRows, match="upload.csv, line 3: label '80'"):
        store.import_csv(upload, person=ME)
    assert (
        store.import_csv(io.BytesIO(kaggle_csv([good_row(8)])), session="class-7b", person=ME).added
        == 1
    )
    assert store.list(person=ME)[0].session == "class-7b"


def import_forever(path: str, batch: int) -> None:
    """Imports of ``batch`` new drawings each, one after the other."""
    store = DrawingStore(path, timeout=30)
    for start in range(0, 2**24, batch):
        store.import_csv(
            kaggle_csv([good_row(n % 10, n) for n in range(start, start + batch)]), person=ME
        )


def test_the_app_killed_during_imports_leaves_whole_imports_only(store, collection_db):
    batch = 1500
    writer = SPAWN.Process(target=import_forever, args=(collection_db, batch))
    writer.start()
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and total(store.counts_by_digit(person=ME).values()).drawings < batch
    ):
        time.sleep(0.02)
    time.sleep(0.3)  # into the next import: reading the file, or inserting its rows
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()
    saved = total(store.counts_by_digit(person=ME).values()).drawings
    assert saved >= batch and saved % batch == 0
