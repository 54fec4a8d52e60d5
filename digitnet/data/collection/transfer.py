"""The collection in and out as a Kaggle train.csv (label,pixel0..pixel783, pixels 0-255), the
format of Kaggle's Digit Recognizer, so a collection can be shared or trained on with
``--kaggle-train``. ``digitnet.data.mnist`` reads the rows; the store
(``DrawingStore.import_csv`` and ``export_csv`` call these) keeps them.

An import is all or nothing: every row is read before any is added, and a file with bad rows
raises ``BadRows``, which names each bad row by its line (up to ``MAX_REPORTED_ROWS``).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import numpy as np

from digitnet.data import mnist
from digitnet.errors import DigitnetError
from digitnet.files import atomic_path, check_writable

if TYPE_CHECKING:
    from digitnet.data.collection.store import DrawingStore

MAX_REPORTED_ROWS = 20  # bad rows an import names before it stops looking
_CSV_LINE = re.compile(r", line (\d+): ")


class BadRows(DigitnetError):
    """An import refused: ``problems`` holds one line per bad row (the message joins them)."""

    def __init__(self, problems: list[str], name: str) -> None:
        self.problems = problems
        more = " (and maybe more: stopped looking)" if len(problems) >= MAX_REPORTED_ROWS else ""
        summary = f"{name}: {len(problems)} bad row(s){more}; nothing was imported"
        super().__init__("\n".join([*problems, summary]))


def export_csv(store: DrawingStore, path: str | os.PathLike, session: str | None = None) -> int:
    """Writes the store's drawings (or one session's) as a Kaggle train.csv, atomically, and
    returns how many. Never onto the collection itself, a link, a device or a FIFO (an existing
    file is replaced: the command line asks for --force first)."""
    check_writable(path, replace=True, collection=store.path)
    images, labels = store.labelled_images(session)
    if not len(labels):
        raise DigitnetError(f"no drawings to export in {store.path}; nothing was written")
    pixels = np.rint(images.reshape(len(labels), -1) * 255).astype(np.uint8)
    table = np.column_stack([labels, pixels])
    with atomic_path(path) as temporary:
        np.savetxt(
            temporary,
            table,
            fmt="%d",
            delimiter=",",
            comments="",
            header=",".join(mnist.KAGGLE_TRAIN_COLUMNS),
        )
    return len(labels)


def import_csv(
    store: DrawingStore, source: mnist.Upload, name: str | None = None, session: str = "import"
) -> int:
    """Adds every row of a Kaggle train.csv (a path, bytes or an upload) to the store as a
    drawing with no strokes (source "import"), in one transaction, and returns how many. Bad
    rows raise ``BadRows`` and nothing is imported."""
    images, labels = _read_all_rows(source, name)
    return store.add_imported(images, labels, session)


def _read_all_rows(source: mnist.Upload, name: str | None) -> tuple[np.ndarray, np.ndarray]:
    """A Kaggle train.csv's images and labels, read by ``mnist.read_kaggle_csv``; when it finds
    a bad row, that row is set aside and the rest read again, so every bad row is named."""
    raw, name = mnist._read_source(source, name)
    try:
        images, labels = mnist.read_kaggle_csv(raw, name)
    except DigitnetError as error:
        if _bad_line(error) is None:  # the file as a whole (encoding, header): one line
            raise
        raise BadRows(_every_bad_row(raw, name, error), name) from None
    if labels is None:
        raise DigitnetError(
            f"{name}: no label column (a test.csv?); drawings need labels: import a train.csv "
            "(label,pixel0,...,pixel783)"
        )
    return images, labels


def _bad_line(error: DigitnetError) -> int | None:
    """The line of the row an error of ``read_kaggle_csv`` names, None if it names no row."""
    found = _CSV_LINE.search(str(error))
    return int(found[1]) if found and int(found[1]) > 1 else None


def _every_bad_row(raw: bytes, name: str, first: DigitnetError) -> list[str]:
    """One line per bad row (up to ``MAX_REPORTED_ROWS``), numbered as in the original file and
    in its order."""
    text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    lines = text.split("\n")
    kept = list(range(1, len(lines)))  # indices into lines of the rows still being read
    found, error = {}, first
    while (line := _bad_line(error)) is not None:
        original = kept.pop(line - 2) + 1
        found[original] = str(error).replace(f", line {line}: ", f", line {original}: ", 1)
        if len(found) >= MAX_REPORTED_ROWS or not kept:
            break
        try:
            mnist.read_kaggle_csv("\n".join([lines[0], *(lines[i] for i in kept)]).encode(), name)
            break
        except DigitnetError as next_error:
            error = next_error
    problems = [found[line] for line in sorted(found)]
    return problems if _bad_line(error) is not None or not kept else [*problems, str(error)]
