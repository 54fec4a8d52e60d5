"""The Draw page's "Inside the network" view, drawn after the prediction for every stroke: which
pixels pushed the answer (saliency), what each layer does with the drawing (a CNN's feature
maps, the hidden units' activity, an MLP's strongest units and their weights), and the training
digits the network finds most alike. The computing is ``digitnet.analysis.inside``'s; here are the
pictures and the words.

Also the colours the other views share: signed values red (for) and blue (against) on white,
activity from white (quiet) to dark blue (strong).
"""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from digitnet import Model
from digitnet.analysis.inside import (
    DigitIndex,
    after_each_convolution,
    feature_maps,
    saliency,
    strongest_units,
)
from digitnet.images import to_float
from digitnet.network.layers import LeakyReLU, ReLU, Sigmoid, Tanh
from pages.common.data import mnist
from pages.common.pictures import enlarge, tile

LATEST_DRAWING = "latest_drawing"  # session state: the Draw page's last 28x28, for the map
# Seconds the view waits before its work, so the prediction is sent and drawn first. Its work is
# Python holding the GIL, which the thread that sends the page's messages needs for each one:
# started at once, it made the prediction 0.1 s later, in a browser on the same 2 cores too.
DEFER = 0.1
REFERENCE_DIGITS = 10_000  # training digits searched for the nearest ones
NEAREST = 3
STRONGEST = 8  # an MLP's most active units whose weights are shown
UNIT_COLUMNS = 32
UNIT_CELL = 7  # pixels per hidden unit's square
WHITE = np.array([255, 255, 255], np.float32)
RED = np.array([214, 39, 40], np.float32)
BLUE = np.array([31, 119, 180], np.float32)
STRONG = np.array([8, 48, 107], np.float32)
GAP = np.array([200, 200, 200], np.float32)
INK_SHADE = 110  # how dark the drawing shows under the saliency colours (of 255)
# Colour strength = |value| ** SIGNED_GAMMA: the faint speckle a gradient keeps fades, the
# regions that matter stay. Activity is shown as its square root, so a unit or map that fires
# at a tenth of the layer's strongest is still visible.
SIGNED_GAMMA = 1.5
MAPS_WIDTH = 480  # pixels, about, of a layer's feature-map grid
CONVOLUTION_CAPTIONS = (
    "Each square is what one filter responds to, {} x {} pixels over the drawing: dark where it "
    "found its pattern (an edge, a curve, the end of a stroke), white where it found nothing.",
    "Each square is one filter of a deeper convolution, on a coarser {} x {} grid: it combines "
    "the patterns of the maps before it into larger parts of a digit.",
)
UNITS_CAPTION = (
    "Each square is one unit after its activation: the darker, the stronger it fires for this "
    "drawing."
)
SALIENCY_LEGEND = (
    "Which pixels moved the answer: **red** pushed towards it, **blue** against it (ink there, "
    "or missing ink there, speaks for another digit); white did not matter. The drawing is in "
    "grey underneath. An average of the gradient over 16 noisy copies (SmoothGrad)."
)


def signed_colours(values: np.ndarray, ink: np.ndarray | None = None) -> np.ndarray:
    """RGB uint8 of values in [-1, 1]: red for positive, blue for negative (by |value| **
    SIGNED_GAMMA), white for 0 (or the ``ink`` in grey, when given); NaN (the gaps of a grid)
    light grey."""
    gaps = np.isnan(values)
    strength = np.clip(np.nan_to_num(values), -1, 1)[..., None]
    base = np.broadcast_to(WHITE, (*values.shape, 3))
    if ink is not None:
        base = base - INK_SHADE * np.clip(ink, 0, 1)[..., None]
    colour = np.where(strength >= 0, RED, BLUE)
    amount = np.abs(strength) ** SIGNED_GAMMA
    rgb = base * (1 - amount) + colour * amount
    rgb[gaps] = GAP
    return rgb.round().astype(np.uint8)


def activity_colours(values: np.ndarray) -> np.ndarray:
    """RGB uint8 of activity in [0, 1]: white when quiet, dark blue when strong (by its square
    root); NaN light grey."""
    gaps = np.isnan(values)
    strength = np.sqrt(np.clip(np.nan_to_num(values), 0, 1))[..., None]
    rgb = WHITE * (1 - strength) + STRONG * strength
    rgb[gaps] = GAP
    return rgb.round().astype(np.uint8)


def enlarge_rgb(picture: np.ndarray, factor: int) -> np.ndarray:
    """An (h, w, 3) picture with each pixel a factor x factor block (crisp, like ``enlarge``)."""
    return picture.repeat(factor, axis=0).repeat(factor, axis=1)


def unit_grid(activity: np.ndarray) -> np.ndarray:
    """One layer's unit activities as a picture, one square per unit, scaled by the layer's
    largest (negative tanh values show as quiet)."""
    activity = np.clip(activity, 0, None)
    largest = activity.max()
    scaled = activity / largest if largest > 0 else activity
    squares = np.repeat(scaled.astype(np.float32), UNIT_CELL * UNIT_CELL)
    squares = squares.reshape(-1, UNIT_CELL, UNIT_CELL)
    columns = min(UNIT_COLUMNS, len(activity))
    return activity_colours(tile(squares, columns, gap=1, background=np.nan))


@st.cache_resource(max_entries=4, show_spinner="Reading 10,000 training digits (once per model)...")
def digit_index(checksum: str, _model: Model, _images: np.ndarray) -> DigitIndex:
    """The nearest-digit index of a model, built once per server for each model checksum."""
    return DigitIndex(_model.features(to_float(_images)))


def show_inside(model: Model | None, image: np.ndarray | None) -> None:
    """The view, below the prediction (DEFER seconds after it); also keeps the drawing for the
    Explore page's map."""
    if image is None:
        st.session_state.pop(LATEST_DRAWING, None)
        return
    st.session_state[LATEST_DRAWING] = image
    if model is None:
        return
    time.sleep(DEFER)
    with st.expander("Inside the network", expanded=True, icon=":material/neurology:"):
        outputs = model.activations(image[None])
        why, alike = st.columns([2, 3], gap="medium")
        with why:
            show_saliency(model, image)
        with alike:
            show_nearest(model, outputs[-2][1][0])
        show_layers(model, image, outputs)


def show_saliency(model: Model, image: np.ndarray) -> None:
    signed = saliency(model, image)
    st.image(
        enlarge_rgb(signed_colours(signed, ink=image), 8),
        caption="What mattered for the answer",
        output_format="PNG",
        alt="Your digit's pixels in red where they pushed towards the answer, blue against it",
    )
    st.caption(SALIENCY_LEGEND)


def show_nearest(model: Model, features: np.ndarray) -> None:
    st.markdown("**The most alike training digits**")
    dataset = mnist()
    if dataset is None:
        st.info(
            "The nearest training digits need MNIST, which is not on this server: the Train "
            "page can download it."
        )
        return
    reference = dataset.images[:REFERENCE_DIGITS]
    index = digit_index(model.metadata["checksum"], model, reference)
    nearest, similarity = index.nearest(features, NEAREST)
    for column, position, alike in zip(st.columns(NEAREST), nearest, similarity, strict=True):
        column.image(
            enlarge(reference[position], 3),
            caption=f"a {dataset.labels[position]} ({alike:.2f})",
            output_format="PNG",
            alt=f"A handwritten {dataset.labels[position]} from the training digits",
        )
    st.caption(
        f"Of {len(reference):,} training digits, the three whose last hidden layer fires most "
        "like your drawing's (cosine similarity, 1 = the same pattern). This is how the "
        "network sees your digit: as one of these."
    )


def show_layers(model: Model, image: np.ndarray, outputs: list[tuple[str, np.ndarray]]) -> None:
    convolutions = after_each_convolution(model)
    for number, position in enumerate(convolutions, start=1):
        maps = feature_maps(outputs[position][1])
        grid = tile(maps, 8 if len(maps) <= 32 else 16, gap=1, background=np.nan)
        st.markdown(f"**Convolution {number}: {len(maps)} feature maps**")
        picture = enlarge_rgb(activity_colours(grid), MAPS_WIDTH // grid.shape[1])
        st.image(picture, output_format="PNG", alt=f"The {len(maps)} feature maps, in a grid")
        st.caption(CONVOLUTION_CAPTIONS[min(number, 2) - 1].format(*maps.shape[1:]))
    hidden = hidden_activations(model, outputs)
    for position in hidden:
        activity = outputs[position][1][0]
        name = next(name for name, _ in outputs[position::-1] if name.startswith("dense"))
        st.markdown(
            f"**{name.capitalize()}: {int((activity > 0).sum())} of {len(activity)} units active**"
        )
        st.image(
            unit_grid(activity), output_format="PNG", alt=f"{len(activity)} units, a square each"
        )
        st.caption(
            UNITS_CAPTION + (" The output layer reads only this." if position == hidden[-1] else "")
        )
    if not convolutions:
        show_strongest_units(model, image)


def hidden_activations(model: Model, outputs: list[tuple[str, np.ndarray]]) -> list[int]:
    """Positions of the activation layers that follow a dense hidden layer (one value per unit)."""
    return [
        position
        for position, layer in enumerate(model.layers)
        if isinstance(layer, ReLU | LeakyReLU | Tanh | Sigmoid) and outputs[position][1].ndim == 2
    ]


def show_strongest_units(model: Model, image: np.ndarray) -> None:
    units, activity, weights = strongest_units(model, image, STRONGEST)
    grid = tile(weights, columns=4, gap=2, background=np.nan)
    st.markdown(f"**The {len(units)} most active units of the first hidden layer**")
    st.image(
        enlarge_rgb(signed_colours(grid), 3),
        output_format="PNG",
        alt=f"The incoming weights of the {len(units)} most active units, a picture each",
    )
    st.caption(
        "Each picture is one unit's incoming weights over the 28 x 28 pixels: ink on **red** "
        "excites the unit, ink on **blue** holds it back. Units "
        + ", ".join(f"{unit} ({value:.1f})" for unit, value in zip(units, activity, strict=True))
        + ", most active first."
    )
