"""The collection in and out as a Kaggle train.csv: an export reads back as the same digits, and
an import is all or nothing, naming every bad row."""

from __future__ import annotations

import io
import os
import signal
import time

import numpy as np
import pytest

from digitnet.data.collection import transfer
from digitnet.data.collection.store import DrawingStore, total
from digitnet.data.collection.transfer import BadRows
from digitnet.data.mnist import read_kaggle_csv
from digitnet.errors import DigitnetError
from tests.test_drawings import (
    SPAWN,
    canvas_drawing,
    good_row,
    image_for,
    kaggle_csv,
    single_line,
)


@pytest.fixture
def store(tmp_path) -> DrawingStore:
    return DrawingStore(tmp_path / "drawings.sqlite")


def test_export_then_import_gives_the_same_digits(store, tmp_path):
    for number in range(5):
        store.add(**canvas_drawing(number, label=number))
    assert store.export_csv(tmp_path / "mine.csv") == 5
    images, labels = read_kaggle_csv(tmp_path / "mine.csv")
    np.testing.assert_array_equal(labels, range(5))
    expected = np.rint(np.stack([image_for(n) for n in range(5)]) * 255).astype(np.uint8)
    np.testing.assert_array_equal(images, expected)
    other = DrawingStore(tmp_path / "other.sqlite")
    assert other.import_csv(tmp_path / "mine.csv") == 5
    imported = other.list()
    assert {d.source for d in imported} == {"import"}
    assert all(d.strokes is None and d.prediction is None for d in imported)
    np.testing.assert_allclose(other.labelled_images()[0], expected / 255, atol=1e-7)
    assert not list(tmp_path.glob(".mine.csv.*"))  # no temporary file left behind


def test_export_of_an_empty_collection_writes_nothing(store, tmp_path):
    with pytest.raises(DigitnetError, match="no drawings to export"):
        store.export_csv(tmp_path / "mine.csv")
    assert not (tmp_path / "mine.csv").exists()


def test_an_import_names_every_bad_row_and_imports_nothing(store):
    store.add(**canvas_drawing())
    rows = [good_row(1), good_row(12), good_row(2), "x" + good_row(3)[1:], good_row(4)]
    rows.append(",".join(["5", *["0"] * 700]))  # cut short
    with pytest.raises(BadRows) as error:
        store.import_csv(kaggle_csv(rows), name="mine.csv")
    assert error.value.problems == [
        "mine.csv, line 3: label '12' is not a digit 0-9; fix or remove that row",
        "mine.csv, line 5: column label holds 'x', which is not a number; fix or remove that row",
        "mine.csv, line 7: the last row is cut short (701 of 785 values); the file looks "
        "truncated, get a complete copy",
    ]
    assert str(error.value).endswith("mine.csv: 3 bad row(s); nothing was imported")
    assert len(store.list()) == 1


def test_an_import_stops_naming_bad_rows_at_the_cap(store):
    rows = [good_row(1), *[good_row(10)] * 30]
    with pytest.raises(BadRows) as error:
        store.import_csv(kaggle_csv(rows), name="many.csv")
    assert len(error.value.problems) == transfer.MAX_REPORTED_ROWS
    assert error.value.problems[-1].startswith(f"many.csv, line {transfer.MAX_REPORTED_ROWS + 2}:")
    assert "stopped looking" in str(error.value) and store.list() == []


def test_an_import_of_a_bad_header_is_one_line(store):
    with pytest.raises(DigitnetError) as error:
        store.import_csv(b"label,pixels\n1,2\n", name="odd.csv")
    assert single_line(error).startswith("odd.csv, line 1: the header has 2 columns")


def test_an_import_of_a_test_csv_without_labels_is_refused(store):
    header = ",".join(f"pixel{i}" for i in range(784))
    with pytest.raises(DigitnetError, match="no label column"):
        store.import_csv(f"{header}\n{','.join(['0'] * 784)}\n".encode(), name="test.csv")
    assert store.list() == []


def test_an_uploaded_file_imports_under_its_own_name(store):
    upload = io.BytesIO(kaggle_csv([good_row(8), good_row(80)]))
    upload.name = "upload.csv"
    with pytest.raises(BadRows, match="upload.csv, line 3: label '80'"):
        store.import_csv(upload)
    assert store.import_csv(io.BytesIO(kaggle_csv([good_row(8)])), session="class-7b") == 1
    assert store.list()[0].session == "class-7b"


def import_forever(path: str, csv: str) -> None:
    store = DrawingStore(path, timeout=30)
    while True:
        store.import_csv(csv)


def test_the_app_killed_during_imports_leaves_whole_imports_only(store, tmp_path):
    batch = 1500
    (tmp_path / "batch.csv").write_bytes(kaggle_csv([good_row(n % 10) for n in range(batch)]))
    writer = SPAWN.Process(
        target=import_forever, args=(str(store.path), str(tmp_path / "batch.csv"))
    )
    writer.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and total(store.counts_by_digit().values()).drawings < batch:
        time.sleep(0.02)
    time.sleep(0.3)  # into the next import: reading the file, or inserting its rows
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()
    saved = total(store.counts_by_digit().values()).drawings
    assert saved >= batch and saved % batch == 0
