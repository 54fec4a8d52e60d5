"""The collection in and out as a Kaggle train.csv (label,pixel0..pixel783, pixels 0-255), the
format of Kaggle's Digit Recognizer, so a collection can be shared or trained on with
``--kaggle-train``. The store (``DrawingStore.import_csv`` and ``export_csv`` call these) keeps
the rows.

An import is all or nothing, and reads the file once: every row is checked, and a file with bad
rows raises ``BadRows``, which names the first ``MAX_REPORTED_ROWS`` by their lines and counts
them all. The rows are parsed ``ROWS_AT_ONCE`` at a time, so Kaggle's 77 MB train.csv takes a
few hundred MB, not gigabytes. Rows the collection already holds are skipped
(``store.content_key``), so importing a file twice adds its drawings once.
"""

from __future__ import annotations

import csv
import io
import os
from typing import TYPE_CHECKING

import numpy as np

from digitnet.data import mnist
from digitnet.data.negatives import NOT_A_DIGIT
from digitnet.errors import DigitnetError
from digitnet.files import atomic_path, check_writable
from digitnet.images import IMAGE_SHAPE

if TYPE_CHECKING:
    from digitnet.data.collection.store import DrawingStore, Imported

MAX_REPORTED_ROWS = 20  # bad rows an import names; it counts them all
ROWS_AT_ONCE = 4096  # rows parsed at a time: a float64 copy of them is 25 MB
VALUES = len(mnist.KAGGLE_TRAIN_COLUMNS)  # in every row: the label, then the pixels
HIGHEST = np.array([9] + [255] * (VALUES - 1))  # the highest value of each column


class BadRows(DigitnetError):
    """An import refused: ``problems`` holds one line for each of the first bad rows (the
    message joins them), ``count`` how many rows are bad in all."""

    def __init__(self, problems: list[str], count: int, name: str) -> None:
        self.problems, self.count = problems, count
        named = f", the first {len(problems)} of them named" if count > len(problems) else ""
        summary = f"{name}: {count} bad row(s){named}; nothing was imported"
        super().__init__("\n".join([*problems, summary]))


def export_csv(
    store: DrawingStore,
    path: str | os.PathLike,
    *,
    person: str | None,
    session: str | None = None,
    shared_only: bool = False,
) -> int:
    """Writes a person's drawings of digits (None: everyone's; or one session's, or only the
    shared ones) as a Kaggle train.csv, atomically, and returns how many. A Kaggle CSV holds
    digits only: drawings saved as not a digit stay out. Never onto the collection itself, a
    link, a device or a FIFO (an existing file is replaced: the command line asks for --force
    first)."""
    check_writable(path, replace=True, collection=store.path)
    images, labels = store.labelled_images(person=person, session=session, shared_only=shared_only)
    digits = labels != NOT_A_DIGIT
    images, labels = images[digits], labels[digits]
    if not len(labels):
        raise DigitnetError(f"no drawings to export in {store.where}; nothing was written")
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
    store: DrawingStore,
    source: mnist.Upload,
    name: str | None = None,
    session: str = "import",
    *,
    person: str,
) -> Imported:
    """Adds the rows of a Kaggle train.csv (a path, bytes or an upload) to a person's drawings
    with no strokes (source "import"), in one transaction, but for those they already have;
    returns how many were added and skipped. Bad rows raise ``BadRows`` and nothing is
    imported; so does a file over the person's limits (``limits``)."""
    images, labels = read_rows(source, name)
    return store.add_imported(images, labels, session, person=person)


def read_rows(source: mnist.Upload, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 28, 28) uint8 and labels (n,) uint8 of a Kaggle train.csv, each row checked
    in one reading of the file. Bad rows raise ``BadRows``; a file that is bad as a whole (not
    text, not a train.csv's header, no rows) one DigitnetError line."""
    raw, name = mnist._read_source(source, name)
    rows = _rows(raw, name)
    del raw  # the file's bytes (unless the caller holds them): the rows have its text
    whole = np.array([row.count(",") == VALUES - 1 for row in rows])  # as many values as columns
    table = np.zeros((int(whole.sum()), VALUES), np.uint8)
    text = "\n".join(row for row, ok in zip(rows, whole) if ok).encode()
    bad_values = _parse_into(table, text)
    bad = np.sort(np.concatenate([np.flatnonzero(~whole), np.flatnonzero(whole)[bad_values]]))
    if len(bad):
        problems = [
            f"{name}, line {index + 2}: {_problem(rows[index], index == len(rows) - 1)}"
            for index in bad[:MAX_REPORTED_ROWS].tolist()
        ]
        raise BadRows(problems, len(bad), name)
    return table[:, 1:].reshape(-1, *IMAGE_SHAPE), table[:, 0].copy()


def _rows(raw: bytes, name: str) -> list[str]:
    """The rows of a train.csv, one line of text each, once its header is checked. Whatever
    ends a line (\\r\\n, \\r, \\n) ends a row, as it does for ``mnist.read_kaggle_csv``."""
    header, *rows = mnist.csv_text(raw, name, "a Kaggle train.csv").split("\n")
    if mnist._check_header(name, header)[0] != "label":
        raise DigitnetError(
            f"{name}: no label column (a test.csv?); drawings need labels: import a train.csv "
            "(label,pixel0,...,pixel783)"
        )
    if not rows:
        raise DigitnetError(f"{name}: the file has a header but no rows")
    return rows


def _parse_into(table: np.ndarray, text: bytes) -> np.ndarray:
    """Parses ``text``, rows of ``VALUES`` values each, into ``table`` (uint8) and returns which
    rows hold something other than a whole number from 0 to their column's highest."""
    import pandas as pd  # a quarter of a second to import: only CSVs need it

    bad = np.zeros(len(table), bool)
    start = 0
    # Quotes are plain characters, so each row is exactly one line. Each chunk's columns are
    # typed by what they hold: numbers, or else text (or True/False) made numbers here.
    with pd.read_csv(
        io.BytesIO(text),
        header=None,
        quoting=csv.QUOTE_NONE,
        chunksize=ROWS_AT_ONCE,
        low_memory=False,
    ) as chunks:
        for chunk in chunks:
            for column, dtype in chunk.dtypes.items():
                if dtype.kind not in "iuf":  # what is not a number becomes NaN
                    chunk[column] = pd.to_numeric(chunk[column].astype(str), errors="coerce")
            values = chunk.to_numpy()  # int64 if every cell is a whole number, else float64
            ok = (values >= 0) & (values <= HIGHEST)  # NaN fails every comparison
            if values.dtype.kind == "f":
                ok &= np.floor(values) == values
            end = start + len(values)
            bad[start:end] = ~ok.all(axis=1)
            table[start:end] = np.where(ok, values, 0)
            start = end
    return bad


def _problem(row: str, last: bool) -> str:
    """What is wrong with one bad row, for a person to fix."""
    found = row.count(",") + 1
    if not row.strip():
        return "empty line; remove it"
    if found == VALUES:
        return f"{mnist._row_problem(row, mnist.KAGGLE_TRAIN_COLUMNS)}; fix or remove that row"
    if last and found < VALUES:
        return (
            f"the last row is cut short ({found} of {VALUES} values); the file looks truncated, "
            "get a complete copy"
        )
    return f"{found} values, expected {VALUES} like the header; fix or remove that row"
