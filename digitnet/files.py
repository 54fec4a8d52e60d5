"""Writing files so that a reader never sees half of one and nothing is replaced by mistake.

``check_writable`` is the one test of whether a path may be written; ``write_lock`` keeps two
runs from writing one file at once; ``atomic_path`` writes beside the target and renames, and
first removes what a killed write left there.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digitnet.errors import DigitnetError

# A temporary file untouched this long whose writer's pid is gone is a killed write's leftover.
STALE_SECONDS = 60
# The name atomic_path gives a temporary file: its target's name, its writer's pid, mkstemp's
# eight random characters.
LEFTOVER = re.compile(r"\..+\.([1-9][0-9]*)\.[a-z0-9_]{8}\.tmp")
DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
# What a path may be instead of a file; each is refused, never written over.
NOT_FILES = (
    (stat.S_ISDIR, "is a folder; give a file name inside it"),
    (stat.S_ISCHR, "is a device, not a file"),
    (stat.S_ISBLK, "is a device, not a file"),
    (stat.S_ISFIFO, "is a FIFO (named pipe), not a file"),
    (stat.S_ISSOCK, "is a socket, not a file"),
)
# The temporary files atomic_path has handed out and not yet finished: one of them given back to
# atomic_path (``save_model`` into a file being written) is written in place, not nested.
_writing: set[Path] = set()


def _read_umask() -> int:
    """Reading the umask means setting it: done once, at import, before any thread starts."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _read_umask()


def check_writable(
    path: str | os.PathLike, *, replace: bool = False, collection: str | os.PathLike | None = None
) -> None:
    """Refuses in one line, before anything is written, a path that must not be written: a
    symbolic link, a folder, a device, a FIFO or a socket; ``collection`` (the drawing
    collection's file, which a library this low cannot look up); an existing file unless
    ``replace`` (its message names the command line's --force); a folder that cannot take new
    files."""
    path = Path(path)
    _check_target(path)
    if collection is not None and _same_file(path, Path(collection)):
        raise DigitnetError(f"{path}: is the drawing collection; write somewhere else")
    if not replace and path.exists():
        raise DigitnetError(f"{path}: already exists; give another name, or --force to replace it")
    problem = _why_no_new_files(path.parent)
    if problem:
        raise DigitnetError(f"{path}: {problem}")


def check_folder(folder: str | os.PathLike) -> None:
    """Refuses in one line a folder that is a file, or that cannot take new files (or, not
    made yet, be made)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DigitnetError(f"{folder}: is a file, not a folder")
    problem = _why_no_new_files(folder)
    if problem:
        raise DigitnetError(f"{folder}: {problem}")


def check_room(path: str | os.PathLike, needed: int) -> None:
    """Refuses, before a long run starts, a file of about ``needed`` bytes that its disk has no
    room for."""
    path = Path(path)
    folder = _nearest_existing(path.parent)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise DigitnetError(
            f"{path}: disk full: {folder} has {_megabytes(free)} free and the file needs about "
            f"{_megabytes(needed)}; free some space or write somewhere else"
        )


def why(error: OSError) -> str:
    """An OSError as a few plain words ("disk full", not "[Errno 28] ...")."""
    if error.errno in DISK_FULL:
        return "disk full"
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "the folder is read-only"
    return (error.strerror or type(error).__name__).lower()


@contextmanager
def write_lock(path: str | os.PathLike) -> Iterator[None]:
    """Holds the lock for writing ``path`` until the block ends, so that a second run writing
    the same file is refused at its start, naming the first one's pid. The lock is an flock on
    ``.<name>.lock`` beside it: the system frees it when its holder dies, so a killed run's
    lock file is simply taken over."""
    path = Path(path)
    lock = path.parent / f".{path.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = _locked(path, lock)
    try:
        os.ftruncate(handle, 0)
        os.write(handle, f"{os.getpid()}\n".encode())
        yield
    finally:
        lock.unlink(missing_ok=True)  # before closing: whoever opens it next makes a new one
        os.close(handle)


def _locked(path: Path, lock: Path) -> int:
    """An open handle on ``lock``, flocked by this process. A file its holder removed while this
    opened it is stale: opened again."""
    while True:
        try:
            handle = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        except OSError as error:
            raise DigitnetError(f"{path}: cannot lock it: {lock}: {why(error)}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(handle, 20).decode(errors="replace").strip()
            os.close(handle)
            pid = f" (pid {holder})" if holder.isdigit() else ""
            raise DigitnetError(
                f"{path}: is being written by another run{pid}; wait for it, or write elsewhere"
            ) from None
        try:
            if os.stat(lock).st_ino == os.fstat(handle).st_ino:
                return handle
        except FileNotFoundError:
            pass
        os.close(handle)


@contextmanager
def atomic_path(path: str | os.PathLike, *, replace: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path``, put in its place when the block ends without an error
    and deleted otherwise: a crash, a full disk or a failed check leaves the old file (or none),
    never a truncated one. Beside, so the rename stays on one file system and is atomic. Without
    ``replace`` a file already at ``path`` stays and FileExistsError is raised. A path that is
    not a file (a link, a folder, a device, a FIFO) is refused before anything is written."""
    path = Path(path)
    if path in _writing:  # already a temporary file being written: it is the place
        yield path
        return
    _check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_beside(path)
    _writing.add(temporary)
    try:
        yield temporary
        if replace:
            os.replace(temporary, path)
        else:
            _claim(temporary, path)
    finally:
        _writing.discard(temporary)
        temporary.unlink(missing_ok=True)


def remove_leftovers(folder: str | os.PathLike) -> list[Path]:
    """Deletes the temporary files that killed writes left in ``folder`` (``.<name>.<pid>.
    <random>.tmp``, as ``atomic_path`` names them) and returns them: only those whose writer
    (the pid in the name) is gone and that nobody has touched for ``STALE_SECONDS``, so a live
    writer's file is never touched."""
    removed = []
    for candidate in Path(folder).glob(".*.tmp"):
        found = LEFTOVER.fullmatch(candidate.name)
        if found is None or _alive(int(found[1])):
            continue
        try:
            if time.time() - candidate.lstat().st_mtime > STALE_SECONDS:
                candidate.unlink()
                removed.append(candidate)
        except FileNotFoundError:  # another run removed it first
            pass
    return removed


def _temporary_beside(path: Path) -> Path:
    """A new empty file ``.<name>.<pid>.<random>.tmp`` beside ``path``, readable like any file
    the user makes; the pid tells a later write whether its writer is still alive."""
    remove_leftovers(path.parent)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp"
    )
    os.close(handle)
    os.chmod(temporary, 0o666 & ~UMASK)  # mkstemp's 0600 would hide the file from other users
    return Path(temporary)


def _claim(finished: Path, target: Path) -> None:
    """Puts the finished file at ``target`` unless something is there (FileExistsError). A
    hard link does both in one step; where the file system has none, an exclusive create
    claims the name and the file is renamed onto it."""
    try:
        os.link(finished, target)
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        os.replace(finished, target)


def _check_target(path: Path) -> None:
    """Refuses a path that is there but is not a plain file."""
    try:
        mode = path.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISLNK(mode):
        raise DigitnetError(f"{path}: is a symbolic link; give the file itself, or a new name")
    for test, problem in NOT_FILES:
        if test(mode):
            raise DigitnetError(f"{path}: {problem}")


def _same_file(path: Path, other: Path) -> bool:
    """Whether two paths name one file: the same file on disk (any spelling, a hard link), or
    for a file not made yet the same place."""
    try:
        return os.path.samefile(path, other)
    except OSError:
        return path.resolve() == other.resolve()


def _why_no_new_files(folder: Path) -> str | None:
    """Why no file can be made in ``folder`` (made first if missing), or None."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        tempfile.TemporaryFile(dir=existing).close()  # the only test that root and ro mounts pass
    except OSError as error:
        return f"cannot write in {existing} ({error.strerror})"
    return None


def _nearest_existing(folder: Path) -> Path:
    return next(parent for parent in (folder, *folder.absolute().parents) if parent.exists())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 sends nothing: it only asks whether the process is there
    except ProcessLookupError:
        return False
    except PermissionError:  # there, another user's
        pass
    return True


def _megabytes(count: int) -> str:
    return f"{count / 1e6:,.1f} MB"


def read_limited(path: str | os.PathLike, limit: int, what: str) -> bytes:
    """The bytes of a file a person named, read up to ``limit`` only, so that ``/dev/zero``, a
    FIFO or a video stops there: a larger file is one line saying ``too_large(limit, what)``.
    Every error names the path as it was given."""
    try:
        with open(path, "rb") as file:
            if os.fstat(file.fileno()).st_size > limit:  # a plain file: refused unread
                raise DigitnetError(f"{path}: {too_large(limit, what)}")
            data = file.read(limit + 1)
    except OSError as error:
        raise DigitnetError(f"{path}: cannot read the file ({error.strerror or error})") from None
    if len(data) > limit:
        raise DigitnetError(f"{path}: {too_large(limit, what)}")
    return data


def too_large(limit: int, what: str) -> str:
    """Why a file or upload over ``limit`` bytes was refused; ``what`` names the limit's kind
    and what to do ("an image: scale it down")."""
    return f"is larger than {limit // 1_000_000} MB, the limit for {what}"
