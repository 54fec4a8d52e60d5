"""The weights in weights/ are what the model card says they are (CI has MNIST)."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import pytest

import digitnet
from benchmarks.card_figures import NOT_DIGITS, EvaluationSets, figures
from digitnet.analysis.metrics import evaluate
from digitnet.data.mnist import load_dataset
from digitnet.data.pendigits import find_pen_data, load_pen_data, pen_dev_set
from digitnet.data.preprocess import PREPROCESS_VERSION
from digitnet.network.weights import DEFAULT_WEIGHTS, FAST_WEIGHTS
from digitnet.training.card import card, dev_split
from tests.conftest import ROOT

MAX_BYTES = 5 * 1024 * 1024


# Issues 9 and 16: MNIST test at least 99.4% (CNN) and 98.8% (MLP); the CNN reads at least 99.5%
# of the pen-dev writers' drawings (the MLP is held to 98.5% there).
SHIPPED = [(DEFAULT_WEIGHTS, 0.994, 0.995), (FAST_WEIGHTS, 0.988, 0.985)]


@pytest.fixture(scope="module")
def pen_dev():
    """The pen-dev writers' digits drawn as canvas drawings (CI sets DIGITNET_PEN_DATA)."""
    if find_pen_data() is None:
        pytest.fail("no pen data: set DIGITNET_PEN_DATA to the folder of pendigits-orig.tra.gz")
    return pen_dev_set(load_pen_data(download=False))


@pytest.mark.parametrize("path, minimum, _", SHIPPED, ids=["cnn", "mlp"])
def test_shipped_model_accuracy_size_and_card(path, minimum, _, mnist):
    assert path.stat().st_size < MAX_BYTES
    model = digitnet.load_model(path)
    made = card(model)
    assert made.name == path.stem and made.training["epochs"] > 0 and made.created
    assert made.training["extra_share"] > 0, "trained on MNIST and pen drawings together"
    assert made.digitnet_version and made.preprocessing_version == PREPROCESS_VERSION
    assert made.dataset.checksum == mnist.checksum and made.temperature != 1.0
    evaluation = evaluate(model, mnist.test_images, mnist.test_labels)
    assert evaluation.accuracy >= minimum
    assert evaluation.accuracy == pytest.approx(made.metrics["test"].accuracy, abs=1e-9)
    dev_images, dev_labels = dev_split(model, load_dataset("mnist"))
    every_output = model.logits(dev_images).argmax(axis=1)  # "not a digit" counts as wrong
    assert (every_output == dev_labels).mean() == pytest.approx(
        made.metrics["dev"].accuracy, abs=1e-4
    )


def test_the_default_is_the_cnn_and_its_confidence_is_calibrated(mnist):
    model = digitnet.load_model()
    assert model.metadata["path"] == str(DEFAULT_WEIGHTS)
    assert any(layer["type"] == "conv2d" for layer in model.spec["layers"])
    assert evaluate(model, mnist.test_images, mnist.test_labels).calibration_error < 0.02


@pytest.mark.parametrize("path, _, minimum", SHIPPED, ids=["cnn", "mlp"])
def test_shipped_models_read_the_unseen_pen_writers(path, _, minimum, pen_dev):
    assert evaluate(digitnet.load_model(path), *pen_dev).accuracy >= minimum


@pytest.mark.parametrize("path", [DEFAULT_WEIGHTS, FAST_WEIGHTS], ids=["cnn", "mlp"])
def test_shipped_models_admit_what_is_not_a_digit(path):
    """Issue 16: at least 90% of held-out drawings that are not digits called unsure or not a
    digit, at most 2% of real digits called not a digit, at least 97% of photos with a table's
    edge read right (the card's figures, recomputed exactly below)."""
    model = digitnet.load_model(path)
    assert model.knows_not_digit and set(card(model).reading) == {
        "not_digit",
        "doubt",
        "confident",
        "familiar",
    }
    metrics = card(model).metrics
    assert metrics[NOT_DIGITS].accuracy >= 0.9
    assert metrics["table-edge photos"].accuracy >= 0.97
    assert all(metrics[split].rejected <= 0.02 for split in ("test", "pen-dev", "drawn"))


# --- The figures in the cards and in the documents --------------------------------------------

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "weights/README.md"]
# A table row whose label starts with one of these (lower case, without **) gives, in each
# model's column, these figures of that model's card, in this order.
ROWS = {
    "mnist test accuracy": [("test", "accuracy")],
    "best dev accuracy": [("dev", "accuracy")],
    "pen drawings by unseen writers": [("pen-dev", "accuracy")],
    "pen-dev accuracy": [("pen-dev", "accuracy")],
    "drawn digits": [("drawn", "accuracy")],
    "drawn-digit accuracy": [("drawn", "accuracy")],
    "photos cropped tight": [("tight photos", "accuracy"), ("tight photos", "found")],
    "tight photos found / read right": [("tight photos", "found"), ("tight photos", "accuracy")],
    "calibration error on mnist test": [("test", "calibration_error")],
    "held-out non-digits caught": [(NOT_DIGITS, "accuracy"), (NOT_DIGITS, "rejected")],
    "photos with a table's edge": [("table-edge photos", "accuracy")],
    "digits called not a digit": [
        ("test", "rejected"),
        ("pen-dev", "rejected"),
        ("drawn", "rejected"),
    ],
    "digits called unsure": [("test", "unsure"), ("pen-dev", "unsure"), ("drawn", "unsure")],
    "read right, not a digit counting as wrong": [("pen-dev", "read"), ("drawn", "read")],
    "expected calibration error": [
        ("test", "calibration_error"),
        ("pen-dev", "calibration_error"),
        ("drawn", "calibration_error"),
    ],
}
LATENCY_ROWS = ("one canvas reading", "canvas to reading")
PERCENT = re.compile(r"(\d+(?:\.(\d+))?)%")


def tables(path: Path) -> list[list[list[str]]]:
    """The Markdown tables of a file, each a list of rows of cells (the separator row left out)."""
    found, current = [], []
    for line in [*path.read_text().splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= set("-: ") for cell in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def model_columns(header: list[str]) -> dict[int, Path]:
    """Which column of a table is which shipped model's, from the header's cells."""
    return {
        index: path
        for index, cell in enumerate(header)
        for path in (DEFAULT_WEIGHTS, FAST_WEIGHTS)
        if path.stem in cell.lower()
    }


def figure_rows():
    """(document, label, model file, cell) for every row of every document's tables."""
    for document in DOCUMENTS:
        for table in tables(document):
            columns = model_columns(table[0])
            for row in table[1:]:
                label = row[0].replace("*", "").lower()
                for index, path in columns.items():
                    yield document, label, path, row[index]


@pytest.fixture(scope="module")
def evaluation_sets():
    return EvaluationSets.make()


@pytest.mark.parametrize("path", [DEFAULT_WEIGHTS, FAST_WEIGHTS], ids=["cnn", "mlp"])
def test_the_cards_figures_are_recomputed_exactly(path, evaluation_sets):
    recorded = card(digitnet.load_model(path)).metrics
    for split, score in figures(digitnet.load_model(path), evaluation_sets).items():
        kept = asdict(recorded[split])
        assert {key: kept[key] for key in score} == pytest.approx(score), split


def test_every_figure_in_the_documents_is_the_cards():
    cards = {
        path: card(digitnet.load_model(path)).metrics for path in (DEFAULT_WEIGHTS, FAST_WEIGHTS)
    }
    checked, wrong = set(), []
    for document, label, path, cell in figure_rows():
        spec = next((figures for start, figures in ROWS.items() if label.startswith(start)), None)
        if spec is None:
            continue
        shown = PERCENT.findall(cell)[: len(spec)]
        if len(shown) < len(spec):
            wrong.append(f"{document.name}: {label} for {path.name}: no figure in {cell!r}")
            continue
        for (number, decimals), (split, measure) in zip(shown, spec):
            value = 100 * getattr(cards[path][split], measure)
            if abs(float(number) - value) > 0.5 * 10 ** -len(decimals) + 1e-9:
                wrong.append(
                    f"{document.name}: {label} for {path.name}: {number}%, card {value:.4f}%"
                )
        checked.add((label, path))
    assert not wrong, "\n".join(wrong)
    assert {start for start in ROWS if any(label.startswith(start) for label, _ in checked)} == set(
        ROWS
    )


def test_the_latencies_are_the_same_in_every_document():
    shown = {}
    for document, label, path, cell in figure_rows():
        if label.startswith(LATENCY_ROWS):
            where = document.relative_to(ROOT)
            shown.setdefault(path.name, {})[where] = re.findall(r"\d+\.\d+", cell)
    assert set(shown) == {"cnn.npz", "mlp.npz"}
    for model, by_document in shown.items():
        assert len(by_document) >= 2 and len({tuple(v) for v in by_document.values()}) == 1, model
