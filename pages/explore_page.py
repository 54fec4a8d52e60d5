"""Explore: a map of how the network groups digits. Every test digit is placed by its last hidden
layer (``Model.features``), by PCA or t-SNE (``digitnet.analysis.embedding``), coloured by its
digit, misread ones marked; hovering shows the digit. The Draw page's latest drawing is a star on
the PCA map. Maps are computed once per server for each model checksum.
"""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import streamlit as st
from PIL import Image

from digitnet import Model
from digitnet.analysis.embedding import Pca, fit_pca, tsne
from digitnet.images import to_float
from pages.common import inside
from pages.common.data import mnist_test_or_say
from pages.common.models import chosen_model
from pages.common.pictures import CHART_TEXT

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
def tsne_map(checksum: str, count: int, _features: np.ndarray) -> tuple[np.ndarray, float]:
    """The t-SNE map and the seconds it took."""
    started = time.perf_counter()
    coordinates = tsne(_features)
    return coordinates, time.perf_counter() - started


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
) -> dict:
    """Vega-Lite: a point per digit (misread ones as crosses), the drawing as a star; zoom and
    pan with the mouse wheel and drag."""
    values = [
        {
            "x": round(float(x), 4),
            "y": round(float(y), 4),
            "digit": str(label),
            "read as": str(read),
            "kind": "read right" if read == label else "misread",
            "image": picture,
        }
        for (x, y), label, read, picture in zip(
            coordinates, labels, predictions, pictures, strict=True
        )
    ]
    layers = [digits_layer(values)] + ([] if star is None else [star_layer(star)])
    return {
        "height": 480,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "layer": layers,
        "config": CHART_TEXT,
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
                "scale": {"scheme": "category10"},
                "legend": {"orient": "right", "title": "digit"},
            },
            "shape": {
                "field": "kind",
                "type": "nominal",
                "scale": {"domain": ["read right", "misread"], "range": ["circle", "cross"]},
                "legend": {"orient": "right", "title": None},
            },
            "size": {"condition": {"test": "datum.kind === 'misread'", "value": 90}, "value": 18},
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
    images, labels = dataset.test_images[:count], dataset.test_labels[:count]
    checksum = model.metadata["checksum"]
    features, predictions, pca = digits_seen(checksum, count, model, images)
    drawing = st.session_state.get(inside.LATEST_DRAWING)
    star, seconds = None, None
    if method == "PCA":
        coordinates = pca.transform(features)
        if drawing is not None:
            star = tuple(float(value) for value in pca.transform(model.features(drawing[None]))[0])
    else:
        coordinates, seconds = tsne_map(checksum, count, features)
    pictures = hover_pictures(f"{dataset.checksum}:{count}", images)
    chart = map_chart(coordinates, labels, predictions, pictures, star)
    misread = int((predictions != labels).sum())
    st.vega_lite_chart(
        spec=chart,
        width="stretch",
        key="digit_map",
        alt=f"{method} map of {count:,} test digits, a point each, coloured by digit; the "
        f"{misread} misread ones are crosses" + ("; your drawing is a star" if star else ""),
    )
    st.caption(
        f"{count:,} MNIST test digits, each placed by what the network's last hidden layer makes "
        f"of it ({features.shape[1]} numbers per digit), squeezed onto two dimensions: digits the "
        f"network finds alike sit close together. Crosses are the {misread} it misreads: most "
        "sit in another digit's cloud, where they look like that digit to the network. Hover "
        "over a point to see its digit; scroll to zoom, drag to move."
    )
    st.caption(method_note(pca, star is not None, seconds))


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
