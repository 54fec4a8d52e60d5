"""The digits for the Train, Mistakes and Confusion pages: MNIST, loaded once per server and
read-only (``caches``), or a Kaggle train.csv uploaded in this session; and, when there is
neither, what is missing and the two ways to get it (download, upload).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import streamlit as st

from digitnet import DigitnetError, Model
from digitnet.analysis.metrics import Evaluation
from digitnet.data.collection.store import LOCAL_PERSON, DrawingStore, total
from digitnet.data.mnist import DATA_ENV, Dataset, find_mnist, load_dataset, mnist_cache_dir
from digitnet.data.pendigits import find_pen_data
from digitnet.images import NOT_A_DIGIT
from digitnet.training.card import card, dev_split
from pages.common.caches import (
    cached_evaluation,
    cached_float_split,
    cached_mnist,
    cached_pen_data,
    cached_pen_dev,
)

UPLOADED = "uploaded_dataset"  # session state: the Dataset of this session's train.csv
UPLOADED_ID = "uploaded_dataset_id"  # which upload it was parsed from, so it is parsed once
MNIST_NAME = "MNIST"
PEN_DEV_NAME = "pen drawings (unseen writers)"
MINE_NAME = "My drawings"


@dataclass(frozen=True)
class Split:
    """Labelled images to evaluate a model on; ``key`` names them in caches."""

    key: str
    images: np.ndarray
    labels: np.ndarray


def mnist() -> Dataset | None:
    """MNIST if it is here (DIGITNET_DATA or the cache), else None; a DIGITNET_DATA that points
    at the wrong place is shown as an error."""
    try:
        folder = find_mnist()
        return None if folder is None else cached_mnist(str(folder))
    except DigitnetError as error:
        st.error(str(error))
        return None


def mnist_test_or_say(what: str) -> Dataset | None:
    """MNIST for a page that needs its test digits; else None, and the page says ``what`` needs
    them and where to get them."""
    dataset = mnist()
    if dataset is None:
        st.warning(
            f"{what} MNIST's test digits, which are not on this server: the Train page can "
            "download them."
        )
    return dataset


def datasets(key: str, purpose: str = "train") -> dict[str, Dataset]:
    """Every data set this session can use, by name; offers the download and the upload (in an
    expander when MNIST is here, up front when it is not). ``key`` keeps widgets apart;
    ``purpose`` ("train" or "score", see ``load_dataset``) words the refusal of a test.csv."""
    found = mnist()
    available = {MNIST_NAME: found} if found is not None else {}
    if found is None:
        st.warning(
            f"MNIST is not on this server: {DATA_ENV} is not set and the cache "
            f"({mnist_cache_dir()}) is empty. Download it (about 11 MB), or upload a Kaggle "
            "Digit Recognizer train.csv."
        )
        offer_data(key, purpose)
    else:
        with st.expander("Other data: upload a Kaggle train.csv"):
            offer_upload(key, purpose)
    uploaded = st.session_state.get(UPLOADED)
    if uploaded is not None:
        available[uploaded.name] = uploaded
    return available


def offer_data(key: str, purpose: str) -> None:
    if st.button("Download MNIST", key=f"{key}-download", type="primary"):
        from digitnet.data.download import download_mnist  # pooch and requests, needed this once

        try:
            with st.spinner("Downloading MNIST..."):
                download_mnist(progress=False)
        except DigitnetError as error:
            st.error(str(error))
        else:
            st.rerun()
    offer_upload(key, purpose)


def offer_upload(key: str, purpose: str) -> None:
    upload = st.file_uploader(
        "Kaggle train.csv (label,pixel0,...,pixel783)",
        type=["csv"],
        key=f"{key}-upload",
        help="From Kaggle's Digit Recognizer competition; it stays in this session only.",
    )
    if upload is None or st.session_state.get(UPLOADED_ID) == upload.file_id:
        return
    try:
        with st.spinner(f"Reading {upload.name}..."):
            dataset = load_dataset(upload, purpose=purpose)
    except DigitnetError as error:
        st.error(str(error))
        return
    st.session_state[UPLOADED] = dataset
    st.session_state[UPLOADED_ID] = upload.file_id
    st.success(f"{dataset.name}: {len(dataset.images):,} labelled digits.")


def evaluation_splits(
    model: Model, available: dict[str, Dataset]
) -> dict[str, Callable[[], Split]]:
    """The labelled sets to look at a model's mistakes on, each made only when chosen: MNIST's
    test set, the dev set the model held out (from its card), every row of an uploaded CSV, the
    pen-dev writers' digits drawn on the canvas, and the drawings saved here."""
    splits: dict[str, Callable[[], Split]] = {}
    for name, dataset in available.items():
        if dataset.test_images is not None:
            test = Split(f"{dataset.checksum[:16]}:test", dataset.test_images, dataset.test_labels)
            splits[f"{name} test ({len(dataset.test_images):,})"] = ready(test)
        dev = card(model).dev_split
        if trained_on(model, dataset) and 0 < dev.size < len(dataset.images):
            splits[f"{name} dev ({dev.size:,})"] = partial(held_out, model, dataset)
        if dataset.test_images is None:
            everything = Split(f"{dataset.checksum[:16]}:all", dataset.images, dataset.labels)
            splits[f"{name} (all {len(dataset.images):,})"] = ready(everything)
    pen = pen_data_file()
    if pen is not None:
        splits[PEN_DEV_NAME] = partial(pen_dev, str(pen))
    saved = saved_drawings_count()
    if saved:
        splits[f"{MINE_NAME} ({saved:,})"] = my_drawings
    return splits


def ready(split: Split) -> Callable[[], Split]:
    return lambda: split


def trained_on(model: Model, dataset: Dataset) -> bool:
    """Whether the model's card says it was trained on this data set (so it has a dev set)."""
    made = card(model).dataset
    return made.name == dataset.name and made.checksum in (None, dataset.checksum)


def held_out(model: Model, dataset: Dataset) -> Split:
    dev = card(model).dev_split
    if dataset.name == MNIST_NAME:  # shared with the Train page: computed once per server
        *_, images, labels = cached_float_split(dataset.checksum, dev.size, dev.seed, dataset)
    else:
        images, labels = dev_split(model, dataset)
    return Split(f"{dataset.checksum[:16]}:dev:{dev.size}:{dev.seed}", images, labels)


def pen_data_file() -> Path | None:
    """The pen file if it is here (DIGITNET_PEN_DATA or the cache; never downloaded by a page);
    a DIGITNET_PEN_DATA that points at the wrong place is shown once, as a caption."""
    try:
        return find_pen_data()
    except DigitnetError as error:
        st.caption(f"No pen drawings split: {error}")
        return None


def pen_dev(path: str) -> Split:
    """The pen-dev split, drawn once per server and shared read-only (``caches``)."""
    images, labels = cached_pen_dev(path)
    return Split(f"pen-dev:{cached_pen_data(path).checksum[:16]}", images, labels)


def saved_drawings_count() -> int:
    """How many saved drawings are digits (those saved as not a digit are no digit to score)."""
    try:
        counts = DrawingStore().counts_by_digit(person=LOCAL_PERSON)
        return total(count for digit, count in counts.items() if digit != NOT_A_DIGIT).drawings
    except DigitnetError as error:  # e.g. a damaged collection: the Draw page says more
        st.caption(f"No {MINE_NAME} split: {error}")
        return 0


def my_drawings() -> Split:
    """The saved digits as they are now (not those saved as not a digit): read on every run
    (never cached across saves), and keyed by their content, so the predictions cached for them
    follow every save or delete."""
    images, labels = DrawingStore().labelled_images(person=LOCAL_PERSON)
    digits = labels != NOT_A_DIGIT
    images, labels = images[digits], labels[digits]
    digest = hashlib.sha256(images.tobytes())
    digest.update(labels.tobytes())
    return Split(f"mine:{digest.hexdigest()[:16]}", images, labels)


def chosen_split(model: Model, available: dict[str, Dataset], key: str) -> tuple[Split, Evaluation]:
    """A radio to pick the labelled set, and the model's (cached) predictions on it."""
    splits = evaluation_splits(model, available)
    split = splits[st.radio("Examples", list(splits), horizontal=True, key=key)]()
    evaluation = cached_evaluation(
        model.metadata["checksum"], split.key, model, split.images, split.labels
    )
    return split, evaluation
