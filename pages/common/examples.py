"""The examples behind a model's scores, for the Mistakes and Confusion pages: which ones (a true
and a predicted digit, the most confident first), and a paged grid of them with their true
label, the prediction and its confidence; any one opens in a dialog with all ten
probabilities."""

from __future__ import annotations

import numpy as np
import streamlit as st

from digitnet.analysis.metrics import Evaluation
from pages.common.data import Split
from pages.common.pictures import enlarge, probability_chart

PAGE_SIZE = 24
COLUMNS = 6


def examples_of(
    evaluation: Evaluation,
    true: int | None = None,
    predicted: int | None = None,
    mistakes_only: bool = False,
) -> np.ndarray:
    """Indices of the examples with that true and that predicted digit (None: any), the most
    confident prediction first (ties in data order)."""
    predictions, labels = evaluation.predictions, evaluation.labels
    keep = predictions != labels if mistakes_only else np.ones(len(labels), dtype=bool)
    if true is not None:
        keep &= labels == true
    if predicted is not None:
        keep &= predictions == predicted
    indices = np.flatnonzero(keep)
    confidence = evaluation.probabilities[indices].max(axis=1)
    return indices[np.argsort(-confidence, kind="stable")]


@st.dialog("One example", width="medium")
def open_example(image: np.ndarray, label: int, probabilities: np.ndarray) -> None:
    predicted = int(probabilities.argmax())
    picture, numbers = st.columns([1, 2])
    picture.image(
        enlarge(image, 6),
        caption="28 x 28, as the network sees it",
        output_format="PNG",
        alt=f"The handwritten {label}, enlarged",
    )
    numbers.metric("True digit", label)
    numbers.metric("Predicted", predicted, f"{probabilities[predicted]:.1%} sure", "off")
    st.vega_lite_chart(
        spec=probability_chart(probabilities),
        width="stretch",
        alt=f"Bar chart of the ten digits' probabilities: {predicted} the highest, at "
        f"{probabilities[predicted]:.1%}",
    )


def example_grid(split: Split, evaluation: Evaluation, indices: np.ndarray, key: str) -> None:
    """``indices`` into the split, in the order to show them. ``key`` must change whenever the
    selection does, so the page number starts again at 1."""
    total = len(indices)
    if total == 0:
        st.info("No examples match.")
        return
    pages = -(-total // PAGE_SIZE)
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"{key}-page", width=160))
    first = (page - 1) * PAGE_SIZE
    shown = indices[first : first + PAGE_SIZE]
    st.caption(f"{first + 1}-{first + len(shown)} of {total:,}")
    for position, index in enumerate(shown):
        if position % COLUMNS == 0:  # a row at a time: narrow screens stack it in reading order
            columns = st.columns(COLUMNS)
        label = int(evaluation.labels[index])
        probabilities = evaluation.probabilities[index]
        predicted = int(probabilities.argmax())
        with columns[position % COLUMNS]:
            st.image(
                enlarge(split.images[index], 5),
                caption=f"true {label}, predicted {predicted} ({probabilities[predicted]:.0%})",
                output_format="PNG",
                alt=f"A handwritten {label}",
            )
            if st.button("Open", key=f"{key}-open-{index}", type="tertiary"):
                open_example(split.images[index], label, probabilities)
