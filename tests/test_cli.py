"""The command line, end to end, on small Kaggle-format files written from MNIST digits."""

from __future__ import annotations

import argparse
import errno
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import digitnet
import tests.test_download as download_tests
from digitnet.analysis.metrics import evaluate
from digitnet.cli import build_parser, main
from digitnet.data.collection.store import DrawingStore
from digitnet.data.mnist import load_dataset, load_mnist, split_dev
from digitnet.data.negatives import held_out_negatives
from digitnet.data.pendigits import (
    DEFAULT_PEN_SHARE,
    PEN_DEV_WRITERS,
    PEN_ENV,
    PEN_FILE,
    PEN_TRAIN_WRITERS,
    TABLET_SIZE,
    PenData,
    load_pen_data,
    pen_dev_set,
)
from digitnet.data.preprocess import canvas_to_mnist
from digitnet.files import write_lock
from digitnet.images import NOT_A_DIGIT, to_float
from digitnet.reading import a_digit, verdicts
from digitnet.training.card import DevSplit, card
from digitnet.training.catalog import models_dir, save_user_model
from digitnet.training.sources import DEFAULT_NOT_DIGIT_SHARE
from tests.conftest import ROOT, pen_data_folder
from tests.test_app_draw import HASH, drawing
from tests.test_drawings import canvas_drawing
from tests.test_outputs import KINDS, age, killed_write, not_a_file, unchanged
from tests.test_preprocess import blank_png


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
            "--seed",
            "3",
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
    made = card(model)
    assert made.metrics["dev"].accuracy > 0.85 and made.dev_split == DevSplit(500, 3)
    assert made.created.endswith("+00:00") and made.digitnet_version == digitnet.__version__
    assert "test" not in made.metrics, "a Kaggle train.csv has no test set"


def test_evaluate_prints_accuracy_report_and_confusion(trained, mnist, capsys):
    assert main(["evaluate", str(trained), "--split", "test"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("accuracy ")[1].split("%")[0])
    assert 85 < accuracy < 100
    assert "precision" in out and "recall" in out and "confusion matrix" in out
    assert len([line for line in out.splitlines() if line.startswith("    9")]) >= 1
    assert_verdict_lines(out, digitnet.load_model(trained), mnist.test_images, mnist.test_labels)


def assert_verdict_lines(
    out: str, model: digitnet.Model, images: np.ndarray, labels: np.ndarray
) -> None:
    """The lines on what people are told about real digits are the reading's verdicts."""
    said = verdicts(model, to_float(images))
    rejected, unsure = (int((said == verdict).sum()) for verdict in ("not a digit", "unsure"))
    right = (model.predict(to_float(images)) == labels) & (said != "not a digit")
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("called not a digit")))
    assert lines[start : start + 3] == [
        f"called not a digit: {rejected} of {len(labels)} ({rejected / len(labels):.2%})",
        f"called unsure: {unsure} of {len(labels)} ({unsure / len(labels):.2%})",
        f"accuracy, a digit called not a digit counting as wrong: {right.mean():.2%}",
    ]


def test_evaluate_on_a_kaggle_train_csv(trained, kaggle_files, capsys):
    assert main(["evaluate", str(trained), "--kaggle-train", str(kaggle_files[0])]) == 0
    assert "on 3000 images" in capsys.readouterr().out


def test_predict_reads_a_photo_of_any_size(trained, mnist, tmp_path, capsys):
    digit = mnist.test_images[0]  # a 7
    photo = Image.fromarray(255 - digit).resize((300, 300), Image.BILINEAR)  # dark on white
    photo.convert("RGB").save(tmp_path / "seven.jpg", quality=90)
    assert main(["predict", str(tmp_path / "seven.jpg"), "--weights", str(trained)]) == 0
    reading = digitnet.read_image(
        (tmp_path / "seven.jpg").read_bytes(), digitnet.load_model(trained)
    )
    assert (reading.verdict, reading.digit) == ("digit", 7)
    assert (
        capsys.readouterr().out == f"{tmp_path / 'seven.jpg'}: 7 ({reading.probabilities[7]:.1%})\n"
    )


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


def run_quietly(arguments, tmp_path, monkeypatch, capsys):
    """(exit status, stdout, stderr) of the command run in an empty folder."""
    monkeypatch.chdir(tmp_path)
    code = main(arguments)
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_dev_scores_the_digits_this_model_held_out(trained, kaggle_files, capsys):
    assert (
        main(["evaluate", str(trained), "--split", "dev", "--kaggle-train", str(kaggle_files[0])])
        == 0
    )
    out = capsys.readouterr().out
    dataset = load_dataset(kaggle_files[0])
    _, _, images, labels = split_dev(dataset.images, dataset.labels, 500, 3)  # its own split
    accuracy = evaluate(digitnet.load_model(trained), images, labels).accuracy
    assert f"accuracy {accuracy:.2%} on 500 images" in out


def test_evaluate_test_split_reads_only_the_test_files(
    trained, mnist, tmp_path, monkeypatch, capsys
):
    only_test = tmp_path / "t10k"
    only_test.mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        source = next(Path(mnist.source).glob(f"{name}*"))
        (only_test / source.name).symlink_to(source)
    monkeypatch.setenv("DIGITNET_MNIST_MIRRORS", "http://127.0.0.1:9/")  # no download possible
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "cache"))
    assert main(["evaluate", str(trained), "--data", str(only_test)]) == 0
    assert "on 10000 images" in capsys.readouterr().out


def has_default(action: argparse.Action) -> bool:
    """All but --help and the flags whose default is None or False (their help says what)."""
    return (
        action.default is not None
        and action.default is not False
        and action.default != argparse.SUPPRESS
    )


def test_every_default_is_in_the_help():
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        text = " ".join(command.format_help().split())
        for action in filter(has_default, command._actions):
            assert f"(default: {action.default})" in text, (name, action.dest)


def test_training_off_a_terminal_writes_one_line_per_epoch(
    kaggle_files, tmp_path, monkeypatch, capsys
):
    arguments = [
        "train",
        "--kaggle-train",
        str(kaggle_files[0]),
        "--arch",
        "mlp:8",
        "--epochs",
        "3",
        "--dev-size",
        "500",
    ]
    code, out, err = run_quietly([*arguments, "--out", "m.npz"], tmp_path, monkeypatch, capsys)
    assert code == 0 and err == "", "no progress bar when stderr is not a terminal"
    epochs = [line for line in out.splitlines() if line.startswith("epoch")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1", "epoch 2", "epoch 3"]


def test_predict_on_a_bad_file_names_the_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "photo.jpg").write_text("not a photo")
    code, _, err = run_quietly(["predict", "photo.jpg"], tmp_path, monkeypatch, capsys)
    assert code == 2 and err == "error: photo.jpg: not a readable PNG or JPEG image\n"


def test_predict_reads_a_file_only_up_to_a_cap(tmp_path, monkeypatch, capsys):
    code, _, err = run_quietly(["predict", "/dev/zero"], tmp_path, monkeypatch, capsys)
    assert code == 2 and err.startswith("error: /dev/zero: is larger than 20 MB")
    assert err.count("\n") == 1


def test_predict_refuses_a_small_png_of_a_huge_image_in_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "huge.png").write_bytes(blank_png(13_000, 13_000))  # 0.2 MB on disk
    code, _, err = run_quietly(["predict", "huge.png"], tmp_path, monkeypatch, capsys)
    assert code == 2 and err == (
        "error: huge.png: the image is 13000 x 13000 pixels (169 megapixels); the limit is 40 "
        "megapixels: scale it down\n"
    )


UNWRITABLE = Path("/sys/digitnet")  # /sys takes no new files, not even from root


@pytest.mark.parametrize(
    "out, message",
    [
        (UNWRITABLE / "m.out", "cannot write in /sys"),
        (".", ".: is a folder"),
        ("file.txt/m.out", "file.txt is a file, not a folder"),
    ],
    ids=["read-only folder", "existing folder", "parent is a file"],
)
@pytest.mark.parametrize("command", ["train", "submit"])
def test_an_unwritable_out_is_refused_before_any_work(
    command, out, message, tmp_path, monkeypatch, capsys
):
    (tmp_path / "file.txt").write_text("a file")
    # The data named here do not exist: had the work started, the error would name them.
    arguments = {
        "train": ["train", "--kaggle-train", "absent.csv", "--out", str(out)],
        "submit": ["submit", "--test", "absent.csv", "--out", str(out)],
    }[command]
    code, out_text, err = run_quietly(arguments, tmp_path, monkeypatch, capsys)
    assert code == 2 and message in err and "absent.csv" not in err
    assert err.count("\n") == 1 and out_text == ""


NESTED_SPEC = '{"layers": [' * 25_000 + "]}" * 25_000
CRAFTED_SPECS = {
    "negative units": '{"layers": [{"type": "flatten"}, {"type": "dense", "units": -5}]}',
    "layers that are not objects": '{"layers": [1]}',
    "a spec that is a list": '[{"type": "flatten"}]',
    "1e8 units": '{"layers": [{"type": "flatten"}, {"type": "dense", "units": 1e8}]}',
}


@pytest.mark.parametrize(
    "flags",
    [
        ["--seed", "-1"],
        ["--epochs", "0"],
        ["--arch", "mlp:99999999"],
        ["--arch", NESTED_SPEC],
        *(["--arch", spec] for spec in CRAFTED_SPECS.values()),
    ],
    ids=["seed -1", "epochs 0", "mlp:99999999", "JSON nested 25000 deep", *CRAFTED_SPECS],
)
def test_bad_train_flags_are_one_line_before_any_work(flags, tmp_path, monkeypatch, capsys):
    arguments = ["train", "--kaggle-train", "absent.csv", *flags, "--out", "m.npz"]
    code, out, err = run_quietly(arguments, tmp_path, monkeypatch, capsys)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "absent.csv" not in err and "Traceback" not in err and out == ""


# --- Pen digits: training on them, evaluating on the unseen writers, the person's drawings -----


def write_pen_file(path: Path, pen: PenData, per_writer: int) -> PenData:
    """A small pendigits-orig.tra: the first `per_writer` digits of one pen-train writer and of
    two pen-dev writers, in the UNIPEN format (y back up, as on the tablet)."""
    lines, chosen = [], []
    for writer in (PEN_TRAIN_WRITERS[0], *PEN_DEV_WRITERS[:2]):
        chosen += np.flatnonzero(pen.writers == writer)[:per_writer].tolist()
    for index in chosen:
        label = pen.labels[index]
        lines += [f'.SEGMENT DIGIT {index} ? "{label}"', f".COMMENT {label} {pen.writers[index]} 0"]
        for stroke in pen.strokes[index]:
            lines.append(".PEN_DOWN")
            lines += [f" {x:.0f} {TABLET_SIZE - y:.0f}" for x, y in stroke]
            lines.append(".PEN_UP")
    path.mkdir(parents=True, exist_ok=True)
    (path / PEN_FILE).write_text("\n".join(lines) + "\n", encoding="latin-1")
    return load_pen_data(path, download=False)


@pytest.fixture(scope="module")
def tiny_pen(tmp_path_factory) -> tuple[Path, PenData]:
    """A folder with a pen file of 3 writers x 40 digits (from DIGITNET_PEN_DATA)."""
    if not os.environ.get(PEN_ENV):
        pytest.fail(f"set {PEN_ENV} to the folder holding {PEN_FILE}.gz")
    folder = tmp_path_factory.mktemp("pen")
    return folder, write_pen_file(folder, load_pen_data(download=False), per_writer=40)


def train_small(kaggle_files, out: Path, *flags: str) -> int:
    arguments = ["train", "--kaggle-train", str(kaggle_files[0]), "--arch", "mlp:16"]
    return main([*arguments, "--epochs", "1", "--dev-size", "500", *flags, "--out", str(out)])


def test_train_mixes_in_pen_digits_at_the_share_asked(kaggle_files, tiny_pen, tmp_path, capsys):
    flags = ["--pen-data", str(tiny_pen[0]), "--pen-share", "0.25", "--not-digit-share", "0.05"]
    assert train_small(kaggle_files, tmp_path / "pen.npz", *flags) == 0
    out = capsys.readouterr().out
    assert "plus pen digits by 1 writers (40 digits" in out
    assert "plus drawings that are not digits" in out
    training = card(digitnet.load_model(tmp_path / "pen.npz")).training
    assert training["extra_share"] == 0.3
    assert training["extra_source"] == "pen drawings + not digits"


def test_pen_digits_are_on_when_found_and_off_when_asked(
    kaggle_files, tiny_pen, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv(PEN_ENV, str(tiny_pen[0]))
    assert train_small(kaggle_files, tmp_path / "found.npz") == 0
    assert train_small(kaggle_files, tmp_path / "off.npz", "--no-pen-data") == 0
    shares = [
        card(digitnet.load_model(tmp_path / name)).training["extra_share"]
        for name in ("found.npz", "off.npz")
    ]
    assert shares == [DEFAULT_PEN_SHARE + DEFAULT_NOT_DIGIT_SHARE, 0.0]  # none without pen data
    monkeypatch.delenv(PEN_ENV)
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "empty-cache"))
    capsys.readouterr()
    assert train_small(kaggle_files, tmp_path / "none.npz") == 0
    assert "pen data not found: training on the images alone" in capsys.readouterr().out
    assert card(digitnet.load_model(tmp_path / "none.npz")).training["extra_share"] == 0.0


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--pen-data", "nowhere"], "pen data nowhere: no pendigits-orig.tra"),
        (["--pen-share", "1"], "--pen-share must be at least 0 and below 1, got 1.0"),
        (["--not-digit-share", "-0.1"], "--not-digit-share must be at least 0 and below 1"),
        (["--pen-share", "0.6", "--not-digit-share", "0.5"], "together they must be below 1"),
    ],
)
def test_bad_pen_flags_are_one_line_and_write_nothing(
    flags, message, kaggle_files, tmp_path, monkeypatch, capsys
):
    code, out, err = run_quietly(
        ["train", "--kaggle-train", str(kaggle_files[0]), *flags, "--out", "m.npz"],
        tmp_path,
        monkeypatch,
        capsys,
    )
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "m.npz").exists()


def test_evaluate_pen_dev_scores_only_the_unseen_writers(trained, tiny_pen, capsys):
    folder, pen = tiny_pen
    assert main(["evaluate", str(trained), "--split", "pen-dev", "--pen-data", str(folder)]) == 0
    out = capsys.readouterr().out
    images, labels = pen_dev_set(pen)
    assert len(labels) == 80 and set(pen.of_writers(PEN_DEV_WRITERS).writers) == set(
        PEN_DEV_WRITERS[:2]
    )
    evaluation = evaluate(digitnet.load_model(trained), images, labels)
    assert f"on pen digits pen-dev: accuracy {evaluation.accuracy:.2%} on 80 images" in out
    assert_per_digit_errors(out, evaluation.confusion)


def assert_per_digit_errors(out: str, confusion: np.ndarray) -> None:
    """The lines after "still wrong" list each digit's misreadings, as the confusion has them."""
    lines = out.split("still wrong, per true digit (predicted: count):\n")[1].splitlines()[:10]
    for digit, line in enumerate(lines):
        wrong = sum(int(pair.split(": ")[1]) for pair in line[3:].split(", ") if pair != "none")
        assert (
            line.startswith(f"{digit}: ")
            and wrong == confusion[digit].sum() - confusion[digit, digit]
        )
    assert len(lines) == 10


def test_evaluate_mine_scores_the_saved_drawings(trained, mnist, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DIGITNET_DB", str(tmp_path / "drawings.sqlite"))
    arguments = ["evaluate", str(trained), "--split", "mine"]
    code, _, err = run_quietly(arguments, tmp_path, monkeypatch, capsys)
    assert code == 2 and err.startswith("error: no saved drawings in ") and err.count("\n") == 1
    store = DrawingStore()
    for index in range(30):
        label = int(mnist.test_labels[index])
        store.add(**canvas_drawing(index, label=label, image=mnist.test_images[index]))
    assert main(arguments) == 0
    out = capsys.readouterr().out
    evaluation = evaluate(
        digitnet.load_model(trained), to_float(mnist.test_images[:30]), mnist.test_labels[:30]
    )
    assert f"on saved drawings mine: accuracy {evaluation.accuracy:.2%} on 30 images" in out
    assert_per_digit_errors(out, evaluation.confusion)
    # Saved as not a digit: scored apart, by how many the reading catches.
    hash_sign = canvas_to_mnist(drawing(*HASH))
    store.add(**canvas_drawing(30, label=NOT_A_DIGIT, image=hash_sign))
    assert main(arguments) == 0
    out = capsys.readouterr().out
    assert f"on saved drawings mine: accuracy {evaluation.accuracy:.2%} on 30 images" in out
    model = digitnet.load_model(trained)
    assert_verdict_lines(out, model, mnist.test_images[:30], mnist.test_labels[:30])
    caught = int(verdicts(model, hash_sign[None])[0] != "digit")
    assert out.splitlines()[-1] == (
        f"saved as not a digit: 1; caught (called unsure or not a digit): {caught} of 1 "
        f"({caught:.2%})"
    )


def test_evaluate_not_digits_says_how_many_the_reading_catches(knowing_model_file, capsys):
    count, pen = 12, pen_data_folder()
    arguments = ["evaluate", str(knowing_model_file), "--split", "not-digits"]
    assert main([*arguments, "--negative-count", str(count), "--pen-data", str(pen)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[-4:] == ["caught", "rejected", "most", "often"]
    held = held_out_negatives(count, data=load_pen_data(pen))
    said = verdicts(digitnet.load_model(knowing_model_file), held.images)
    assert 0 < (said == "not a digit").sum() < (said != "digit").sum() < count
    rows = {line[:16].strip(): line[16:].split() for line in out[2:]}
    assert list(rows)[-1] == "all" and len(rows) == len(set(held.kinds)) + 1
    for kind, row in rows.items():
        chosen = np.array([kind in (k, "all") for k in held.kinds])
        caught, rejected = said[chosen] != "digit", said[chosen] == "not a digit"
        assert row[3:5] == [f"{caught.mean():.1%}", f"{rejected.mean():.1%}"]


# --- Models by name, several images, the top-level help, download only what is missing --------


def test_predict_evaluate_and_submit_take_shipped_and_saved_model_names(
    trained, kaggle_files, mnist, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "cache"))
    save_user_model(digitnet.load_model(trained), "small")
    seven = tmp_path / "seven.png"
    Image.fromarray(255 - mnist.test_images[0]).save(seven)  # a 7, dark on white
    for name in ("mlp", "small"):
        assert main(["predict", str(seven), "--weights", name]) == 0
        assert capsys.readouterr().out.startswith(f"{seven}: 7 (")
    assert main(["evaluate", "mlp"]) == 0
    assert "mlp on MNIST test: accuracy 9" in capsys.readouterr().out
    assert main(["evaluate", "small", "--kaggle-train", str(kaggle_files[0])]) == 0
    assert "small on train.csv test: accuracy" in capsys.readouterr().out
    out = tmp_path / "submission.csv"
    arguments = ["submit", "--test", str(kaggle_files[1]), "--out", str(out), "--weights", "mlp"]
    assert main(arguments) == 0
    assert len(out.read_text().splitlines()) == 201


@pytest.mark.parametrize("command", [["predict", "x.png", "--weights"], ["evaluate"]])
def test_an_unknown_model_name_is_one_line_listing_the_names(
    command, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "cache"))
    code, out, err = run_quietly([*command, "nope"], tmp_path, monkeypatch, capsys)
    assert code == 2 and out == ""
    assert err == (
        "error: nope: no such weights file or model; give a .npz file or a model name (cnn, mlp)\n"
    )


def write_digit(path: Path, image: np.ndarray) -> str:
    Image.fromarray(255 - image).save(path)  # dark on white, as a photo or a scan
    return path.name


def test_predict_reads_several_images_one_line_each(trained, mnist, tmp_path, monkeypatch, capsys):
    names = [write_digit(tmp_path / f"{i}.png", mnist.test_images[i]) for i in range(3)]
    arguments = ["predict", *names, "--weights", str(trained)]
    code, out, err = run_quietly(arguments, tmp_path, monkeypatch, capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == names
    model = digitnet.load_model(trained)
    for line, name, label in zip(lines, names, mnist.test_labels[:3], strict=True):
        reading = digitnet.read_image((tmp_path / name).read_bytes(), model)
        assert reading.verdict == "digit" and reading.digit == label
        assert line == f"{name}: {label} ({reading.probabilities[label]:.1%})"


def test_predict_says_not_sure_and_not_a_digit_with_why(
    knowing_model_file, tmp_path, monkeypatch, capsys
):
    pictures = {
        "c.png": drawing([(200, 70), (90, 70), (90, 210), (200, 210)]),  # two digits close
        "corner.png": drawing([(90, 50), (90, 220), (200, 220)]),  # perhaps no digit
        "hash.png": drawing(*HASH),
        "u.png": drawing([(80, 60), (80, 200), (200, 200), (200, 60)]),
    }
    for name, rgba in pictures.items():
        Image.fromarray(rgba).convert("RGB").save(tmp_path / name)
    arguments = ["predict", *pictures, "--weights", str(knowing_model_file)]
    code, out, err = run_quietly(arguments, tmp_path, monkeypatch, capsys)
    assert code == 0 and err == ""
    model = digitnet.load_model(knowing_model_file)
    unsure = {}
    for name in ("c.png", "corner.png"):
        reading = digitnet.read_image((tmp_path / name).read_bytes(), model)
        first, second = reading.digit, reading.runner_up
        shares = reading.probabilities[[first, second]]
        unsure[name] = (reading, f"{first} ({shares[0]:.1%}) or {second} ({shares[1]:.1%})")
    (close, close_words), (doubt, doubt_words) = unsure.values()
    assert close.verdict == doubt.verdict == "unsure"
    assert close.reason == f"{a_digit(close.digit)} or {a_digit(close.runner_up)}?"
    assert doubt.reason == f"might not be a digit; {a_digit(doubt.digit)}?"
    assert out.splitlines() == [
        f"c.png: not sure: {close_words}",
        f"corner.png: not sure: {doubt_words}; {doubt.reason}",
        "hash.png: not a digit (doesn't look like any digit)",
        "u.png: not a digit (doesn't look like any digit)",
    ]


def test_predict_goes_on_past_a_bad_image_and_exits_2(
    trained, mnist, tmp_path, monkeypatch, capsys
):
    seven = write_digit(tmp_path / "seven.png", mnist.test_images[0])
    two = write_digit(tmp_path / "two.png", mnist.test_images[1])
    (tmp_path / "bad.jpg").write_text("not a photo")
    (tmp_path / "blank.png").write_bytes(blank_png(100, 100))
    arguments = ["predict", seven, "bad.jpg", "missing.png", "blank.png", two]
    code, out, err = run_quietly(
        [*arguments, "--weights", str(trained)], tmp_path, monkeypatch, capsys
    )
    assert code == 2
    assert [line.split(" (")[0] for line in out.splitlines()] == [
        "seven.png: 7",
        "blank.png: not a digit",
        "two.png: 2",
    ]
    nothing = digitnet.read_image((tmp_path / "blank.png").read_bytes())
    assert nothing.verdict == "not a digit"  # a blank image is no error: nothing to read
    assert out.splitlines()[1] == f"blank.png: not a digit ({nothing.reason})"
    assert err.splitlines() == [
        "error: bad.jpg: not a readable PNG or JPEG image",
        "error: missing.png: cannot read the file (No such file or directory)",
    ]


def test_top_level_help_lists_every_command_in_plain_text(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "``" not in out and "{" not in out
    listed = out.split("\ncommands:\n")[1].splitlines()[1:]  # after the COMMAND line
    names = [line.split()[0] for line in listed if line.startswith("    ")]
    assert names == list(digitnet.cli.COMMANDS)
    for line in listed:
        name, description = line.split(maxsplit=1)
        assert line.startswith(f"    {name}  ") and len(description) > 10, line


# A real HTTP server on 127.0.0.1 serving a temporary folder: (base URL, folder).
http_server = download_tests.server


def serve_files(server: tuple[str, Path], files: list[Path]) -> str:
    """Puts copies of ``files`` on the test server and returns their folder's URL."""
    url, root = server
    (root / "files").mkdir()
    for file in files:
        shutil.copy(file, root / "files" / file.name)
    return f"{url}/files/"


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    """An empty DIGITNET_CACHE, and download mirrors that nobody listens on."""
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DIGITNET_MNIST_MIRRORS", "http://127.0.0.1:9/")
    monkeypatch.setenv("DIGITNET_PEN_MIRRORS", f"http://127.0.0.1:9/{PEN_FILE}.gz")
    return tmp_path / "cache"


def test_download_with_both_variables_set_downloads_nothing(empty_cache, capsys):
    assert main(["download"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"MNIST is in {os.environ['DIGITNET_DATA']} ($DIGITNET_DATA): nothing to download",
        f"the pen-drawn digits are in {os.environ[PEN_ENV]} ($DIGITNET_PEN_DATA): "
        "nothing to download",
    ]
    assert not empty_cache.exists()


def test_download_fetches_only_the_pen_file_when_mnist_is_set(
    empty_cache, http_server, monkeypatch, capsys
):
    pen_file = Path(os.environ[PEN_ENV]) / f"{PEN_FILE}.gz"
    url = serve_files(http_server, [pen_file])
    monkeypatch.setenv("DIGITNET_PEN_MIRRORS", f"{url}{PEN_FILE}.gz")
    monkeypatch.delenv(PEN_ENV)
    assert main(["download"]) == 0
    cached = empty_cache / "pendigits"
    assert capsys.readouterr().out.splitlines() == [
        f"downloading {PEN_FILE} into {cached}",
        f"MNIST is in {os.environ['DIGITNET_DATA']} ($DIGITNET_DATA): nothing to download",
        f"the pen-drawn digits are in {cached} (the cache)",
    ]
    assert sorted(path.name for path in empty_cache.rglob("*.gz")) == [f"{PEN_FILE}.gz"]
    assert load_pen_data(download=False).checksum == load_pen_data(pen_file).checksum


def test_download_fills_in_only_the_files_the_cache_lacks(
    empty_cache, mnist, http_server, monkeypatch, capsys
):
    source = Path(mnist.source)
    train = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    cached = empty_cache / "mnist"
    cached.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(source / f"{name}.gz", cached)  # what `evaluate` left there
    shutil.copytree(os.environ[PEN_ENV], empty_cache / "pendigits")
    monkeypatch.setenv(
        "DIGITNET_MNIST_MIRRORS", serve_files(http_server, [source / f"{n}.gz" for n in train])
    )
    monkeypatch.delenv("DIGITNET_DATA")
    monkeypatch.delenv(PEN_ENV)
    assert main(["download"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"downloading {', '.join(train)} into {cached}",
        f"MNIST is in {cached} (the cache)",
        f"the pen-drawn digits are in {empty_cache / 'pendigits'} (the cache): nothing to download",
    ]
    assert load_mnist().checksum == mnist.checksum and load_mnist().source == str(cached)
    assert main(["download"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"MNIST is in {cached} (the cache): nothing to download"
    )


def test_download_with_a_variable_pointing_at_no_data_is_one_line(
    empty_cache, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DIGITNET_DATA", str(tmp_path))
    code, out, err = run_quietly(["download"], tmp_path, monkeypatch, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: DIGITNET_DATA={tmp_path}: missing train-images-idx3-ubyte")
    assert err.endswith("(or unset DIGITNET_DATA to download into the cache)\n")
    assert not empty_cache.exists()


# --- Outputs: never onto the collection, a device, a link or another file; one run at a time ---


@pytest.fixture
def collection(tmp_path, monkeypatch) -> DrawingStore:
    """Two saved drawings in DIGITNET_DB, and an empty DIGITNET_CACHE, both in tmp_path."""
    monkeypatch.setenv("DIGITNET_DB", str(tmp_path / "drawings.sqlite"))
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "cache"))
    store = DrawingStore()
    for number in range(2):
        store.add(**canvas_drawing(number))
    return store


def writing_command(command: str, out: Path, *flags: str) -> list[str]:
    """A command writing ``out`` whose input does not exist: had the work started, the error
    would name absent.csv (the export's input is the collection)."""
    return {
        "train": ["train", "--kaggle-train", "absent.csv", "--out", str(out), *flags],
        "submit": ["submit", "--test", "absent.csv", "--out", str(out), *flags],
        "export": ["drawings", "export", str(out), *flags],
    }[command]


def refused(arguments, tmp_path, monkeypatch, capsys) -> str:
    """The one line a refused command prints (checked: exit 2, nothing on stdout)."""
    code, out, err = run_quietly(arguments, tmp_path, monkeypatch, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, (code, out, err)
    assert "absent.csv" not in err, "the work started"
    return err


@pytest.mark.parametrize("command", ["train", "submit", "export"])
def test_export_or_any_output_onto_the_drawing_collection_is_refused(
    command, collection, tmp_path, monkeypatch, capsys
):
    before = collection.path.read_bytes()
    arguments = writing_command(command, collection.path, "--force")
    err = refused(arguments, tmp_path, monkeypatch, capsys)
    assert err == f"error: {collection.path}: is the drawing collection; write somewhere else\n"
    assert collection.path.read_bytes() == before and len(collection.list(person=None)) == 2


def existing_outputs(tmp_path: Path) -> list[Path]:
    """A file of the user's, a saved model, and the shipped CNN (never reached: the refusal
    comes before the work, and the work would fail on absent.csv before any save)."""
    mine = tmp_path / "mine.csv"
    mine.write_text("the user's file")
    saved = save_user_model(digitnet.Model("mlp:8"), "saved")
    return [mine, saved, ROOT / "weights" / "cnn.npz"]


@pytest.mark.parametrize("command", ["train", "submit", "export"])
def test_out_over_an_existing_file_or_saved_model_needs_force(
    command, collection, tmp_path, monkeypatch, capsys
):
    for existing in existing_outputs(tmp_path):
        before = existing.read_bytes()
        err = refused(writing_command(command, existing), tmp_path, monkeypatch, capsys)
        assert err == (
            f"error: {existing}: already exists; give another name, or --force to replace it\n"
        )
        assert existing.read_bytes() == before
    assert main(["drawings", "export", str(tmp_path / "mine.csv"), "--force"]) == 0
    assert len((tmp_path / "mine.csv").read_text().splitlines()) == 1 + 2, "header and 2 rows"


def test_train_with_force_replaces_an_existing_out(kaggle_files, tmp_path):
    out = tmp_path / "model.npz"
    out.write_bytes(b"an old model")
    assert train_small(kaggle_files, out, "--force") == 0
    assert digitnet.load_model(out).metadata["name"] == "model"


@pytest.mark.parametrize("kind", ["device", "FIFO", "folder", "link"])
@pytest.mark.parametrize("command", ["train", "submit", "export"])
def test_out_onto_a_device_fifo_folder_or_symlink_is_refused(
    command, kind, collection, tmp_path, monkeypatch, capsys
):
    target = tmp_path / "outputs"
    target.mkdir()
    out = not_a_file(kind, target)
    err = refused(writing_command(command, out, "--force"), tmp_path, monkeypatch, capsys)
    assert err == f"error: {out}: {KINDS[kind]}\n"
    unchanged(out, target)


def test_two_trainings_to_one_out_the_second_is_refused_at_its_start(kaggle_files, tmp_path):
    out = tmp_path / "model.npz"
    with write_lock(out):  # the first training, still running
        second = subprocess.run(
            [sys.executable, "-m", "digitnet", "train", "--kaggle-train", str(kaggle_files[0])]
            + ["--arch", "mlp:8", "--epochs", "1", "--out", str(out)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        assert second.returncode == 2 and second.stdout == ""
        assert second.stderr == (
            f"error: {out}: is being written by another run (pid {os.getpid()}); wait for it, "
            "or write elsewhere\n"
        )
        assert not out.exists()
    assert train_small(kaggle_files, out) == 0, "the lock goes with the first run"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.npz"]


def test_a_full_disk_after_the_training_keeps_the_model(
    kaggle_files, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "cache"))

    def full(model, path):
        Path(path).write_bytes(b"half a model")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("digitnet.cli.save_model", full)
    out = tmp_path / "out" / "model.npz"
    assert train_small(kaggle_files, out) == 2
    (kept,) = models_dir().glob("model-*.npz")
    assert capsys.readouterr().err == (
        f"error: {out}: disk full; nothing was written there, the trained model is in {kept} "
        "instead\n"
    )
    assert card(digitnet.load_model(kept)).name == "model"
    assert list(out.parent.iterdir()) == [], "no model, no temporary file, no lock"


def test_a_full_disk_on_a_submission_is_one_line(trained, kaggle_files, tmp_path, capsys):
    out = tmp_path / "full" / "submission.csv"
    out.parent.mkdir()
    with pytest.MonkeyPatch.context() as patch:

        def full(path, labels):
            raise OSError(errno.ENOSPC, "No space left on device")

        patch.setattr("digitnet.cli.mnist.write_submission", full)
        arguments = ["submit", "--test", str(kaggle_files[1]), "--weights", str(trained)]
        assert main([*arguments, "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {out}: disk full; nothing was written\n"
    assert list(out.parent.iterdir()) == []


def test_too_little_free_space_is_refused_before_the_training(tmp_path, monkeypatch, capsys):
    class Full:
        free = 1000

        def __init__(self, folder):
            pass

    monkeypatch.setattr("digitnet.files.shutil.disk_usage", Full)
    arguments = ["train", "--kaggle-train", "absent.csv", "--arch", "mlp:8", "--out", "m.npz"]
    err = refused(arguments, tmp_path, monkeypatch, capsys)
    assert err.startswith("error: m.npz: disk full: . has 0.0 MB free and the file needs about 1.")
    assert list(tmp_path.iterdir()) == []


def test_a_killed_saves_temporary_file_goes_at_the_next_write(kaggle_files, tmp_path):
    left = killed_write(tmp_path / "model.npz")  # as `kill -9` during a save leaves it
    assert left.stat().st_size == 100_000
    age(left)
    assert train_small(kaggle_files, tmp_path / "model.npz") == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.npz"]


def test_download_to_an_existing_file_is_one_line(empty_cache, tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("the user's file")
    code, out, err = run_quietly(["download", "--to", "file"], tmp_path, monkeypatch, capsys)
    assert code == 2 and out == "" and err == "error: file: is a file, not a folder\n"
    assert (tmp_path / "file").read_text() == "the user's file"
