"""Where digitnet keeps what it downloads and saves on this machine.

``DIGITNET_CACHE`` if set, else ``$XDG_CACHE_HOME/digitnet``, else ``~/.cache/digitnet``. Its own
module so that the downloader, the data readers and the model catalog all agree on it without
importing one another.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "DIGITNET_CACHE"


def cache_dir() -> Path:
    """The cache folder (it may not exist yet)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "digitnet"


def mnist_cache_dir() -> Path:
    """Where MNIST is downloaded to, and looked for when nothing points elsewhere."""
    return cache_dir() / "mnist"
