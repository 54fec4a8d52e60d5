"""Mistakes: every misclassified example of a data split for the chosen model, the most
confident errors first; filter by true and by predicted digit, page through, open one."""

from __future__ import annotations

import streamlit as st

from digitnet import Model
from pages.common.data import chosen_split, datasets
from pages.common.examples import example_grid, examples_of
from pages.common.models import chosen_model

ANY = "any"
ORDERS = ("most confident first", "least confident first")


def render(model: Model | None) -> None:
    st.title("Mistakes")
    available = datasets("mistakes", purpose="score")
    if model is None or not available:
        return
    split, evaluation = chosen_split(model, available, "mistakes_split")
    wrong = len(examples_of(evaluation, mistakes_only=True))
    st.caption(
        f"Accuracy {evaluation.accuracy:.2%}: {wrong:,} mistakes out of "
        f"{len(evaluation.labels):,} digits."
    )
    true_column, predicted_column, order_column = st.columns(3)
    digits = [ANY, *range(10)]
    true_digit = true_column.selectbox("True digit", digits, key="mistakes_true")
    predicted_digit = predicted_column.selectbox(
        "Predicted digit", digits, key="mistakes_predicted"
    )
    order = order_column.selectbox("Order", ORDERS, key="mistakes_order")
    shown = examples_of(
        evaluation,
        None if true_digit == ANY else true_digit,
        None if predicted_digit == ANY else predicted_digit,
        mistakes_only=True,
    )
    if order == ORDERS[1]:
        shown = shown[::-1]
    selection = f"{model.metadata['checksum'][:16]}-{split.key}-{true_digit}-{predicted_digit}"
    example_grid(split, evaluation, shown, key=f"mistakes-{selection}-{order}")


if __name__ == "__main__":  # run as a page (see streamlit_app.py); a test only imports it
    render(chosen_model())
