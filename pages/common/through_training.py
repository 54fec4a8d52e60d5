"""The Train page's "Your drawing through training": a slider over the epochs of the session's
training, and how the network as it was at that epoch reads the last digit drawn on the Draw
page and a handful of dev digits, with its first layer's weights then. Every peer shows only
the network as it is now; this shows how it got there.

The weights of each epoch are the job's ``Snapshots`` (digitnet.training.snapshots).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from digitnet import Model
from digitnet.images import to_float
from digitnet.training.jobs import TrainingJob
from pages.common.inside import LATEST_DRAWING
from pages.common.pictures import enlarge, first_layer_weights, probability_chart, tile

EPOCH = "train_snapshot_epoch"  # the slider's key
FOLLOWING = "train_snapshot_newest"  # (job id, the newest epoch the slider was last given)
TWIN = "train_snapshot_model"  # (job, epoch, model): the last snapshot model built
EXAMPLES = 8
WEIGHT_MAPS = 8


def snapshot_model(job: TrainingJob, epoch: int) -> Model:
    """The network at ``epoch``, built once per choice (the live view redraws every second)."""
    kept = st.session_state.get(TWIN)
    if kept is None or kept[0] is not job or kept[1] != epoch:
        kept = (job, epoch, job.snapshots.model_at(epoch))
        st.session_state[TWIN] = kept
    return kept[2]


def examples(job: TrainingJob) -> tuple[np.ndarray, np.ndarray]:
    """A few digits the training does not learn from: its first dev digits (else test's)."""
    split = job.run.split
    if len(split.dev_labels):
        return to_float(split.dev_images[:EXAMPLES]), split.dev_labels[:EXAMPLES]
    dataset = job.run.dataset
    if dataset.test_images is not None:
        return to_float(dataset.test_images[:EXAMPLES]), dataset.test_labels[:EXAMPLES]
    return to_float(split.train_images[:EXAMPLES]), split.train_labels[:EXAMPLES]


def reading(probabilities: np.ndarray) -> str:
    """The top two guesses in words."""
    first, second = np.argsort(-probabilities)[:2]
    return (
        f"reads {first} ({probabilities[first]:.0%} sure), "
        f"then {second} ({probabilities[second]:.0%})"
    )


def through_training(job: TrainingJob) -> None:
    st.markdown("**Your drawing through training**")
    epochs = [epoch + 1 for epoch in job.snapshots.epochs]
    if not epochs:
        st.caption("After the first epoch: how the network read your drawing at each epoch.")
        return
    # The slider follows the newest epoch unless moved back; a new training starts it afresh.
    shown = st.session_state.get(EPOCH)
    if shown not in epochs or st.session_state.get(FOLLOWING) in (None, (id(job), shown)):
        st.session_state[EPOCH] = epochs[-1]
    st.session_state[FOLLOWING] = (id(job), epochs[-1])
    if len(epochs) > 1:
        st.select_slider("Epoch", epochs, key=EPOCH, help="The network as it was at its end.")
    epoch = st.session_state[EPOCH]
    model = snapshot_model(job, epoch - 1)
    drawing, digits = st.columns(2)
    with drawing:
        latest = st.session_state.get(LATEST_DRAWING)
        if latest is None:
            st.caption("Draw a digit on the Draw page to see how each epoch reads it.")
        else:
            probabilities = model.predict_proba(latest[None])[0]
            st.write(f"At epoch {epoch}, your last drawing: it {reading(probabilities)}.")
            st.vega_lite_chart(spec=probability_chart(probabilities), width="stretch")
    with digits:
        images, labels = examples(job)
        predicted = model.predict_proba(images).argmax(axis=1)
        right = int((predicted == labels).sum())
        text = (
            f"At epoch {epoch}, {right} of {len(labels)} digits it does not train on read "
            f"right: it reads {' '.join(map(str, predicted))} for "
            f"{' '.join(map(str, labels))}."
        )
        picture = tile(enlarge(images, 2), columns=EXAMPLES // 2, background=128)
        st.image(picture, caption=text, width="stretch", alt=f"{len(labels)} dev digits")
        maps = first_layer_weights(model.layers, WEIGHT_MAPS)
        if maps is not None:
            picture = tile(enlarge(maps, max(2, 56 // maps.shape[1])), columns=4, background=255)
            st.image(
                picture,
                caption=f"The first layer's weights at epoch {epoch} (white: positive).",
                width="stretch",
                alt=f"{len(maps)} of the first layer's weights as pictures",
            )
