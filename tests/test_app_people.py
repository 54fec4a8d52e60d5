"""People in the app (pages/common/people.py), in AppTest: alone on a laptop nothing changes; on
a server a class shares (DIGITNET_SHARED=1) each person, known by a personal link or signed in,
sees, exports and deletes their own drawings only, a teacher sees what the class shared, and
each person's limits are one line when reached. The collection is DIGITNET_DB in tmp_path."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from digitnet import DigitnetError
from digitnet.data.collection.store import DB_ENV, LOCAL_PERSON, DrawingStore
from digitnet.data.pendigits import DEFAULT_PEN_SHARE
from digitnet.training.jobs import TrainingLimit
from pages.common.people import TOKEN_PARAM, VISITOR
from pages.common.server import SHARED_ENV, TEACHERS_ENV, Trainings, server
from pages.drawings_page import CLASS_SCOPE, EMPTY, SHARE, csv_bytes
from pages.train_page import CLASS_CHOICE, DEFAULT_CLASS_SHARE
from tests.conftest import FIXTURE_MODEL, ROOT
from tests.test_app_draw import ONE, draw, drawn
from tests.test_app_drawings import captions, kaggle_csv
from tests.test_app_train import configure

DRAWINGS = "pages/drawings_page.py"
TRAIN = "pages/train_page.py"
TEACHER = "teacher@school.example"


@pytest.fixture
def database(app_cache, tmp_path, monkeypatch) -> DrawingStore:
    monkeypatch.setenv(DB_ENV, str(tmp_path / "drawings.sqlite"))
    return DrawingStore()


@pytest.fixture
def shared(database, monkeypatch) -> DrawingStore:
    """A server a class shares, with TEACHER as its teacher."""
    monkeypatch.setenv(SHARED_ENV, "1")
    monkeypatch.setenv(TEACHERS_ENV, f"someone@school.example, {TEACHER.upper()}")
    server.clear()  # the settings are read once per process
    yield database
    server.clear()


def visit(page: str | None = DRAWINGS, token: str | None = None, user: dict | None = None):
    """A new browser session, opened at the address with ``?me=token`` (None: without), signed
    in as ``user`` (st.user's claims; None: no sign-in configured), on ``page``."""
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    app.session_state["model_choice"] = f"{FIXTURE_MODEL} (saved)"
    if token is not None:
        app.query_params[TOKEN_PARAM] = token
    if user is not None:
        app.user = user
    app.run()
    if page is not None and not app.exception and not signing_in(app):
        app.switch_page(page).run()
    return app


def signing_in(app) -> bool:
    return any(button.key == "sign_in_button" for button in app.button)


def person_of(app) -> str:
    return app.session_state[VISITOR].person


def add(store: DrawingStore, person: str, count: int, mnist, shared: bool = False) -> list[int]:
    """``count`` MNIST test digits saved as ``person``'s photos."""
    return [
        store.add(
            person=person,
            label=int(mnist.test_labels[index]),
            image=mnist.test_images[index] / 255,
            session="earlier",
            photo=b"a photo",
            prediction=int(mnist.test_labels[index]),
            shared=shared,
        )
        for index in range(count)
    ]


def sidebar_text(app) -> str:
    return " ".join(element.value for element in [*app.sidebar.caption, *app.sidebar.code])


def test_alone_on_a_laptop_nothing_changes(open_app, database, mnist):
    add(database, LOCAL_PERSON, 3, mnist)
    app = open_app(DRAWINGS)
    assert not app.exception
    assert person_of(app) == LOCAL_PERSON
    assert TOKEN_PARAM not in app.query_params
    assert "personal link" not in sidebar_text(app) and "Signed in" not in sidebar_text(app)
    assert not [toggle for toggle in app.toggle if toggle.label == SHARE]
    app.segmented_control(key="drawings_scope").set_value("Everyone's").run()
    assert len(captions(app)) == 3
    assert database.person_for_token("anything") is None and not database_people(database)


def database_people(store: DrawingStore) -> list[str]:
    with store.database.reading() as connection:
        return [row[0] for row in connection.execute("SELECT person FROM people").fetchall()]


def test_a_first_visit_gets_a_personal_link_that_brings_the_person_back(shared, mnist):
    first = visit()
    assert not first.exception
    token = first.query_params[TOKEN_PARAM]
    person = person_of(first)
    assert shared.person_for_token(token) == person and database_people(shared) == [person]
    assert "Your personal link" in sidebar_text(first) and f"?me={token}" in sidebar_text(first)
    assert [info.value for info in first.info] == [EMPTY]
    add(shared, person, 4, mnist)

    again = visit(token=token)  # after a reload, or on another device
    assert person_of(again) == person and database_people(shared) == [person]
    again.segmented_control(key="drawings_scope").set_value("All mine").run()
    assert len(captions(again)) == 4


def test_people_see_export_and_delete_only_their_own(shared, mnist):
    ada, bob = visit(), visit()
    assert person_of(ada) != person_of(bob)
    add(shared, person_of(ada), 5, mnist)
    bob.run()
    assert [info.value for info in bob.info] == [EMPTY]
    add(shared, person_of(bob), 2, mnist)
    bob.run()
    bob.segmented_control(key="drawings_scope").set_value("All mine").run()
    assert len(captions(bob)) == 2
    assert bob.get("download_button")[0].proto.label == "Export these 2 drawings as CSV"
    assert csv_bytes(shared, None, person_of(bob)).count(b"\n") == 3  # header and two rows

    bob.button(key="delete_all").click().run()
    assert "Delete all 2 drawings of yours" in bob.warning[0].value
    bob.button(key="delete_all_yes").click().run()
    assert not bob.exception and bob.success[0].value == "Deleted all 2 drawings."
    assert shared.list(person=person_of(bob)) == []
    assert len(shared.list(person=person_of(ada))) == 5
    ada.run()
    ada.segmented_control(key="drawings_scope").set_value("All mine").run()
    assert len(captions(ada)) == 5


def test_an_unknown_link_is_one_line_and_shows_nobodys_drawings(shared, mnist):
    add(shared, shared.new_personal_link()[0], 3, mnist)
    app = visit(token="not-a-token-of-this-server")
    assert not app.exception
    [error] = app.error
    assert "personal link" in error.value and "\n" not in error.value
    assert not captions(app)
    app.button[0].click().run()  # start again with a new personal link
    assert not app.error and person_of(app).startswith("link-")
    assert app.query_params[TOKEN_PARAM] != "not-a-token-of-this-server"


def test_signing_in_shows_who_and_their_drawings_only(shared, mnist):
    add(shared, "ada@school.example", 3, mnist)
    add(shared, "bob@school.example", 2, mnist)
    out = visit(user={"is_logged_in": False})
    assert not out.exception
    assert signing_in(out) and out.button(key="sign_in_button").label == "Sign in"
    assert not captions(out) and VISITOR not in out.session_state

    ada = visit(user={"is_logged_in": True, "email": "ada@school.example", "sub": "123"})
    assert not ada.exception
    assert "Signed in as **ada@school.example**" in sidebar_text(ada)
    assert ada.button(key="sign_out").label == "Sign out"
    assert TOKEN_PARAM not in ada.query_params and not database_people(shared)
    ada.segmented_control(key="drawings_scope").set_value("All mine").run()
    assert len(captions(ada)) == 3
    ada.button(key="sign_out").click().run()
    assert not ada.exception and signing_in(ada)

    without_email = visit(user={"is_logged_in": True, "sub": "subject-7"})
    assert person_of(without_email) == "subject-7"


def test_sharing_with_the_class_shares_all_and_what_is_saved_next(shared, mnist):
    ada = visit()
    person = person_of(ada)
    add(shared, person, 3, mnist)
    ada.run()
    [switch] = [toggle for toggle in ada.toggle if toggle.label == SHARE]
    assert switch.value is False
    switch.set_value(True).run()
    assert not ada.exception and ada.success[0].value == "Shared 3 drawings with your class."
    assert [d.shared for d in shared.list(person=person)] == [True] * 3

    draw_page = visit(page=None, token=ada.query_params[TOKEN_PARAM])
    draw(draw_page, *drawn(*ONE))
    draw_page.button(key="right-0").click().run()
    assert [d.shared for d in shared.list(person=person)] == [True] * 4

    ada.run()
    [switch] = [toggle for toggle in ada.toggle if toggle.label == SHARE]
    switch.set_value(False).run()
    assert not any(d.shared for d in shared.list(person=person))


def test_a_teacher_sees_only_what_was_shared_and_removes_one(shared, mnist):
    kept = add(shared, "ada@school.example", 3, mnist, shared=True)
    add(shared, "ada@school.example", 2, mnist)
    add(shared, "bob@school.example", 4, mnist)
    teacher = visit(user={"is_logged_in": True, "email": TEACHER})
    assert "You are a teacher here" in sidebar_text(teacher)
    teacher.segmented_control(key="drawings_scope").set_value(CLASS_SCOPE).run()
    assert not teacher.exception
    assert len(captions(teacher)) == 3
    assert all(caption.endswith("· ada@school.example") for caption in captions(teacher))
    teacher.checkbox(key=f"pick-{kept[0]}").check().run()
    teacher.button(key="remove_picked").click().run()
    assert not teacher.exception and teacher.success[0].value == "Removed 1 drawing."
    assert [d.id for d in shared.list(person=None, shared_only=True)] == kept[1:]
    assert len(shared.list(person=None)) == 8


def test_someone_not_a_teacher_has_no_class_view(shared, mnist):
    add(shared, "ada@school.example", 3, mnist, shared=True)
    bob = visit(user={"is_logged_in": True, "email": "bob@school.example"})
    add(shared, "bob@school.example", 1, mnist)
    bob.run()
    assert CLASS_SCOPE not in bob.segmented_control(key="drawings_scope").options
    assert "teacher" not in sidebar_text(bob)
    bob.segmented_control(key="drawings_scope").set_value("All mine").run()
    assert len(captions(bob)) == 1


def test_too_many_saves_a_minute_is_one_line(shared, monkeypatch):
    monkeypatch.setenv("DIGITNET_MAX_SAVES_PER_MINUTE", "1")
    app = visit(page=None)
    for generation in range(2):
        draw(app, *drawn(*ONE, width=14 + generation))
        app.button(key=f"right-{generation}").click().run()
    assert not app.exception
    [warning] = app.warning
    assert warning.value.startswith("Not saved: 1 drawings saved in the last minute")
    assert "\n" not in warning.value
    assert len(shared.list(person=person_of(app))) == 1


def test_an_import_past_the_limits_is_one_line_and_adds_nothing(shared, mnist, monkeypatch):
    monkeypatch.setenv("DIGITNET_MAX_IMPORT_ROWS", "4")
    monkeypatch.setenv("DIGITNET_MAX_DRAWINGS_PER_PERSON", "6")
    rows = [[int(mnist.test_labels[i]), *mnist.test_images[i].ravel()] for i in range(100, 105)]
    app = visit()
    app.file_uploader[0].upload("digits.csv", kaggle_csv(rows), "text/csv").run()
    app.button(key="import").click().run()
    assert not app.exception
    [error] = app.error
    assert "more than one import may add (4)" in error.value and "\n" not in error.value
    add(shared, person_of(app), 3, mnist)
    app.file_uploader[0].upload("digits.csv", kaggle_csv(rows[:4]), "text/csv").run()
    app.button(key="import").click().run()
    [error] = app.error
    assert "more than one person may keep (6)" in error.value and "\n" not in error.value
    assert len(shared.list(person=person_of(app))) == 3


def test_one_training_at_a_time_per_person_within_the_servers_limit():
    trainings = Trainings(TrainingLimit(2))
    ada, bob, cem = trainings.of("ada"), trainings.of("bob"), trainings.of("cem")
    ada.acquire()
    with pytest.raises(DigitnetError, match="you already have a training running"):
        ada.acquire()
    bob.acquire()
    with pytest.raises(DigitnetError, match="2 trainings are already running"):
        cem.acquire()
    ada.release()
    cem.acquire()  # ada's place
    with pytest.raises(DigitnetError, match="2 trainings are already running"):
        ada.acquire()
    bob.release()
    ada.acquire()


def test_a_second_training_of_one_person_is_one_line_on_the_train_page(shared, mnist):
    app = visit(page=TRAIN)
    configure(app)
    held = server().trainings.of(person_of(app))
    held.acquire()  # this person's fine-tuning, say, in another tab
    try:
        app.button(key="train_start").click().run()
    finally:
        held.release()
    assert not app.exception
    assert "you already have a training running" in app.error[0].value
    assert "train_job" not in app.session_state
    limit = server().training_limit  # every place given back
    for _ in range(limit.max_running):
        limit.acquire()
    for _ in range(limit.max_running):
        limit.release()


def test_a_teacher_trains_a_class_model_on_what_was_shared(shared, mnist):
    kept = add(shared, "ada@school.example", 6, mnist, shared=True)
    add(shared, "bob@school.example", 4, mnist)
    bob = visit(page=TRAIN, user={"is_logged_in": True, "email": "bob@school.example"})
    assert CLASS_CHOICE not in bob.radio(key="train_data").options

    teacher = visit(page=TRAIN, user={"is_logged_in": True, "email": TEACHER})
    teacher.radio(key="train_data").set_value(CLASS_CHOICE).run()
    assert any("6 shared by 1 person" in caption.value for caption in teacher.caption)
    configure(teacher)
    teacher.button(key="train_start").click().run()
    assert not teacher.exception and not teacher.error
    job = teacher.session_state["train_job"]
    try:
        sources = batch_shares(job.run.trainer.extra, job.run.config.extra_share)
        assert sources["the class's drawings"][1] == pytest.approx(DEFAULT_CLASS_SHARE)
        assert sources["pen drawings"][1] == pytest.approx(DEFAULT_PEN_SHARE)
        assert [d.id for d in sources["the class's drawings"][0].drawings] == kept
    finally:
        job.stop()
        job.join(60)


def batch_shares(source, share: float) -> dict[str, tuple[object, float]]:
    """Each source a training mixes in (through Mixtures), by name: (source, its share of every
    batch)."""
    if not hasattr(source, "sources"):
        return {source.name: (source, share)}
    found = {}
    for part, part_share in zip(source.sources, source.shares):
        found.update(batch_shares(part, share * part_share))
    return found


def test_a_shared_setting_that_is_neither_on_nor_off_is_one_line(database, monkeypatch):
    monkeypatch.setenv(SHARED_ENV, "maybe")
    server.clear()
    try:
        app = visit(page=None)
    finally:
        server.clear()
    assert not app.exception
    [error] = app.error
    assert error.value.startswith("DIGITNET_SHARED='maybe' is neither on nor off")
    assert VISITOR not in app.session_state


def test_fine_tuning_counts_the_persons_drawings_only(shared, mnist):
    ada = visit(page=None, user={"is_logged_in": True, "email": "ada@school.example"})
    add(shared, "ada@school.example", 12, mnist)
    add(shared, "bob@school.example", 2, mnist)
    ada.switch_page(TRAIN).run()
    assert not ada.exception
    assert any(text.value.startswith("**12** drawings:") for text in ada.markdown)
    bob = visit(page=TRAIN, user={"is_logged_in": True, "email": "bob@school.example"})
    assert any(info.value.startswith("too few drawings") for info in bob.info)
    assert not any("**14** drawings" in text.value for text in bob.markdown)
