"""Nothing lost, and no visitor can sink the server: every input a person or a browser hands
over is checked against a named limit before any work, and refused in one line; memory does not
grow with each training of a session. One test (or one group) per case of the issue:

1. the canvas's data (its fabric.js json_data, its PNG) is not trusted;
2. a file a person names is read up to a size cap;
3. a weights file's metadata and spec are checked on load, before anything is allocated;
4. a trained model keeps no view of the data it was scored on;
5. a photo too small to hold a digit is one line, not NumPy's warnings.
"""

from __future__ import annotations

import base64
import gc
import io
import json
import os
import struct
import time
import tracemalloc
import warnings
import weakref
import zipfile
import zlib
from dataclasses import fields

import numpy as np
import pytest
from PIL import Image

from digitnet.cli import main
from digitnet.data import mnist as mnist_module
from digitnet.data.collection.store import DB_ENV, DrawingStore
from digitnet.data.preprocess import (
    MIN_PHOTO_SIDE,
    canvas_to_mnist,
    image_to_mnist,
    read_canvas_png,
)
from digitnet.data.strokes import (
    MAX_OBJECTS,
    MAX_POINTS,
    MAX_SKEW,
    read_canvas_json,
)
from digitnet.errors import DigitnetError
from digitnet.network.model import Model
from digitnet.network.spec import MAX_KERNEL, MAX_STRIDE, array_shapes, count_parameters
from digitnet.network.weights import MAX_TEMPERATURE, SCORE_KEYS, load_model
from digitnet.training.card import Score, card
from pages.draw_page import CANVAS, CANVAS_SIZE
from tests.conftest import canvas_state
from tests.test_app_draw import ONE, drawn
from tests.test_app_train import TRAIN, configure, finish, kaggle_csv, upload
from tests.test_model_and_weights import read_archive, write_archive

MB = 1_000_000


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def peak_bytes(work) -> int:
    """The most memory (traced by Python) that ``work()`` held at once; it must raise
    DigitnetError."""
    tracemalloc.start()
    try:
        with pytest.raises(DigitnetError):
            work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- 1. The canvas's data is not trusted -------------------------------------------------------


def path_object(commands: list, **fields) -> dict:
    """A fabric.js path as the canvas sends one, with ``fields`` changed."""
    shape = {"type": "path", "path": commands, "left": 140, "top": 140, "width": 100}
    return {**shape, "height": 100, "strokeWidth": 20, **fields}


def crafted_curves(count: int) -> dict:
    """The tester's drawing: ``count`` quadratic curves bent a billion pixels out (each was cut
    into millions of points: 8 took 6.9 s and 2.2 GB, 20 a MemoryError)."""
    curves = [["Q", 1e12, -1e12, 140, 140] for _ in range(count)]
    return {"objects": [path_object([["M", 140, 140], *curves])], "background": "#FFFFFF"}


BENT = ["Q", 140, 8000, 140, 140]  # in range, but cut into 200 points


@pytest.mark.parametrize(
    ("json_data", "message"),
    [
        (crafted_curves(8), "takes 4 finite numbers from -8,192 to 8,192, got [1000000000000.0"),
        (crafted_curves(20), "takes 4 finite numbers"),
        ({"objects": [path_object([["M", 1, 1]])] * (MAX_OBJECTS + 1)}, "501 objects"),
        ({"objects": [path_object([["M", 1, 1]] * (MAX_POINTS + 1))]}, "more than 20,000 points"),
        ({"objects": [path_object([["M", 1, 1]] + [BENT] * 101)]}, "more than 20,000 points"),
        ({"objects": [path_object([["M", float("nan"), 1]])]}, "finite numbers"),
        ({"objects": [path_object([["M", "1", 1]])]}, "finite numbers"),
        ({"objects": [path_object([["M", True, 1]])]}, "finite numbers"),
        ({"objects": [path_object([["M", 1, 1, 5]])]}, "takes 2 finite numbers"),
        ({"objects": [path_object([["M", 1, 1], "L"])]}, "must be a list like"),
        ({"objects": [path_object([["M", 1, 1]], scaleX=1e300)]}, "scaleX must be a number"),
        ({"objects": [path_object([["M", 1, 1]], skewY=90)]}, "skewY must be a number"),
        ({"objects": [path_object([["M", 1, 1]], angle=float("inf"))]}, "angle must be"),
        ({"objects": [path_object([["M", 1, 1]], left=10**400)]}, "left must be a number"),
        ({"objects": [path_object([["M", 1, 1]], strokeWidth=-3)]}, "strokeWidth must be"),
        ({"objects": [path_object([["M", 1, 1]], pathOffset={"x": "a"})]}, "x must be"),
        ({"objects": [path_object([["M", 1, 1]], originX=1e9)]}, "origin must be"),
    ],
    ids=[
        "8-curves",
        "20-curves",
        "objects",
        "commands",
        "curve-points",
        "nan",
        "text",
        "bool",
        "arity",
        "not-a-list",
        "scale",
        "skew",
        "angle",
        "left",
        "stroke",
        "offset",
        "origin",
    ],
)
def test_canvas_json_crafted_is_one_line_before_any_work(json_data, message):
    with pytest.raises(DigitnetError) as error:
        read_canvas_json(json_data, CANVAS_SIZE, CANVAS_SIZE)
    assert message in one_line(error)
    # Refused before any curve is cut: no more memory than the input itself.
    assert peak_bytes(lambda: read_canvas_json(json_data, CANVAS_SIZE, CANVAS_SIZE)) < MB


def test_canvas_json_limits_leave_room_for_a_real_drawing():
    """As many paths as a drawing may hold, each with a curve, scaled, skewed and turned as far
    as allowed, are read: the limits refuse only what no hand draws."""
    curve = [["M", 10, 10], ["Q", 270, 10, 270, 270], ["L", 20, 270]]  # the curve: 31 pieces
    edge = path_object(curve, scaleX=1.5, skewX=MAX_SKEW, angle=-360)
    drawing = read_canvas_json({"objects": [edge] * MAX_OBJECTS}, 2000, 2000)
    assert len(drawing.strokes) == MAX_OBJECTS
    assert sum(len(stroke) for stroke in drawing.strokes) == MAX_OBJECTS * 33


def canvas_png(width: int, height: int, depth: int, colour: int) -> bytes:
    """A valid PNG of zeros, written row by row (a 12000 x 12000 16-bit one is 280 kB and never
    whole in memory; a decoder builds 288 MB of it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    compressor = zlib.compressobj(9)
    row = bytes(1 + width * channels * depth // 8)  # filter byte, then the pixels
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def crafted_png() -> bytes:
    """The tester's canvas image: 16-bit grey ("L" mode), 12000 x 12000 (1.8 GB per rerun)."""
    return canvas_png(12_000, 12_000, 16, 0)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: canvas_png(CANVAS_SIZE, CANVAS_SIZE, 16, 6), "16-bit RGBA; a canvas sends 8-bit"),
        (lambda: canvas_png(CANVAS_SIZE, CANVAS_SIZE, 8, 0), "8-bit grey; a canvas sends"),
        (lambda: canvas_png(CANVAS_SIZE, CANVAS_SIZE, 8, 2), "8-bit RGB; a canvas sends"),
        (lambda: canvas_png(4000, 4000, 8, 6), "4000 x 4000 pixels; the canvas is 280 x 280"),
        (lambda: b"GIF89a" + bytes(100), "not a PNG"),
        (lambda: bytes(4 * CANVAS_SIZE**2 + 2 * MB), "bytes; a 280 x 280 canvas's is at most"),
        (lambda: canvas_png(CANVAS_SIZE, CANVAS_SIZE, 8, 6)[:-40], "not a readable PNG"),
    ],
    ids=["16-bit", "grey", "rgb", "size", "gif", "bytes", "truncated"],
)
def test_canvas_png_mode_size_and_depth_are_checked_from_the_header(make, message):
    with pytest.raises(DigitnetError) as error:
        read_canvas_png(make(), CANVAS_SIZE, CANVAS_SIZE)
    assert message in one_line(error)


def test_canvas_png_crafted_is_refused_unread(crafted_png):
    with pytest.raises(DigitnetError) as error:
        read_canvas_png(crafted_png, CANVAS_SIZE, CANVAS_SIZE)
    assert one_line(error) == "the canvas image is 16-bit grey; a canvas sends 8-bit RGBA"
    assert peak_bytes(lambda: read_canvas_png(crafted_png, CANVAS_SIZE, CANVAS_SIZE)) < MB


def test_canvas_png_as_the_browser_sends_it_is_read_as_drawn():
    rgba, _ = drawn(*ONE)
    state = canvas_state(rgba)
    png = base64.b64decode(state["drawing"]["data"].split(",", 1)[1])
    read = read_canvas_png(png, CANVAS_SIZE, CANVAS_SIZE)
    assert read.dtype == np.uint8 and np.array_equal(read, rgba)
    assert np.array_equal(canvas_to_mnist(read), canvas_to_mnist(rgba))


def crafted_canvas(png: bytes, json_data: dict) -> dict:
    """The canvas's session-state value as a crafted browser would send it."""
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    return {"drawing": {"raw": json_data, "data": url}, "backgroundFit": None}


def test_canvas_png_crafted_on_the_draw_page_is_one_line(open_app, crafted_png):
    app = open_app()
    app.session_state[CANVAS] = crafted_canvas(crafted_png, {"objects": []})
    app.run()
    assert not app.exception
    assert [error.value for error in app.error] == [
        "the canvas image is 16-bit grey; a canvas sends 8-bit RGBA"
    ]
    assert len(app.metric) == 0
    rgba, json_data = drawn(*ONE)  # the next drawing is read as ever
    app.session_state[CANVAS] = canvas_state(rgba, json_data)
    app.run()
    assert not app.error and app.metric[0].value == "1"


def test_canvas_json_crafted_on_the_draw_pages_right_button_is_one_line(
    open_app, tmp_path, monkeypatch
):
    monkeypatch.setenv(DB_ENV, str(tmp_path / "drawings.sqlite"))
    rgba, _ = drawn(*ONE)  # the canvas shows a 1, its json_data is the tester's curves
    app = open_app()
    app.session_state[CANVAS] = canvas_state(rgba, crafted_curves(20))
    app.run()
    assert app.metric[0].value == "1"
    started = time.perf_counter()
    app.button(key="right-0").click().run()
    assert time.perf_counter() - started < 5  # a generous bound: it took 6.9 s for 8 curves
    assert not app.exception
    [warning] = [w.value for w in app.warning if w.value.startswith("Not saved")]
    assert warning.startswith("Not saved: canvas object 1: canvas path command 'Q' takes 4")
    assert "\n" not in warning
    assert not DrawingStore().path.exists()


# --- 2. Every file a person names is read up to a cap ------------------------------------------


def run(arguments, tmp_path, monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(DB_ENV, str(tmp_path / "drawings.sqlite"))
    code = main(arguments)
    out, err = capsys.readouterr()
    return code, out, err


CSV_CAP = "is larger than 200 MB, the limit for a CSV of digits: split it\n"


@pytest.mark.parametrize(
    "arguments",
    [
        ["submit", "--test", "/dev/zero", "--out", "submission.csv"],
        ["drawings", "import", "/dev/zero"],
        ["train", "--kaggle-train", "/dev/zero", "--out", "m.npz", "--no-pen-data"],
    ],
    ids=["submit", "import", "train"],
)
def test_unbounded_reads_stop_at_the_csv_cap_on_the_cli(arguments, tmp_path, monkeypatch, capsys):
    code, out, err = run(arguments, tmp_path, monkeypatch, capsys)
    assert (code, err) == (2, f"error: /dev/zero: {CSV_CAP}")
    assert sorted(path.name for path in tmp_path.iterdir()) == []  # nothing written


def test_unbounded_reads_refuse_a_big_file_without_reading_it(tmp_path, monkeypatch, capsys):
    big = tmp_path / "big.csv"
    with open(big, "wb") as file:
        file.truncate(mnist_module.MAX_CSV_BYTES + 1)  # sparse: no disk, no time
    arguments = ["submit", "--test", "big.csv", "--out", "submission.csv"]
    tracemalloc.start()
    try:
        code, _, err = run(arguments, tmp_path, monkeypatch, capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (code, err) == (2, f"error: big.csv: {CSV_CAP}")
    assert peak < 10 * MB


def test_unbounded_reads_an_upload_over_the_cap_is_one_line_on_the_train_page(
    open_app, no_data, mnist, monkeypatch
):
    monkeypatch.setattr(mnist_module, "MAX_CSV_BYTES", MB)  # Streamlit itself stops at 100 MB
    app = upload(open_app(TRAIN), "train.csv", kaggle_csv(mnist))
    assert not app.exception
    assert [error.value for error in app.error] == [
        "train.csv: is larger than 1 MB, the limit for a CSV of digits: split it"
    ]


def test_unbounded_reads_every_source_shares_the_cap(monkeypatch):
    monkeypatch.setattr(mnist_module, "MAX_CSV_BYTES", 10)
    for source in (b"x" * 11, open("/dev/zero", "rb")):  # noqa: SIM115 (closed by its reader)
        with pytest.raises(DigitnetError, match="is larger than 0 MB, the limit for a CSV"):
            mnist_module.read_kaggle_csv(source, "upload.csv")
        getattr(source, "close", lambda: None)()


# --- 3. A weights file's metadata and spec are checked on load ---------------------------------


@pytest.fixture
def fixture_arrays(fixture_model_file) -> dict:
    return read_archive(fixture_model_file)


def with_metadata(arrays: dict, path, **changes) -> str:
    """A copy of the fixture model whose metadata has ``changes`` (None deletes a key)."""
    metadata = json.loads(str(arrays["__metadata__"]))
    metadata.update(changes)
    write_archive(path, {**arrays, "__metadata__": np.array(json.dumps(metadata))})
    return str(path)


NAN = float("nan")
BAD_METADATA = [
    ({"temperature": "hot"}, "temperature must be a finite number above 0 and at most 100"),
    ({"temperature": NAN}, "temperature must be a finite number above 0"),
    ({"temperature": 0}, "got 0"),
    ({"temperature": MAX_TEMPERATURE * 10}, "at most 100, got 1000.0"),
    ({"metrics": {"test": {"accuracy": "x"}}}, "metrics.test.accuracy must be a finite number"),
    ({"metrics": {"test": {"accuracy": 1.5}}}, "from 0 to 1, got 1.5"),
    ({"metrics": {"dev": {"accuracy": 0.9, "bogus": 1}}}, "must hold an accuracy and at most"),
    ({"metrics": {"test": {"accuracy": 0.9, "found": NAN}}}, "metrics.test.found must be"),
    ({"metrics": []}, "metrics must be a JSON object"),
    ({"test_accuracy": "x"}, "test_accuracy must be a finite number"),
    ({"dev_split": {"size": 1000, "seed": -1}}, "dev_split.seed must be a whole number from 0"),
    ({"dev_split": {"size": "7", "seed": 1}}, "dev_split.size must be a whole number"),
    ({"dev_split": {"size": 7}}, "dev_split.seed must be a whole number"),
    ({"training": {"seed": 2**40}}, "training.seed must be a whole number from 0 to 4,294"),
    ({"training": "fast"}, "training must be a JSON object"),
    ({"training_seconds": float("inf")}, "training_seconds must be a finite number from 0"),
    ({"name": ["x"]}, "name must be a text"),
    ({"name": "x" * 5000}, "name must be a text of at most 1,000 characters, got 'xxx"),
    ({"dataset": {"name": 3}}, "dataset.name must be a text"),
    ({"preprocessing_version": 1.5}, "preprocessing_version must be a whole number"),
    ({"card_version": True}, "card_version must be a whole number"),
]
BAD_METADATA_IDS = [
    "hot",
    "nan",
    "zero",
    "huge",
    "accuracy-x",
    "accuracy-1.5",
    "score-keys",
    "found-nan",
    "metrics-list",
    "old-accuracy",
    "seed-1",
    "size-text",
    "no-seed",
    "training-seed",
    "training-text",
    "seconds-inf",
    "name-list",
    "name-long",
    "dataset",
    "version",
    "card-version",
]


@pytest.mark.parametrize(("changes", "message"), BAD_METADATA, ids=BAD_METADATA_IDS)
def test_weights_metadata_every_field_is_checked_on_load(
    fixture_arrays, tmp_path, changes, message
):
    path = with_metadata(fixture_arrays, tmp_path / "crafted.npz", **changes)
    with pytest.raises(DigitnetError) as error:
        load_model(path)
    assert one_line(error).startswith(f"{path}: metadata field ")
    assert message in str(error.value)
    # And a model made with that metadata in memory: its card is one line too.
    model = Model("mlp:8", metadata=changes)
    with pytest.raises(DigitnetError, match="malformed model card: metadata field") as error:
        card(model)
    one_line(error)


def test_weights_metadata_the_score_keys_are_the_cards():
    assert tuple(field.name for field in fields(Score)) == SCORE_KEYS


def test_weights_metadata_temperature_hot_on_the_cli(fixture_arrays, tmp_path, monkeypatch, capsys):
    path = with_metadata(fixture_arrays, tmp_path / "hot.npz", temperature="hot")
    Image.new("L", (28, 28)).save(tmp_path / "digit.png")
    arguments = ["predict", "digit.png", "--weights", path]
    code, out, err = run(arguments, tmp_path, monkeypatch, capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"error: {path}: metadata field temperature must be a finite number above 0 and at most "
        "100, got 'hot'\n"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"temperature": "hot"},
        {"metrics": {"test": {"accuracy": "x"}}},
        {"dev_split": {"size": 10, "seed": -1}},
    ],
    ids=["hot", "accuracy-x", "seed-1"],
)
def test_weights_metadata_on_every_page_is_one_line_in_the_sidebar(
    open_app, app_cache, fixture_arrays, changes
):
    with_metadata(fixture_arrays, app_cache / "models" / "crafted.npz", **changes)
    app = open_app(model="crafted (saved)")
    for page in ("pages/draw_page.py", "pages/train_page.py", "pages/confusion_page.py"):
        app.switch_page(page).run()
        assert not app.exception
        [error] = [error.value for error in app.sidebar.error]
        assert "crafted.npz: metadata field " in error and "\n" not in error


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ({"stride": 1e23}, f"stride must be at most {MAX_STRIDE}, got 1e+23"),
        ({"stride": MAX_STRIDE + 1}, "stride must be at most 28, got 29"),
        ({"kernel": 1e23}, "kernel must be a positive integer or a pair of them, got 1e+23"),
        ({"kernel": [MAX_KERNEL + 1, 3]}, "kernel must be at most 28 pixels a side, got [29, 3]"),
        (
            {"kernel": [True, 3]},
            "kernel must be a positive integer or a pair of them, got [True, 3]",
        ),
    ],
    ids=["stride-1e23", "stride-29", "kernel-1e23", "kernel-29", "kernel-bool"],
)
def test_weights_spec_conv_strides_and_kernels_are_bounded(
    fixture_arrays, tmp_path, layer, message
):
    spec = {"layers": [{"type": "conv2d", "filters": 2, **layer}]}
    with pytest.raises(DigitnetError) as error:
        Model(spec)
    assert one_line(error) == f"layer 0 (conv2d): {message}"
    path = with_metadata(fixture_arrays, tmp_path / "conv.npz", spec=spec)
    with pytest.raises(DigitnetError) as error:
        load_model(path)
    assert one_line(error) == f"{path}: bad spec in metadata: layer 0 (conv2d): {message}"


def test_weights_spec_asking_for_49m_parameters_it_does_not_hold_allocates_nothing(tmp_path):
    """The tester's 331-byte file: metadata only, whose spec asks for 49 million weights
    (it took 570 MB before being refused)."""
    spec = {"layers": [{"type": "flatten"}, {"type": "dense", "units": 62_000}]}
    spec["layers"] += [{"type": "dense", "units": 10}]
    assert 45e6 < count_parameters(spec) < 50e6
    path = tmp_path / "small.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__metadata__.npy", np_text(json.dumps({"spec": spec})))
    assert path.stat().st_size < 1000
    with pytest.raises(DigitnetError) as error:
        load_model(path)
    assert one_line(error).startswith(f"{path}: the arrays do not match the spec (missing ['1.W'")
    assert peak_bytes(lambda: load_model(path)) < MB


def np_text(text: str) -> bytes:
    """A .npy member holding one text, as save_model writes the metadata."""
    buffer = io.BytesIO()
    np.save(buffer, np.array(text))
    return buffer.getvalue()


EVERY_LAYER = {
    "layers": [
        {"type": "conv2d", "filters": 2, "kernel": [3, 5], "stride": 2, "padding": "same"},
        {"type": "batchnorm"},
        {"type": "maxpool2d", "size": 2},
        {"type": "leaky_relu"},
        {"type": "flatten"},
        {"type": "dense", "units": 8},
        {"type": "batchnorm"},
        {"type": "sigmoid"},
        {"type": "dropout", "rate": 0.5},
        {"type": "dense", "units": 8},
        {"type": "tanh"},
        {"type": "dense", "units": 8},
        {"type": "relu"},
        {"type": "dense", "units": 10},
    ]
}


@pytest.mark.parametrize("spec", ["mlp:32,16", "cnn", EVERY_LAYER], ids=["mlp", "cnn", "every"])
def test_weights_spec_array_shapes_are_the_models(spec):
    model = Model(spec)
    expected = {name: array.shape for name, array in model.arrays().items()}
    assert array_shapes(model.spec) == expected
    assert count_parameters(model.spec) == model.num_parameters


# --- 4. No growth ----------------------------------------------------------------------------

CACHES = ("x", "mask", "scale", "out", "columns", "row_index", "column_index", "normalised")


@pytest.mark.parametrize("score", ["predict", "predict_proba", "features", "activations"])
def test_no_growth_a_model_scored_on_a_big_set_holds_no_reference_to_it(score):
    model = Model(EVERY_LAYER)
    images = np.random.default_rng(0).random((600, 28, 28), dtype=np.float32)
    getattr(model, score)(images)
    alive = weakref.ref(images)
    del images
    gc.collect()
    assert alive() is None, "the model keeps a view of the images it was scored on"
    kept = {
        (type(layer).__name__, name)
        for layer in model.layers
        for name in CACHES
        if getattr(layer, name, None) is not None
    }
    assert kept == set()


def test_no_growth_training_and_saliency_still_keep_what_backward_needs():
    model = Model(EVERY_LAYER)
    images = np.random.default_rng(0).random((4, 28, 28), dtype=np.float32)
    model.forward(images, training=True)
    assert model.layers[5].x is not None and model.layers[0].columns is not None
    gradient = model.input_gradient(images.astype(np.float64), np.arange(4))
    assert gradient.shape == (4, 28, 28) and np.abs(gradient).sum() > 0


def resident_bytes() -> int:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_no_growth_twelve_trainings_started_and_stopped_give_the_memory_back(open_app, app_cache):
    """Each training is scored on MNIST's 10,000 test digits (a 31 MB float copy); a model that
    kept a view of them held it for the rest of the session: 12 cycles grew the server by
    360 MB. Measured after a first training, which loads what the server keeps for every session
    (the float split, the test set)."""
    app = open_app(TRAIN)
    configure(app, hidden="16", epochs=1, dev_size=1000, batch=128)

    def train_and_stop() -> None:
        app.button(key="train_start").click().run()
        app.button(key="train_stop").click().run()
        finish(app)
        assert not app.exception and "Training stopped" in app.success[0].value

    train_and_stop()
    gc.collect()
    start = resident_bytes()
    for _ in range(12):
        train_and_stop()
    gc.collect()
    grown = resident_bytes() - start
    assert grown < 100 * 2**20, f"the session grew by {grown / 2**20:.0f} MB"


# --- 5. A photo too small to hold a digit ------------------------------------------------------


@pytest.mark.parametrize("size", [(1, 1), (2, 1), (1, 500), (3, 1000)])
def test_a_1_pixel_photo_is_one_line_without_warnings(size):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DigitnetError) as error:
            image_to_mnist(np.zeros(size[::-1], np.uint8))
    assert one_line(error) == (
        f"the image is {size[0]} x {size[1]} pixels: too small or too thin to hold a digit (its "
        f"shorter side must be at least {MIN_PHOTO_SIDE} pixels once the longer is at most 320)"
    )


def test_a_1_pixel_photo_the_thinnest_accepted_is_read():
    """A 1 cropped tight to its ink, MIN_PHOTO_SIDE pixels wide, still reads as a digit."""
    photo = np.full((60, MIN_PHOTO_SIDE), 230, np.uint8)
    photo[5:55] = 20
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = image_to_mnist(photo)
    assert image.shape == (28, 28) and image.max() == 1


def test_a_1_pixel_png_on_the_cli_is_one_line(tmp_path, monkeypatch, capsys):
    Image.new("L", (1, 1)).save(tmp_path / "dot.png")
    code, out, err = run(["predict", "dot.png"], tmp_path, monkeypatch, capsys)
    assert (code, out) == (2, "")
    assert err.startswith("error: dot.png: the image is 1 x 1 pixels: too small")
    assert err.count("\n") == 1  # no NumPy warning lines


def test_a_1_pixel_png_on_the_draw_page_is_one_line(open_app):
    dot = io.BytesIO()
    Image.new("L", (1, 1)).save(dot, format="PNG")
    app = open_app()
    app.radio(key="draw_input").set_value("Upload a photo").run()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        app.file_uploader[0].upload("dot.png", dot.getvalue()).run()
    assert not app.exception
    [error] = [error.value for error in app.error]
    assert error.startswith("the image is 1 x 1 pixels: too small") and len(app.metric) == 0
