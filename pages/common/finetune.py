"""The Train page's "Fine-tune on my drawings": the sidebar's model, trained a little more on the
drawings saved on the Draw page, and how much better it reads the ones it did not train on.

Nothing to choose: the base is the sidebar's model, the settings are ``FineTuneConfig``'s. It
runs in the page's own run with a progress bar (it takes well under a minute), inside the
server's limit of trainings at once, and the new model is then selected in the sidebar.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from digitnet import DigitnetError, Model
from digitnet.data.collection.store import DrawingStore, SavedDrawing
from digitnet.data.mnist import Dataset
from digitnet.data.pendigits import PenDigits, find_pen_data
from digitnet.training.card import card
from digitnet.training.finetune import FineTuneConfig, FineTuneResult, fine_tune, split_drawings
from digitnet.training.jobs import TrainingLimit
from pages.common.caches import cached_pen_digits
from pages.common.data import mnist
from pages.common.models import add_session_model, chosen_model
from pages.common.people import me

CONFIG = FineTuneConfig()
# Said to a person with no drawings (the store's message names the database, for the CLI).
NONE_SAVED = (
    "None of your drawings are saved yet: answer some on the Draw page (Right, or the digit it "
    "is), then fine-tune here."
)
RESULT = "finetune_result"  # (FineTuneResult, its sidebar label) of this session's last run


def pen_digits() -> PenDigits | None:
    """The pen digits if they are on this server (DIGITNET_PEN_DATA or the cache), else None."""
    try:
        found = find_pen_data()
        return None if found is None else cached_pen_digits(str(found))
    except DigitnetError as error:
        st.warning(str(error))
        return None


def fine_tune_section(limit: TrainingLimit) -> None:
    """The section, in an expander: the last result, how many drawings, and Start."""
    with st.expander("Fine-tune on my drawings", expanded=RESULT in st.session_state):
        st.caption(
            "Trains the model chosen in the sidebar a little more on your saved drawings (60% "
            "of them), with MNIST, pen digits and drawings that are not digits mixed in, then "
            "meets the model halfway so it keeps what it knew (on MNIST test it loses about "
            "0.02 points); the other 40% show whether it learned your handwriting."
        )
        if RESULT in st.session_state:
            show_result(*st.session_state[RESULT])
        model, digits = chosen_model(), mnist()
        if model is None or digits is None:
            st.info("Fine-tuning needs a model (the sidebar) and MNIST (see above).")
            return
        store, person = DrawingStore(), me().person
        if not any(count.drawings for count in store.counts_by_digit(person=person).values()):
            st.info(NONE_SAVED)
            return
        try:
            train, held = split_drawings(store, CONFIG, person=person)
        except DigitnetError as error:
            st.info(str(error))
            return
        pen = pen_digits()
        without = "" if pen else " (pen digits not found on this server: without them)"
        st.write(
            f"**{len(train) + len(held)}** drawings: {len(train)} to train on, {len(held)} "
            f"held back to measure{without}."
        )
        if st.button("Start fine-tuning", type="primary", key="finetune_start"):
            run(model, train, held, digits, pen, limit)


def run(
    base: Model,
    train: list[SavedDrawing],
    held: list[SavedDrawing],
    digits: Dataset,
    pen: PenDigits | None,
    limit: TrainingLimit,
) -> None:
    """Fine-tunes with a progress bar, selects the new model and redraws; or one line why not."""
    bar = st.progress(0.0, text="Starting...")
    shown = [-1]

    def progress(share: float, text: str) -> None:
        if round(share * 100) != shown[0]:  # a message per percent, not per step
            shown[0] = round(share * 100)
            bar.progress(min(share, 1.0), text=text)

    try:
        limit.acquire()
        try:
            result = fine_tune(base, train, held, digits, pen, CONFIG, progress=progress)
        finally:
            limit.release()
    except DigitnetError as error:
        st.error(str(error))
        return
    label = add_session_model(result.model, f"{card(result.model).name} {time.strftime('%X')}")
    st.session_state[RESULT] = (result, label)
    st.rerun()


def show_result(result: FineTuneResult, label: str) -> None:
    st.success(
        f"Fine-tuned on {result.trained_on} drawings in {result.seconds:.0f} s; selected in the "
        f"sidebar as **{label}**."
    )
    table = pd.DataFrame(
        {
            "before": [result.held_back.before, result.mnist_test.before],
            "after": [result.held_back.after, result.mnist_test.after],
        },
        index=[f"your held-back drawings ({result.held_back_count})", "MNIST test (10,000)"],
    )
    st.table(table.map(lambda share: f"{share:.2%}"))
