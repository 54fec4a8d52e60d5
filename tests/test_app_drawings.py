"""The My drawings page (pages/drawings_page.py) in AppTest, on a collection in tmp_path
(DIGITNET_DB) holding MNIST test digits saved by this session and by another one."""

from __future__ import annotations

import io

import numpy as np
import pytest

from digitnet import load_model
from digitnet.data.collection.store import DB_ENV, LOCAL_PERSON, DrawingStore
from digitnet.data.mnist import read_kaggle_csv
from digitnet.images import NOT_A_DIGIT
from pages.common.collection import SESSION_ID
from pages.drawings_page import EMPTY, SCOPES, csv_bytes
from tests.test_drawings import contents, count_parses, full_disk

MINE, OTHER = "this-session", "another-session"
PAGE = "pages/drawings_page.py"


@pytest.fixture
def database(tmp_path, monkeypatch) -> DrawingStore:
    """The app's collection: DIGITNET_DB in tmp_path."""
    monkeypatch.setenv(DB_ENV, str(tmp_path / "drawings.sqlite"))
    return DrawingStore()


@pytest.fixture
def saved(database, mnist) -> DrawingStore:
    """Eight drawings of this session (every third read wrong when saved), four of another."""
    for index in range(12):
        label = int(mnist.test_labels[index])
        database.add(
            person=LOCAL_PERSON,
            label=label,
            image=mnist.test_images[index] / 255,
            session=MINE if index < 8 else OTHER,
            photo=b"a photo",
            prediction=(label + 1) % 10 if index % 3 == 0 else label,
        )
    return database


def open_drawings(open_app):
    """The page, in a session whose id is MINE."""
    app = open_app(PAGE)
    app.session_state[SESSION_ID] = MINE
    return app.run()


def captions(app) -> list[str]:
    return [box.label for box in app.checkbox if box.key.startswith("pick-")]


def test_an_empty_collection_points_to_the_draw_page(open_app, database):
    app = open_app(PAGE)
    assert not app.exception
    assert [info.value for info in app.info] == [EMPTY]
    assert app.get("page_link"), "no link to the Draw page"
    assert not captions(app)


def test_the_grid_shows_this_sessions_drawings_then_everyones(open_app, saved):
    app = open_drawings(open_app)
    assert not app.exception
    mine = saved.list(session=MINE, person=LOCAL_PERSON)
    assert captions(app) == [
        f"**{d.label}**, " + (f":red[read {d.prediction}]" if d.wrong else f"read {d.label}")
        for d in mine
    ]
    assert app.metric[0].value == "8"
    app.segmented_control(key="drawings_scope").set_value(SCOPES[1]).run()
    assert len(captions(app)) == 12
    assert app.metric[0].value == "12"


def test_counts_and_accuracy_then_and_now(open_app, saved, fixture_model_file):
    app = open_drawings(open_app)
    mine = saved.list(session=MINE, person=LOCAL_PERSON)
    labels = np.array([d.label for d in mine])
    then = np.mean([d.prediction == d.label for d in mine])
    images = np.stack([d.image for d in mine])
    now = np.mean(load_model(fixture_model_file).predict(images) == labels)
    assert app.metric[1].value == f"{then:.0%}" == "62%"  # 5 of 8
    assert app.metric[2].value == f"{now:.0%}"
    table = app.table[0].value
    assert list(table.columns) == [*map(str, range(10)), "all"]
    assert [int(table.loc["drawings", str(d)]) for d in range(10)] == [
        int((labels == d).sum()) for d in range(10)
    ]
    assert table.loc["drawings", "all"] == "8"
    assert table.loc["right when saved", "all"] == f"{then:.0%}"
    assert table.loc["right now", "all"] == f"{now:.0%}"
    absent = next(d for d in range(10) if d not in labels)
    assert table.loc["right now", str(absent)] == ""


def test_filters_by_digit_and_wrong_only(open_app, saved):
    app = open_drawings(open_app)
    app.checkbox(key="drawings_wrong").check().run()
    wrong = [d for d in saved.list(session=MINE, person=LOCAL_PERSON) if d.wrong]
    assert len(captions(app)) == len(wrong) == 3
    assert all(":red[" in caption for caption in captions(app))
    app.checkbox(key="drawings_wrong").uncheck().run()
    digit = saved.list(session=MINE, person=LOCAL_PERSON)[0].label
    app.selectbox(key="drawings_digit").set_value(digit).run()
    assert captions(app) and all(c.startswith(f"**{digit}**") for c in captions(app))
    assert len(captions(app)) == len(saved.list(digit=digit, session=MINE, person=LOCAL_PERSON))


def test_delete_the_picked(open_app, saved):
    app = open_drawings(open_app)
    assert app.button(key="delete_picked").disabled
    first, second, *rest = saved.list(session=MINE, person=LOCAL_PERSON)
    app.checkbox(key=f"pick-{first.id}").check()
    app.checkbox(key=f"pick-{second.id}").check().run()
    assert app.button(key="delete_picked").label == "Delete the 2 picked"
    app.button(key="delete_picked").click().run()
    assert not app.exception
    assert app.success[0].value == "Deleted 2 drawings."
    assert [d.id for d in saved.list(person=LOCAL_PERSON)] == [d.id for d in rest] + [
        d.id for d in saved.list(session=OTHER, person=LOCAL_PERSON)
    ]
    assert len(captions(app)) == 6


def test_delete_all_asks_first(open_app, saved):
    app = open_drawings(open_app)
    app.button(key="delete_all").click().run()
    assert "Delete all 12 drawings in the collection, everyone's" in app.warning[0].value
    app.button(key="delete_all_no").click().run()
    assert not app.warning and len(saved.list(person=LOCAL_PERSON)) == 12
    app.button(key="delete_all").click().run()
    app.button(key="delete_all_yes").click().run()
    assert not app.exception
    assert app.success[0].value == "Deleted all 12 drawings."
    assert saved.list(person=LOCAL_PERSON) == []
    assert [info.value for info in app.info] == [EMPTY]


def test_the_export_is_a_kaggle_csv_of_the_drawings_shown(open_app, saved):
    app = open_drawings(open_app)
    assert app.get("download_button")[0].proto.label == "Export these 8 drawings as CSV"
    images, labels = read_kaggle_csv(csv_bytes(saved, MINE, LOCAL_PERSON), "mine.csv")
    expected = saved.list(session=MINE, person=LOCAL_PERSON)
    assert labels.tolist() == [d.label for d in expected]
    assert np.array_equal(images, np.stack([np.rint(d.image * 255) for d in expected]))
    _, everyone = read_kaggle_csv(csv_bytes(saved, None, LOCAL_PERSON), "all.csv")
    assert len(everyone) == 12


def kaggle_csv(rows: list[list[int]]) -> bytes:
    text = io.StringIO()
    text.write("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n")
    for row in rows:
        text.write(",".join(map(str, row)) + "\n")
    return text.getvalue().encode()


def test_import_a_csv_into_this_session(open_app, database, mnist):
    rows = [[int(mnist.test_labels[i]), *mnist.test_images[i].ravel()] for i in range(5)]
    app = open_drawings(open_app)
    app.file_uploader[0].upload("digits.csv", kaggle_csv(rows), "text/csv").run()
    app.button(key="import").click().run()
    assert not app.exception
    assert app.success[0].value == "Imported 5 drawings from digits.csv."
    imported = database.list(session=MINE, person=LOCAL_PERSON)
    assert [d.label for d in imported] == [row[0] for row in rows]
    assert {d.source for d in imported} == {"import"}
    assert np.array_equal(imported[0].image, mnist.test_images[0] / np.float32(255))
    assert captions(app)[0] == f"**{rows[0][0]}**, imported"
    assert app.file_uploader[0].value is None  # emptied, so it is not imported twice


def test_an_import_with_bad_rows_names_each_and_adds_nothing(open_app, database):
    good = [3, *[0] * 784]
    rows = [good, [12, *[0] * 784], good, [4, *[0] * 700], good]
    app = open_drawings(open_app)
    app.file_uploader[0].upload("bad.csv", kaggle_csv(rows), "text/csv").run()
    app.button(key="import").click().run()
    assert not app.exception
    assert app.error[0].value == "bad.csv: 2 bad row(s); nothing was imported"
    lines = app.code[0].value.splitlines()
    assert len(lines) == 2
    assert "line 3" in lines[0] and "line 5" in lines[1]
    assert database.list(person=LOCAL_PERSON) == []


def test_a_corrupt_collection_is_one_line(open_app, database):
    database.path.write_bytes(b"garbage " * 512)
    app = open_drawings(open_app)
    assert not app.exception
    [error] = app.error
    assert "not a readable drawings database" in error.value and "\n" not in error.value


def import_file(app, name: str, content: bytes):
    app.file_uploader[0].upload(name, content, "text/csv").run()
    return app.button(key="import").click().run()


def test_an_import_reads_the_file_once_and_names_20_bad_rows_counting_all(
    open_app, database, monkeypatch
):
    parses = count_parses(monkeypatch)
    rows = [[n % 10, n % 256, n // 256, *[0] * 782] for n in range(500)]
    bad = range(10, 500, 20)  # 25 bad labels spread through the file
    for n in bad:
        rows[n][0] = 11 + n % 3  # 10 is a label: not a digit
    app = import_file(open_drawings(open_app), "bad.csv", kaggle_csv(rows))
    assert not app.exception
    assert app.error[0].value == (
        "bad.csv: 25 bad row(s), the first 20 of them named; nothing was imported"
    )
    assert app.code[0].value.splitlines() == [
        f"bad.csv, line {n + 2}: label '{11 + n % 3}' is not a digit 0-9; fix or remove that row"
        for n in bad[:20]
    ]
    assert len(parses) == 1 and database.list(person=LOCAL_PERSON) == []


def test_importing_the_same_csv_twice_skips_the_drawings_already_in_the_collection(
    open_app, database, mnist
):
    rows = [[int(mnist.test_labels[i]), *mnist.test_images[i].ravel()] for i in range(5)]
    app = import_file(open_drawings(open_app), "digits.csv", kaggle_csv(rows))
    app = import_file(app, "digits.csv", kaggle_csv(rows))
    assert not app.exception
    assert app.success[0].value == (
        "Imported 0 drawings from digits.csv, skipped 5 already in the collection."
    )
    assert len(database.list(person=LOCAL_PERSON)) == 5


def test_an_import_on_a_full_disk_says_disk_full_and_keeps_the_collection(
    open_app, saved, monkeypatch
):
    before = contents(saved)
    rows = [[n % 10, n % 256, n // 256, *[0] * 782] for n in range(500)]
    app = open_drawings(open_app)
    with monkeypatch.context() as disk:
        full_disk(disk)
        import_file(app, "digits.csv", kaggle_csv(rows))
    assert not app.exception
    assert [error.value for error in app.error] == [
        f"{saved.path}: disk full: free some space on its disk, or set DIGITNET_DB to a file on "
        "another disk (nothing was imported)"
    ]
    assert contents(saved) == before


def test_drawings_answered_not_a_digit_are_named_so(open_app, database, mnist):
    for label, prediction in ((NOT_A_DIGIT, 7), (3, 3)):
        database.add(
            person=LOCAL_PERSON,
            label=label,
            image=mnist.test_images[0] / 255,
            session=MINE,
            photo=b"a photo",
            prediction=prediction,
        )
    app = open_drawings(open_app)
    assert not app.exception
    assert captions(app) == ["**not a digit**, :red[read 7]", "**3**, read 3"]
    table = app.table[0].value
    assert list(table.columns) == [*map(str, range(10)), "not a digit", "all"]
    assert (table.loc["drawings", "not a digit"], table.loc["drawings", "all"]) == ("1", "2")
    app.selectbox(key="drawings_digit").set_value(NOT_A_DIGIT).run()
    assert captions(app) == ["**not a digit**, :red[read 7]"]
