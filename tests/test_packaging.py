"""Installable: the wheel (and an editable install) give a `digitnet` command that works from any
folder with the shipped weights. Built from a copy of the sources, offline, so the checkout is
left as it was (setuptools writes build/ and *.egg-info beside the sources)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ROOT

SOURCES = ("pyproject.toml", "README.md", "digitnet", "weights")


def run(command: list, cwd: Path) -> subprocess.CompletedProcess:
    """A command with no path back to the checkout (no PYTHONPATH) and no network index."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PIP_NO_INDEX": "1"}
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def source(tmp_path) -> Path:
    copy = tmp_path / "source"
    copy.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, copy / name)
    return copy


def fresh_venv(tmp_path: Path) -> Path:
    """A new environment that sees this one's packages (numpy and co., and pip) but not digitnet."""
    run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", "venv"], tmp_path)
    return tmp_path / "venv" / "bin"


def check_command(bin_dir: Path, tmp_path: Path, mnist) -> str:
    """Runs the installed command from an unrelated folder; returns where the weights came from."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    Image.fromarray(255 - mnist.test_images[0]).save(elsewhere / "seven.png")  # a 7
    assert "usage: digitnet" in run([bin_dir / "digitnet", "--help"], elsewhere).stdout
    answer = run([bin_dir / "digitnet", "predict", "seven.png"], elsewhere).stdout.splitlines()
    assert answer[0] == "seven.png: 7" and len(answer) == 4
    module = run([bin_dir / "python", "-m", "digitnet", "predict", "seven.png"], elsewhere).stdout
    assert module.splitlines() == answer
    where = "import digitnet.network.weights as w; print(w.load_model().metadata['path'])"
    return run([bin_dir / "python", "-c", where], elsewhere).stdout.strip()


def test_the_wheel_gives_a_digitnet_command_that_works_from_any_folder(source, tmp_path, mnist):
    pip = [sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation"]
    run([*pip, "-w", tmp_path / "dist", "-q"], tmp_path)
    wheel = next((tmp_path / "dist").glob("digitnet-*.whl"))
    bin_dir = fresh_venv(tmp_path)
    run([bin_dir / "python", "-m", "pip", "install", "--no-deps", "-q", wheel], tmp_path)
    shutil.rmtree(source)  # the installed command must need nothing from the sources
    weights = Path(check_command(bin_dir, tmp_path, mnist))
    assert weights.name == "cnn.npz" and "site-packages" in weights.parts


def test_an_editable_install_uses_the_checkout_weights(source, tmp_path, mnist):
    bin_dir = fresh_venv(tmp_path)
    install = ["install", "--no-deps", "--no-build-isolation", "-q", "-e", source]
    run([bin_dir / "python", "-m", "pip", *install], tmp_path)
    assert Path(check_command(bin_dir, tmp_path, mnist)) == source / "weights" / "cnn.npz"
