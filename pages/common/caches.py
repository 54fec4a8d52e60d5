"""What a server keeps once for all its sessions (st.cache_resource), because several pages use
it and it is slow to make or big to hold: a hundred sessions then share one copy of MNIST, of
the pen digits and of each model, and a model's predictions on a split are computed once.

- MNIST (``cached_mnist``) and its float32 train and dev split (``cached_float_split``);
- the pen digits, read once (``cached_pen_data``), and what the pages make of them: the pen-train
  writers as a training source (``cached_pen_digits``) and the pen-dev writers drawn on the
  canvas (``cached_pen_dev``);
- each weights file's model (``cached_model``) and a model's predictions on a split
  (``cached_evaluation``).

Each is keyed by a file or a checksum and shared by every session, so nothing may change what
it returns (MNIST's arrays, the split, the pen-dev digits and the predictions are read-only).
What one page alone computes from these (the Explore map, the Robustness curves, the inside
view's digit index, the Data page's drawn pen digits) is cached beside that page; the saved
drawings are not cached at all, as every save changes them.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from digitnet import Model, load_model
from digitnet.analysis.metrics import Evaluation, evaluate
from digitnet.data.mnist import Dataset, load_dataset, split_dev
from digitnet.data.pendigits import PenData, PenDigits, load_pen_data, pen_dev_set
from digitnet.images import to_float


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


@st.cache_resource(show_spinner="Loading the pen digits...")
def cached_pen_data(path: str) -> PenData:
    """The pen file's digits, every writer's, read once per server (never downloaded here)."""
    return load_pen_data(path, download=False)


@st.cache_resource(show_spinner=False)
def cached_pen_digits(path: str) -> PenDigits:
    """The pen-train writers' digits as a training source (the Train page's pen share)."""
    return PenDigits(cached_pen_data(path))


@st.cache_resource(show_spinner="Drawing the unseen writers' pen digits on the canvas...")
def cached_pen_dev(path: str) -> tuple[np.ndarray, np.ndarray]:
    """The pen-dev writers' digits drawn on the canvas, (images, labels): about ten seconds,
    once per server."""
    images, labels = pen_dev_set(cached_pen_data(path))
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@st.cache_resource(max_entries=16, show_spinner=False)
def cached_model(path: str, modified: float) -> Model:
    """One copy per server of each weights file (``modified`` reloads a replaced file). A
    DigitnetError is not cached, so a fixed file loads on the next try."""
    return load_model(path)


@st.cache_resource(max_entries=32, show_spinner="Classifying the examples...")
def cached_evaluation(
    checksum: str, data_key: str, _model: Model, _images: np.ndarray, _labels: np.ndarray
) -> Evaluation:
    """A model's predictions on a data split, computed once per server for each (model
    checksum, split) pair; the arrays are not hashed (the keys name them)."""
    evaluation = evaluate(_model, _images, _labels)
    evaluation.probabilities.setflags(write=False)
    evaluation.logits.setflags(write=False)
    return evaluation
