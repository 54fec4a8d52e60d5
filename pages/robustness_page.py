"""Robustness: how accuracy falls as test digits are rotated, shifted, scaled, thickened or
thinned, or covered in noise (``digitnet.analysis.robustness``), for the chosen model and a second
one to compare. Curves are computed once per server for each model checksum.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from digitnet import DigitnetError, Model
from digitnet.analysis import robustness
from digitnet.training.catalog import list_models
from pages.common.caches import cached_model
from pages.common.data import mnist_test_or_say
from pages.common.models import CHOICE, chosen_model
from pages.common.pictures import CHART_TEXT

SHIPPED = ("cnn", "mlp")
COLOURS = ("#d62728", "#1f77b4")
TITLES = {
    "rotation": "Rotation",
    "shift": "Shift",
    "scale": "Scale",
    "thickness": "Stroke thickness",
    "noise": "Pixel noise",
}
AXIS_TITLES = {  # shorter than the library's units, which a narrow chart would cut
    "thickness": "thinner (-1) to thicker (+1)",
    "noise": "noise (standard deviation)",
}
WHAT_IT_SHOWS = (
    "Each curve is the accuracy on the same {count:,} MNIST test digits, distorted more and more "
    "(no distortion where the curves meet). Measured for the shipped models: the CNN keeps its "
    "accuracy better when digits move or turn (shifted 6 pixels: 90% against the MLP's 81%; "
    "rotated 45 degrees: 78% against 67%), because a convolution finds a stroke wherever it is, "
    "while an MLP's weights are tied to pixel positions. But the CNN is the less robust to pixel "
    "noise (noise of 0.2: 43% against 64%): its filters also fire on the speckle, which looks "
    "like bits of stroke, while the MLP averages each unit over the whole image."
)


@st.cache_resource(max_entries=8, show_spinner=False)
def curves(
    checksum: str, count: int, _model: Model, _images: np.ndarray, _labels: np.ndarray
) -> dict[str, list[tuple[float, float]]]:
    """``robustness_curves`` once per server for each model checksum."""
    return robustness.robustness_curves(_model, _images, _labels)


def other_model(chosen: str | None) -> tuple[str, Model] | None:
    """A selectbox of the catalog's other models (default: the other shipped one), and the one
    picked, loaded; None when there is no other model or it cannot be loaded (said so)."""
    entries = {entry.label: entry.path for entry in list_models() if entry.label != chosen}
    if not entries:
        return None
    labels = list(entries)
    default = next((label for label in SHIPPED if label in entries), labels[0])
    label = st.selectbox("Compare with", labels, index=labels.index(default), key="compare_with")
    path = Path(entries[label])
    try:
        return label, cached_model(str(path), path.stat().st_mtime)
    except (DigitnetError, OSError) as error:
        st.error(str(error))
        return None


def chart(distortion: str, series: dict[str, list[tuple[float, float]]]) -> dict:
    """Vega-Lite lines of accuracy against the distortion's amount, one per model."""
    unit = AXIS_TITLES.get(distortion, robustness.DISTORTIONS[distortion][0])
    values = [
        {"amount": amount, "model": name, "accuracy": accuracy}
        for name, points in series.items()
        for amount, accuracy in points
    ]
    return {
        "data": {"values": values},
        "height": 170,
        "autosize": {"type": "fit-x", "contains": "padding"},  # the height is the plot's own
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": {"field": "amount", "type": "quantitative", "title": unit},
            "y": {
                "field": "accuracy",
                "type": "quantitative",
                "scale": {"domain": [0, 1]},
                "axis": {"format": ".0%"},
            },
            "color": {
                "field": "model",
                "type": "nominal",
                "title": None,
                "scale": {"domain": list(series), "range": list(COLOURS)},
                "legend": {"orient": "top", "direction": "horizontal"},
            },
        },
        "config": CHART_TEXT,
    }


def summary(distortion: str, series: dict[str, list[tuple[float, float]]]) -> str:
    """The chart in words: each model's best and worst accuracy."""
    ranges = [
        f"{name} {max(a for _, a in points):.0%} at best, {min(a for _, a in points):.0%} at worst"
        for name, points in series.items()
    ]
    return f"Accuracy against {TITLES[distortion].lower()}: {'; '.join(ranges)}"


def numbers(series: dict[str, dict[str, list[tuple[float, float]]]]) -> None:
    """The curves' points as tables, a row per amount and a column per model: for screen
    readers, and for anyone who wants the numbers."""
    columns = st.columns(3)
    for position, distortion in enumerate(robustness.DISTORTIONS):
        amounts = [amount for amount, _ in next(iter(series.values()))[distortion]]
        unit = AXIS_TITLES.get(distortion, robustness.DISTORTIONS[distortion][0])
        table = pd.DataFrame(
            {
                name: [f"{accuracy:.1%}" for _, accuracy in points[distortion]]
                for name, points in series.items()
            },
            index=pd.Index([f"{amount:g}" for amount in amounts], name=unit),
        )
        with columns[position % 3]:
            st.markdown(f"**{TITLES[distortion]}**: accuracy")
            st.table(table)


def render(model: Model | None) -> None:
    st.title("Robustness")
    if model is None:
        st.info("Choose a model in the sidebar.")
        return
    dataset = mnist_test_or_say("The curves need")
    if dataset is None:
        return
    chosen = st.session_state.get(CHOICE) or "chosen model"
    models = {chosen: model}
    other = other_model(chosen)
    if other is not None:
        models[other[0]] = other[1]
    count = min(robustness.SUBSET, len(dataset.test_images))
    images, labels = dataset.test_images[:count], dataset.test_labels[:count]
    series = {}
    for name, each in models.items():
        with st.spinner(f"Distorting {count:,} test digits for {name} (once per model)..."):
            series[name] = curves(each.metadata["checksum"], count, each, images, labels)
    st.caption(WHAT_IT_SHOWS.format(count=count))
    columns = st.columns(3)
    for position, distortion in enumerate(robustness.DISTORTIONS):
        one = {name: points[distortion] for name, points in series.items()}
        with columns[position % 3]:
            st.markdown(f"**{TITLES[distortion]}**")
            st.vega_lite_chart(
                spec=chart(distortion, one), width="stretch", alt=summary(distortion, one)
            )
    with st.expander("The curves' numbers"):
        numbers(series)


if __name__ == "__main__":  # run as a page (see streamlit_app.py); a test only imports it
    render(chosen_model())
