"""People in the collection (issue 17): each person reads, counts, splits, exports and deletes
their own drawings only; a person shares drawings with the class and a teacher removes shared
ones; personal links keep only a hash of their token; the per-person limits hold; an older file
keeps every drawing as the local person's. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import sqlite3

import pytest

from digitnet.cli import main
from digitnet.data.collection import sql
from digitnet.data.collection import store as drawings
from digitnet.data.collection.limits import Limits
from digitnet.data.collection.store import LOCAL_PERSON, DrawingStore, total
from digitnet.data.negatives import NOT_A_DIGIT
from digitnet.errors import DigitnetError
from tests.test_drawings import (
    SPAWN,
    canvas_drawing,
    good_row,
    image_for,
    kaggle_csv,
    single_line,
)


def ann_and_bob(store: DrawingStore) -> tuple[list[int], list[int]]:
    """Ann saves three drawings, Bob two; their ids."""
    ann = [store.add(**canvas_drawing(n, label=n, person="ann")) for n in range(3)]
    bob = [store.add(**canvas_drawing(n, label=n, person="bob")) for n in range(3, 5)]
    return ann, bob


def test_each_person_reads_counts_and_splits_their_own_drawings_only(store, tmp_path):
    ann, bob = ann_and_bob(store)
    assert [d.id for d in store.list(person="ann")] == ann
    assert [d.id for d in store.list(person="bob")] == bob
    assert [d.id for d in store.list(person=None)] == ann + bob
    assert store.list(person="carol") == []
    assert total(store.counts_by_digit(person="bob").values()).drawings == 2
    assert store.labelled_images(person="ann")[1].tolist() == [0, 1, 2]
    kept, back = store.split(held_back=0.5, person="bob")
    assert sorted(d.id for d in kept + back) == bob
    assert store.export_csv(tmp_path / "bob.csv", person="bob") == 2
    assert store.get(ann[0], person="ann").person == "ann"
    with pytest.raises(DigitnetError, match=f"no drawing with id {ann[0]} of bob in"):
        store.get(ann[0], person="bob")


def test_deleting_is_of_the_persons_own_drawings_only(store):
    ann, bob = ann_and_bob(store)
    with pytest.raises(DigitnetError) as error:
        store.delete([bob[0], ann[0]], person="ann")
    assert f"no drawing with id {bob[0]} of ann in" in single_line(error)
    assert "nothing was deleted" in str(error.value)
    assert store.delete_all(person="ann") == 3
    assert [d.id for d in store.list(person=None)] == bob


def test_the_same_drawing_is_each_persons_own_and_an_import_skips_only_their_own(store):
    rows = kaggle_csv([good_row(n % 10, n) for n in range(5)])
    assert store.import_csv(rows, person="ann") == drawings.Imported(added=5, skipped=0)
    assert store.import_csv(rows, person="bob") == drawings.Imported(added=5, skipped=0)
    assert store.import_csv(rows, person="bob") == drawings.Imported(added=0, skipped=5)
    store.add(**canvas_drawing(0, person="ann"))
    store.add(**canvas_drawing(0, person="bob"))  # not a duplicate: Bob's first of it
    store.add(**canvas_drawing(0, person="bob"))
    with store.database.reading() as connection:
        marks = connection.execute(
            "SELECT person, duplicate FROM drawings WHERE source = 'canvas' ORDER BY id"
        ).fetchall()
    assert [tuple(mark) for mark in marks] == [("ann", 0), ("bob", 0), ("bob", 1)]


def test_a_person_shares_drawings_and_a_teacher_removes_shared_ones_only(store):
    ann, bob = ann_and_bob(store)
    assert store.list(person=None, shared_only=True) == []
    assert store.set_shared(ann[:2], True, person="ann") == 2
    with pytest.raises(DigitnetError, match="nothing was changed"):
        store.set_shared([bob[0]], True, person="ann")  # not hers
    assert [d.id for d in store.list(person=None, shared_only=True)] == ann[:2]
    assert store.get(ann[0], person="ann").shared and not store.get(ann[2], person="ann").shared
    kept, back = store.split(person=None, shared_only=True)
    assert sorted(d.id for d in kept + back) == ann[:2]
    with pytest.raises(DigitnetError, match=f"no drawing with id {ann[2]} shared in"):
        store.delete([ann[0], ann[2]], person=None, shared_only=True)  # unshared: not a teacher's
    assert store.delete([ann[0]], person=None, shared_only=True) == 1
    assert store.set_shared([ann[1]], False, person="ann") == 1
    assert store.list(person=None, shared_only=True) == []
    shared = store.add(**canvas_drawing(9, person="bob", shared=True))
    assert [d.id for d in store.list(person="bob", shared_only=True)] == [shared]


def test_not_a_digit_is_label_10_and_is_counted_but_never_exported(store, tmp_path):
    read_as_not_a_digit = {"prediction": NOT_A_DIGIT}  # the ten digits' probabilities: none
    store.add(**canvas_drawing(1, label=NOT_A_DIGIT, prediction=None) | read_as_not_a_digit)
    store.add(**canvas_drawing(2, label=4, prediction=None) | read_as_not_a_digit)
    counts = store.counts_by_digit(person=LOCAL_PERSON)
    assert sorted(counts) == list(range(11))
    assert counts[NOT_A_DIGIT] == drawings.DigitCount(drawings=1, predicted=1, right=1)
    assert store.list(wrong_only=True, person=LOCAL_PERSON)[0].label == 4
    assert store.export_csv(tmp_path / "mine.csv", person=LOCAL_PERSON) == 1


def test_a_personal_link_keeps_only_a_hash_of_its_token(store):
    person, token = store.new_personal_link()
    other, other_token = store.new_personal_link()
    assert person != other and token != other_token and len(token) >= 40
    assert store.person_for_token(token) == person
    assert store.person_for_token(other_token) == other
    for unknown in (token[:-1], "", None, 42, "x" * 10_000):
        assert store.person_for_token(unknown) is None
    with store.database.reading() as connection:
        kept = [bytes(value) for (value,) in connection.execute("SELECT token_hash FROM people")]
    assert len(kept) == 2 and all(token.encode() not in value for value in kept)


def test_saved_models_are_kept_by_name_and_a_taken_name_is_not_replaced(store):
    assert store.save_model("mine", "ann", b"first", replace=False)
    assert not store.save_model("mine", "bob", b"second", replace=False)
    assert store.model_weights("mine") == b"first"
    assert store.save_model("mine", "bob", b"third", replace=True)
    assert store.model_weights("mine") == b"third" and store.model_weights("nope") is None
    assert [name for name, _ in store.saved_models()] == ["mine"]


# --- limits ------------------------------------------------------------------------------------


def test_a_person_keeps_at_most_their_limit_of_drawings(collection_db):
    store = DrawingStore(collection_db, limits=Limits(drawings_per_person=3))
    for number in range(3):
        store.add(**canvas_drawing(number, person="ann"))
    with pytest.raises(DigitnetError) as error:
        store.add(**canvas_drawing(3, person="ann"))
    assert single_line(error) == (
        "ann would have 4 drawings, more than one person may keep (3); delete some first "
        "(nothing was saved)"
    )
    store.add(**canvas_drawing(3, person="bob"))  # another person's room is their own
    with pytest.raises(DigitnetError, match="bob would have 5 drawings"):
        store.import_csv(kaggle_csv([good_row(n % 10, n) for n in range(4)]), person="bob")
    assert len(store.list(person="bob")) == 1  # nothing of the import was kept


def test_an_import_holds_at_most_its_limit_of_rows(collection_db):
    store = DrawingStore(collection_db, limits=Limits(import_rows=3))
    with pytest.raises(DigitnetError) as error:
        store.import_csv(kaggle_csv([good_row(n % 10, n) for n in range(4)]), person="ann")
    assert single_line(error) == (
        "4 rows are more than one import may add (3); import the file in parts "
        "(nothing was imported)"
    )
    assert store.import_csv(kaggle_csv([good_row(1, 1)]), person="ann").added == 1


def test_saves_a_minute_are_counted_in_the_database_for_every_server(collection_db):
    one, two = (DrawingStore(collection_db, limits=Limits(saves_per_minute=2)) for _ in "12")
    one.add(**canvas_drawing(0, person="ann"))
    two.add(**canvas_drawing(1, person="ann"))
    with pytest.raises(DigitnetError) as error:
        one.add(**canvas_drawing(2, person="ann"))
    assert single_line(error) == (
        "2 drawings saved in the last minute, the most one person may save; wait a moment and "
        "save again (nothing was saved)"
    )
    two.add(**canvas_drawing(2, person="bob"))
    one.import_csv(kaggle_csv([good_row(1, 1)]), person="ann")  # an import is not a save


def test_limits_come_from_the_environment_or_are_one_line(monkeypatch):
    monkeypatch.setenv("DIGITNET_MAX_DRAWINGS_PER_PERSON", "500")
    monkeypatch.setenv("DIGITNET_MAX_SAVES_PER_MINUTE", "7")
    assert Limits.from_environment() == Limits(drawings_per_person=500, saves_per_minute=7)
    monkeypatch.setenv("DIGITNET_MAX_IMPORT_ROWS", "lots")
    with pytest.raises(DigitnetError) as error:
        Limits.from_environment()
    assert (
        single_line(error) == "DIGITNET_MAX_IMPORT_ROWS must be a whole number above 0, got 'lots'"
    )


# --- the database ------------------------------------------------------------------------------


def test_a_version_3_database_keeps_every_drawing_as_the_local_persons(store, collection_db):
    if store.path is not None:
        raw, version = sqlite3.connect(store.path), "PRAGMA user_version = 3"
    else:
        import psycopg

        raw, version = psycopg.connect(collection_db, autocommit=True), None
    with raw:  # a database as schema 3 left it: four drawings, the last one deleted
        connection = sql.Connection(raw, store.database.dialect)
        sql.migrate(connection, 0, drawings.MIGRATIONS[:3])
        for number in range(4):
            image = image_for(number)
            connection.execute(
                "INSERT INTO drawings (created, session, label, image, content) "
                "VALUES ('2026-01-01T00:00Z', 's', ?, ?, ?)",
                (number, image.tobytes(), drawings.content_key(number, image)),
            )
        connection.execute("DELETE FROM drawings WHERE id = 4")  # its id is never used again
        if version:
            connection.execute(version)
        else:
            connection.execute("CREATE TABLE schema_version AS SELECT 3 AS version")
    raw.close()
    saved = store.list(person=None)
    assert [(d.id, d.person, d.label, d.shared) for d in saved] == [
        (1, LOCAL_PERSON, 0, False), (2, LOCAL_PERSON, 1, False), (3, LOCAL_PERSON, 2, False)
    ]  # fmt: skip
    assert store.add(**canvas_drawing(9, label=NOT_A_DIGIT)) == 5
    assert store.import_csv(kaggle_csv([good_row(1, 1)]), person=LOCAL_PERSON).added == 1
    with store.database.reading() as connection:
        assert connection.execute("SELECT count(*) FROM drawings").fetchone()[0] == 5


def test_an_unreachable_postgresql_is_one_line_without_its_password(tmp_path):
    url = f"postgresql://ann:secret@localhost/nothing?host={tmp_path}"
    with pytest.raises(DigitnetError) as error:
        DrawingStore(url, timeout=1).list(person=None)
    message = single_line(error)
    assert "cannot reach PostgreSQL" in message and "DIGITNET_DB" in message
    assert "secret" not in message and "ann:***@" in message


def test_a_postgresql_database_of_a_newer_digitnet_is_left_alone(postgres_url):
    import psycopg

    DrawingStore(postgres_url).add(**canvas_drawing(0))
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("UPDATE schema_version SET version = version + 1")
    sql.Postgres._current.discard(postgres_url)  # as a new process would find it
    with pytest.raises(DigitnetError) as error:
        DrawingStore(postgres_url).list(person=None)
    assert "made by a newer digitnet; upgrade digitnet" in single_line(error)


# --- the command line: two people at once ------------------------------------------------------


def import_as(person: str, csv: str, where: str) -> int:
    """``drawings import --person`` in a process of its own."""
    os.environ["DIGITNET_DB"] = where
    return main(["drawings", "import", "--person", person, csv])


def test_two_people_import_at_once_and_each_lists_and_deletes_their_own(
    collection_db, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DIGITNET_DB", collection_db)
    csv = tmp_path / "class.csv"
    csv.write_bytes(kaggle_csv([good_row(n % 10, n) for n in range(125)]))
    with SPAWN.Pool(2) as pool:
        codes = pool.starmap(import_as, [(p, str(csv), collection_db) for p in ("ann", "bob")])
    assert codes == [0, 0]
    for person in ("ann", "bob"):
        assert main(["drawings", "list", "--person", person]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].startswith(f"drawings of {person} in ")
        assert lines[-1].split() == ["all", "125", "0", "0", "-"]
    assert main(["drawings", "delete", "--person", "ann", "--all", "--yes"]) == 0
    assert capsys.readouterr().out.startswith("deleted 125 drawings of ann in ")
    assert main(["drawings", "list", "--everyone"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split() == ["all", "125", "0", "0", "-"]
    assert {d.person for d in DrawingStore().list(person=None)} == {"bob"}


def test_a_bad_person_on_the_command_line_is_one_line(collection_db, monkeypatch, capsys):
    monkeypatch.setenv("DIGITNET_DB", collection_db)
    assert main(["drawings", "list", "--person", "ann smith"]) == 2
    assert capsys.readouterr().err == (
        "error: a person is named by 1 to 254 characters without spaces, got 'ann smith'\n"
    )


def test_fine_tuning_on_one_persons_drawings_in_postgresql(
    postgres_url, fixture_model_file, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DIGITNET_DB", postgres_url)
    store = DrawingStore(limits=Limits(saves_per_minute=100))
    for number in range(40):
        store.add(**canvas_drawing(number, label=number % 10, person="ann"))
    for number in range(4):
        store.add(**canvas_drawing(number, label=number, person="bob"))
    out = tmp_path / "ann.npz"
    argv = ["train", "--fine-tune", str(fixture_model_file), "--mine", "--steps", "5"]
    assert main([*argv, "--person", "ann", "--out", str(out)]) == 0
    kept, back = store.split(person="ann")
    assert f"on {len(kept)} drawings, {len(back)} held back" in capsys.readouterr().out
    assert out.is_file()
    assert main([*argv, "--person", "bob", "--out", str(tmp_path / "bob.npz")]) == 2
    assert "too few drawings" in capsys.readouterr().err
    assert not (tmp_path / "bob.npz").exists()
