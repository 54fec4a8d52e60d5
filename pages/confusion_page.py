"""Confusion matrix: which digits the chosen model takes for which, as a heatmap of counts and
row percentages, per-class precision, recall and F1, and the examples behind any cell (click it,
or pick the true and predicted digits)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from digitnet import Model
from digitnet.analysis.metrics import Evaluation
from pages.common.data import Split, chosen_split, datasets
from pages.common.examples import example_grid, examples_of
from pages.common.models import chosen_model

TRUE = "confusion_true"
PREDICTED = "confusion_predicted"
CLICKED = "confusion_clicked"  # the heatmap's last click, so a rerun does not apply it again


def heatmap(confusion: np.ndarray) -> alt.LayerChart:
    totals = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)
    true, predicted = np.indices(confusion.shape)
    frame = pd.DataFrame(
        {
            "true": true.ravel(),
            "predicted": predicted.ravel(),
            "count": confusion.ravel(),
            "row share": share.ravel(),
        }
    )
    frame["label"] = [f"{value:.0%}" if value >= 0.005 else "" for value in frame["row share"]]
    cell = alt.selection_point(fields=["true", "predicted"], name="cell")
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:O", title="predicted digit", axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("true:O", title="true digit"),
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color(
            "row share:Q",
            scale=alt.Scale(range=["#f7fbff", "#08306b"], type="sqrt", domain=[0, 1]),
            legend=alt.Legend(format="%", title="row %"),
        ),
        tooltip=[
            "true:O",
            "predicted:O",
            alt.Tooltip("count:Q", format=","),
            alt.Tooltip("row share:Q", format=".2%"),
        ],
        opacity=alt.condition(cell, alt.value(1.0), alt.value(0.75)),
    )
    # The cell's blue at a row share of 0.4 gives black and white text both 4.6:1 (WCAG: 4.5).
    text_colour = alt.condition(
        alt.datum["row share"] > 0.4, alt.value("white"), alt.value("black")
    )
    counts = base.mark_text(dy=-6, fontSize=11).encode(text=alt.Text("count:Q"), color=text_colour)
    shares = base.mark_text(dy=7, fontSize=8).encode(text="label:N", color=text_colour)
    return (cells.add_params(cell) + counts + shares).properties(height=440)


def take_click(selection: dict | None) -> None:
    """A clicked cell becomes the chosen (true, predicted) pair, before those widgets are drawn."""
    points = ((selection or {}).get("selection") or {}).get("cell") or []
    if not points or points[0] == st.session_state.get(CLICKED):
        return
    st.session_state[CLICKED] = points[0]
    st.session_state[TRUE] = int(points[0]["true"])
    st.session_state[PREDICTED] = int(points[0]["predicted"])


def per_digit_table(evaluation: Evaluation) -> None:
    st.subheader("Per digit")
    report = evaluation.report
    scores = ["precision", "recall", "f1"]
    report[scores] *= 100
    st.dataframe(
        report,
        column_config={
            name: st.column_config.ProgressColumn(name, format="%.1f%%", min_value=0, max_value=100)
            for name in scores
        },
        width="stretch",
    )


def cell_examples(split: Split, evaluation: Evaluation, model_key: str) -> None:
    """The examples of one cell, chosen by a click on the heatmap or by the two selectboxes;
    the worst confusion at first."""
    st.subheader("Examples in a cell")
    confusion = evaluation.confusion
    if TRUE not in st.session_state:
        errors = confusion - np.diag(np.diag(confusion))
        worst = np.unravel_index(errors.argmax(), errors.shape)
        st.session_state[TRUE], st.session_state[PREDICTED] = int(worst[0]), int(worst[1])
    true_column, predicted_column = st.columns(2)
    true_digit = true_column.selectbox("True digit", range(10), key=TRUE)
    predicted_digit = predicted_column.selectbox("Predicted digit", range(10), key=PREDICTED)
    st.caption(
        f"{confusion[true_digit, predicted_digit]:,} examples: a true {true_digit} predicted as "
        f"{predicted_digit}, the most confident first."
    )
    example_grid(
        split,
        evaluation,
        examples_of(evaluation, true_digit, predicted_digit),
        key=f"confusion-{model_key}-{split.key}-{true_digit}-{predicted_digit}",
    )


def render(model: Model | None) -> None:
    st.title("Confusion matrix")
    available = datasets("confusion", purpose="score")
    if model is None or not available:
        return
    split, evaluation = chosen_split(model, available, "confusion_split")
    st.caption(
        f"Accuracy {evaluation.accuracy:.2%} on {len(evaluation.labels):,} digits. Rows: the true "
        "digit; columns: the prediction; each cell: its count and its share of the row."
    )
    chart = heatmap(evaluation.confusion)
    take_click(
        st.altair_chart(
            chart,
            width="stretch",
            on_select="rerun",
            key="confusion_chart",
            alt="Heatmap of the confusion matrix: a row per true digit, a column per prediction",
        )
    )
    per_digit_table(evaluation)
    cell_examples(split, evaluation, model.metadata["checksum"][:16])


if __name__ == "__main__":  # run as a page (see streamlit_app.py); a test only imports it
    render(chosen_model())
