"""Explore: a map of how the network groups digits. Every test digit is placed by its last hidden
layer (``Model.features``), by PCA or t-SNE (``digitnet.analysis.embedding``), coloured by its
digit, misread ones marked; hovering shows the digit. Held-out drawings that are not digits
(``held_out_negatives``: fonts, symbols and shapes it never trained on, scribbles, several and
partial digits) are black squares on the same map, to see where what is no digit lands. The Draw
page's latest drawing is a star on the PCA map. Maps are computed once per server for each model
checksum.
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass

import numpy as np
import streamlit as st
from PIL import Image

from digitnet import Model
from digitnet.analysis.embedding import Pca, fit_pca, tsne
from digitnet.data.negatives import Negatives, held_out_negatives
from digitnet.images import to_float
from digitnet.reading import verdicts
from pages.common import inside
from pages.common.caches import cached_pen_data
from pages.common.data import mnist_test_or_say, pen_data_file
from pages.common.models import chosen_model
from pages.common.pictures import CHART_TEXT, grey_levels

# MNIST test digits on the map: 3,000 by default (t-SNE: 19 s alone, 39 s seen in the app, on a
# busy 2-core machine); t-SNE's time grows with the square of the count.
MAP_SIZES = (1_000, 2_000, 3_000)
METHODS = ("PCA", "t-SNE")
# A five-pointed star as an SVG path in Vega's unit square (Vega has no "star" shape).
STAR = (
    "M0,-1L0.225,-0.309L0.951,-0.309L0.363,0.118L0.588,0.809L0,0.382L-0.588,0.809L-0.363,0.118"
    "L-0.951,-0.309L-0.225,-0.309Z"
)
TOOLTIP_ZOOM = 2  # the hover picture is 56 x 56 pixels
# Held-out drawings that are not digits on the map: 20 of each kind, drawn in about 6 s on a busy
# 2-core machine, once per server.
NOT_DIGITS_ON_MAP = 120
NOT_DIGIT = "not a digit"  # their "digit" on the map, and their kind
# Vega's category10 for the digits (7 is its grey), black for the drawings that are not digits.
MAP_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#111111",
]  # fmt: skip


@dataclass(frozen=True)
class NotDigitsSeen:
    """The drawings that are not digits as the map shows them: where each one is, what the
    reading calls it ("not a digit", "4, unsure", "4") and its hover picture."""

    coordinates: np.ndarray
    said: list[str]
    pictures: list[str]


@st.cache_resource(max_entries=4, show_spinner="Reading the test digits through the model...")
def digits_seen(
    checksum: str, count: int, _model: Model, _images: np.ndarray
) -> tuple[np.ndarray, np.ndarray, Pca]:
    """The digits' features, the model's readings of them, and the PCA fitted on the features."""
    images = to_float(_images)
    features = _model.features(images)
    return features, _model.predict(images), fit_pca(features)


@st.cache_resource(
    max_entries=4, show_spinner="t-SNE is arranging the digits: about half a minute, once per model"
)
def tsne_map(
    checksum: str, count: int, not_digits: int, _features: np.ndarray
) -> tuple[np.ndarray, float]:
    """The t-SNE map of the ``count`` digits and ``not_digits`` drawings that are not digits
    (their features in that order), and the seconds it took."""
    started = time.perf_counter()
    coordinates = tsne(_features)
    return coordinates, time.perf_counter() - started


@st.cache_resource(
    show_spinner="Drawing letters, symbols, shapes and scribbles the network never trained on..."
)
def held_out_not_digits(pen_path: str, count: int) -> Negatives:
    """The held-out drawings that are not digits, made once per server (from the pen file's
    pen-dev writers, for several and partial digits)."""
    return held_out_negatives(count, data=cached_pen_data(pen_path))


@st.cache_resource(max_entries=2, show_spinner=False)
def hover_pictures(data_key: str, _images: np.ndarray) -> list[str]:
    """Each digit as a small PNG data URL, dark on white, for the chart's tooltip."""
    urls = []
    for image in _images:
        buffer = io.BytesIO()
        picture = Image.fromarray(255 - image).resize((28 * TOOLTIP_ZOOM,) * 2, Image.NEAREST)
        picture.save(buffer, format="PNG")
        urls.append("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode())
    return urls


def map_chart(
    coordinates: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    pictures: list[str],
    star: tuple[float, float] | None,
    not_digits: NotDigitsSeen | None = None,
) -> dict:
    """Vega-Lite: a point per digit (misread ones as crosses), a black square per drawing that
    is not a digit, the drawing as a star; zoom and pan with the mouse wheel and drag."""
    values = [
        point(xy, str(label), str(read), "read right" if read == label else "misread", picture)
        for xy, label, read, picture in zip(coordinates, labels, predictions, pictures, strict=True)
    ]
    if not_digits is not None:
        values += [
            point(xy, NOT_DIGIT, said, NOT_DIGIT, picture)
            for xy, said, picture in zip(
                not_digits.coordinates, not_digits.said, not_digits.pictures, strict=True
            )
        ]
    layers = [digits_layer(values)] + ([] if star is None else [star_layer(star)])
    return {
        "height": 480,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "layer": layers,
        "config": CHART_TEXT,
    }


def point(xy: np.ndarray, digit: str, read_as: str, kind: str, picture: str) -> dict:
    x, y = xy
    return {
        "x": round(float(x), 4),
        "y": round(float(y), 4),
        "digit": digit,
        "read as": read_as,
        "kind": kind,
        "image": picture,
    }


def digits_layer(values: list[dict]) -> dict:
    axis = {"title": None, "labels": False, "ticks": False, "grid": False}
    return {
        "data": {"values": values},
        "mark": {"type": "point", "filled": True, "opacity": 0.75},
        "params": [{"name": "zoom", "select": "interval", "bind": "scales"}],
        "encoding": {
            "x": {"field": "x", "type": "quantitative", "axis": axis, "scale": {"zero": False}},
            "y": {"field": "y", "type": "quantitative", "axis": axis, "scale": {"zero": False}},
            "color": {
                "field": "digit",
                "type": "nominal",
                "scale": {"domain": [*map(str, range(10)), NOT_DIGIT], "range": MAP_COLOURS},
                "legend": {"orient": "right", "title": "digit"},
            },
            "shape": {
                "field": "kind",
                "type": "nominal",
                "scale": {
                    "domain": ["read right", "misread", NOT_DIGIT],
                    "range": ["circle", "cross", "square"],
                },
                "legend": {"orient": "right", "title": None},
            },
            "size": {
                "condition": [
                    {"test": "datum.kind === 'misread'", "value": 90},
                    {"test": f"datum.kind === '{NOT_DIGIT}'", "value": 45},
                ],
                "value": 18,
            },
            "tooltip": [  # vega-tooltip shows a field called "image" as the picture itself
                {"field": "image", "type": "nominal"},
                {"field": "digit", "type": "nominal"},
                {"field": "read as", "type": "nominal"},
            ],
        },
    }


def star_layer(star: tuple[float, float]) -> dict:
    return {
        "data": {"values": [{"x": star[0], "y": star[1], "this is": "your drawing"}]},
        "mark": {
            "type": "point",
            "shape": STAR,
            "size": 500,
            "filled": True,
            "color": "#111111",
            "stroke": "#ffd700",
            "strokeWidth": 2,
            "opacity": 1,
        },
        "encoding": {
            "x": {"field": "x", "type": "quantitative"},
            "y": {"field": "y", "type": "quantitative"},
            "tooltip": [{"field": "this is", "type": "nominal"}],
        },
    }


def render(model: Model | None) -> None:
    st.title("Map of the digits")
    if model is None:
        st.info("Choose a model in the sidebar.")
        return
    dataset = mnist_test_or_say("The map needs")
    if dataset is None:
        return
    method_column, size_column = st.columns([1, 2])
    method = method_column.radio("Map", METHODS, horizontal=True, key="map_method")
    count = size_column.select_slider(
        "Test digits on the map", MAP_SIZES, value=MAP_SIZES[-1], key="map_digits"
    )
    negatives = not_digits_to_show()
    images, labels = dataset.test_images[:count], dataset.test_labels[:count]
    checksum = model.metadata["checksum"]
    features, predictions, pca = digits_seen(checksum, count, model, images)
    others = None if negatives is None else model.features(negatives.images)
    drawing = st.session_state.get(inside.LATEST_DRAWING)
    star, seconds = None, None
    if method == "PCA":
        coordinates = pca.transform(features)
        others = None if others is None else pca.transform(others)
        if drawing is not None:
            star = tuple(float(value) for value in pca.transform(model.features(drawing[None]))[0])
    else:
        together = features if others is None else np.concatenate([features, others])
        placed, seconds = tsne_map(checksum, count, len(together) - count, together)
        coordinates, others = placed[:count], (None if others is None else placed[count:])
    pictures = hover_pictures(f"{dataset.checksum}:{count}", images)
    seen = None if negatives is None else not_digits_seen(model, negatives, others)
    chart = map_chart(coordinates, labels, predictions, pictures, star, seen)
    misread = int((predictions != labels).sum())
    squares = "" if seen is None else f"; the {len(seen.said)} black squares are not digits"
    st.vega_lite_chart(
        spec=chart,
        width="stretch",
        key="digit_map",
        alt=f"{method} map of {count:,} test digits, a point each, coloured by digit; the "
        f"{misread} misread ones are crosses{squares}"
        + ("; your drawing is a star" if star else ""),
    )
    st.caption(
        f"{count:,} MNIST test digits, each placed by what the network's last hidden layer makes "
        f"of it ({features.shape[1]} numbers per digit), squeezed onto two dimensions: digits the "
        f"network finds alike sit close together. Crosses are the {misread} it misreads: most "
        "sit in another digit's cloud, where they look like that digit to the network. Hover "
        "over a point to see its digit; scroll to zoom, drag to move."
    )
    st.caption(method_note(pca, star is not None, seconds))
    if seen is not None:
        st.caption(not_digits_note(seen))


def not_digits_to_show() -> Negatives | None:
    """The held-out drawings that are not digits, if asked for (on unless turned off) and the
    pen digits are here (several and partial digits are made from them); else None, and why."""
    if not st.toggle("Drawings that are not digits", value=True, key="map_not_digits"):
        return None
    pen = pen_data_file()
    if pen is None:
        st.caption(
            "The drawings that are not digits need the pen digits, which are not on this "
            "server: `python -m digitnet download` gets them."
        )
        return None
    return held_out_not_digits(str(pen), NOT_DIGITS_ON_MAP)


def not_digits_seen(model: Model, negatives: Negatives, coordinates: np.ndarray) -> NotDigitsSeen:
    """Where the drawings that are not digits are, and what the reading calls each."""
    said = [
        called(str(verdict), int(digit))
        for verdict, digit in zip(
            verdicts(model, negatives.images), model.predict(negatives.images), strict=True
        )
    ]
    pictures = hover_pictures(f"not digits:{len(said)}", grey_levels(negatives.images))
    return NotDigitsSeen(coordinates, said, pictures)


def called(verdict: str, digit: int) -> str:
    """A reading in the hover's words: "not a digit", "4, unsure" or "4"."""
    if verdict == "digit":
        return str(digit)
    return f"{digit}, unsure" if verdict == "unsure" else NOT_DIGIT


def not_digits_note(seen: NotDigitsSeen) -> str:
    caught = sum(said == NOT_DIGIT or said.endswith("unsure") for said in seen.said)
    rejected = seen.said.count(NOT_DIGIT)
    return (
        f"Black squares: {len(seen.said)} drawings that are not digits, none of them trained on "
        "(letters and symbols of other fonts, other shapes, scribbles, several and partial "
        f"digits by unseen writers). The network calls {caught} of them unsure or not a digit "
        f"({rejected} not a digit); the others it reads as a digit with confidence. Hover over "
        "a square to see the drawing and what it was called."
    )


def method_note(pca: Pca, star: bool, tsne_seconds: float | None) -> str:
    """What the chosen map shows (t-SNE when its seconds are given), and where the drawing is."""
    if tsne_seconds is not None:
        return (
            "t-SNE keeps each digit's neighbours close, so the classes separate into islands; "
            f"distances between islands mean little. Computed in {tsne_seconds:.0f} s, once per "
            "model. It cannot place a new drawing without starting again: your drawing's star "
            "is on the PCA map."
        )
    where = (
        "the star is your latest drawing"
        if star
        else "draw a digit on the Draw page and it appears here as a star"
    )
    return (
        "PCA: the two directions along which the features vary most "
        f"({pca.explained_variance_ratio.sum():.0%} of their variance). Straight and fast, so a "
        f"new digit can be placed on it: {where}."
    )


if __name__ == "__main__":  # run as a page (see streamlit_app.py); a test only imports it
    render(chosen_model())
