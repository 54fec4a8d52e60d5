"""Installable the way a user installs it: the wheel (and an editable install) give a `digitnet`
command that works from any folder with the shipped weights.

Each install goes into a new virtual environment that holds only what its own pip put there
(pip with build isolation: setuptools as pyproject.toml asks for it, and the dependencies, from
the package index), so neither the environment running the tests nor its setuptools can stand in
for what the project declares. The sources are copied first, so the checkout is left as it was
(setuptools writes build/ and *.egg-info beside the sources)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ROOT

SOURCES = ("pyproject.toml", "README.md", "digitnet", "weights")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def run(command: list, cwd: Path) -> subprocess.CompletedProcess:
    """A command with no path back to the checkout (no PYTHONPATH) and no hint of the
    environment running the tests."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def copy_sources(folder: Path) -> Path:
    folder.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, folder / name, ignore=IGNORED)
        else:
            shutil.copy(ROOT / name, folder / name)
    return folder


def fresh_venv(folder: Path) -> Path:
    """`python -m venv`, as the README does: its own pip, nothing else (the base interpreter's,
    even when the tests run in a venv of their own)."""
    run([sys.executable, "-m", "venv", folder], folder.parent)
    return folder / "bin"


def pip_install(bin_dir: Path, *arguments) -> None:
    """`pip install`, with the dependencies; not byte-compiled, which would double its time."""
    install = ["install", "-q", "--no-compile", *arguments]
    run([bin_dir / "python", "-m", "pip", *install], bin_dir.parent)


@dataclass
class Built:
    wheel: Path
    bin_dir: Path  # the venv that built it (digitnet not installed in it yet)
    modules: set[str]  # every .py file of digitnet/ in the sources it was built from


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    """`pip wheel .` from a copy of the sources by a fresh venv's pip, with build isolation."""
    folder = tmp_path_factory.mktemp("wheel")
    source = copy_sources(folder / "source")
    modules = {path.relative_to(source).as_posix() for path in source.glob("digitnet/**/*.py")}
    bin_dir = fresh_venv(folder / "venv")
    run([bin_dir / "python", "-m", "pip", "wheel", "-q", "--no-deps", "-w", "dist", source], folder)
    shutil.rmtree(source)  # what is installed from the wheel must need nothing from them
    return Built(next((folder / "dist").glob("digitnet-*.whl")), bin_dir, modules)


def check_command(bin_dir: Path, tmp_path: Path, mnist) -> str:
    """Runs the installed command from an unrelated folder; returns where the weights came from."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    Image.fromarray(255 - mnist.test_images[0]).save(elsewhere / "seven.png")  # a 7
    assert "usage: digitnet" in run([bin_dir / "digitnet", "--help"], elsewhere).stdout
    answer = run([bin_dir / "digitnet", "predict", "seven.png"], elsewhere).stdout.splitlines()
    assert len(answer) == 1 and answer[0].startswith("seven.png: 7 (")  # its verdict
    module = run([bin_dir / "python", "-m", "digitnet", "predict", "seven.png"], elsewhere).stdout
    assert module.splitlines() == answer
    where = "import digitnet.network.weights as w; print(w.load_model().metadata['path'])"
    return run([bin_dir / "python", "-c", where], elsewhere).stdout.strip()


def test_the_wheel_holds_every_module_and_the_shipped_weights(built):
    """pyproject.toml names the packages one by one: a new subpackage must be added there."""
    names = set(zipfile.ZipFile(built.wheel).namelist())
    assert "digitnet/data/collection/__init__.py" in built.modules  # subpackages' too
    missing = sorted(built.modules - names)
    assert missing == [], f"not in the wheel: {missing}; list their packages in pyproject.toml"
    weights = {f"digitnet/_weights/{name}" for name in ("cnn.npz", "mlp.npz", "README.md")}
    assert weights <= names


def test_the_wheel_gives_a_digitnet_command_that_works_from_any_folder(built, tmp_path, mnist):
    pip_install(built.bin_dir, built.wheel)  # with its dependencies, from the package index
    weights = Path(check_command(built.bin_dir, tmp_path, mnist))
    assert weights.name == "cnn.npz" and "site-packages" in weights.parts


def test_an_editable_install_uses_the_checkout_weights(tmp_path, mnist):
    source = copy_sources(tmp_path / "source")
    bin_dir = fresh_venv(tmp_path / "venv")
    pip_install(bin_dir, "-e", source)
    assert Path(check_command(bin_dir, tmp_path, mnist)) == source / "weights" / "cnn.npz"
