"""Downloading MNIST, against real HTTP servers on 127.0.0.1 (this machine has no internet)."""

from __future__ import annotations

import functools
import gzip
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from digitnet.data.download import download_mnist
from digitnet.data.mnist import MNIST_FILES, find_mnist, load_mnist, load_mnist_test
from digitnet.data.pendigits import load_pen_data
from digitnet.errors import DigitnetError

LABELS = "t10k-labels-idx1-ubyte"  # the smallest file: most tests need no more


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def mnist_dir() -> Path:
    if not os.environ.get("DIGITNET_DATA"):
        pytest.fail("set DIGITNET_DATA to the folder holding the MNIST files")
    return Path(os.environ["DIGITNET_DATA"])


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving a temporary folder: (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root))
    )
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def dead_url() -> str:
    """A URL nobody listens on: the port was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def mirror(root: Path, name: str, files: dict[str, bytes]) -> Path:
    folder = root / name
    folder.mkdir()
    for file_name, data in files.items():
        (folder / f"{file_name}.gz").write_bytes(data)
    return folder


def corrupt_payload(gzipped: bytes) -> bytes:
    """A valid gzip whose payload has one byte changed: only a checksum can tell."""
    payload = bytearray(gzip.decompress(gzipped))
    payload[-1] ^= 0xFF
    return gzip.compress(bytes(payload))


def corrupt_bytes(gzipped: bytes) -> bytes:
    """Bytes damaged on the wire: the gzip itself is broken."""
    return gzipped[: len(gzipped) // 2] + bytes(100)


def test_download_fills_the_cache_and_load_mnist_uses_it(mnist_dir, server, tmp_path, monkeypatch):
    url, root = server
    good = mirror(root, "good", {})
    for name in MNIST_FILES:
        shutil.copy(mnist_dir / f"{name}.gz", good / f"{name}.gz")
    cache = tmp_path / "cache"
    monkeypatch.delenv("DIGITNET_DATA")
    monkeypatch.setenv("DIGITNET_CACHE", str(cache))
    monkeypatch.setenv("DIGITNET_MNIST_MIRRORS", f"{url}/good/")
    assert find_mnist() is None

    downloaded = load_mnist()

    assert downloaded.source == str(cache / "mnist")
    assert find_mnist() == cache / "mnist"
    assert sorted(os.listdir(cache / "mnist")) == sorted(f"{name}.gz" for name in MNIST_FILES)
    assert downloaded.checksum == load_mnist(mnist_dir).checksum
    assert downloaded.train_images.shape == (60000, 28, 28)


def test_the_test_split_downloads_only_the_test_files(mnist_dir, server, tmp_path, monkeypatch):
    url, root = server
    test_files = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    mirror(root, "good", {name: (mnist_dir / f"{name}.gz").read_bytes() for name in test_files})
    cache = tmp_path / "cache"
    monkeypatch.delenv("DIGITNET_DATA")
    monkeypatch.setenv("DIGITNET_CACHE", str(cache))
    monkeypatch.setenv("DIGITNET_MNIST_MIRRORS", f"{url}/good/")

    images, labels = load_mnist_test()

    assert sorted(os.listdir(cache / "mnist")) == sorted(f"{name}.gz" for name in test_files)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert np.array_equal(labels, load_mnist(mnist_dir).test_labels)
    assert find_mnist() is None, "the cache does not pass for all of MNIST"


@pytest.mark.parametrize("first", ["missing (404)", "corrupted payload", "corrupted bytes"])
def test_a_bad_mirror_falls_back_to_the_next(first, mnist_dir, server, tmp_path):
    url, root = server
    real = (mnist_dir / f"{LABELS}.gz").read_bytes()
    bad_files = {
        "missing (404)": {},
        "corrupted payload": {LABELS: corrupt_payload(real)},
        "corrupted bytes": {LABELS: corrupt_bytes(real)},
    }[first]
    mirror(root, "bad", bad_files)
    mirror(root, "good", {LABELS: real})
    destination = tmp_path / "dest"

    result = download_mnist(
        destination, mirrors=[f"{url}/bad/", f"{url}/good"], progress=False, files=[LABELS]
    )

    assert result == destination
    assert os.listdir(destination) == [f"{LABELS}.gz"]
    assert gzip.decompress((destination / f"{LABELS}.gz").read_bytes()) == gzip.decompress(real)


def test_every_mirror_corrupt_is_a_checksum_error_and_leaves_nothing(mnist_dir, server, tmp_path):
    url, root = server
    real = (mnist_dir / f"{LABELS}.gz").read_bytes()
    mirror(root, "one", {LABELS: corrupt_payload(real)})
    mirror(root, "two", {LABELS: corrupt_bytes(real)})
    destination = tmp_path / "dest"

    with pytest.raises(DigitnetError) as caught:
        download_mnist(
            destination, mirrors=[f"{url}/one/", f"{url}/two/"], progress=False, files=[LABELS]
        )

    message = str(caught.value)
    assert message.startswith(f"{LABELS}.gz: ")
    assert message.count("checksum did not match") == 2
    assert "\n" not in message
    assert os.listdir(destination) == []


def test_unreachable_server_is_a_clear_error(dead_url, tmp_path):
    destination = tmp_path / "dest"
    with pytest.raises(DigitnetError, match=f"{LABELS}.gz: .*{dead_url}.*could not connect"):
        download_mnist(destination, mirrors=[dead_url], progress=False, files=[LABELS])
    assert os.listdir(destination) == []


def test_load_mnist_reports_a_failed_download(dead_url, tmp_path, monkeypatch):
    monkeypatch.delenv("DIGITNET_DATA")
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DIGITNET_MNIST_MIRRORS", dead_url)
    with pytest.raises(DigitnetError, match="could not connect.*DIGITNET_DATA"):
        load_mnist()


def test_mirrors_argument_overrides_the_environment(
    mnist_dir, server, dead_url, tmp_path, monkeypatch
):
    url, root = server
    mirror(root, "good", {LABELS: (mnist_dir / f"{LABELS}.gz").read_bytes()})
    monkeypatch.setenv("DIGITNET_MNIST_MIRRORS", dead_url)
    download_mnist(tmp_path / "dest", mirrors=[f"{url}/good/"], progress=False, files=[LABELS])
    assert (tmp_path / "dest" / f"{LABELS}.gz").is_file()


def test_verified_files_are_kept_and_bad_ones_replaced(mnist_dir, server, tmp_path):
    url, root = server
    real_labels = (mnist_dir / f"{LABELS}.gz").read_bytes()
    other = "train-labels-idx1-ubyte"
    mirror(root, "good", {other: (mnist_dir / f"{other}.gz").read_bytes()})
    destination = tmp_path / "dest"
    destination.mkdir()
    (destination / f"{LABELS}.gz").write_bytes(real_labels)  # already there: no download
    (destination / f"{other}.gz").write_bytes(b"left over from a broken tool")

    download_mnist(destination, mirrors=[f"{url}/good/"], progress=True, files=[LABELS, other])

    assert (destination / f"{LABELS}.gz").read_bytes() == real_labels
    assert (destination / f"{other}.gz").read_bytes() == (mnist_dir / f"{other}.gz").read_bytes()


def test_unknown_file_names_are_refused(tmp_path):
    with pytest.raises(DigitnetError, match="not MNIST files: cifar"):
        download_mnist(tmp_path, mirrors=[], files=["cifar"])


def test_download_command_fills_a_folder_and_says_where(mnist_dir, server, tmp_path):
    url, root = server
    good = mirror(root, "good", {})
    for name in MNIST_FILES:
        shutil.copy(mnist_dir / f"{name}.gz", good / f"{name}.gz")
    pen_file = load_pen_data(download=False).source  # DIGITNET_PEN_DATA, or the cache
    shutil.copy(pen_file, good / Path(pen_file).name)
    environment = {
        **os.environ,
        "DIGITNET_MNIST_MIRRORS": f"{url}/good/",
        "DIGITNET_PEN_MIRRORS": f"{url}/good/{Path(pen_file).name}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "digitnet", "download", "--to", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == [
        f"MNIST is in {tmp_path / 'data'}",
        f"the pen-drawn digits are in {tmp_path / 'data'}",
    ]
    assert load_mnist(tmp_path / "data").checksum == load_mnist(mnist_dir).checksum
    pen = load_pen_data(tmp_path / "data", download=False)
    assert pen.checksum == load_pen_data(pen_file, download=False).checksum


def test_download_command_without_a_mirror_is_one_line(dead_url, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "digitnet", "download", "--to", str(tmp_path / "mnist")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DIGITNET_MNIST_MIRRORS": dead_url},
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "could not connect" in result.stderr
    assert result.stderr.count("\n") == 1
