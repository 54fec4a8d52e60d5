"""The Draw page (pages/draw_page.py) in AppTest: the canvas cannot be drawn on here, so drawings
are injected as the canvas's own session-state value (a PNG data URL and the fabric.js paths, as
the browser sends). Answers ("Right", "No, it's a ...") save to a collection in tmp_path."""

from __future__ import annotations

import io
import shutil
import sqlite3

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitnet import Model, load_model, save_model
from digitnet.data.collection.store import DB_ENV, LOCAL_PERSON, SCHEMA_VERSION, DrawingStore
from digitnet.data.preprocess import DIGIT_BOX, SUPERSAMPLE, canvas_to_mnist, image_to_mnist
from digitnet.data.strokes import read_canvas_json, render
from digitnet.images import NOT_A_DIGIT
from digitnet.reading import Reading, read
from digitnet.training.finetune import MyDrawings, learnable
from pages.common.collection import SESSION_ID
from pages.common.pictures import FRAME, PAPER, STEP_SCALE, STEP_SIZE, enlarge, step_pictures
from pages.draw_page import CANVAS, EMPTYING, NO_DIGIT, NO_DIGIT_LIKE, NOT_DIGIT
from tests.conftest import KNOWING_MODEL, canvas_state, digit_on_canvas
from tests.test_preprocess import blank_png
from tests.test_strokes import fabric_path


def drawing(*strokes: list[tuple[int, int]], width: int = 20) -> np.ndarray:
    image = Image.new("RGBA", (280, 280), "white")
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line(stroke, fill="black", width=width, joint="curve")
    return np.asarray(image)


def draw(app, rgba: np.ndarray, json_data: dict | None = None):
    if EMPTYING in app.session_state and app.session_state[EMPTYING]:
        # After Clear or a save the browser's canvas loads the empty drawing and sends it.
        blank = np.full((280, 280, 4), 255, np.uint8)
        app.session_state[CANVAS] = canvas_state(blank, {"objects": []})
        app.run()
    app.session_state[CANVAS] = canvas_state(rgba, json_data)
    return app.run()


def drawn(*strokes: list[tuple[float, float]], width: float = 20) -> tuple[np.ndarray, dict]:
    """A drawing as the canvas sends it: its PNG (RGBA) and its json_data (fabric.js paths as
    the pencil brush makes them from these mouse points)."""
    objects = [fabric_path(np.array(stroke, float), width) for stroke in strokes]
    json_data = {"objects": objects, "background": "#FFFFFF"}
    return render(read_canvas_json(json_data, 280, 280)), json_data


ONE = ([(140, 50), (140, 140), (140, 230)],)
SEVEN = ([(80, 60), (200, 60), (150, 150), (120, 230)], [(110, 140), (190, 140)])


@pytest.fixture
def database(tmp_path, monkeypatch) -> DrawingStore:
    """The app's collection: DIGITNET_DB in tmp_path."""
    monkeypatch.setenv(DB_ENV, str(tmp_path / "drawings.sqlite"))
    return DrawingStore()


def expected_probabilities(fixture_model_file, rgba: np.ndarray) -> np.ndarray:
    return load_model(fixture_model_file).predict_proba(canvas_to_mnist(rgba)[None])[0]


def headline(app) -> str:
    """What the page says the drawing is: the digit in big, or its heading."""
    return app.metric[0].value if app.metric else app.subheader[0].value


def says(reading: Reading) -> str:
    """The headline the page should show for this reading."""
    if reading.verdict == "digit":
        return str(reading.digit)
    return f"Not sure: {reading.reason}" if reading.verdict == "unsure" else NOT_DIGIT


def test_blank_canvas_shows_a_hint_not_a_prediction(open_app):
    app = open_app()
    assert not app.exception
    assert not app.error
    assert len(app.metric) == 0
    assert "Draw a digit" in app.info[0].value
    assert app.sidebar.selectbox(key="model_select").value == "fixture (saved)"


def test_a_dot_first_shows_the_hint_until_the_digit_is_drawn(open_app):
    """A pen set down before an 8's loop leaves a dot: too little to read, so no verdict yet."""
    app = open_app()
    draw(app, drawing([(118, 45), (119, 45)], width=14))
    assert not app.exception and not app.error
    assert not app.metric and not app.subheader
    assert "Draw a digit" in app.info[0].value

    draw(app, drawing([(118, 45), (119, 45)], ONE[0], width=14))
    assert headline(app) and not app.info


def test_it_works_at_once_with_the_shipped_weights_and_no_data(
    open_app, no_data, fixture_model_file, tmp_path, monkeypatch
):
    shipped = tmp_path / "weights"
    save_model(Model("cnn", seed=0), shipped / "cnn.npz")
    shutil.copy(fixture_model_file, shipped / "mlp.npz")
    monkeypatch.setattr("digitnet.training.catalog.WEIGHTS_DIR", shipped)
    app = open_app(model=None)
    assert not app.exception
    select = app.sidebar.selectbox(key="model_select")
    assert select.options[:3] == ["cnn", "mlp", "fixture (saved)"]
    assert select.value == "cnn"  # the better shipped model is the default
    one = drawing([(140, 50), (140, 230)])
    draw(app, one)
    assert headline(app) == says(read(canvas_to_mnist(one), load_model(shipped / "cnn.npz")))


def test_a_drawing_is_classified_as_the_model_does(open_app, fixture_model_file):
    app = open_app()
    one = drawing([(140, 50), (140, 230)])
    draw(app, one)
    probabilities = expected_probabilities(fixture_model_file, one)
    assert not app.exception
    assert app.metric[0].label == "Prediction"
    assert app.metric[0].value == str(probabilities.argmax()) == "1"
    runner_up = np.argsort(probabilities)[-2]
    in_words = (
        f"Reads 1 ({probabilities.max():.0%} sure); "
        f"next {runner_up} ({probabilities[runner_up]:.0%})."
    )
    assert in_words in [caption.value for caption in app.caption]
    assert app.get("vega_lite_chart"), "the probability bars are missing"


def test_the_steps_shown_are_the_ones_the_drawing_went_through(open_app):
    app = open_app()
    one = drawing([(140, 50), (140, 230)])
    draw(app, one)
    steps = []
    canvas_to_mnist(one, steps)
    expected = step_pictures(steps)
    shown = next(image for image in app.image if len(image.proto.imgs) == len(steps))
    assert shown.captions == [picture.caption for picture in expected]
    assert shown.captions[0] == "1. The canvas, 280 x 280: more pixels than the network reads."
    assert shown.captions[1] == "2. Its box: the empty paper around it says nothing."
    assert "28 x 28" in shown.captions[-1]
    assert [image.alt for image in shown.proto.imgs] == [picture.alt for picture in expected]
    assert all(image.alt for image in shown.proto.imgs)


def test_step_pictures_show_each_step_at_a_size_people_can_see():
    one = drawing([(140, 50), (140, 230)])
    steps = []
    image = canvas_to_mnist(one, steps)
    pictures = step_pictures(steps)
    assert {picture.picture.shape for picture in pictures} == {(STEP_SIZE, STEP_SIZE)}
    canvas, box, scaled, centred = (picture.picture for picture in pictures)
    assert canvas[0].tolist() == [FRAME] * STEP_SIZE  # the 280 px canvas, shrunk and framed
    assert canvas.min() == 0 and np.median(canvas) == PAPER
    box_rows = np.flatnonzero((box == FRAME).any(axis=1))  # a tall 1: as tall as the square
    assert box_rows.size == STEP_SIZE and box.max() == 255
    # The 4x work grid at one screen pixel a cell: as large as the digit in the 28 x 28 picture.
    framed_rows = np.flatnonzero((scaled == FRAME).any(axis=1))
    assert framed_rows.size == steps[2].image.shape[0] + 2 == DIGIT_BOX * SUPERSAMPLE + 2
    assert np.array_equal(centred, enlarge(image, STEP_SCALE))


KNOWING = f"{KNOWING_MODEL} (saved)"
ONE_OR_SEVEN = drawing([(110, 60), (170, 60), (140, 230)])  # a 1's flag or a 7's bar?
TWO_ONES = drawing([(70, 50), (70, 230)], [(210, 50), (210, 230)])
HASH = (  # "#": two strokes down, two across
    [(100, 50), (100, 230)],
    [(180, 50), (180, 230)],
    [(50, 110), (230, 110)],
    [(50, 170), (230, 170)],
)


@pytest.fixture
def knowing(app_cache, knowing_model_file) -> Model:
    """The model that learned "not a digit", saved in the app's cache as KNOWING."""
    shutil.copy(knowing_model_file, app_cache / "models")
    return load_model(knowing_model_file)


def expander(app, label: str):
    return next((block for block in app.expander if block.label == label), None)


def captions(app) -> list[str]:
    return [caption.value for caption in app.caption]


def test_each_verdict_is_said_as_the_reading_has_it(open_app, knowing):
    app = open_app(model=KNOWING)
    verdicts = set()
    reasons = []
    for rgba in (drawing([(140, 50), (140, 230)]), ONE_OR_SEVEN, drawn(*HASH)[0], TWO_ONES):
        draw(app, rgba)
        expected = read(canvas_to_mnist(rgba), knowing)
        assert not app.exception
        verdicts.add(expected.verdict)
        best, next_best = np.argsort(expected.probabilities)[::-1][:2]
        shares = f"({expected.probabilities[best]:.0%} sure); next {next_best} "
        shares += f"({expected.probabilities[next_best]:.0%})."
        not_digit = f"Not a digit at all: {expected.not_digit:.0%} (the network's eleventh"
        probabilities = expander(app, "The probabilities")
        headings = [heading.value for heading in app.subheader]
        if expected.verdict == "digit":  # the digit in big, the bars in sight
            assert app.metric[0].value == str(expected.digit) and headings == []
            assert f"Reads {best} {shares}" in captions(app)
            assert probabilities is None and len(app.get("vega_lite_chart")) == 1
        elif expected.verdict == "unsure":  # the top two, the best guess smaller
            assert headings == [f"Not sure: {expected.reason}"] and not app.metric
            assert f"Reads {expected.digit} {shares}" in captions(app)
        else:
            assert headings == [NOT_DIGIT] and not app.metric
            reasons.append(expected.reason)
            reason = expected.reason[0].upper() + expected.reason[1:] + "."
            # The reason, unless it only says what the heading says.
            assert (reason in captions(app)) == (expected.reason != NO_DIGIT_LIKE)
            words = [caption.value for caption in probabilities.caption]
            assert f"As a digit, it reads {best} {shares}" in words
        if expected.verdict != "digit":  # the bars one click away
            assert len(probabilities.get("vega_lite_chart")) == 1
        assert any(caption.startswith(not_digit) for caption in captions(app))
    assert verdicts == {"digit", "unsure", "not a digit"}, "the drawings should show all three"
    assert reasons == [NO_DIGIT_LIKE, "looks like several marks side by side"]


def ten_outputs(model: Model) -> Model:
    """The model as one made before the eleventh output: its ten digits' outputs alone."""
    layers = [dict(layer) for layer in model.spec["layers"]]
    layers[-1]["units"] = 10
    older = Model({"layers": layers})
    for layer, theirs in zip(older.layers, model.layers, strict=True):
        for name, value in theirs.params.items():
            layer.params[name][...] = value[..., :10] if layer is older.layers[-1] else value
    older.metadata.update({"name": "older", "temperature": model.temperature})
    return older


def test_a_model_without_the_eleventh_output_reads_as_before(
    open_app, fixture_model_file, app_cache
):
    older = ten_outputs(load_model(fixture_model_file))
    save_model(older, app_cache / "models" / "older.npz")
    app = open_app(model="older (saved)")
    for rgba in (drawing([(140, 50), (140, 230)]), ONE_OR_SEVEN):
        draw(app, rgba)
        expected = read(canvas_to_mnist(rgba), older)
        assert expected.verdict != "not a digit" and expected.not_digit == 0
        assert headline(app) == says(expected)
        assert not any(caption.startswith("Not a digit at all") for caption in captions(app))


def test_clear_empties_the_canvas(open_app):
    app = open_app()
    draw(app, *drawn(*ONE))
    assert app.metric[0].value == "1"
    app.button(key="clear").click().run()
    # The browser sends the old drawing until the canvas has loaded the empty one: ignored.
    app.session_state[CANVAS] = canvas_state(*drawn(*ONE))
    app.run()
    assert len(app.metric) == 0
    assert "Draw a digit" in app.info[0].value
    draw(app, *drawn(*SEVEN))  # the next digit is read
    assert app.metric[0].value == "7"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://example.com/digit.png", "the canvas image is not a PNG data URL"),
        (["data:image/png;base64"], "the canvas image is not a PNG data URL"),
        ("data:image/png;base64,i=s-not", "the canvas image's data URL is not valid base64"),
    ],
)
def test_a_broken_canvas_data_url_is_one_line(open_app, url, message):
    app = open_app()
    app.session_state[CANVAS] = {"drawing": {"raw": {"objects": [{}]}, "data": url}}
    app.run()
    assert not app.exception
    assert [error.value for error in app.error] == [message]
    assert len(app.metric) == 0
    draw(app, *drawn(*ONE))  # the next drawing is read
    assert not app.error and app.metric[0].value == "1"


def test_stroke_width_control(open_app):
    app = open_app()
    app.slider(key="stroke_width").set_value(30).run()
    assert not app.exception
    assert app.slider(key="stroke_width").value == 30


def png_bytes(image: np.ndarray, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=format)
    return buffer.getvalue()


@pytest.mark.parametrize("format", ["PNG", "JPEG"])
def test_uploaded_photo_goes_through_the_same_preprocessing(
    open_app, fixture_model_file, mnist, format
):
    photo = png_bytes(digit_on_canvas(mnist.test_images[0])[..., :3], format)
    expected = read(image_to_mnist(photo), load_model(fixture_model_file))
    app = open_app()
    app.radio(key="draw_input").set_value("Upload a photo").run()
    assert "Upload a photo" in app.info[0].value
    app.file_uploader[0].upload(f"seven.{format.lower()}", photo).run()
    assert not app.exception
    assert headline(app) == says(expected)
    steps = []
    image_to_mnist(photo, steps)
    shown = next(image for image in app.image if len(image.proto.imgs) == 5)
    assert shown.captions == [picture.caption for picture in step_pictures(steps)]
    assert [caption.split(":")[0] for caption in shown.captions] == [
        "1. In grey, 280 x 280",  # the photo, its size kept (under PHOTO_SIZE)
        "2. The ink found",
        "3. Its box",
        "4. Scaled to 20 pixels long, strokes as thick as MNIST's.",
        "5. Centred by its mass in 28 x 28",
    ]


def test_a_bad_upload_gets_a_clear_message(open_app):
    app = open_app()
    app.radio(key="draw_input").set_value("Upload a photo").run()
    app.file_uploader[0].upload("digit.png", b"not an image at all").run()
    assert not app.exception
    assert "not a readable PNG/JPEG image" in app.error[0].value
    assert len(app.metric) == 0


def test_a_huge_image_upload_gets_the_pixel_limit_message(open_app):
    app = open_app()
    app.radio(key="draw_input").set_value("Upload a photo").run()
    app.file_uploader[0].upload("huge.png", blank_png(13_000, 13_000)).run()
    assert not app.exception
    assert [error.value for error in app.error] == [
        "the image is 13000 x 13000 pixels (169 megapixels); the limit is 40 megapixels: "
        "scale it down"
    ]
    assert len(app.metric) == 0


def test_a_corrupted_weights_file_is_reported_and_the_session_goes_on(open_app, app_cache):
    (app_cache / "models" / "broken.npz").write_bytes(b"PK\x03\x04 truncated")
    app = open_app(model="broken (saved)")
    assert not app.exception
    assert "corrupted or truncated" in app.sidebar.error[0].value
    assert len(app.metric) == 0
    app.sidebar.selectbox(key="model_select").select("fixture (saved)").run()
    draw(app, drawing([(140, 50), (140, 230)]))
    assert not app.sidebar.error
    assert app.metric[0].value == "1"


def test_a_blank_photo_says_no_digit_was_found(open_app):
    blank = png_bytes(np.full((300, 400, 3), 235, np.uint8), "JPEG")
    app = open_app()
    app.radio(key="draw_input").set_value("Upload a photo").run()
    app.file_uploader[0].upload("blank.jpg", blank).run()
    assert not app.exception
    assert not app.error
    assert [info.value for info in app.info] == [NO_DIGIT]
    assert NO_DIGIT.startswith("No digit found in this photo")
    assert len(app.metric) == 0


def test_the_router_names_every_page_and_sets_the_page_up_once(open_app):
    app = open_app()
    assert not app.exception
    assert app.title[0].value == "Draw a digit"
    for page, title in (
        ("pages/train_page.py", "Train a network"),
        ("pages/mistakes_page.py", "Mistakes"),
        ("pages/confusion_page.py", "Confusion matrix"),
        ("pages/drawings_page.py", "My drawings"),
        ("pages/draw_page.py", "Draw a digit"),
    ):
        app.switch_page(page).run()
        assert not app.exception
        assert app.title[0].value == title
        # The one sidebar: the model chooser, the same on every page.
        assert app.sidebar.selectbox(key="model_select").value == "fixture (saved)"


def test_right_saves_the_drawing_as_the_model_read_it_and_clears_the_canvas(
    open_app, database, fixture_model_file
):
    rgba, json_data = drawn(*ONE)
    app = open_app()
    kept = next(caption for caption in app.caption if caption.value.startswith("Kept on"))
    assert str(database.path) in kept.help  # where, for whoever runs the server
    draw(app, rgba, json_data)
    assert app.metric[0].value == "1"
    app.button(key="right-0").click().run()
    assert not app.exception
    assert [success.value for success in app.success] == ["Saved as a 1."]
    assert len(app.metric) == 0

    [saved] = database.list(person=LOCAL_PERSON)
    model = load_model(fixture_model_file)
    expected = model.predict_proba(canvas_to_mnist(rgba)[None])[0]
    assert (saved.label, saved.prediction, saved.source) == (1, 1, "canvas")
    assert np.allclose(saved.probabilities, expected, atol=1e-6)
    assert saved.model_checksum == model.metadata["checksum"]
    assert saved.session == app.session_state[SESSION_ID]
    assert np.array_equal(saved.image, canvas_to_mnist(rgba))
    assert (saved.canvas_width, saved.canvas_height, saved.brush_width) == (280, 280, 20)
    kept = read_canvas_json(json_data, 280, 280).strokes
    assert len(saved.strokes) == len(kept)
    assert all(np.allclose(a, b, atol=1e-3) for a, b in zip(saved.strokes, kept))


def test_ten_corrections_in_a_row_are_ten_drawings_of_one_session(open_app, database):
    app = open_app()
    for number in range(10):
        rgba, json_data = drawn(*ONE, width=12 + number)
        draw(app, rgba, json_data)
        app.pills(key=f"correction-{number}").set_value(number).run()
        assert not app.exception
        assert [success.value for success in app.success] == [
            f"Saved as {'an' if number == 8 else 'a'} {number}."
        ]
    saved = database.list(person=LOCAL_PERSON)
    assert [d.label for d in saved] == list(range(10))
    assert [d.prediction for d in saved] == [1] * 10
    assert [d.brush_width for d in saved] == [12 + n for n in range(10)]
    assert {d.session for d in saved} == {app.session_state[SESSION_ID]}
    assert sum(d.wrong for d in saved) == 9


def test_not_a_digit_is_an_answer_saved_as_such_for_fine_tuning(open_app, database, knowing):
    app = open_app(model=KNOWING)
    draw(app, *drawn(*ONE))  # a 1, answered "Not a digit" on the keypad
    assert app.metric[0].value == "1" and app.button(key="right-0").label == "Right"
    keypad = app.button_group(key="correction-0")
    assert [option.content for option in keypad.proto.options] == [
        *map(str, range(10)),
        "Not a digit",
    ]
    app.pills(key="correction-0").set_value(NOT_A_DIGIT).run()
    assert [success.value for success in app.success] == ["Saved as not a digit."]
    answers = []
    for strokes in (HASH, [[(110, 60), (170, 60), (140, 230)]]):  # "Right" to each verdict
        rgba, json_data = drawn(*strokes)
        draw(app, rgba, json_data)
        answers.append(read(canvas_to_mnist(rgba), knowing))
        right = app.button(key=f"right-{len(answers)}")
        assert (
            right.label
            == {"not a digit": "Right: not a digit", "unsure": "Right: a 1"}[answers[-1].verdict]
        )
        right.click().run()
    assert [success.value for success in app.success] == ["Saved as a 1."]
    saved = database.list(person=LOCAL_PERSON)
    assert [(d.label, d.prediction) for d in saved] == [(10, 1), (10, 10), (1, 1)]
    assert [d.wrong for d in saved] == [True, False, False]
    assert np.allclose(saved[1].probabilities, answers[0].probabilities, atol=1e-6)
    # Fine-tuning this model learns them as they were saved, "not a digit" too.
    assert learnable(saved, knowing) == saved
    assert MyDrawings(saved).labels.tolist() == [10, 10, 1]


def test_two_sessions_save_under_two_ids(open_app, database):
    for _ in range(2):
        app = open_app()
        draw(app, *drawn(*SEVEN))
        app.pills(key="correction-0").set_value(7).run()
    saved = database.list(person=LOCAL_PERSON)
    assert [d.label for d in saved] == [7, 7]
    assert len({d.session for d in saved}) == 2


def test_with_saving_off_nothing_is_asked_or_saved(open_app, database):
    app = open_app()
    app.toggle(key="save_drawings").set_value(False).run()
    draw(app, *drawn(*ONE))
    assert app.metric[0].value == "1"
    assert not app.button_group and "right-0" not in [button.key for button in app.button]
    assert not any(str(database.path) in caption.value for caption in app.caption)
    assert not database.path.exists()


def test_an_uploaded_photo_is_saved_with_its_bytes(open_app, database, mnist):
    photo = png_bytes(digit_on_canvas(mnist.test_images[0])[..., :3])
    app = open_app()
    app.radio(key="draw_input").set_value("Upload a photo").run()
    app.file_uploader[0].upload("seven.png", photo).run()
    prediction = int(app.metric[0].value)
    app.button(key="right-0").click().run()
    assert not app.exception
    [saved] = database.list(person=LOCAL_PERSON)
    assert (saved.source, saved.label, saved.strokes) == ("photo", prediction, None)
    assert database.get(saved.id, person=LOCAL_PERSON).photo == photo
    assert np.array_equal(saved.image, image_to_mnist(photo))
    assert len(app.metric) == 0  # the uploader was emptied for the next photo
    assert "Upload a photo" in app.info[0].value


def newer_schema(path) -> None:
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()


@pytest.mark.parametrize(
    "spoil, says",
    [
        (lambda path: path.write_bytes(b"not a database " * 100), "not a readable drawings"),
        (newer_schema, "made by a newer digitnet"),
        (lambda path: path.chmod(0o444), "cannot write, the file is read-only"),
    ],
    ids=["corrupt", "newer-schema", "read-only"],
)
def test_a_failed_save_is_one_line_and_the_page_keeps_predicting(open_app, database, spoil, says):
    database.add(
        person=LOCAL_PERSON, label=3, image=np.zeros((28, 28)), session="earlier", photo=b"photo"
    )
    spoil(database.path)
    before = database.path.read_bytes()
    app = open_app()
    draw(app, *drawn(*ONE))
    app.button(key="right-0").click().run()
    assert not app.exception
    [warning] = [w.value for w in app.warning if w.value.startswith("Not saved")]
    assert says in warning and "\n" not in warning
    # The drawing stays on the canvas, still read; the file is as it was.
    assert app.session_state[CANVAS]["drawing"]["raw"] == drawn(*ONE)[1]
    assert app.metric[0].value == "1"
    assert database.path.read_bytes() == before
    draw(app, *drawn(*SEVEN))
    assert not app.exception and app.metric


def test_a_canvas_drawing_that_cannot_be_read_is_not_saved(open_app, database):
    app = open_app()
    draw(app, drawing([(140, 50), (140, 230)]))  # json_data: a path without its points
    app.button(key="right-0").click().run()
    assert not app.exception
    assert any("not a readable path" in w.value for w in app.warning)
    assert app.metric[0].value == "1"
    assert not database.path.exists()
