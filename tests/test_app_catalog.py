"""digitnet.training.catalog: the models the app lists, and saving one under a name typed by a
person."""

from __future__ import annotations

import re

import pytest

from digitnet import DigitnetError, Model, load_model
from digitnet.network.weights import WEIGHTS_DIR
from digitnet.training.catalog import (
    fingerprint,
    list_models,
    model_bytes,
    models_dir,
    sanitize_name,
    save_user_model,
)


@pytest.mark.parametrize(
    ("typed", "stem"),
    [
        ("my model", "my model"),
        ("../../etc/passwd", "etc-passwd-[0-9a-f]{8}"),
        ("/absolute/path.npz", "absolute-path.npz-[0-9a-f]{8}"),
        ("..hidden", "hidden-[0-9a-f]{8}"),
        ("ünïcode & spaces!", "n-code - spaces-[0-9a-f]{8}"),
        ("a" * 80, "a{51}-[0-9a-f]{8}"),
    ],
)
def test_a_typed_name_becomes_a_safe_file_stem(typed, stem):
    assert re.fullmatch(stem, sanitize_name(typed))
    assert "/" not in stem and not stem.startswith(".")


@pytest.mark.parametrize("typed", ["", "   "])
def test_a_name_with_nothing_usable_is_refused(typed):
    with pytest.raises(DigitnetError, match="a model needs a name"):
        sanitize_name(typed)


def test_saved_models_are_listed_after_the_shipped_ones(app_cache):
    model = Model("mlp:8", seed=1)
    path = save_user_model(model, "my-net")
    assert path == models_dir() / "my-net.npz"
    assert path.parent == app_cache / "models"
    entries = list_models()
    saved = [entry for entry in entries if not entry.shipped]
    assert [entry.label for entry in saved] == ["fixture (saved)", "my-net (saved)"]
    shipped = [entry for entry in entries if entry.shipped]
    assert [entry.path for entry in shipped] == sorted(
        WEIGHTS_DIR.glob("*.npz"), key=lambda path: (path.stem != "cnn", path.stem)
    )
    assert entries[: len(shipped)] == shipped
    loaded = load_model(path)
    assert loaded.metadata["name"] == "my-net"
    assert fingerprint(loaded) == fingerprint(model)


def test_a_shipped_name_cannot_be_taken(app_cache, monkeypatch, tmp_path):
    monkeypatch.setattr("digitnet.training.catalog.WEIGHTS_DIR", tmp_path)
    (tmp_path / "cnn.npz").write_bytes(b"")
    with pytest.raises(DigitnetError, match="name of a shipped model"):
        save_user_model(Model("mlp:8"), "cnn")


def test_download_bytes_load_back_as_the_same_model(tmp_path):
    model = Model("mlp:8", seed=2)
    path = tmp_path / "downloaded.npz"
    path.write_bytes(model_bytes(model))
    assert fingerprint(load_model(path)) == fingerprint(model)
    other = Model("mlp:8", seed=3)
    assert fingerprint(other) != fingerprint(model)
