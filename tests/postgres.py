"""A real PostgreSQL server for the tests, started by them: Debian's ``postgresql`` package
(``initdb``, ``pg_ctl``; CI installs it), in a temporary folder, listening only on a Unix socket
there, run as an unprivileged user (PostgreSQL refuses to run as root, and the tests run as root
here and in CI). One server for the whole run, started when a test first asks for it; each test
gets a database of its own (``postgres_url``).

``collection_db`` is the collection tests' parameter: each such test runs on SQLite and on
PostgreSQL. Without PostgreSQL's programs the tests fail, saying how to install them: they never
skip."""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

UNPRIVILEGED_USER = "nobody"
BINARIES = "/usr/lib/postgresql/*/bin"
_numbers = itertools.count()


def postgres_binaries() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else the newest of Debian's."""
    found = shutil.which("initdb")
    folders = [Path(found).resolve().parent] if found else []
    folders += sorted(map(Path, glob.glob(BINARIES)), key=lambda p: int(p.parent.name))[::-1]
    for folder in folders:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    pytest.fail(
        "PostgreSQL's initdb and pg_ctl are not installed (not on PATH nor in "
        f"{BINARIES}): apt-get install postgresql (as .ci/run does)"
    )


def _as_unprivileged() -> dict:
    """subprocess arguments running a program as ``UNPRIVILEGED_USER`` when we are root."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam(UNPRIVILEGED_USER)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _run(command: list, log: Path | None = None, **kwargs) -> None:
    """Runs a PostgreSQL program as the unprivileged user; fails the test with its output (and
    the server's ``log``) if it fails."""
    result = subprocess.run(command, capture_output=True, text=True, **_as_unprivileged(), **kwargs)
    if result.returncode:
        logged = log.read_text(errors="replace") if log and log.exists() else ""
        pytest.fail(f"{' '.join(map(str, command))} failed: {result.stdout}{result.stderr}{logged}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Path]:
    """A running PostgreSQL server for the whole run; yields its socket folder. Stopped, and its
    folder removed, at the end."""
    binaries = postgres_binaries()
    folder = Path(tempfile.mkdtemp(prefix="digitnet-pg-"))  # short: a socket path is < 108 bytes
    if os.geteuid() == 0:
        user = pwd.getpwnam(UNPRIVILEGED_USER)
        os.chown(folder, user.pw_uid, user.pw_gid)
    data = folder / "data"
    try:
        initdb = [binaries / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        _run([*initdb, "--no-sync"], env={**os.environ, "LC_ALL": "C"})
        options = f"-c listen_addresses='' -c unix_socket_directories={folder} -c fsync=off"
        log = folder / "log"
        _run([binaries / "pg_ctl", "-D", data, "-o", options, "-l", log, "-w", "start"], log)
        try:
            yield folder
        finally:
            _run([binaries / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def server_url(socket_folder: Path, database: str = "postgres") -> str:
    return f"postgresql:///{database}?host={socket_folder}&user=postgres"


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:
    """A new, empty database on the test server, dropped after the test; yields its URL."""
    import psycopg

    name = f"test_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(server_url(postgres_server), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield server_url(postgres_server, name)
    with psycopg.connect(server_url(postgres_server), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def collection_db(request, tmp_path) -> str:
    """Where a collection test keeps its drawings: an SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "drawings.sqlite")
    return request.getfixturevalue("postgres_url")
