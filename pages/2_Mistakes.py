"""Mistakes: every misclassified example of a data split for the chosen model, the most
confident errors first; filter by true and by predicted digit, page through, open one."""

from __future__ import annotations

import numpy as np
import streamlit as st

from pages.common.data import chosen_split, datasets
from pages.common.examples import example_grid
from pages.common.models import sidebar

ANY = "any"
ORDERS = ("most confident first", "least confident first")

st.set_page_config(page_title="digitnet: mistakes", page_icon=":material/error:", layout="wide")
model = sidebar()
st.title("Mistakes")
available = datasets("mistakes")
if model is None or not available:
    st.stop()

split, evaluation = chosen_split(model, available, "mistakes_split")
wrong = evaluation.mistakes()
st.caption(
    f"Accuracy {evaluation.accuracy:.2%}: {len(wrong):,} mistakes out of "
    f"{len(evaluation.labels):,} digits."
)

true_column, predicted_column, order_column = st.columns(3)
digits = [ANY, *range(10)]
true_digit = true_column.selectbox("True digit", digits, key="mistakes_true")
predicted_digit = predicted_column.selectbox("Predicted digit", digits, key="mistakes_predicted")
order = order_column.selectbox("Order", ORDERS, key="mistakes_order")

shown = wrong
if true_digit != ANY:
    shown = shown[evaluation.labels[shown] == true_digit]
if predicted_digit != ANY:
    shown = shown[evaluation.predictions[shown] == predicted_digit]
if order == ORDERS[1]:
    shown = shown[::-1]
example_grid(
    split,
    evaluation,
    np.asarray(shown),
    key=f"mistakes-{model.metadata['checksum'][:16]}-{split.key}-{true_digit}-{predicted_digit}-{order}",
)
