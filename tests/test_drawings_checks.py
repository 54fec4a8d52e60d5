"""What a drawing may hold: absurd input is thinned or refused with one line, and nothing is
saved."""

from __future__ import annotations

import io

import numpy as np
import pytest

from digitnet.data.collection import checks
from digitnet.data.collection.store import DrawingStore
from digitnet.errors import DigitnetError
from tests.test_drawings import ME, canvas_drawing, single_line


@pytest.fixture
def store(tmp_path) -> DrawingStore:
    return DrawingStore(tmp_path / "drawings.sqlite")


def test_a_drawing_of_100000_points_is_thinned_to_the_cap(store):
    path = np.stack([np.linspace(0, 279, 100_000), np.linspace(0, 279, 100_000)], axis=1)
    strokes = [path[:60_000], path[60_000:]]
    drawing = store.get(store.add(**canvas_drawing(strokes=strokes)), person=ME)
    counts = [len(stroke) for stroke in drawing.strokes]
    assert sum(counts) <= checks.MAX_POINTS and min(counts) > 1000
    np.testing.assert_array_equal(drawing.strokes[0][0], [0, 0])  # the shape stays: same start


def test_points_far_outside_the_canvas_are_clipped_to_one_canvas_side_around_it(store):
    # A stroke may leave the canvas and come back (kept, so it renders as drawn); a point
    # farther than the canvas's longer side (280) beyond its edge is clipped to that distance.
    strokes = [np.array([[-50, 10], [140, 140], [900, 300.5], [1e12, -1e12]])]
    drawing = store.get(store.add(**canvas_drawing(strokes=strokes, canvas_height=200)), person=ME)
    expected = [[-50, 10], [140, 140], [560, 300.5], [560, -280]]
    np.testing.assert_array_equal(drawing.strokes[0], expected)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"strokes": [np.array([[1.0, np.nan]])]}, "NaN or infinite point"),
        ({"strokes": [np.array([[1.0, np.inf]])]}, "NaN or infinite point"),
        ({"strokes": [np.zeros((1, 2))] * 501}, "at most 500 strokes"),
        ({"strokes": [np.zeros((4, 3))]}, r"each stroke must be an \(n, 2\) array"),
        ({"strokes": [np.zeros(3)]}, r"each stroke must be an \(n, 2\) array"),
        ({"strokes": [["a", "b"]]}, r"each stroke must be an \(n, 2\) array"),
        ({"brush_width": "18"}, "brush width"),
        ({"canvas_width": 100_000}, "canvas width must be 1 to 4096"),
        ({"canvas_height": None}, "canvas height must be 1 to 4096"),
        ({"brush_width": float("nan")}, "brush width"),
        ({"label": 11}, r"label must be a digit 0-9 or 10 \(not a digit\), got 11"),
        ({"label": True}, "label must be a digit 0-9"),
        ({"prediction": -1}, "prediction must be a digit 0-9"),
        ({"person": ""}, "a person is named by 1 to 254 characters without spaces"),
        ({"person": "ann smith"}, "a person is named by 1 to 254 characters without spaces"),
        ({"person": "ann\x00"}, "a person is named by 1 to 254 characters without spaces"),
        ({"person": "a" * 255}, "a person is named by 1 to 254 characters without spaces"),
        ({"person": None}, "a person is named by 1 to 254 characters without spaces"),
        ({"shared": "yes"}, "shared must be True or False"),
        ({"image": np.zeros((28, 27), np.float32)}, "must be 28x28"),
        ({"image": np.full((28, 28), np.nan, np.float32)}, "values from 0 to 1"),
        ({"image": np.full((28, 28), 3.0, np.float32)}, "values from 0 to 1"),
        ({"probabilities": np.ones(10)}, "must sum to 1"),
        ({"probabilities": np.ones(3) / 3}, "ten finite numbers"),
        ({"session": ""}, "session id"),
        ({"session": "x" * 65}, "session id"),
        ({"photo": b"jpeg"}, "its strokes or its photo"),
        ({"strokes": None}, "its strokes or its photo"),
    ],
)
def test_a_drawing_with_absurd_values_is_refused_and_nothing_is_saved(store, changes, message):
    with pytest.raises(DigitnetError, match=message) as error:
        store.add(**canvas_drawing(**changes))
    single_line(error)
    assert store.list(person=None) == []


def test_a_huge_photo_is_refused_with_the_cap(store):
    values = canvas_drawing(strokes=None, canvas_width=None, canvas_height=None, brush_width=None)
    with pytest.raises(DigitnetError, match="the photo must be its file's bytes, got BytesIO"):
        store.add(**values, photo=io.BytesIO(b"png"))
    with pytest.raises(DigitnetError, match=r"the photo is 2\.5 MB; at most 2 MB") as error:
        store.add(**values, photo=bytes(int(2.5 * 2**20)))
    single_line(error)
    assert store.add(**values, photo=bytes(2 * 2**20)) == 1  # exactly at the cap is kept


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.zeros((2, 28, 28), np.float32), [3, 10], "label must be a digit 0-9, got 10"),
        (np.zeros((2, 28, 28), np.float32), [3.0, 4.0], "label must be a digit 0-9, got 3.0"),
        (np.full((2, 28, 28), np.nan, np.float32), [3, 4], "values from 0 to 1"),
        (np.zeros((2, 28, 27), np.float32), [3, 4], r"must be \(n, 28, 28\) with a label each"),
        (np.zeros((2, 28, 28), np.float32), [3], r"must be \(n, 28, 28\) with a label each"),
    ],
)
def test_imported_rows_with_absurd_values_are_refused_and_nothing_is_saved(
    store, images, labels, message
):
    with pytest.raises(DigitnetError, match=message) as error:
        store.add_imported(images, np.array(labels), session="import", person=ME)
    single_line(error)
    assert store.list(person=None) == []
    assert (
        store.add_imported(
            np.zeros((2, 28, 28), np.uint8), np.array([3, 4]), "import", person=ME
        ).added
        == 2
    )
