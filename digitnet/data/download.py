"""Downloading MNIST into the cache, the way a user's machine gets it.

Each file is tried on every mirror in turn until one gives bytes whose decompressed payload has the
published MD5 (the .gz wrappers differ between copies; the payloads never do). A download goes to
a temporary name in the destination folder and is renamed into place only once verified, so the
cache never holds a partial or unverified file, even when two sessions download at once.

This module knows what MNIST's files are and where to fetch them; reading them is ``data``'s job
(``data`` imports this module, never the other way round).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from digitnet.data.cache import mnist_cache_dir
from digitnet.errors import DigitnetError
from digitnet.files import atomic_path

# The published MD5s of the decompressed files: the .gz wrappers may be re-compressed, the
# payloads never change. In the order the checksum of a loaded MNIST hashes them.
MNIST_FILES = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
# The files of each split, images then labels.
MNIST_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
DEFAULT_MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
MIRRORS_ENV = "DIGITNET_MNIST_MIRRORS"


def mirrors_to_try() -> list[str]:
    """``DIGITNET_MNIST_MIRRORS`` (comma-separated base URLs) if set, else the public mirrors."""
    return urls_from_env(MIRRORS_ENV, DEFAULT_MIRRORS)


def urls_from_env(variable: str, defaults: Sequence[str]) -> list[str]:
    """The comma-separated URLs in an environment variable (a local mirror, a test server), or
    the defaults when it is unset or empty."""
    configured = os.environ.get(variable, "")
    return [url.strip() for url in configured.split(",") if url.strip()] or list(defaults)


def download_mnist(
    dest_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    progress: bool = True,
    files: Iterable[str] | None = None,
) -> Path:
    """Fetches the MNIST files (``files``: names from ``MNIST_FILES``, default all four) into
    ``dest_dir`` (default the cache's ``mnist/``) and returns that folder. Files already there
    with the right payload are kept, so an interrupted download resumes file by file."""
    destination = Path(dest_dir) if dest_dir is not None else mnist_cache_dir()
    destination.mkdir(parents=True, exist_ok=True)
    mirrors = list(mirrors) if mirrors is not None else mirrors_to_try()
    names = list(files) if files is not None else list(MNIST_FILES)
    unknown = [name for name in names if name not in MNIST_FILES]
    if unknown:
        raise DigitnetError(
            f"not MNIST files: {', '.join(unknown)}; known: {', '.join(MNIST_FILES)}"
        )
    import pooch  # with requests, a tenth of a second: paid only when something is fetched

    downloader = pooch.HTTPDownloader(progressbar=progress)
    for name in names:
        target = destination / f"{name}.gz"
        if not (target.is_file() and _payload_md5(target) == MNIST_FILES[name]):
            _fetch_verified(name, target, mirrors, downloader)
    return destination


class ChecksumMismatch(Exception):
    """A download that arrived but is not the published file: try the next mirror."""


def _fetch_verified(name: str, target: Path, mirrors: list[str], downloader) -> None:
    failures = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{name}.gz"
        try:
            with atomic_path(target) as temporary:
                downloader(url, str(temporary), None)
                if _payload_md5(temporary) != MNIST_FILES[name]:
                    raise ChecksumMismatch
            return
        except ChecksumMismatch:
            failures.append(f"{url}: checksum did not match")
        except OSError as error:  # requests' errors are OSErrors too
            failures.append(f"{url}: {describe_failure(error)}")
    raise DigitnetError(
        f"{name}.gz: no mirror gave a good copy ({'; '.join(failures) or 'no mirrors given'}); "
        "check the connection, or set DIGITNET_DATA to a folder holding the MNIST files"
    )


def _payload_md5(path: Path) -> str | None:
    """MD5 of the decompressed payload; None if it does not even decompress."""
    try:
        payload = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error):
        return None
    return hashlib.md5(payload, usedforsecurity=False).hexdigest()


def describe_failure(error: Exception) -> str:
    """A short reason for one failed attempt (requests' own messages run to several clauses)."""
    import requests  # already loaded by pooch when this runs

    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code}"
    if isinstance(error, requests.ConnectionError):
        return "could not connect"
    if isinstance(error, requests.Timeout):
        return "timed out"
    return (str(error).splitlines() or [type(error).__name__])[0]
