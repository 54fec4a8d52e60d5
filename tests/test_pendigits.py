"""Pen digits: the UNIPEN file is read strictly and upright, the writer split is fixed and
disjoint, the file is found like MNIST and downloaded (against real HTTP servers on 127.0.0.1)
only when its checksum matches, and pen digits come back from the canvas as readable digits."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

import digitnet
from digitnet.data.pendigits import (
    PEN_DEV_WRITERS,
    PEN_FILE,
    PEN_TRAIN_WRITERS,
    PenDigits,
    download_pen_data,
    find_pen_data,
    load_pen_data,
    parse_unipen,
    pen_dev_set,
    unlzw,
)
from digitnet.data.stroke_augment import place
from digitnet.data.strokes import render_batch
from digitnet.errors import DigitnetError
from tests import test_download
from tests.conftest import pen_data_folder

server = test_download.server  # a real HTTP server on 127.0.0.1 serving a temporary folder
dead_url = test_download.dead_url  # a URL nobody listens on
README_COUNTS = [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]


@pytest.fixture(scope="module")
def pen_dir() -> Path:
    return pen_data_folder()


@pytest.fixture(scope="module")
def pen(pen_dir):
    return load_pen_data(pen_dir, download=False)


@pytest.fixture(scope="module")
def payload(pen_dir) -> bytes:
    return gzip.decompress((pen_dir / f"{PEN_FILE}.gz").read_bytes())


@pytest.fixture(scope="module")
def compressed(payload) -> bytes:
    """The file as UCI serves it: Unix compress (.Z)."""
    return lzw_compress(payload)


def lzw_compress(data: bytes, max_bits: int = 16) -> bytes:
    """Unix `compress` output (block mode), written independently of the reader under test:
    `gzip -d` checks it is the real format."""
    table = {bytes([i]): i for i in range(256)}
    out, buffer, filled = bytearray(b"\x1f\x9d" + bytes([0x80 | max_bits])), 0, 0
    width, group_bits, next_code, word = 9, 0, 257, b""

    def emit(code: int) -> None:
        nonlocal buffer, filled, width, group_bits
        buffer |= code << filled
        filled += width
        group_bits += width
        if next_code > (1 << width) - 1 and width < max_bits:
            padding = -group_bits % (8 * width)  # the rest of the group of 8 codes
            filled += padding
            width, group_bits = width + 1, 0
        while filled >= 8:
            out.append(buffer & 0xFF)
            buffer >>= 8
            filled -= 8

    for value in data:
        longer = word + bytes([value])
        if longer in table:
            word = longer
            continue
        emit(table[word])
        if next_code < 1 << max_bits:
            table[longer] = next_code
            next_code += 1
        word = bytes([value])
    if word:
        emit(table[word])
    if filled:
        out.append(buffer & 0xFF)
    return bytes(out)


# --- Reading ------------------------------------------------------------------------------------


def test_the_file_reads_as_the_readme_says(pen):
    assert len(pen.strokes) == 7494
    assert np.bincount(pen.labels).tolist() == README_COUNTS
    assert sorted(set(pen.writers.tolist())) == list(range(1, 31))
    assert np.mean([len(digit) for digit in pen.strokes]) == pytest.approx(1.26, abs=0.01)
    points = np.concatenate([s for digit in pen.strokes for s in digit])
    assert points.dtype == np.float32 and points.min() >= 0 and points.max() <= 500


def test_digits_stand_upright(pen):
    """y is flipped: a 7 starts at its top, and a 6's loop is at its bottom."""
    sevens = [pen.strokes[i] for i in np.flatnonzero(pen.labels == 7)]
    starts_high = [d[0][0, 1] < np.concatenate(d)[:, 1].mean() for d in sevens]
    assert np.mean(starts_high) > 0.9
    sixes = [np.concatenate(pen.strokes[i]) for i in np.flatnonzero(pen.labels == 6)]
    ends_low = [d[-1, 1] > d[:, 1].mean() for d in sixes]
    assert np.mean(ends_low) > 0.8


GOOD = """.SEGMENT DIGIT 0 ? "3"
.COMMENT 3 7 12
.PEN_DOWN
 10 20
 30 40
.PEN_UP
"""


def test_a_small_file_parses_exactly():
    data = parse_unipen(GOOD + GOOD.replace('"3"', '"4"').replace(".COMMENT 3", ".COMMENT 4"))
    assert data.labels.tolist() == [3, 4] and data.writers.tolist() == [7, 7]
    assert np.array_equal(data.strokes[0][0], [[10, 480], [30, 460]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace(" 30 40", " 30 x"), "line 5: '30 x'"),
        (GOOD.replace(".COMMENT 3 7 12\n", ""), "no '.COMMENT label writer' line"),
        (GOOD.replace('"3"', '"x"'), "line 1: digit label"),
        (GOOD.replace(".PEN_DOWN\n", ""), "line 3"),
        ("hello", "line 1"),
        ("", "no digits"),
    ],
)
def test_a_bad_file_is_a_one_line_error(text, message):
    with pytest.raises(DigitnetError, match=message) as error:
        parse_unipen(text, "bad.tra")
    assert "\n" not in str(error.value) and str(error.value).startswith("bad.tra")


def test_the_writer_split_is_fixed_and_disjoint():
    assert PEN_DEV_WRITERS == (3, 10, 15, 17, 19, 26)
    shuffled = np.random.default_rng(9).permutation(np.arange(1, 31))
    assert tuple(sorted(shuffled[:6].tolist())) == PEN_DEV_WRITERS
    assert set(PEN_DEV_WRITERS).isdisjoint(PEN_TRAIN_WRITERS)
    assert sorted(PEN_DEV_WRITERS + PEN_TRAIN_WRITERS) == list(range(1, 31))


# --- Where the file is -------------------------------------------------------------------------


def test_found_in_order_path_env_cache(pen_dir, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("DIGITNET_CACHE", str(cache))
    monkeypatch.delenv("DIGITNET_PEN_DATA")
    assert find_pen_data() is None
    (cache / "pendigits").mkdir(parents=True)
    shutil.copy(pen_dir / f"{PEN_FILE}.gz", cache / "pendigits")
    assert find_pen_data() == cache / "pendigits" / f"{PEN_FILE}.gz"
    other = tmp_path / "other"
    other.mkdir()
    (other / PEN_FILE).write_bytes(gzip.decompress((pen_dir / f"{PEN_FILE}.gz").read_bytes()))
    monkeypatch.setenv("DIGITNET_PEN_DATA", str(other))
    assert find_pen_data() == other / PEN_FILE
    assert find_pen_data(pen_dir) == pen_dir / f"{PEN_FILE}.gz"
    assert load_pen_data().checksum == load_pen_data(pen_dir).checksum
    monkeypatch.setenv("DIGITNET_PEN_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DigitnetError, match="DIGITNET_PEN_DATA: no pendigits-orig.tra"):
        find_pen_data()


def test_without_data_or_download_it_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path))
    monkeypatch.delenv("DIGITNET_PEN_DATA")
    with pytest.raises(DigitnetError, match="set it to the folder"):
        load_pen_data(download=False)


# --- Downloading -------------------------------------------------------------------------------


def test_the_test_compressor_writes_real_unix_compress(payload):
    sample = payload[:200_000]
    packed = lzw_compress(sample)
    unpacked = subprocess.run(["gzip", "-dc"], input=packed, capture_output=True, check=True)
    assert unpacked.stdout == sample
    assert unlzw(packed) == sample


@pytest.mark.parametrize("form", ["Z", "zip", "gz", "plain"])
def test_every_form_uci_or_a_mirror_serves_is_unpacked_and_verified(
    form, payload, compressed, server, tmp_path, monkeypatch
):
    url, root = server
    if form == "zip":
        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w") as archive:
            archive.writestr("pendigits.names", "not this one")
            archive.writestr(f"{PEN_FILE}.Z", compressed)
        data, name = packed.getvalue(), "pendigits.zip"
    else:
        data = {"Z": compressed, "gz": gzip.compress(payload, 1), "plain": payload}[form]
        name = f"{PEN_FILE}.{form}"
    (root / name).write_bytes(data)
    cache = tmp_path / "cache"
    monkeypatch.setenv("DIGITNET_CACHE", str(cache))
    monkeypatch.delenv("DIGITNET_PEN_DATA")
    monkeypatch.setenv("DIGITNET_PEN_MIRRORS", f"{url}/{name}")

    pen = load_pen_data()

    target = cache / "pendigits" / f"{PEN_FILE}.gz"
    assert pen.source == str(target) and os.listdir(target.parent) == [target.name]
    assert gzip.decompress(target.read_bytes()) == payload and len(pen.strokes) == 7494


@pytest.mark.parametrize("first", ["missing (404)", "corrupted payload", "not even gzip"])
def test_a_bad_url_falls_back_to_the_next(first, payload, server, tmp_path):
    url, root = server
    changed = bytearray(payload)
    changed[100] ^= 1
    bad = {"missing (404)": None, "corrupted payload": gzip.compress(bytes(changed), 1)}.get(
        first, b"\x1f\x8b broken"
    )
    if bad is not None:
        (root / "bad.gz").write_bytes(bad)
    (root / "good.gz").write_bytes(gzip.compress(payload, 1))
    destination = tmp_path / "dest"
    result = download_pen_data(destination, [f"{url}/bad.gz", f"{url}/good.gz"], progress=False)
    assert result == destination / f"{PEN_FILE}.gz"
    assert os.listdir(destination) == [result.name]


def test_only_bad_copies_or_no_server_is_a_one_line_error_and_leaves_nothing(
    payload, server, dead_url, tmp_path
):
    url, root = server
    (root / "short.gz").write_bytes(gzip.compress(payload[:-10], 1))
    with pytest.raises(DigitnetError) as error:
        download_pen_data(tmp_path / "dest", [f"{url}/short.gz", dead_url], progress=False)
    message = str(error.value)
    assert "checksum did not match" in message and "could not connect" in message
    assert "DIGITNET_PEN_DATA" in message and "\n" not in message
    assert os.listdir(tmp_path / "dest") == []


# --- Drawn on the canvas -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cnn():
    return digitnet.load_model()


def test_pen_dev_is_the_dev_writers_drawn_and_read(pen, cnn):
    dev = pen.of_writers(PEN_DEV_WRITERS)
    assert len(dev.strokes) == np.isin(pen.writers, PEN_DEV_WRITERS).sum()
    small = pen.of_writers((PEN_DEV_WRITERS[0],))
    images, labels = pen_dev_set(small, seed=0)
    assert images.shape == (len(small.strokes), 28, 28) and images.dtype == np.float32
    assert labels.dtype == np.int64 and np.array_equal(labels, small.labels)
    again, _ = pen_dev_set(small, seed=0)
    other, _ = pen_dev_set(small, seed=1)
    assert np.array_equal(again, images) and not np.array_equal(other, images)
    accuracy = (cnn.predict_proba(images).argmax(axis=1) == labels).mean()
    assert accuracy > 0.85  # the shipped CNN reads 95.8% of all six writers


def test_placed_digits_have_the_size_place_and_brush_asked(pen):
    drawings = place(pen.strokes[:50], np.random.default_rng(0))
    for canvas, drawing in zip(render_batch(drawings), drawings):
        ink = canvas[..., 0] < 128
        rows = np.flatnonzero(ink.any(axis=1))
        cols = np.flatnonzero(ink.any(axis=0))
        assert rows[0] >= 0 and rows[-1] < 280 and cols[0] >= 0 and cols[-1] < 280
        assert 0.44 * 280 - 2 <= rows[-1] - rows[0] + 1 <= 0.85 * 280 + 2 or cols[-1] > 270
        assert 10 <= drawing.brush_width <= 26


def test_augmented_pen_digits_stay_readable(pen, cnn):
    source = PenDigits(pen)
    images, labels = source.sample(400, np.random.default_rng(0))
    assert images.shape == (400, 28, 28) and images.dtype == np.float32
    assert labels.dtype == np.int64 and images.min() >= 0 and images.max() <= 1
    assert set(np.unique(source.data.writers)) == set(PEN_TRAIN_WRITERS)
    augmented = (cnn.predict_proba(images).argmax(axis=1) == labels).mean()
    plain = pen.of_writers(PEN_TRAIN_WRITERS)
    chosen = np.random.default_rng(0).choice(len(plain.strokes), 400, replace=False)
    drawings = place([plain.strokes[i] for i in chosen], np.random.default_rng(0))
    plain_images = np.stack(
        [digitnet.data.preprocess.canvas_to_mnist(c) for c in render_batch(drawings)]
    )
    unchanged = (cnn.predict_proba(plain_images).argmax(axis=1) == plain.labels[chosen]).mean()
    assert augmented > 0.88 and augmented > unchanged - 0.06


def test_sampling_is_repeatable(pen):
    source = PenDigits(pen)
    first = source.sample(20, np.random.default_rng(5))
    again = source.sample(20, np.random.default_rng(5))
    other = source.sample(20, np.random.default_rng(6))
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])
