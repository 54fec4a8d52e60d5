"""Saving a model under a name a person typed (issue 8, points 2, 4 and 5): another model is
never replaced silently, not even by another session at the same moment; names that clean up
alike keep different files; a name or a folder that cannot be used gives one line."""

from __future__ import annotations

import errno
import multiprocessing
import threading
from pathlib import Path

import numpy as np
import pytest

from digitnet import DigitnetError, Model, load_model
from digitnet.network.weights import WEIGHTS_DIR, save_model
from digitnet.training.catalog import (
    MAX_NAME_LENGTH,
    NameTaken,
    fingerprint,
    keep_elsewhere,
    list_models,
    load_named,
    models_dir,
    sanitize_name,
    save_user_model,
)
from tests.test_outputs import age, killed_write


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def saved_files() -> list[str]:
    return sorted(path.name for path in models_dir().iterdir())


def test_saving_over_another_model_raises_name_taken(cache):
    first, second = Model("mlp:8", seed=1), Model("mlp:8", seed=2)
    path = save_user_model(first, "mymodel")
    with pytest.raises(NameTaken) as error:
        save_user_model(second, "mymodel")
    assert str(error.value) == (
        "a model called 'mymodel' is already saved: choose another name or replace it"
    )
    assert isinstance(error.value, DigitnetError)
    assert fingerprint(load_model(path)) == fingerprint(first)
    assert saved_files() == ["mymodel.npz"]


def test_saving_the_same_model_again_is_fine(cache):
    model = Model("mlp:8", seed=1)
    assert save_user_model(model, "mymodel") == save_user_model(model, "mymodel")
    assert saved_files() == ["mymodel.npz"]


def test_overwrite_replaces_the_saved_model(cache):
    save_user_model(Model("mlp:8", seed=1), "mymodel")
    second = Model("mlp:8", seed=2)
    path = save_user_model(second, "mymodel", overwrite=True)
    assert fingerprint(load_model(path)) == fingerprint(second)
    assert saved_files() == ["mymodel.npz"]


def test_an_unreadable_file_under_the_name_is_not_replaced_silently(cache):
    models_dir().mkdir(parents=True)
    (models_dir() / "mymodel.npz").write_bytes(b"someone's notes")
    with pytest.raises(NameTaken):
        save_user_model(Model("mlp:8"), "mymodel")
    assert (models_dir() / "mymodel.npz").read_bytes() == b"someone's notes"


def race(save, count: int = 2) -> list[str]:
    """Outcome of `count` saves of different models under one name, started together."""
    outcomes = [""] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        outcomes[index] = save(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def save_and_report(seed: int, name: str) -> str:
    try:
        save_user_model(Model("mlp:8", seed=seed), name)
    except NameTaken:
        return "taken"
    return f"saved {seed}"


@pytest.mark.parametrize("attempt", range(5))
def test_two_threads_saving_under_one_name_exactly_one_wins(cache, attempt):
    outcomes = race(lambda seed: save_and_report(seed, "shared"), count=3)
    winners = [outcome for outcome in outcomes if outcome.startswith("saved")]
    assert len(winners) == 1 and outcomes.count("taken") == 2
    seed = int(winners[0].split()[1])
    saved = load_model(models_dir() / "shared.npz")
    assert fingerprint(saved) == fingerprint(Model("mlp:8", seed=seed))
    assert saved_files() == ["shared.npz"]


def _save_in_process(seed: int, barrier, results) -> None:
    barrier.wait()
    results.put(save_and_report(seed, "shared"))


def test_two_processes_saving_under_one_name_exactly_one_wins(cache):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [
        context.Process(target=_save_in_process, args=(seed, barrier, results)) for seed in (1, 2)
    ]
    for process in processes:
        process.start()
    outcomes = sorted(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
    assert outcomes[1] == "taken" and outcomes[0].startswith("saved")
    seed = int(outcomes[0].split()[1])
    saved = load_model(models_dir() / "shared.npz")
    assert fingerprint(saved) == fingerprint(Model("mlp:8", seed=seed))
    assert saved_files() == ["shared.npz"]


@pytest.mark.parametrize(
    "one, other",
    [
        ("a b", "a\x00b"),
        ("a/b", "a\x00b"),
        ("x" * 61 + "one", "x" * 61 + "two"),
        ("模型", "数字"),
        ("!!!", "???"),
    ],
)
def test_names_that_sanitise_alike_get_different_files(cache, one, other):
    assert sanitize_name(one) != sanitize_name(other)
    first = save_user_model(Model("mlp:8", seed=1), one)
    second = save_user_model(Model("mlp:8", seed=2), other)
    assert first != second
    assert fingerprint(load_model(first)) == fingerprint(Model("mlp:8", seed=1))


@pytest.mark.parametrize("typed", ["!!!", "..", "模型", "../..", ".", "x" * 500, "a\x00b"])
def test_unusual_names_become_usable_distinct_stems(cache, typed):
    stem = sanitize_name(typed)
    assert 0 < len(stem) <= MAX_NAME_LENGTH
    assert sanitize_name(stem) == stem
    assert "/" not in stem and not stem.startswith((".", "-", " "))
    path = save_user_model(Model("mlp:8"), typed)
    assert path.parent == models_dir() and path.name == f"{stem}.npz"


@pytest.mark.parametrize("typed", ["", "   ", "\t\n"])
def test_a_blank_name_is_one_line_without_paths(cache, typed):
    with pytest.raises(DigitnetError) as error:
        save_user_model(Model("mlp:8"), typed)
    message = str(error.value)
    assert message == "a model needs a name: type at least one letter or digit"


@pytest.mark.parametrize(
    "code, reason",
    [
        (errno.EROFS, "the folder is read-only"),
        (errno.ENOSPC, "disk full"),
        (errno.EACCES, "the folder is read-only"),
    ],
)
def test_saving_into_a_read_only_or_full_folder_is_one_line(cache, monkeypatch, code, reason):
    def fail_half_way(model, path):
        Path(path).write_bytes(b"half a model")
        raise OSError(code, "no")

    monkeypatch.setattr("digitnet.training.catalog.save_model", fail_half_way)
    with pytest.raises(DigitnetError) as error:
        save_user_model(Model("mlp:8"), "mymodel")
    assert str(error.value) == f"cannot save the model in {models_dir()}: {reason}"
    assert "Errno" not in str(error.value)
    assert saved_files() == []


def test_saving_when_the_temporary_file_cannot_be_made_is_one_line(cache, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("digitnet.training.catalog.tempfile.mkstemp", read_only)
    with pytest.raises(DigitnetError, match="is read-only$|the folder is read-only$"):
        save_user_model(Model("mlp:8"), "mymodel")


def test_a_failed_save_keeps_the_model_already_saved(cache, monkeypatch):
    first = Model("mlp:8", seed=1)
    path = save_user_model(first, "mymodel")
    before = path.read_bytes()

    def full(model, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("digitnet.training.catalog.save_model", full)
    with pytest.raises(DigitnetError, match="disk full"):
        save_user_model(Model("mlp:8", seed=2), "mymodel", overwrite=True)
    assert path.read_bytes() == before and saved_files() == ["mymodel.npz"]


def test_a_models_folder_that_is_a_file_is_one_line(cache):
    cache.mkdir(parents=True)
    (cache / "models").write_bytes(b"")
    with pytest.raises(DigitnetError, match="^cannot save the model in ") as error:
        save_user_model(Model("mlp:8"), "mymodel")
    assert "Errno" not in str(error.value)


def test_saved_model_metadata_names_its_stem(cache):
    path = save_user_model(Model("mlp:8"), "a/b")
    assert load_model(path).metadata["name"] == path.stem
    assert np.isfinite(load_model(path).predict_proba(np.zeros((1, 28, 28), np.float32))).all()


def test_without_hard_links_a_name_is_still_claimed_exclusively(cache, monkeypatch):
    def no_links(source, target):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr("digitnet.training.catalog.os.link", no_links)
    first = Model("mlp:8", seed=1)
    path = save_user_model(first, "mymodel")
    with pytest.raises(NameTaken):
        save_user_model(Model("mlp:8", seed=2), "mymodel")
    assert save_user_model(first, "mymodel") == path
    assert fingerprint(load_model(path)) == fingerprint(first)
    assert saved_files() == ["mymodel.npz"]


# --- load_named: the one place a typed name or path becomes a model ---------------------------


def test_load_named_takes_a_path_a_shipped_name_and_a_saved_name(cache, tmp_path):
    file = save_model(Model("mlp:8", seed=1), tmp_path / "file.npz")
    saved = Model("mlp:8", seed=2)
    save_user_model(saved, "mine")
    assert fingerprint(load_named(str(file))) == fingerprint(load_model(file))
    assert fingerprint(load_named(file)) == fingerprint(load_model(file))
    assert fingerprint(load_named("mlp")) == fingerprint(load_model(WEIGHTS_DIR / "mlp.npz"))
    assert fingerprint(load_named("mine")) == fingerprint(saved)
    assert fingerprint(load_named(None)) == fingerprint(load_model())


def test_load_named_prefers_a_file_to_a_name(cache, tmp_path, monkeypatch):
    local = Model("mlp:8", seed=3)
    save_model(local, tmp_path / "mlp")  # a file called like the shipped model, in the cwd
    monkeypatch.chdir(tmp_path)
    assert fingerprint(load_named("mlp")) == fingerprint(local)


def test_load_named_unknown_is_one_line_listing_the_names(cache):
    save_user_model(Model("mlp:8", seed=1), "mine")
    with pytest.raises(DigitnetError) as error:
        load_named("nope")
    assert str(error.value) == (
        "nope: no such weights file or model; give a .npz file or a model name (cnn, mlp, mine)"
    )


# --- Nothing lost: a model that cannot be written where asked, a killed save's leftovers ------


def test_a_model_the_disk_had_no_room_for_is_kept_elsewhere(cache, tmp_path, monkeypatch):
    model = Model("mlp:8", seed=1)
    first = keep_elsewhere(model, "my model")
    assert first.parent == models_dir() and first.name.startswith("my model-")
    assert fingerprint(load_model(first)) == fingerprint(model)

    full_folders = {models_dir()}

    def full(model, path):
        if Path(path).parent in full_folders:
            raise OSError(errno.ENOSPC, "No space left on device")
        return save_model(model, path)

    monkeypatch.setattr("digitnet.training.catalog.save_model", full)
    monkeypatch.setattr("digitnet.training.catalog.tempfile.gettempdir", lambda: str(tmp_path))
    second = keep_elsewhere(model, "other")
    assert second.parent == tmp_path and fingerprint(load_model(second)) == fingerprint(model)
    full_folders.add(tmp_path)
    with pytest.raises(DigitnetError) as error:
        keep_elsewhere(model, "third")
    assert str(error.value) == (
        f"the model could not be kept anywhere ({models_dir()}: disk full; {tmp_path}: disk full)"
    )
    assert saved_files() == [first.name]


def test_a_killed_saves_temporary_file_goes_at_the_next_save(cache):
    left = killed_write(models_dir() / "mymodel.npz")
    age(left)
    save_user_model(Model("mlp:8"), "another")
    assert saved_files() == ["another.npz"]


# --- saved models in PostgreSQL: every app server on the database sees them --------------------


def as_server(monkeypatch, cache: Path, url: str) -> None:
    """From now on, digitnet runs as an app server with this cache folder on this database."""
    monkeypatch.setenv("DIGITNET_CACHE", str(cache))
    monkeypatch.setenv("DIGITNET_DB", url)


def test_a_model_saved_on_one_server_is_listed_and_loaded_on_another(
    postgres_url, tmp_path, monkeypatch
):
    model, other, replacement = (Model("mlp:8", seed=seed) for seed in (1, 2, 3))
    as_server(monkeypatch, tmp_path / "one", postgres_url)
    save_user_model(model, "class model", person="teacher@school.example")
    assert not (tmp_path / "one" / "models").exists()  # in the database, not the models folder
    as_server(monkeypatch, tmp_path / "two", postgres_url)
    assert [entry.label for entry in list_models() if not entry.shipped] == ["class model (saved)"]
    assert fingerprint(load_named("class model")) == fingerprint(model)
    with pytest.raises(NameTaken):
        save_user_model(other, "class model")
    assert fingerprint(load_model(save_user_model(model, "class model"))) == fingerprint(model)
    save_user_model(replacement, "class model", overwrite=True)
    as_server(monkeypatch, tmp_path / "one", postgres_url)
    assert fingerprint(load_named("class model")) == fingerprint(replacement)
