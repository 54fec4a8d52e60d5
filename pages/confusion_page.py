"""Confusion matrix: which digits the chosen model takes for which, as a heatmap of counts and
row percentages (and its counts as a table), per-class precision, recall and F1, the examples
behind any cell (click it, or pick the true and predicted digits), and how far the model's
confidence can be trusted: a reliability diagram before and after its temperature."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from digitnet import Model
from digitnet.analysis.metrics import CALIBRATION_BINS, Evaluation, calibration_gap
from pages.common.data import Split, chosen_split, datasets
from pages.common.examples import example_grid, examples_of
from pages.common.models import chosen_model
from pages.common.pictures import confidence_bin, reliability_charts

TRUE = "confusion_true"
PREDICTED = "confusion_predicted"
CLICKED = "confusion_clicked"  # the heatmap's last click, so a rerun does not apply it again
CALIBRATION = (
    "Can the model's confidence be trusted? Its readings grouped by confidence (the probability "
    f"of the digit it reads, in {CALIBRATION_BINS} bins), each bin's accuracy against its mean "
    "confidence: on the dashed diagonal, 90% sure means right 90% of the time; below it, the "
    "model is overconfident. The temperature, fitted on the dev set at the end of training, "
    "divides the network's outputs before the softmax: it changes how sure the model is, never "
    "which digit it reads. ECE, the expected calibration error: the gap between confidence and "
    "accuracy, averaged over the bins weighted by their digits. Below the curves: the digits in "
    "each bin."
)


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


def counts_table(confusion: np.ndarray) -> None:
    """The heatmap's counts as text, for screen readers and for anyone who wants the numbers."""
    digits = range(len(confusion))
    counts = pd.DataFrame(
        confusion,
        index=pd.Index([str(digit) for digit in digits], name="true digit"),  # shown, unlike 0-9
        columns=[f"as {digit}" for digit in digits],
    )
    with st.expander("The counts as a table"):
        st.table(counts)


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


def calibration(model: Model, evaluation: Evaluation) -> None:
    """The reliability diagram of the chosen split, before and after the model's temperature;
    the two ECEs are its caption and text alternative, its numbers tables."""
    st.subheader("Calibration")
    st.caption(CALIBRATION)
    after = evaluation.reliability
    if model.temperature == 1.0:
        tables = {"temperature 1": after}
        summary = (
            f"ECE {calibration_gap(after):.2%}. This model has no temperature (it was trained "
            "without a dev set to fit one on): its confidence is the network's own."
        )
    else:
        before = evaluation.untempered().reliability
        tables = {
            "before (temperature 1)": before,
            f"after (temperature {model.temperature:g})": after,
        }
        summary = (
            f"Before the temperature {calibration_gap(before):.2%} ECE, after "
            f"{calibration_gap(after):.2%} (temperature {model.temperature:g})."
        )
    for chart in reliability_charts(tables, summary):
        st.vega_lite_chart(spec=chart, width="stretch")
    st.markdown(summary)
    with st.expander("The diagram's numbers"):
        for column, (name, table) in zip(st.columns(len(tables)), tables.items(), strict=True):
            column.markdown(f"**{name}**")
            column.table(calibration_numbers(table))


def calibration_numbers(table: pd.DataFrame) -> pd.DataFrame:
    """A ``reliability`` table as text, a row per confidence bin that holds digits."""
    bins = [confidence_bin(row.low, row.high) for row in table.itertuples()]
    return pd.DataFrame(
        {
            "confidence": table["confidence"].map("{:.1%}".format).tolist(),
            "accuracy": table["accuracy"].map("{:.1%}".format).tolist(),
            "digits": table["count"].map("{:,}".format).tolist(),
        },
        index=pd.Index(bins, name="bin"),
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
    counts_table(evaluation.confusion)
    per_digit_table(evaluation)
    cell_examples(split, evaluation, model.metadata["checksum"][:16])
    calibration(model, evaluation)


if __name__ == "__main__":  # run as a page (see streamlit_app.py); a test only imports it
    render(chosen_model())
