"""The data layer: MNIST IDX files, Kaggle CSVs, where the data comes from, splits."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from digitnet.data.cache import cache_dir
from digitnet.data.mnist import (
    MNIST_FILES,
    find_mnist,
    load_dataset,
    load_mnist,
    load_mnist_test,
    read_idx_images,
    read_idx_labels,
    read_kaggle_csv,
    split_dev,
    write_submission,
)
from digitnet.errors import DigitnetError
from digitnet.images import IMAGE_SHAPE, to_float

# Published class counts (README of the data set), train then test.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
HEADER = "label," + ",".join(f"pixel{i}" for i in range(784))
TEST_HEADER = ",".join(f"pixel{i}" for i in range(784))


@pytest.fixture(scope="module")
def mnist_dir() -> Path:
    if not os.environ.get("DIGITNET_DATA"):
        pytest.fail("set DIGITNET_DATA to the folder holding the MNIST files")
    return Path(os.environ["DIGITNET_DATA"])


@pytest.fixture(scope="module")
def mnist(mnist_dir: Path):
    return load_mnist(mnist_dir)


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """No DIGITNET_DATA, and a cache of our own: returns the cache folder."""
    monkeypatch.delenv("DIGITNET_DATA", raising=False)
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    magic = (0x08 << 8 | array.ndim) if magic is None else magic
    dims = b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    return magic.to_bytes(4, "big") + dims + array.tobytes()


def write_mnist_dir(directory: Path, train: int = 6, test: int = 4) -> Path:
    """A small but valid set of the four files."""
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        count = train if name.startswith("train") else test
        if "images" in name:
            array = rng.integers(0, 256, (count, 28, 28))
        else:
            array = rng.integers(0, 10, count)
        (directory / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array)))
    return directory


def csv_text(images: np.ndarray, labels: np.ndarray | None = None) -> str:
    rows = images.reshape(len(images), -1).astype(int)
    if labels is not None:
        rows = np.column_stack([labels, rows])
    body = "\n".join(",".join(map(str, row)) for row in rows.tolist())
    return (HEADER if labels is not None else TEST_HEADER) + "\n" + body + "\n"


# --- Real MNIST --------------------------------------------------------------------------------


def test_load_mnist_reads_all_70000_digits(mnist, mnist_dir):
    assert mnist.train_images.shape == (60000, 28, 28)
    assert mnist.test_images.shape == (10000, 28, 28)
    assert mnist.train_images.dtype == mnist.train_labels.dtype == np.uint8
    assert np.bincount(mnist.train_labels).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.test_labels).tolist() == TEST_COUNTS
    assert mnist.train_images.max() == 255 and mnist.train_images.min() == 0
    assert mnist.source == str(mnist_dir)
    assert not mnist.train_images.flags.writeable


def test_checksum_is_sha256_of_the_four_decompressed_payloads(mnist, mnist_dir):
    digest = hashlib.sha256()
    for name in MNIST_FILES:
        digest.update(gzip.decompress((mnist_dir / f"{name}.gz").read_bytes()))
    assert mnist.checksum == digest.hexdigest()


def test_uncompressed_files_give_the_same_data_and_checksum(mnist, mnist_dir, tmp_path):
    for name in MNIST_FILES:
        (tmp_path / name).write_bytes(gzip.decompress((mnist_dir / f"{name}.gz").read_bytes()))
    raw = load_mnist(tmp_path)
    assert raw.checksum == mnist.checksum
    assert np.array_equal(raw.train_images, mnist.train_images)
    assert np.array_equal(raw.test_labels, mnist.test_labels)


def test_gzip_is_detected_by_content_not_by_name(mnist_dir, tmp_path):
    gzipped = (mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (tmp_path / "raw-but-named.gz").write_bytes(gzip.decompress(gzipped))
    (tmp_path / "gzipped-but-named.idx").write_bytes(gzipped)
    expected = read_idx_labels(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert np.array_equal(read_idx_labels(tmp_path / "raw-but-named.gz"), expected)
    assert np.array_equal(read_idx_labels(tmp_path / "gzipped-but-named.idx"), expected)


def test_load_mnist_follows_digitnet_data(mnist, mnist_dir, isolated, monkeypatch):
    monkeypatch.setenv("DIGITNET_DATA", str(mnist_dir))
    loaded = load_mnist(download=False)
    assert loaded.source == str(mnist_dir)
    assert loaded.checksum == mnist.checksum


# --- Bad IDX files -----------------------------------------------------------------------------

GOOD_IMAGES = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
BAD_IDX = {
    "empty": (lambda: b"", "images", "empty file"),
    "labels file read as images": (lambda: idx_bytes([1, 2, 3]), "images", "wrong magic number"),
    "not an IDX file": (lambda: b"\x89PNG\r\n\x1a\n" + bytes(100), "images", "wrong magic number"),
    "wrong dims": (lambda: idx_bytes(np.zeros((2, 32, 32))), "images", "32x32"),
    "truncated data": (lambda: idx_bytes(GOOD_IMAGES)[:-10], "images", "truncated"),
    "truncated header": (lambda: idx_bytes(GOOD_IMAGES)[:9], "images", "truncated header"),
    "too long": (lambda: idx_bytes(GOOD_IMAGES) + b"\0", "images", "too long"),
    "label outside 0-9": (lambda: idx_bytes([1, 2, 3, 12, 4]), "labels", "label 12 at item 3"),
    "truncated gzip": (
        lambda: gzip.compress(idx_bytes(GOOD_IMAGES))[:-40],
        "images",
        "corrupted or truncated gzip",
    ),
}


@pytest.mark.parametrize("case", list(BAD_IDX))
@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_bad_idx_file_is_a_one_line_error_naming_file_and_problem(case, compress, tmp_path):
    make, kind, problem = BAD_IDX[case]
    data = make()
    if compress and not data.startswith(b"\x1f\x8b"):
        data = gzip.compress(data)
    path = tmp_path / "bad-file.idx"
    path.write_bytes(data)
    reader = read_idx_images if kind == "images" else read_idx_labels
    with pytest.raises(DigitnetError) as caught:
        reader(path)
    message = str(caught.value)
    assert str(path) in message
    assert problem in message
    assert "\n" not in message


def test_load_mnist_names_the_bad_file(tmp_path):
    directory = write_mnist_dir(tmp_path / "mnist")
    bad = directory / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(idx_bytes([0, 1, 99, 2])))
    with pytest.raises(DigitnetError, match="t10k-labels-idx1-ubyte.gz: label 99"):
        load_mnist(directory)


def test_load_mnist_rejects_images_and_labels_of_different_lengths(tmp_path):
    directory = write_mnist_dir(tmp_path / "mnist")
    (directory / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes([1, 2])))
    with pytest.raises(DigitnetError, match="6 images but 2 labels"):
        load_mnist(directory)


# --- Where the data comes from -----------------------------------------------------------------


def test_cache_dir_follows_digitnet_cache_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "own"))
    assert cache_dir() == tmp_path / "own"
    monkeypatch.delenv("DIGITNET_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "digitnet"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "digitnet"


def test_find_mnist_order_is_explicit_path_then_env_then_cache(tmp_path, isolated, monkeypatch):
    cached = write_mnist_dir(isolated / "mnist")
    from_env = write_mnist_dir(tmp_path / "env")
    explicit = write_mnist_dir(tmp_path / "explicit")
    assert find_mnist() == cached
    monkeypatch.setenv("DIGITNET_DATA", str(from_env))
    assert find_mnist() == from_env
    assert find_mnist(explicit) == explicit
    assert load_mnist(explicit).source == str(explicit)


def test_find_mnist_is_none_when_nothing_is_there(isolated):
    write_mnist_dir(isolated / "mnist")
    (isolated / "mnist" / "t10k-images-idx3-ubyte.gz").unlink()  # a partial cache is not MNIST
    assert find_mnist() is None
    with pytest.raises(DigitnetError, match="MNIST not found.*DIGITNET_DATA"):
        load_mnist(download=False)


@pytest.mark.parametrize("where", ["argument", "DIGITNET_DATA"])
def test_a_path_without_the_files_is_an_error_not_a_fallback(
    where, tmp_path, isolated, monkeypatch
):
    write_mnist_dir(isolated / "mnist")  # the cache would work: it must not be used
    incomplete = write_mnist_dir(tmp_path / "incomplete")
    (incomplete / "train-labels-idx1-ubyte.gz").unlink()
    for path, problem in [
        (incomplete, "missing train-labels-idx1-ubyte"),
        (tmp_path / "nope", "no such folder"),
    ]:
        if where == "DIGITNET_DATA":
            monkeypatch.setenv("DIGITNET_DATA", str(path))
            argument = None
        else:
            argument = path
        with pytest.raises(DigitnetError) as caught:
            load_mnist(argument)
        assert problem in str(caught.value) and str(path) in str(caught.value)
        if where == "DIGITNET_DATA":
            assert "DIGITNET_DATA" in str(caught.value)


def test_the_test_split_loads_from_a_folder_holding_only_the_test_files(
    mnist, mnist_dir, tmp_path, isolated, monkeypatch
):
    only_test = tmp_path / "only-test"
    only_test.mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (only_test / f"{name}.gz").write_bytes((mnist_dir / f"{name}.gz").read_bytes())
    images, labels = load_mnist_test(only_test, download=False)
    assert np.array_equal(images, mnist.test_images) and np.array_equal(labels, mnist.test_labels)
    monkeypatch.setenv("DIGITNET_DATA", str(only_test))
    assert np.array_equal(load_mnist_test(download=False)[1], mnist.test_labels)
    with pytest.raises(DigitnetError, match="missing train-images-idx3-ubyte"):
        load_mnist(download=False)  # all of MNIST still needs all four files


def test_the_test_split_is_found_in_a_cache_without_the_training_files(isolated):
    write_mnist_dir(isolated / "mnist", test=4)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (isolated / "mnist" / f"{name}.gz").unlink()
    assert find_mnist() is None
    images, labels = load_mnist_test(download=False)
    assert images.shape == (4, *IMAGE_SHAPE) and labels.shape == (4,)


# --- Kaggle CSVs -------------------------------------------------------------------------------


def test_kaggle_train_csv_round_trips_real_digits(mnist, tmp_path):
    images, labels = mnist.train_images[:40], mnist.train_labels[:40]
    path = tmp_path / "train.csv"
    path.write_text(csv_text(images, labels))
    read_images, read_labels = read_kaggle_csv(path)
    assert read_images.dtype == read_labels.dtype == np.uint8
    assert np.array_equal(read_images, images)
    assert np.array_equal(read_labels, labels)


def test_kaggle_test_csv_has_no_labels(mnist, tmp_path):
    path = tmp_path / "test.csv"
    path.write_text(csv_text(mnist.test_images[:7]))
    images, labels = read_kaggle_csv(path)
    assert labels is None
    assert np.array_equal(images, mnist.test_images[:7])


def test_kaggle_csv_from_bytes_and_uploads_with_windows_line_endings_and_bom(mnist):
    text = csv_text(mnist.test_images[:5], mnist.test_labels[:5])
    data = ("\ufeff" + text.replace("\n", "\r\n")).encode()
    upload = io.BytesIO(data)
    upload.name = "my-upload.csv"
    upload.read()  # a page that already read the upload must still get all of it
    for source in (data, upload):
        images, labels = read_kaggle_csv(source)
        assert np.array_equal(images, mnist.test_images[:5])
        assert np.array_equal(labels, mnist.test_labels[:5])


def test_upload_name_is_used_in_messages():
    upload = io.BytesIO(b"label,pixel0\n1,2\n")
    upload.name = "digits-upload.csv"
    with pytest.raises(DigitnetError, match="^digits-upload.csv, line 1: the header has 2 columns"):
        read_kaggle_csv(upload)
    with pytest.raises(DigitnetError, match="^pasted.csv: empty file"):
        read_kaggle_csv(b"", name="pasted.csv")


def replace_cell(text: str, line_number: int, column: int, value: str) -> str:
    lines = text.split("\n")
    cells = lines[line_number - 1].split(",")
    cells[column] = value
    lines[line_number - 1] = ",".join(cells)
    return "\n".join(lines)


def edit_line(text: str, line_number: int, edit) -> str:
    lines = text.split("\n")
    lines[line_number - 1] = edit(lines[line_number - 1])
    return "\n".join(lines)


GOOD_CSV = csv_text(np.arange(5 * 784).reshape(5, 28, 28) % 200, np.array([3, 1, 4, 1, 5]))

# case -> (file contents, expected line or None, words the message must hold)
BAD_CSV = {
    "misspelt header": (GOOD_CSV.replace("label,", "lable,", 1), 1, "header column 'lable'"),
    "header column count": (GOOD_CSV.replace(",pixel783", "", 1), 1, "header has 784 columns"),
    "header only": (HEADER + "\n", None, "header but no rows"),
    "empty file": ("", None, "empty file"),
    "whitespace only": ("\n\n  \n", None, "empty file"),
    "row too long": (
        edit_line(GOOD_CSV, 4, lambda line: line + ",7"),
        4,
        "786 values, expected 785",
    ),
    "row too short": (
        edit_line(GOOD_CSV, 3, lambda line: line[: line.rindex(",")]),
        3,
        "784 values, expected 785",
    ),
    "truncated last row": (GOOD_CSV[:-900], 6, "cut short"),
    "blank line": (edit_line(GOOD_CSV, 3, lambda line: ""), 3, "empty line"),
    "non-numeric": (
        replace_cell(GOOD_CSV, 3, 10, "abc"),
        3,
        "pixel9 holds 'abc', which is not a number",
    ),
    "quoted number": (replace_cell(GOOD_CSV, 2, 10, '"12"'), 2, "'\"12\"', which is not a number"),
    "above 255": (
        replace_cell(GOOD_CSV, 5, 700, "256"),
        5,
        "pixel699 holds '256', not a whole number from 0 to 255",
    ),
    "negative": (replace_cell(GOOD_CSV, 2, 1, "-1"), 2, "pixel0 holds '-1', not a whole number"),
    "fraction": (replace_cell(GOOD_CSV, 6, 784, "12.5"), 6, "pixel783 holds '12.5'"),
    "huge number": (replace_cell(GOOD_CSV, 4, 3, "9" * 30), 4, "pixel2 holds '999"),
    "digit separator": (
        replace_cell(GOOD_CSV, 3, 8, "1_0"),
        3,
        "pixel7 holds '1_0', which is not a number",
    ),
    "infinity": (
        replace_cell(GOOD_CSV, 3, 8, "inf"),
        3,
        "pixel7 holds 'inf', which is not a number",
    ),
    "NaN text": (replace_cell(GOOD_CSV, 3, 200, "NaN"), 3, "pixel199 holds 'NaN'"),
    "empty cell": (replace_cell(GOOD_CSV, 4, 5, ""), 4, "pixel4 is empty"),
    "label above 9": (replace_cell(GOOD_CSV, 5, 0, "10"), 5, "label '10' is not a digit 0-9"),
    "negative label": (replace_cell(GOOD_CSV, 2, 0, "-3"), 2, "label '-3' is not a digit 0-9"),
    "not text": (b"\x89PNG\r\n\x1a\n\xff\xfe" + bytes(50), None, "not a text CSV file"),
}


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_bad_kaggle_csv_is_a_one_line_error_naming_file_row_and_problem(case, tmp_path):
    contents, line, problem = BAD_CSV[case]
    path = tmp_path / "train.csv"
    if isinstance(contents, bytes):
        path.write_bytes(contents)
    else:
        path.write_text(contents)
    with pytest.raises(DigitnetError) as caught:
        read_kaggle_csv(path)
    message = str(caught.value)
    where = f"{path}, line {line}: " if line is not None else f"{path}: "
    assert message.startswith(where), message
    assert problem in message
    assert "\n" not in message


def test_the_first_bad_row_of_a_big_file_is_found(tmp_path):
    rng = np.random.default_rng(1)
    text = csv_text(rng.integers(0, 256, (3000, 28, 28)), rng.integers(0, 10, 3000))
    text = replace_cell(replace_cell(text, 2950, 400, "x"), 2990, 0, "11")
    with pytest.raises(DigitnetError, match=r"line 2950: column pixel399 holds 'x'"):
        read_kaggle_csv(text.encode(), name="big.csv")
    with pytest.raises(DigitnetError, match=r"line 2990: label '11'"):
        read_kaggle_csv(replace_cell(text, 2950, 400, "0").encode(), name="big.csv")


def test_missing_csv_file_is_an_error(tmp_path):
    with pytest.raises(DigitnetError, match="nothing.csv: cannot read the file"):
        read_kaggle_csv(tmp_path / "nothing.csv")


# --- Submissions -------------------------------------------------------------------------------


def test_write_submission_numbers_images_from_one(tmp_path):
    path = tmp_path / "out" / "submission.csv"
    path.parent.mkdir()
    path.write_text("old contents that must go\n")
    labels = np.array([7, 2, 1, 0, 9], dtype=np.int64)
    assert write_submission(path, labels) == path
    lines = path.read_text().splitlines()
    assert lines[0] == "ImageId,Label"
    assert lines[1:] == [f"{i + 1},{label}" for i, label in enumerate(labels)]
    frame = pd.read_csv(path)
    assert frame["ImageId"].tolist() == [1, 2, 3, 4, 5]
    assert os.listdir(path.parent) == ["submission.csv"]  # no temporary file left behind


@pytest.mark.parametrize(
    "labels", [np.array([1, 10]), np.array([[1, 2]]), np.array([0.5, 1.0])], ids=str
)
def test_write_submission_rejects_what_kaggle_would(labels, tmp_path):
    with pytest.raises(DigitnetError, match="submission"):
        write_submission(tmp_path / "submission.csv", labels)
    assert not list(tmp_path.iterdir())


# --- Splits and floats -------------------------------------------------------------------------


def numbered(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose first two pixels spell their index, and that index as the label."""
    index = np.arange(count)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    images[:, 0, 0], images[:, 0, 1] = index // 256, index % 256
    return images, index


def test_split_dev_holds_out_a_disjoint_deterministic_dev_set():
    images, labels = numbered(1000)
    train_x, train_y, dev_x, dev_y = split_dev(images, labels, dev_size=100, seed=3)
    assert (len(train_x), len(train_y), len(dev_x), len(dev_y)) == (900, 900, 100, 100)
    assert sorted(np.concatenate([train_y, dev_y]).tolist()) == list(range(1000))
    identity = dev_x[:, 0, 0].astype(int) * 256 + dev_x[:, 0, 1]
    assert np.array_equal(identity, dev_y)  # images stay with their labels
    again = split_dev(images, labels, dev_size=100, seed=3)
    assert np.array_equal(again[3], dev_y)
    other = split_dev(images, labels, dev_size=100, seed=4)
    assert not np.array_equal(other[3], dev_y)


def test_split_dev_of_mnist_covers_every_class(mnist):
    train_x, train_y, dev_x, dev_y = split_dev(mnist.train_images, mnist.train_labels)
    assert len(dev_y) == 5000 and len(train_y) == 55000
    assert np.bincount(dev_y, minlength=10).min() > 300


def test_split_dev_of_zero_keeps_everything_for_training():
    images, labels = numbered(50)
    train_x, train_y, dev_x, dev_y = split_dev(images, labels, dev_size=0)
    assert np.array_equal(train_x, images) and np.array_equal(train_y, labels)
    assert dev_x.shape == (0, 28, 28) and dev_y.shape == (0,)


@pytest.mark.parametrize("dev_size", [50, 51, -1])
def test_split_dev_rejects_impossible_sizes(dev_size):
    images, labels = numbered(50)
    with pytest.raises(DigitnetError, match=f"dev size {dev_size} must be from 0 to 49"):
        split_dev(images, labels, dev_size=dev_size)


def test_split_dev_rejects_mismatched_lengths():
    images, labels = numbered(10)
    with pytest.raises(DigitnetError, match="10 images but 9 labels"):
        split_dev(images, labels[:9], dev_size=2)


def test_to_float_scales_to_unit_float32():
    pixels = np.array([[0, 51, 255]], dtype=np.uint8)
    scaled = to_float(pixels)
    assert scaled.dtype == np.float32
    assert scaled.tolist() == [[0.0, np.float32(0.2), 1.0]]
    assert to_float(scaled.astype(np.float64)).dtype == np.float32
    with pytest.raises(DigitnetError, match="int64"):
        to_float(np.array([1, 2]))


# --- Datasets ----------------------------------------------------------------------------------


def test_load_dataset_mnist_names_its_data(mnist, mnist_dir, monkeypatch):
    monkeypatch.setenv("DIGITNET_DATA", str(mnist_dir))
    dataset = load_dataset("mnist")
    assert (dataset.name, dataset.source, dataset.checksum) == (
        "MNIST",
        str(mnist_dir),
        mnist.checksum,
    )
    assert dataset.images.shape == (60000, 28, 28) and dataset.labels.shape == (60000,)
    assert dataset.test_images.shape == (10000, 28, 28)


def test_load_dataset_mnist_from_a_given_folder(mnist, mnist_dir, isolated):
    dataset = load_dataset("mnist", path=mnist_dir)
    assert (dataset.source, dataset.checksum) == (str(mnist_dir), mnist.checksum)


def test_load_dataset_from_a_kaggle_csv(mnist, tmp_path):
    text = csv_text(mnist.train_images[:20], mnist.train_labels[:20])
    path = tmp_path / "train.csv"
    path.write_text(text)
    dataset = load_dataset(path)
    assert (dataset.name, dataset.source) == ("train.csv", str(path))
    assert np.array_equal(dataset.images, mnist.train_images[:20])
    assert np.array_equal(dataset.labels, mnist.train_labels[:20])
    assert dataset.test_images is None and dataset.test_labels is None
    upload = io.BytesIO(text.replace("\n", "\r\n").encode())
    upload.name = "upload.csv"
    assert load_dataset(upload).checksum == dataset.checksum  # same digits, same name
    changed = replace_cell(text, 2, 0, str((mnist.train_labels[0] + 1) % 10))
    assert load_dataset(changed.encode()).checksum != dataset.checksum


@pytest.mark.parametrize(
    "purpose, need", [("train", "to train a model"), ("score", "to score a model")]
)
def test_a_kaggle_test_csv_is_refused_with_a_message_for_its_use(mnist, tmp_path, purpose, need):
    path = tmp_path / "test.csv"
    path.write_text(csv_text(mnist.test_images[:3]))
    with pytest.raises(DigitnetError) as caught:
        load_dataset(path, purpose=purpose)
    assert str(caught.value) == (
        f"{path}: has no label column: this looks like a Kaggle test.csv; a labelled train.csv "
        f"is needed {need}"
    )


def test_load_dataset_refuses_an_unknown_purpose(mnist):
    labelled = csv_text(mnist.test_images[:3], mnist.test_labels[:3]).encode()
    with pytest.raises(DigitnetError, match="unknown purpose 'plot': use one of train, score"):
        load_dataset(labelled, purpose="plot")
