"""The Draw page (pages/draw_page.py) in AppTest: the canvas cannot be drawn on here, so drawings
are injected as the canvas's own session-state value (a PNG data URL, as the browser sends)."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitnet import Model, load_model, save_model
from digitnet.preprocess import canvas_to_mnist, image_to_mnist
from pages.draw_page import NO_DIGIT, NOT_SURE_BELOW
from tests.conftest import canvas_state, digit_on_canvas


def drawing(*strokes: list[tuple[int, int]], width: int = 20) -> np.ndarray:
    image = Image.new("RGBA", (280, 280), "white")
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line(stroke, fill="black", width=width, joint="curve")
    return np.asarray(image)


def draw(app, rgba: np.ndarray):
    app.session_state[app.session_state["canvas_key"]] = canvas_state(rgba)
    return app.run()


def expected_probabilities(fixture_model_file, rgba: np.ndarray) -> np.ndarray:
    return load_model(fixture_model_file).predict_proba(canvas_to_mnist(rgba)[None])[0]


def test_blank_canvas_shows_a_hint_not_a_prediction(open_app):
    app = open_app()
    assert not app.exception
    assert not app.error
    assert len(app.metric) == 0
    assert "Draw a digit" in app.info[0].value
    assert app.sidebar.selectbox(key="model_select").value == "fixture (saved)"


def test_it_works_at_once_with_the_shipped_weights_and_no_data(
    open_app, no_data, fixture_model_file, tmp_path, monkeypatch
):
    shipped = tmp_path / "weights"
    save_model(Model("cnn", seed=0), shipped / "cnn.npz")
    shutil.copy(fixture_model_file, shipped / "mlp.npz")
    monkeypatch.setattr("digitnet.catalog.WEIGHTS_DIR", shipped)
    app = open_app(model=None)
    assert not app.exception
    select = app.sidebar.selectbox(key="model_select")
    assert select.options[:3] == ["cnn", "mlp", "fixture (saved)"]
    assert select.value == "cnn"  # the better shipped model is the default
    one = drawing([(140, 50), (140, 230)])
    draw(app, one)
    expected = load_model(shipped / "cnn.npz").predict_proba(canvas_to_mnist(one)[None])[0]
    assert app.metric[0].value == str(expected.argmax())


def test_a_drawing_is_classified_as_the_model_does(open_app, fixture_model_file):
    app = open_app()
    one = drawing([(140, 50), (140, 230)])
    draw(app, one)
    probabilities = expected_probabilities(fixture_model_file, one)
    assert not app.exception
    assert app.metric[0].label == "Prediction"
    assert app.metric[0].value == str(probabilities.argmax()) == "1"
    assert f"{probabilities.max():.0%} sure" in [caption.value for caption in app.caption]
    assert app.get("vega_lite_chart"), "the probability bars are missing"
    assert any("28 x 28" in caption for image in app.image for caption in image.captions)


def test_not_sure_note_follows_the_threshold(open_app, fixture_model_file):
    candidates = [
        drawing([(140, 50), (140, 230)]),  # a clear 1
        drawing([(60, 140), (220, 140)], [(140, 60), (140, 220)]),  # a plus sign
        drawing([(80, 80), (200, 80), (200, 200), (80, 200), (80, 80)]),  # a square
        drawing([(140, 60), (220, 200), (60, 200), (140, 60)]),  # a triangle
    ]
    app = open_app()
    seen = set()
    for rgba in candidates:
        draw(app, rgba)
        unsure = expected_probabilities(fixture_model_file, rgba).max() < NOT_SURE_BELOW
        notes = [warning.value for warning in app.warning if "Not sure" in warning.value]
        assert bool(notes) == unsure
        seen.add(unsure)
    assert seen == {True, False}, "the drawings should include a sure and an unsure one"


def test_clear_empties_the_canvas(open_app):
    app = open_app()
    first_key = app.session_state["canvas_key"]
    draw(app, drawing([(140, 50), (140, 230)]))
    assert app.metric[0].value == "1"
    app.button(key="clear").click().run()
    assert app.session_state["canvas_key"] != first_key
    assert len(app.metric) == 0
    assert "Draw a digit" in app.info[0].value


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
    expected = load_model(fixture_model_file).predict_proba(image_to_mnist(photo)[None])[0]
    app = open_app()
    app.radio(key="draw_input").set_value("Upload a photo").run()
    assert "Upload a photo" in app.info[0].value
    app.file_uploader(key="digit_photo").upload(f"seven.{format.lower()}", photo).run()
    assert not app.exception
    assert app.metric[0].value == str(expected.argmax())


def test_a_bad_upload_gets_a_clear_message(open_app):
    app = open_app()
    app.radio(key="draw_input").set_value("Upload a photo").run()
    app.file_uploader(key="digit_photo").upload("digit.png", b"not an image at all").run()
    assert not app.exception
    assert "not a readable PNG/JPEG image" in app.error[0].value
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
    app.file_uploader(key="digit_photo").upload("blank.jpg", blank).run()
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
        ("pages/draw_page.py", "Draw a digit"),
    ):
        app.switch_page(page).run()
        assert not app.exception
        assert app.title[0].value == title
        # The one sidebar: the model chooser, the same on every page.
        assert app.sidebar.selectbox(key="model_select").value == "fixture (saved)"
