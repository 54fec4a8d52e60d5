"""Nothing lost (the issue's part on writing files): a write never lands on the drawing
collection, a device, a FIFO, a folder or a link, nor on an existing file unless asked; two runs
never write one file at once; a full disk is found before a training, and a failed save keeps
the model; a killed write's temporary file goes at the next write. The library's side here;
the command line's in tests/test_cli.py."""

from __future__ import annotations

import errno
import multiprocessing
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from digitnet import DigitnetError, load_model
from digitnet.data.collection.store import LOCAL_PERSON, DrawingStore
from digitnet.files import (
    STALE_SECONDS,
    atomic_path,
    check_room,
    check_writable,
    remove_leftovers,
    write_lock,
)
from digitnet.network.weights import DEFAULT_WEIGHTS, FAST_WEIGHTS, save_model
from digitnet.training import catalog
from digitnet.training.catalog import fingerprint, models_dir, weights_file_bytes
from pages.train_page import DONE
from tests.conftest import ROOT
from tests.test_drawings import canvas_drawing


def not_a_file(kind: str, tmp_path: Path) -> Path:
    """A path that is there but is no plain file: a device (os.devnull, never written: the point
    is that it is refused first), a FIFO, a folder or a link to a file."""
    if kind == "device":
        return Path(os.devnull)
    path = tmp_path / kind
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        (tmp_path / "target.csv").write_text("kept")
        path.symlink_to(tmp_path / "target.csv")
    return path


KINDS = {
    "device": "is a device, not a file",
    "FIFO": "is a FIFO (named pipe), not a file",
    "folder": "is a folder; give a file name inside it",
    "link": "is a symbolic link; give the file itself, or a new name",
}


def unchanged(path: Path, tmp_path: Path) -> None:
    """What ``not_a_file`` made is as it was, and nothing new is beside it."""
    if path == Path(os.devnull):
        assert path.is_char_device()
    elif path.name == "link":
        assert path.is_symlink() and (tmp_path / "target.csv").read_text() == "kept"
    else:
        assert path.is_fifo() or (path.is_dir() and not any(path.iterdir()))
    assert {p.name for p in tmp_path.iterdir()} <= {"FIFO", "folder", "link", "target.csv"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_device_fifo_folder_or_link_is_refused_even_when_replacing(kind, tmp_path):
    path = not_a_file(kind, tmp_path)
    with pytest.raises(DigitnetError) as error:
        check_writable(path, replace=True)
    assert str(error.value) == f"{path}: {KINDS[kind]}"
    with pytest.raises(DigitnetError, match=re.escape(KINDS[kind])), atomic_path(path) as temporary:
        temporary.write_text("never")
    unchanged(path, tmp_path)


def test_an_existing_file_is_refused_unless_replacing(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"someone's model")
    with pytest.raises(DigitnetError) as error:
        check_writable(path)
    assert str(error.value) == (
        f"{path}: already exists; give another name, or --force to replace it"
    )
    check_writable(path, replace=True)
    with pytest.raises(FileExistsError), atomic_path(path, replace=False) as temporary:
        temporary.write_bytes(b"another model")
    assert path.read_bytes() == b"someone's model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"], "no temporary file left"


@pytest.mark.parametrize("made", [True, False], ids=["saved drawings", "no drawings yet"])
def test_the_drawing_collection_is_never_written_over(made, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITNET_DB", str(tmp_path / "drawings.sqlite"))
    store = DrawingStore()
    if made:
        store.add(**canvas_drawing(0))
        before = store.path.read_bytes()
    # Spelled another way, or by another name for the same file: still the collection.
    for spelling in (tmp_path / "." / "drawings.sqlite", store.path):
        with pytest.raises(DigitnetError, match="is the drawing collection"):
            check_writable(spelling, replace=True, collection=store.path)
    if made:
        (tmp_path / "same-file.sqlite").hardlink_to(store.path)
        with pytest.raises(DigitnetError, match="is the drawing collection"):
            check_writable(tmp_path / "same-file.sqlite", replace=True, collection=store.path)
        with pytest.raises(DigitnetError, match="is the drawing collection"):
            store.export_csv(store.path, person=LOCAL_PERSON)
        assert store.path.read_bytes() == before and len(store.list(person=LOCAL_PERSON)) == 1
    else:
        assert not store.path.exists()


def hold_lock(path: Path, held, release) -> None:
    with write_lock(path):
        held.set()
        release.wait(30)


def test_a_second_process_writing_the_same_file_is_refused_at_its_start(tmp_path):
    out = tmp_path / "model.npz"
    context = multiprocessing.get_context("spawn")
    held, release = context.Event(), context.Event()
    first = context.Process(target=hold_lock, args=(out, held, release))
    first.start()
    try:
        assert held.wait(30), "the first process never took the lock"
        with pytest.raises(DigitnetError) as error, write_lock(out):
            pytest.fail("two writers held one file's lock")
        assert str(error.value) == (
            f"{out}: is being written by another run (pid {first.pid}); wait for it, or write "
            "elsewhere"
        )
    finally:
        release.set()
        first.join(30)
    with write_lock(out):  # released at its end: free again
        assert (tmp_path / ".model.npz.lock").read_text() == f"{os.getpid()}\n"
    assert list(tmp_path.iterdir()) == [], "the lock file goes with the lock"


def run_and_kill_itself(code: str) -> None:
    """Runs ``code`` in a new Python that then kills itself with SIGKILL, as `kill -9` would."""
    kill = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    result = subprocess.run([sys.executable, "-c", f"{code}\n{kill}"], cwd=ROOT, timeout=60)
    assert result.returncode == -9


def test_a_killed_runs_lock_is_taken_over(tmp_path):
    out = tmp_path / "model.npz"
    run_and_kill_itself(
        f"from digitnet.files import write_lock\nheld = write_lock({str(out)!r})\nheld.__enter__()"
    )
    assert (tmp_path / ".model.npz.lock").exists(), "killed while holding it"
    with write_lock(out):
        pass
    assert list(tmp_path.iterdir()) == []


def killed_write(target: Path) -> Path:
    """The temporary file a write of ``target`` killed half-way leaves behind."""
    run_and_kill_itself(
        "from digitnet.files import atomic_path\n"
        f"writing = atomic_path({str(target)!r})\n"
        "writing.__enter__().write_bytes(bytes(100_000))"
    )
    (left,) = target.parent.glob(f".{target.name}.*.tmp")
    return left


def age(path: Path, seconds: float = 2 * STALE_SECONDS) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_killed_saves_temporary_file_goes_at_the_next_write(tmp_path):
    left = killed_write(tmp_path / "model.npz")
    fresh = killed_write(tmp_path / "other.npz")  # killed a moment ago: left for now
    age(left)
    with atomic_path(tmp_path / "live.npz") as live:  # a live writer's file, however old
        age(live)
        with atomic_path(tmp_path / "submission.csv") as temporary:
            temporary.write_text("ImageId,Label\n")
        assert not left.exists() and fresh.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p != fresh) == [
        "live.npz",
        "submission.csv",
    ]
    assert remove_leftovers(tmp_path) == []
    age(fresh)
    assert remove_leftovers(tmp_path) == [fresh]


@pytest.mark.parametrize("weights", [DEFAULT_WEIGHTS, FAST_WEIGHTS], ids=["cnn", "mlp"])
def test_the_expected_file_size_is_never_below_the_real_one(weights, tmp_path):
    model = load_model(weights)
    model.metadata["history"] = {"loss": np.random.default_rng(0).random(500).tolist()}
    written = save_model(model, tmp_path / "model.npz").stat().st_size
    assert written < weights_file_bytes(model) < written + (2 << 20)


def test_too_little_free_space_is_refused_before_a_training(tmp_path, monkeypatch):
    free = 300_000

    class Usage:
        def __init__(self, folder):
            self.free = free

    monkeypatch.setattr("digitnet.files.shutil.disk_usage", Usage)
    with pytest.raises(DigitnetError) as error:
        check_room(tmp_path / "new" / "model.npz", 2_000_000)
    assert str(error.value) == (
        f"{tmp_path / 'new' / 'model.npz'}: disk full: {tmp_path} has 0.3 MB free and the file "
        "needs about 2.0 MB; free some space or write somewhere else"
    )
    check_room(tmp_path / "model.npz", free)


def test_a_full_disk_on_the_train_pages_save_still_offers_the_download(
    open_app, no_data, mnist, tmp_path, monkeypatch
):
    # Here, not at the top: tests/test_cli.py imports this file, and test_app_train imports it.
    from tests.test_app_train import TRAIN, job_of, result_is_still_shown, trained

    def full(model, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    app = trained(open_app(TRAIN), mnist)
    monkeypatch.setattr(catalog, "save_model", full)
    app.text_input(key="train_save_name").input("mymodel").run()
    app.button(key="train_save").click().run()
    assert [error.value for error in app.error] == [
        f"cannot save the model in {models_dir()}: disk full"
    ]
    result_is_still_shown(app)  # the Download button among it
    assert app.get("download_button")[0].proto.label == "Download .npz"
    _, _, payload = app.session_state[DONE]  # what the button downloads
    (tmp_path / "downloaded.npz").write_bytes(payload)
    downloaded = load_model(tmp_path / "downloaded.npz")
    assert fingerprint(downloaded) == fingerprint(job_of(app).model)
    assert not (models_dir() / "mymodel.npz").exists()
