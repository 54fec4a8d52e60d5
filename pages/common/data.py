"""The digits for the Train, Mistakes and Confusion pages: MNIST, loaded once per server and
read-only, or a Kaggle train.csv uploaded in this session; and, when there is neither, what is
missing and the two ways to get it (download, upload).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from digitnet import DigitnetError, Model
from digitnet.data import (
    DATA_ENV,
    Dataset,
    find_mnist,
    load_dataset,
    mnist_cache_dir,
    split_dev,
    to_float,
)
from digitnet.metrics import Evaluation
from digitnet.train import TrainConfig
from pages.common.models import cached_evaluation

UPLOADED = "uploaded_dataset"  # session state: the Dataset of this session's train.csv
UPLOADED_ID = "uploaded_dataset_id"  # which upload it was parsed from, so it is parsed once
MNIST_NAME = "MNIST"


@dataclass(frozen=True)
class Split:
    """Labelled images to evaluate a model on; ``key`` names them in caches."""

    key: str
    images: np.ndarray
    labels: np.ndarray


@st.cache_resource(show_spinner="Loading MNIST...")
def cached_mnist(folder: str) -> Dataset:
    """MNIST once per server (its arrays are read-only, so sessions share them)."""
    return load_dataset("mnist", path=folder)


@st.cache_resource(max_entries=2, show_spinner="Preparing the training data...")
def cached_float_split(
    checksum: str, dev_size: int, seed: int, _dataset: Dataset
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, dev images, dev labels), the images float32, read-only and
    shared: a training then copies nothing (the Trainer takes float32 as it is)."""
    train_images, train_labels, dev_images, dev_labels = split_dev(
        _dataset.images, _dataset.labels, dev_size, seed
    )
    arrays = (to_float(train_images), train_labels, to_float(dev_images), dev_labels)
    for array in arrays:
        array.setflags(write=False)
    return arrays


def mnist() -> Dataset | None:
    """MNIST if it is here (DIGITNET_DATA or the cache), else None; a DIGITNET_DATA that points
    at the wrong place is shown as an error."""
    try:
        folder = find_mnist()
        return None if folder is None else cached_mnist(str(folder))
    except DigitnetError as error:
        st.error(str(error))
        return None


def datasets(key: str) -> dict[str, Dataset]:
    """Every data set this session can use, by name; offers the download and the upload (in an
    expander when MNIST is here, up front when it is not). ``key`` keeps widgets apart."""
    found = mnist()
    available = {MNIST_NAME: found} if found is not None else {}
    if found is None:
        st.warning(
            f"MNIST is not on this server: {DATA_ENV} is not set and the cache "
            f"({mnist_cache_dir()}) is empty. Download it (about 11 MB), or upload a Kaggle "
            "Digit Recognizer train.csv."
        )
        offer_data(key)
    else:
        with st.expander("Other data: upload a Kaggle train.csv"):
            offer_upload(key)
    uploaded = st.session_state.get(UPLOADED)
    if uploaded is not None:
        available[uploaded.name] = uploaded
    return available


def offer_data(key: str) -> None:
    if st.button("Download MNIST", key=f"{key}-download", type="primary"):
        from digitnet.download import download_mnist  # pooch and requests, needed this once

        try:
            with st.spinner("Downloading MNIST..."):
                download_mnist(progress=False)
        except DigitnetError as error:
            st.error(str(error))
        else:
            st.rerun()
    offer_upload(key)


def offer_upload(key: str) -> None:
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
            dataset = load_dataset(upload)
    except DigitnetError as error:
        st.error(str(error))
        return
    st.session_state[UPLOADED] = dataset
    st.session_state[UPLOADED_ID] = upload.file_id
    st.success(f"{dataset.name}: {len(dataset.images):,} labelled digits.")


def training_split(model: Model) -> tuple[int, int]:
    """The (dev size, seed) a model was trained with, so its dev set is the one it never saw."""
    training = model.metadata.get("training") or {}
    defaults = TrainConfig()
    return int(training.get("dev_size", defaults.dev_size)), int(
        training.get("seed", defaults.seed)
    )


def evaluation_splits(model: Model, available: dict[str, Dataset]) -> dict[str, Split]:
    """The labelled sets to look at a model's mistakes on: MNIST's test set and the model's dev
    set, and every row of an uploaded CSV."""
    splits = {}
    for name, dataset in available.items():
        if dataset.test_images is not None:
            splits[f"{name} test ({len(dataset.test_images):,})"] = Split(
                f"{dataset.checksum[:16]}:test", dataset.test_images, dataset.test_labels
            )
        dev_size, seed = training_split(model)
        if name == MNIST_NAME and 0 < dev_size < len(dataset.images):
            _, _, dev_images, dev_labels = cached_float_split(
                dataset.checksum, dev_size, seed, dataset
            )
            splits[f"{name} dev ({dev_size:,})"] = Split(
                f"{dataset.checksum[:16]}:dev:{dev_size}:{seed}", dev_images, dev_labels
            )
        elif name != MNIST_NAME:
            splits[f"{name} (all {len(dataset.images):,})"] = Split(
                f"{dataset.checksum[:16]}:all", dataset.images, dataset.labels
            )
    return splits


def chosen_split(model: Model, available: dict[str, Dataset], key: str) -> tuple[Split, Evaluation]:
    """A radio to pick the labelled set, and the model's (cached) predictions on it."""
    splits = evaluation_splits(model, available)
    split = splits[st.radio("Examples", list(splits), horizontal=True, key=key)]
    evaluation = cached_evaluation(
        model.metadata["checksum"], split.key, model, split.images, split.labels
    )
    return split, evaluation
