"""The command line, end to end, on small Kaggle-format files written from MNIST digits."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import digitnet
from digitnet.cli import main
from tests.conftest import ROOT


def write_kaggle_csv(path: Path, images: np.ndarray, labels: np.ndarray | None) -> Path:
    pixels = images.reshape(len(images), -1)
    header = [f"pixel{i}" for i in range(784)]
    rows = pixels if labels is None else np.column_stack([labels, pixels])
    header = header if labels is None else ["label", *header]
    buffer = io.StringIO()
    np.savetxt(buffer, rows, fmt="%d", delimiter=",", header=",".join(header), comments="")
    path.write_text(buffer.getvalue())
    return path


@pytest.fixture(scope="module")
def kaggle_files(mnist, tmp_path_factory):
    folder = tmp_path_factory.mktemp("kaggle")
    train = write_kaggle_csv(
        folder / "train.csv", mnist.train_images[:3000], mnist.train_labels[:3000]
    )
    test = write_kaggle_csv(folder / "test.csv", mnist.test_images[:200], None)
    return train, test


@pytest.fixture(scope="module")
def trained(kaggle_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("weights") / "small.npz"
    code = main(
        [
            "train",
            "--kaggle-train",
            str(kaggle_files[0]),
            "--arch",
            "mlp:64",
            "--epochs",
            "3",
            "--dev-size",
            "500",
            "--lr",
            "0.003",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_train_writes_weights_with_full_metadata(trained):
    model = digitnet.load_model(trained)
    metadata = model.metadata
    assert metadata["name"] == "small" and metadata["architecture"] == "mlp:64"
    assert metadata["dataset"]["name"] == "train.csv" and len(metadata["dataset"]["checksum"]) == 64
    assert metadata["training"]["epochs"] == 3 and metadata["training"]["learning_rate"] == 0.003
    assert metadata["dev_accuracy"] > 0.85
    for key in ("created", "digitnet_version", "preprocessing_version", "temperature", "spec"):
        assert key in metadata


def test_evaluate_prints_accuracy_report_and_confusion(trained, capsys):
    assert main(["evaluate", str(trained), "--split", "test"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("accuracy ")[1].split("%")[0])
    assert 85 < accuracy < 100
    assert "precision" in out and "recall" in out and "confusion matrix" in out
    assert len([line for line in out.splitlines() if line.startswith("    9")]) >= 1


def test_evaluate_on_a_kaggle_train_csv(trained, kaggle_files, capsys):
    assert main(["evaluate", str(trained), "--kaggle-train", str(kaggle_files[0])]) == 0
    assert "on 3000 images" in capsys.readouterr().out


def test_predict_reads_a_photo_of_any_size(trained, mnist, tmp_path, capsys):
    digit = mnist.test_images[0]  # a 7
    photo = Image.fromarray(255 - digit).resize((300, 300), Image.BILINEAR)  # dark on white
    photo.convert("RGB").save(tmp_path / "seven.jpg", quality=90)
    assert main(["predict", str(tmp_path / "seven.jpg"), "--weights", str(trained)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(": 7")
    assert len(lines) == 4 and lines[1].strip().startswith("7:")


def test_submit_writes_kaggle_format(trained, kaggle_files, mnist, tmp_path):
    out = tmp_path / "submission.csv"
    assert (
        main(
            ["submit", "--test", str(kaggle_files[1]), "--out", str(out), "--weights", str(trained)]
        )
        == 0
    )
    lines = out.read_text().splitlines()
    assert lines[0] == "ImageId,Label" and len(lines) == 201
    assert lines[1].startswith("1,") and lines[-1].startswith("200,")
    predicted = np.array([int(line.split(",")[1]) for line in lines[1:]])
    assert (predicted == mnist.test_labels[:200]).mean() > 0.85


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["predict", "missing.png"], "missing.png: cannot read"),
        (["evaluate", "nowhere.npz"], "nowhere.npz: no such weights file"),
        (["train", "--arch", "mlp:a", "--out", "x.npz"], "bad layer sizes"),
        (["train", "--epochs", "0", "--out", "x.npz"], "epochs must be at least 1"),
        (["train", "--augment", "--rotation", "-5", "--out", "x.npz"], "rotation"),
        (["submit", "--test", "absent.csv", "--out", "s.csv"], "absent.csv"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(arguments, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(arguments) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_data_file_through_the_real_command(tmp_path):
    bad = tmp_path / "train.csv"
    bad.write_text("label,pixel0\n3,12\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "digitnet",
            "train",
            "--kaggle-train",
            str(bad),
            "--out",
            str(tmp_path / "x.npz"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ},
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "train.csv" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.npz").exists()


def test_a_diverging_run_writes_nothing(kaggle_files, tmp_path, capsys):
    out = tmp_path / "diverged.npz"
    code = main(
        [
            "train",
            "--kaggle-train",
            str(kaggle_files[0]),
            "--arch",
            "mlp:16",
            "--optimizer",
            "sgd",
            "--lr",
            "1e6",
            "--epochs",
            "1",
            "--dev-size",
            "500",
            "--out",
            str(out),
        ]
    )
    assert code == 2
    assert "diverged: lower the learning rate" in capsys.readouterr().err
    assert not out.exists()
