"""``python -m digitnet drawings list|export|import|delete`` on a collection in tmp_path."""

from __future__ import annotations

import numpy as np
import pytest

from digitnet.cli import main
from digitnet.data.collection.store import DrawingStore
from digitnet.data.mnist import read_kaggle_csv
from tests.test_drawings import (
    ME,
    SQLITE_ONLY,
    canvas_drawing,
    contents,
    count_parses,
    full_disk,
    good_row,
    image_for,
    kaggle_csv,
)


@pytest.fixture
def store(collection_db, monkeypatch) -> DrawingStore:
    """The collection DIGITNET_DB names: a new one, in SQLite and in PostgreSQL."""
    monkeypatch.setenv("DIGITNET_DB", collection_db)
    return DrawingStore()


def test_list_shows_counts_and_accuracy_per_digit(store, capsys):
    for number, (label, prediction) in enumerate([(2, 2), (2, 7), (2, 2), (5, None), (5, 5)]):
        store.add(**canvas_drawing(number, label=label, prediction=prediction))
    assert main(["drawings", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"drawings of local in {store.where}"
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert rows["2"] == ["3", "3", "2", "66.7%"]
    assert rows["5"] == ["2", "1", "1", "100.0%"]
    assert rows["0"] == ["0", "0", "0", "-"]
    assert rows["all"] == ["5", "4", "3", "75.0%"]


def test_list_each_shows_one_line_per_drawing_with_its_id(store, capsys):
    first = store.add(**canvas_drawing(0, label=1, prediction=7))
    second = store.add(**canvas_drawing(1, label=2, prediction=None, session="s2"))
    assert main(["drawings", "list", "--each"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "id", "created", "label", "predicted", "source", "shared", "person", "session"
    ]  # fmt: skip
    assert [line.split()[:1] + line.split()[2:] for line in lines[1:3]] == [
        [str(first), "1", "7", "canvas", "no", "local", "session-a"],
        [str(second), "2", "-", "canvas", "no", "local", "s2"],
    ]
    assert lines[3] == f"drawings of local in {store.where}"


@SQLITE_ONLY
def test_list_of_no_collection_creates_no_file(store, capsys):
    assert main(["drawings", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split() == ["all", "0", "0", "0", "-"]
    assert not store.path.exists()


def test_export_writes_a_kaggle_csv(store, tmp_path, capsys):
    for number in range(3):
        store.add(**canvas_drawing(number, label=number + 4))
    assert main(["drawings", "export", str(tmp_path / "mine.csv")]) == 0
    assert capsys.readouterr().out == f"wrote 3 drawings to {tmp_path / 'mine.csv'}\n"
    images, labels = read_kaggle_csv(tmp_path / "mine.csv")
    np.testing.assert_array_equal(labels, [4, 5, 6])
    np.testing.assert_array_equal(images[1], np.rint(image_for(1) * 255).astype(np.uint8))


def test_import_adds_every_row(store, tmp_path, capsys):
    (tmp_path / "in.csv").write_bytes(kaggle_csv([good_row(1), good_row(9)]))
    assert main(["drawings", "import", str(tmp_path / "in.csv")]) == 0
    assert capsys.readouterr().out == f"imported 2 drawings of local in {store.where}\n"
    assert [(d.label, d.source) for d in store.list(person=ME)] == [(1, "import"), (9, "import")]


def test_import_with_bad_rows_prints_one_line_each_and_imports_nothing(store, tmp_path, capsys):
    csv = tmp_path / "in.csv"
    csv.write_bytes(kaggle_csv([good_row(1), good_row(11), good_row(2), good_row(-3)]))
    assert main(["drawings", "import", str(csv)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {csv}, line 3: label '11' is not a digit 0-9; fix or remove that row",
        f"{csv}, line 5: label '-3' is not a digit 0-9; fix or remove that row",
        f"{csv}: 2 bad row(s); nothing was imported",
    ]
    assert store.list(person=ME) == []


def test_import_reads_the_file_once_and_names_20_bad_rows_counting_all(
    store, tmp_path, capsys, monkeypatch
):
    parses = count_parses(monkeypatch)
    csv = tmp_path / "in.csv"
    rows = [good_row(n % 10, n) for n in range(500)]
    bad = range(10, 500, 20)  # 25 bad labels (10, 11, 12) spread through the file
    for n in bad:
        rows[n] = good_row(10 + n % 3, n)
    csv.write_bytes(kaggle_csv(rows))
    assert main(["drawings", "import", str(csv)]) == 2
    named = [
        f"{csv}, line {n + 2}: label '{10 + n % 3}' is not a digit 0-9; fix or remove that row"
        for n in bad[:20]
    ]
    assert capsys.readouterr().err.splitlines() == [
        f"error: {named[0]}",
        *named[1:],
        f"{csv}: 25 bad row(s), the first 20 of them named; nothing was imported",
    ]
    assert len(parses) == 1 and store.list(person=ME) == []


def test_import_twice_skips_the_drawings_already_in_the_collection(store, tmp_path, capsys):
    (tmp_path / "in.csv").write_bytes(kaggle_csv([good_row(n % 10, n) for n in range(100)]))
    assert main(["drawings", "import", str(tmp_path / "in.csv")]) == 0
    assert main(["drawings", "import", str(tmp_path / "in.csv")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"imported 100 drawings of local in {store.where}",
        f"imported 0 drawings of local in {store.where}, skipped 100 already in the collection",
    ]
    assert len(store.list(person=ME)) == 100


@SQLITE_ONLY
def test_import_on_a_full_disk_says_disk_full_and_keeps_the_collection(
    store, tmp_path, capsys, monkeypatch
):
    store.add(**canvas_drawing())
    before = contents(store)
    (tmp_path / "in.csv").write_bytes(kaggle_csv([good_row(n % 10, n) for n in range(500)]))
    with monkeypatch.context() as disk:
        full_disk(disk)
        assert main(["drawings", "import", str(tmp_path / "in.csv")]) == 2
    assert capsys.readouterr().err == (
        f"error: {store.path}: disk full: free some space on its disk, or set DIGITNET_DB to a "
        "file on another disk (nothing was imported)\n"
    )
    assert contents(store) == before


def test_import_of_a_missing_file_is_one_line(store, tmp_path, capsys):
    assert main(["drawings", "import", str(tmp_path / "nope.csv")]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'nope.csv'}: cannot read the file (No such file or directory)\n"
    )


def test_delete_by_id(store, capsys):
    ids = [store.add(**canvas_drawing(n)) for n in range(3)]
    assert main(["drawings", "delete", "--id", str(ids[0]), str(ids[2])]) == 0
    assert capsys.readouterr().out == f"deleted 2 drawings of local in {store.where}\n"
    assert [d.id for d in store.list(person=ME)] == [ids[1]]


def test_delete_of_an_unknown_id_deletes_nothing(store, capsys):
    ids = [store.add(**canvas_drawing(n)) for n in range(2)]
    assert main(["drawings", "delete", "--id", str(ids[0]), "42"]) == 2
    assert "no drawing with id 42" in capsys.readouterr().err
    assert [d.id for d in store.list(person=ME)] == ids


def test_delete_all_needs_yes(store, capsys):
    for number in range(3):
        store.add(**canvas_drawing(number))
    assert main(["drawings", "delete", "--all"]) == 2
    assert capsys.readouterr().err == (
        f"error: delete --all would delete all 3 drawings of local in {store.where}; add --yes "
        "to confirm\n"
    )
    assert len(store.list(person=ME)) == 3
    assert main(["drawings", "delete", "--all", "--yes"]) == 0
    assert capsys.readouterr().out == f"deleted 3 drawings of local in {store.where}\n"
    assert store.list(person=ME) == []


def test_delete_needs_ids_or_all(store, capsys):
    with pytest.raises(SystemExit) as exit_status:
        main(["drawings", "delete"])
    assert exit_status.value.code == 2
    assert "one of the arguments --id --all is required" in capsys.readouterr().err


@SQLITE_ONLY
def test_a_corrupt_collection_is_one_line_and_left_as_it_is(store, capsys):
    store.path.write_bytes(b"not sqlite at all" * 100)
    assert main(["drawings", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a readable drawings database" in err
    assert store.path.read_bytes() == b"not sqlite at all" * 100
