"""Data: the digits the networks learn from and are measured on, browsed by digit as the network
sees them (28 x 28, light on dark): MNIST's training and test sets, the pen drawings
(``digitnet.data.pendigits``, its pen-train and pen-dev writers drawn on a canvas), and the drawings
people saved on the Draw page (``digitnet.data.collection.store``), when there are any. One digit,
picked from the grid, is shown with what training's augmentation makes of it
(``digitnet.data.augment``) and, for a pen digit, what the stroke augmentation makes of its strokes
(``digitnet.data.stroke_augment``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import streamlit as st

from digitnet import DigitnetError
from digitnet.data.augment import preview
from digitnet.data.collection.store import LOCAL_PERSON, DrawingStore, total
from digitnet.data.pendigits import PEN_DEV_WRITERS, PEN_TRAIN_WRITERS, PenData, find_pen_data
from digitnet.data.preprocess import canvas_to_mnist
from digitnet.data.stroke_augment import augment, place
from digitnet.data.strokes import render_batch
from digitnet.images import to_float
from pages.common.caches import cached_pen_data
from pages.common.data import mnist
from pages.common.pictures import enlarge, tile

PAGE_SIZE = 60
COLUMNS = 12
COPIES = 7  # augmented copies beside the chosen digit
CANVAS = 280  # pen digits are drawn on the Draw page's canvas size
PEN_SOURCES = {"Pen drawings, pen-train writers": PEN_TRAIN_WRITERS}
PEN_SOURCES["Pen drawings, pen-dev writers (unseen)"] = PEN_DEV_WRITERS
ABOUT = {
    "MNIST train": "MNIST's 60,000 training digits, written by about 250 people on paper.",
    "MNIST test": "MNIST's 10,000 test digits, by other writers: the accuracy the app reports.",
    "My drawings": "The drawings saved on the Draw page on this server, with the digit given.",
}
PEN_ABOUT = (
    "Digits written on a tablet by {writers} people (UCI pendigits), kept as strokes and drawn "
    "here on a canvas, then read as the Draw page reads a drawing."
)


@st.cache_resource(max_entries=40, show_spinner="Drawing the pen digits...")
def drawn_pen_digits(source: str, digit: int, first: int, _data: PenData) -> np.ndarray:
    """One page of a writer group's pen digits, each placed and drawn like ``pen_dev_set``
    does (a size, place and brush chosen by its index), read by ``canvas_to_mnist``."""
    chosen = np.flatnonzero(_data.labels == digit)[first : first + PAGE_SIZE]
    drawings = [
        place([_data.strokes[index]], np.random.default_rng([0, int(index)]), CANVAS)[0]
        for index in chosen
    ]
    return np.stack([canvas_to_mnist(canvas) for canvas in render_batch(drawings)])


def sources() -> dict[str, Callable[[int, int], tuple[np.ndarray, int, PenData | None]]]:
    """The digit sets on this server, by name: each gives, for a digit and the first index of a
    page, the page's images, how many of that digit there are, and the pen data (pen sets)."""
    found = {}
    dataset = mnist()
    if dataset is not None:
        for name, images, labels in (
            ("MNIST train", dataset.images, dataset.labels),
            ("MNIST test", dataset.test_images, dataset.test_labels),
        ):
            found[name] = partial(mnist_page, images, labels)
    try:
        pen_file = find_pen_data()
        if pen_file is not None:
            pen = cached_pen_data(str(pen_file))
            for name, writers in PEN_SOURCES.items():
                found[name] = partial(pen_page, name, pen.of_writers(writers))
        if total(DrawingStore().counts_by_digit(person=LOCAL_PERSON).values()).drawings:
            found["My drawings"] = my_drawings_page
    except DigitnetError as error:
        st.error(str(error))
    return found


def mnist_page(
    images: np.ndarray, labels: np.ndarray, digit: int, first: int
) -> tuple[np.ndarray, int, None]:
    chosen = np.flatnonzero(labels == digit)
    return to_float(images[chosen[first : first + PAGE_SIZE]]), len(chosen), None


def pen_page(source: str, data: PenData, digit: int, first: int) -> tuple[np.ndarray, int, PenData]:
    total = int((data.labels == digit).sum())
    if total == 0:
        return np.zeros((0, 28, 28), np.float32), 0, data
    return drawn_pen_digits(source, digit, first, data), total, data


def my_drawings_page(digit: int, first: int) -> tuple[np.ndarray, int, None]:
    drawings = DrawingStore().list(digit=digit, person=LOCAL_PERSON)
    images = [drawing.image for drawing in drawings[first : first + PAGE_SIZE]]
    return np.array(images, np.float32).reshape(-1, 28, 28), len(drawings), None


def digit_grid(images: np.ndarray) -> np.ndarray:
    return enlarge(tile(images, COLUMNS, gap=2, background=0.35), 2)


def show_augmentations(image: np.ndarray, pen: PenData | None, index: int, digit: int) -> None:
    """The chosen digit beside what training's two augmentations make of it."""
    picture, augmented = st.columns([1, 3], gap="medium")
    picture.image(
        enlarge(image, 5),
        caption="As the network sees it",
        output_format="PNG",
        alt=f"The chosen {digit}, enlarged",
    )
    copies = preview(image[None], copies=COPIES, seed=index)[1:]
    augmented.image(
        enlarge(tile(copies, COPIES, gap=2), 3),
        output_format="PNG",
        alt=f"{COPIES} copies of the chosen {digit}, each changed by image augmentation",
    )
    augmented.caption(
        "Image augmentation (training's defaults): each copy turned, slanted, scaled, shifted, "
        "bent and made thicker or thinner by a random amount, so the network learns what does "
        "not change a digit."
    )
    if pen is not None:
        strokes = pen.strokes[int(np.flatnonzero(pen.labels == digit)[index])]
        drawings = augment([strokes] * COPIES, np.random.default_rng(index), CANVAS)
        read = [canvas_to_mnist(canvas) for canvas in render_batch(drawings)]
        augmented.image(
            enlarge(tile(np.stack([r for r in read if r is not None]), COPIES, gap=2), 3),
            output_format="PNG",
            alt=f"Copies of the chosen {digit}, redrawn from its strokes by stroke augmentation",
        )
        augmented.caption(
            "Stroke augmentation: the same strokes with a new hand (slant, rotation, aspect, "
            "jitter, sparse points) and a new size, place and brush on the canvas, then read "
            "like a drawing."
        )


def render() -> None:
    st.title("The data")
    found = sources()
    if not found:
        st.warning(
            "No digits on this server: MNIST is missing (the Train page can download it), and "
            "so are the pen digits (DIGITNET_PEN_DATA) and saved drawings."
        )
        return
    source = st.radio("Digits", list(found), horizontal=True, key="data_source")
    digit = st.radio("Digit", range(10), horizontal=True, key="data_digit")
    images, total, pen = found[source](digit, 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = 1
    if pages > 1:
        key = f"data_page-{source}-{digit}"
        page = int(st.number_input(f"Page (of {pages})", 1, pages, 1, key=key, width=160))
        images, total, pen = found[source](digit, (page - 1) * PAGE_SIZE)
    writers = len(PEN_SOURCES.get(source, ()))
    st.caption(ABOUT.get(source) or PEN_ABOUT.format(writers=writers))
    if total == 0:
        st.info(f"No {digit}s here yet.")
        return
    first = (page - 1) * PAGE_SIZE
    st.image(
        digit_grid(images),
        caption=f"{first + 1}-{first + len(images)} of {total:,} {digit}s",
        output_format="PNG",
        alt=f"{len(images)} handwritten {digit}s from {source}, {COLUMNS} to a row",
    )
    key = f"data_chosen-{source}-{digit}-{page}"
    chosen = int(st.number_input("Look at number", 1, len(images), 1, key=key, width=160))
    show_augmentations(images[chosen - 1], pen, first + chosen - 1, digit)


if __name__ == "__main__":  # run as a page (see streamlit_app.py); a test only imports it
    render()
