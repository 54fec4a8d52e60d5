"""Inside the network (the Draw page's view), the Explore map, the Robustness curves and the Data
page in AppTest, for an MLP (the fixture model) and a CNN (the shipped one), each checked against
the library's own answers."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pyarrow
import pytest

from digitnet import load_model
from digitnet.analysis.embedding import fit_pca
from digitnet.analysis.inside import DigitIndex
from digitnet.analysis.robustness import robustness_curves
from digitnet.data.collection.store import LOCAL_PERSON, DrawingStore
from digitnet.data.negatives import held_out_negatives
from digitnet.data.pendigits import load_pen_data
from digitnet.data.preprocess import canvas_to_mnist
from digitnet.images import to_float
from digitnet.reading import verdicts
from digitnet.training.catalog import list_models
from pages.common.inside import LATEST_DRAWING, REFERENCE_DIGITS
from pages.explore_page import NOT_DIGIT, NOT_DIGITS_ON_MAP, called
from tests.conftest import KNOWING_MODEL, pen_data_folder
from tests.test_app_draw import draw, drawing

EXPLORE = "pages/explore_page.py"
ROBUSTNESS = "pages/robustness_page.py"
DATA = "pages/data_page.py"
MLP, CNN = "fixture (saved)", "cnn"
ONE = drawing([(140, 50), (140, 230)])
SEVEN = drawing([(80, 60), (200, 60), (120, 230)])
NEAREST_CAPTION = re.compile(r"a (\d) \((\d\.\d\d)\)")


@pytest.fixture(params=[MLP, CNN])
def model_label(request) -> str:
    return request.param


def model_of(label: str, fixture_model_file):
    if label == MLP:
        return load_model(fixture_model_file)
    return load_model(next(entry.path for entry in list_models() if entry.label == label))


def charts(app) -> list[dict]:
    """Each chart's spec, with the data streamlit moved out of it (into Arrow) put back."""
    specs = []
    for chart in app.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        if chart.proto.data.data:
            table = pyarrow.ipc.open_stream(chart.proto.data.data).read_all()
            spec["data"] = {"values": table.to_pylist()}
        specs.append(spec)
    return specs


def markdown(app) -> list[str]:
    return [element.value for element in app.markdown]


def test_the_inside_view_follows_the_prediction_and_matches_the_library(
    open_app, mnist, fixture_model_file, model_label
):
    app = draw(open_app(model=model_label), SEVEN)
    assert not app.exception and not app.error
    model, image = model_of(model_label, fixture_model_file), canvas_to_mnist(SEVEN)
    assert app.metric[0].value == str(model.predict(image[None])[0])
    assert app.expander[0].label == "Inside the network"
    assert np.array_equal(app.session_state[LATEST_DRAWING], image)

    index = DigitIndex(model.features(to_float(mnist.train_images[:REFERENCE_DIGITS])))
    nearest, similarity = index.nearest(model.features(image[None])[0], 3)
    shown = [NEAREST_CAPTION.fullmatch(c) for i in app.image for c in i.captions]
    shown = [(int(m[1]), m[2]) for m in shown if m]
    assert shown == [
        (int(mnist.train_labels[i]), f"{s:.2f}") for i, s in zip(nearest, similarity, strict=True)
    ]

    # The last hidden layer's units after their ReLU (a dict keeps the last "relu").
    units = dict(model.activations(image[None]))["relu"][0]
    texts = markdown(app)
    if model_label == CNN:
        assert "**Convolution 1: 32 feature maps**" in texts
        assert "**Convolution 2: 64 feature maps**" in texts
    else:
        assert "**The 8 most active units of the first hidden layer**" in texts
    name = f"Dense {len(units)}"
    assert f"**{name}: {int((units > 0).sum())} of {len(units)} units active**" in texts
    assert any("**red** pushed towards it" in caption.value for caption in app.caption)


def test_clearing_the_canvas_removes_the_view_and_the_kept_drawing(open_app):
    app = draw(open_app(), ONE)
    assert LATEST_DRAWING in app.session_state
    app.button(key="clear").click().run()
    assert not app.exception
    assert not app.expander
    assert LATEST_DRAWING not in app.session_state


def test_without_mnist_the_view_says_so_and_the_rest_still_shows(open_app, no_data):
    app = draw(open_app(), ONE)
    assert not app.exception
    assert len(app.metric) == 1
    assert any("nearest training digits need MNIST" in info.value for info in app.info)
    assert any("units active" in text for text in markdown(app))


def test_the_map_places_every_digit_marks_the_misread_and_stars_the_drawing(
    open_app, mnist, fixture_model_file, model_label
):
    app = draw(open_app(model=model_label), SEVEN)
    app.switch_page(EXPLORE).run()
    assert not app.exception and not app.error
    model, image = model_of(model_label, fixture_model_file), canvas_to_mnist(SEVEN)
    test, labels = to_float(mnist.test_images[:3000]), mnist.test_labels[:3000]
    features = model.features(test)
    misread = int((model.predict(test) != labels).sum())

    digits, star = charts(app)[0]["layer"]
    points = [point for point in digits["data"]["values"] if point["kind"] != NOT_DIGIT]
    assert len(points) == 3000
    assert sum(point["kind"] == "misread" for point in points) == misread
    assert [point["digit"] for point in points] == [str(label) for label in labels]
    assert points[0]["image"].startswith("data:image/png;base64,")
    pca = fit_pca(features)
    expected = pca.transform(model.features(image[None]))[0]
    placed = star["data"]["values"][0]
    assert np.allclose([placed["x"], placed["y"]], expected, atol=1e-3)
    assert f"Crosses are the {misread} it misreads" in app.caption[0].value


def test_the_map_shows_where_drawings_that_are_not_digits_land(
    open_app, mnist, knowing_model_file, app_cache
):
    shutil.copy(knowing_model_file, app_cache / "models")
    app = open_app(EXPLORE, model=f"{KNOWING_MODEL} (saved)")
    assert not app.exception and not app.error
    model = load_model(knowing_model_file)
    held = held_out_negatives(NOT_DIGITS_ON_MAP, data=load_pen_data(pen_data_folder()))
    [digits] = charts(app)[0]["layer"]
    squares = [point for point in digits["data"]["values"] if point["kind"] == NOT_DIGIT]
    pca = fit_pca(model.features(to_float(mnist.test_images[:3000])))
    expected = pca.transform(model.features(held.images))
    assert np.allclose([[p["x"], p["y"]] for p in squares], expected, atol=1e-3)
    said, read_as = verdicts(model, held.images), model.predict(held.images)
    assert {p["digit"] for p in squares} == {NOT_DIGIT}
    assert [p["read as"] for p in squares] == [
        called(str(verdict), int(digit)) for verdict, digit in zip(said, read_as)
    ]
    assert {"not a digit", "digit"} <= set(said.tolist())  # the map shows both
    caught, rejected = int((said != "digit").sum()), int((said == "not a digit").sum())
    assert f"calls {caught} of them unsure or not a digit ({rejected} not a digit)" in (
        app.caption[2].value
    )
    app.toggle(key="map_not_digits").set_value(False).run()
    [digits] = charts(app)[0]["layer"]
    assert len(digits["data"]["values"]) == 3000, [c.value for c in app.caption]
    assert not any("Black squares" in caption.value for caption in app.caption)


def test_the_t_sne_map_is_computed_and_timed(open_app, mnist):
    app = open_app(EXPLORE)
    app.select_slider(key="map_digits").set_value(1000)
    app.radio(key="map_method").set_value("t-SNE").run()
    assert not app.exception and not app.error
    layers = charts(app)[0]["layer"]
    assert len(layers) == 1  # no star: t-SNE cannot place a new drawing
    points = layers[0]["data"]["values"]
    coordinates = np.array([[p["x"], p["y"]] for p in points if p["kind"] != NOT_DIGIT])
    assert coordinates.shape == (1000, 2) and coordinates.std(axis=0).min() > 1
    assert len(points) == 1000 + NOT_DIGITS_ON_MAP  # placed by the same t-SNE
    assert re.search(r"Computed in \d+ s", app.caption[1].value)


def test_robustness_curves_for_the_model_and_the_other_shipped_one(
    open_app, mnist, fixture_model_file, model_label, monkeypatch
):
    monkeypatch.setattr("digitnet.analysis.robustness.SUBSET", 100)
    app = open_app(ROBUSTNESS, model=model_label)
    assert not app.exception and not app.error
    compare = app.selectbox(key="compare_with")
    assert compare.value == ("mlp" if model_label == CNN else "cnn")
    assert model_label not in compare.options
    specs = charts(app)
    assert len(specs) == 5
    expected = robustness_curves(
        model_of(model_label, fixture_model_file), mnist.test_images[:100], mnist.test_labels[:100]
    )
    shown = []  # the charts sit in three columns, so their order is not the library's
    for spec in specs:
        values = spec["data"]["values"]
        shown.append([(v["amount"], v["accuracy"]) for v in values if v["model"] == model_label])
        assert {v["model"] for v in values} == {model_label, compare.value}
    assert sorted(shown) == sorted(expected.values())
    assert "less robust to pixel noise" in app.caption[0].value
    numbers = {table.value.index.name: table.value for table in app.table}  # the curves as text
    assert list(numbers["degrees"].columns) == [model_label, compare.value]
    assert numbers["degrees"][model_label].tolist() == [
        f"{accuracy:.1%}" for _, accuracy in expected["rotation"]
    ]
    assert len(numbers) == 5


def test_the_data_page_browses_mnist_pen_digits_and_saved_drawings(
    open_app, mnist, tmp_path, monkeypatch
):
    pen_data_folder()  # the page's pen digits are the real ones
    monkeypatch.setenv("DIGITNET_DB", str(tmp_path / "drawings.sqlite"))
    three = to_float(mnist.test_images[np.flatnonzero(mnist.test_labels == 3)[0]])
    stroke = np.array([[140, 50], [140, 230]], np.float32)
    DrawingStore().add(
        person=LOCAL_PERSON,
        label=3,
        image=three,
        session="someone",
        strokes=[stroke],
        canvas_width=280,
        canvas_height=280,
        brush_width=20,
    )
    app = open_app(DATA)
    assert not app.exception and not app.error
    assert app.radio(key="data_source").options == [
        "MNIST train",
        "MNIST test",
        "Pen drawings, pen-train writers",
        "Pen drawings, pen-dev writers (unseen)",
        "My drawings",
    ]
    app.radio(key="data_digit").set_value(3).run()
    threes = int((mnist.train_labels == 3).sum())
    assert f"1-60 of {threes:,} 3s" in [c for i in app.image for c in i.captions]
    assert any(c.value.startswith("Image augmentation") for c in app.caption)

    app.radio(key="data_source").set_value("Pen drawings, pen-dev writers (unseen)").run()
    assert not app.exception
    assert any(c.value.startswith("Stroke augmentation") for c in app.caption)

    app.radio(key="data_source").set_value("My drawings").run()
    assert "1-1 of 1 3s" in [c for i in app.image for c in i.captions]
