"""A real PostgreSQL server for the tests, started by them: Debian's ``postgresql`` package
(``initdb`` and ``postgres``; CI installs it), in a temporary folder, listening only on a Unix
socket there, run as an unprivileged user (PostgreSQL refuses to run as root, and the tests run
as root here and in CI). One server for the whole run, started when a test first asks for it;
each test gets a database of its own (``postgres_url``). The server is a child of the test
process that ends with it, even when the tests are killed: a killed run leaves no server behind
(``pg_ctl start`` would: its server belongs to no process of the run).

``collection_db`` is the collection tests' parameter: each such test runs on SQLite and on
PostgreSQL (``store``: a DrawingStore on it). Without PostgreSQL's programs the tests fail,
saying how to install them: they never skip."""

from __future__ import annotations

import ctypes
import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from digitnet.data.collection.store import DrawingStore

UNPRIVILEGED_USER = "nobody"
BINARIES = "/usr/lib/postgresql/*/bin"
START_SECONDS = 60  # the most a server takes to accept connections on a loaded machine
PR_SET_PDEATHSIG = 1  # prctl: the signal a process gets when its parent ends
_numbers = itertools.count()


def postgres_binaries() -> Path:
    """The folder of ``initdb`` and ``postgres``: on PATH, else the newest of Debian's."""
    found = shutil.which("initdb")
    folders = [Path(found).resolve().parent] if found else []
    folders += sorted(map(Path, glob.glob(BINARIES)), key=lambda p: int(p.parent.name))[::-1]
    for folder in folders:
        if (folder / "initdb").exists() and (folder / "postgres").exists():
            return folder
    pytest.fail(
        "PostgreSQL's initdb and postgres are not installed (not on PATH nor in "
        f"{BINARIES}): apt-get install postgresql (as .ci/run does)"
    )


def _as_unprivileged() -> dict:
    """subprocess arguments running a program as ``UNPRIVILEGED_USER`` when we are root."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam(UNPRIVILEGED_USER)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _run(command: list, **kwargs) -> None:
    """Runs a PostgreSQL program as the unprivileged user; fails the test with its output."""
    result = subprocess.run(command, capture_output=True, text=True, **_as_unprivileged(), **kwargs)
    if result.returncode:
        pytest.fail(f"{' '.join(map(str, command))} failed: {result.stdout}{result.stderr}")


def _end_with_the_tests() -> None:
    """In the server's process before it starts: SIGQUIT (PostgreSQL's immediate shutdown)
    when the test process ends, however it ends."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGQUIT)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Path]:
    """A running PostgreSQL server for the whole run; yields its socket folder."""
    with running_postgres() as socket_folder:
        yield socket_folder


@contextmanager
def running_postgres() -> Iterator[Path]:
    """A PostgreSQL server of its own (for a test run, or a benchmark); yields its socket
    folder. Stopped, and its folder removed, on leaving."""
    import psycopg

    binaries = postgres_binaries()
    folder = Path(tempfile.mkdtemp(prefix="digitnet-pg-"))  # short: a socket path is < 108 bytes
    if os.geteuid() == 0:
        user = pwd.getpwnam(UNPRIVILEGED_USER)
        os.chown(folder, user.pw_uid, user.pw_gid)
    data, log = folder / "data", folder / "log"
    try:
        initdb = [binaries / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        _run([*initdb, "--no-sync"], env={**os.environ, "LC_ALL": "C"})
        settings = {"listen_addresses": "", "unix_socket_directories": folder, "fsync": "off"}
        options = [f"--{name}={value}" for name, value in settings.items()]
        with log.open("w") as output:
            server = subprocess.Popen(
                [binaries / "postgres", "-D", data, *options],
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=_end_with_the_tests,
                **_as_unprivileged(),
            )
        try:
            deadline = time.monotonic() + START_SECONDS
            while True:
                try:
                    psycopg.connect(server_url(folder)).close()
                    break
                except psycopg.OperationalError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"PostgreSQL did not start: {log.read_text(errors='replace')}")
                    time.sleep(0.1)
            yield folder
        finally:
            server.send_signal(signal.SIGINT)  # fast shutdown: ends the sessions left open
            server.wait(timeout=START_SECONDS)
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


@pytest.fixture
def store(collection_db) -> DrawingStore:
    """A new collection, in SQLite and in PostgreSQL (a test taking it runs on both). A test
    file that needs another kind of collection defines its own ``store``."""
    return DrawingStore(collection_db)
