"""Fine-tuning on the saved drawings: the sources it trains on, the one-line refusals, a real
(short) fine-tuning of the fixture MLP on pen-dev writers' drawings, the CLI and the Train page.

The collection is made from pen-dev writers' digits, placed on the app's canvas and saved with
their strokes (``add_pen_drawings``), in a temporary ``DIGITNET_DB``."""

from __future__ import annotations

import dataclasses
import os
import shutil

import numpy as np
import pytest

from digitnet import DigitnetError, Model, load_model, save_model
from digitnet.analysis.metrics import evaluate, fit_temperature
from digitnet.cli import main
from digitnet.data.collection.store import LOCAL_PERSON, DrawingStore, images_and_labels
from digitnet.data.mnist import load_dataset
from digitnet.data.negatives import NOT_A_DIGIT
from digitnet.data.pendigits import PEN_DEV_WRITERS, PenData, PenDigits, load_pen_data
from digitnet.network.spec import cnn_spec
from digitnet.training.card import card, dev_split
from digitnet.training.catalog import fingerprint
from digitnet.training.finetune import (
    HELD_BACK_METRIC,
    FineTuneConfig,
    MyDrawings,
    add_pen_drawings,
    blend,
    extra_digits,
    fine_tune,
    learnable,
    mnist_digits,
    split_drawings,
)
from digitnet.training.pipeline import TrainingRun
from digitnet.training.sources import Mixture
from digitnet.training.trainer import TrainConfig
from pages.common.finetune import NONE_SAVED
from tests.test_app_train import kaggle_csv

SHORT = FineTuneConfig(steps=60, batch_size=32, learning_rate=1e-3)
NOT_DIGITS_SAVED = 4  # of the tuned fixture's drawings to train on, saved as "Not a digit"
TRAIN = "pages/train_page.py"


@pytest.fixture(scope="module")
def pen() -> PenData:
    if not os.environ.get("DIGITNET_PEN_DATA"):
        pytest.fail("set DIGITNET_PEN_DATA to the folder holding pendigits-orig.tra.gz")
    return load_pen_data(download=False)


def first(pen: PenData, count: int, writer: int = PEN_DEV_WRITERS[0]) -> PenData:
    """The first ``count`` digits of one pen-dev writer."""
    digits = pen.of_writers((writer,))
    return PenData(
        digits.strokes[:count],
        digits.labels[:count],
        digits.writers[:count],
        digits.source,
        digits.checksum,
    )


@pytest.fixture(scope="module")
def collection(pen, tmp_path_factory):
    """A drawings file of 60 pen-dev digits saved as canvas drawings (copied per test)."""
    path = tmp_path_factory.mktemp("collection") / "drawings.sqlite"
    assert add_pen_drawings(DrawingStore(path), first(pen, 60)) == 60
    return path


@pytest.fixture
def store(collection, tmp_path, monkeypatch) -> DrawingStore:
    """This test's own copy of the collection, as the DIGITNET_DB (saving more a minute than
    a person may on the Draw page)."""
    path = tmp_path / "drawings.sqlite"
    shutil.copy(collection, path)
    monkeypatch.setenv("DIGITNET_DB", str(path))
    monkeypatch.setenv("DIGITNET_MAX_SAVES_PER_MINUTE", "1000")
    return DrawingStore()


@pytest.fixture(scope="module")
def mnist_dataset():
    return load_dataset("mnist")


@pytest.fixture(scope="module")
def tuned(fixture_model_file, collection, mnist_dataset, pen):
    """One short fine-tuning of the fixture MLP, shared by the tests that look at it."""
    base = load_model(fixture_model_file)
    assert base.knows_not_digit  # a model made now has the eleventh output
    before = fingerprint(base)
    train, held = split_drawings(DrawingStore(collection), SHORT)
    train = [as_not_digit(d) for d in train[:NOT_DIGITS_SAVED]] + train[NOT_DIGITS_SAVED:]
    reported = []
    result = fine_tune(
        base,
        train,
        held,
        mnist_dataset,
        PenDigits(pen),
        SHORT,
        progress=lambda share, text: reported.append(share),
    )
    return base, before, held, result, reported


def held_back_loss(model, held) -> float:
    """The cross-entropy of the right digits of the held-back drawings."""
    images, labels = images_and_labels(held)
    probabilities = evaluate(model, images, labels).probabilities
    return float(-np.log(probabilities[np.arange(len(labels)), labels]).mean())


def as_not_digit(drawing):
    """The drawing as if its answer on the Draw page had been "Not a digit"."""
    return dataclasses.replace(drawing, label=NOT_A_DIGIT)


def ten_outputs() -> Model:
    """A model made before the eleventh output: the ten digits alone."""
    return Model({"layers": [{"type": "flatten"}, {"type": "dense", "units": 10}]})


# --- what it trains on -------------------------------------------------------------------------


def test_my_drawings_are_redrawn_from_their_strokes_and_stay_their_digit(store):
    drawings = store.list(person=LOCAL_PERSON)
    source = MyDrawings(drawings)
    images, labels = source.sample(300, np.random.default_rng(0))
    assert images.shape == (300, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1 and images.max() > 0.9
    assert labels.dtype == np.int64 and set(labels) <= {d.label for d in drawings}
    again, _ = source.sample(300, np.random.default_rng(0))
    np.testing.assert_array_equal(images, again)  # repeatable from the rng alone
    # A new hand each time: no drawing comes back as the image it was saved with...
    saved, _ = images_and_labels(drawings)
    assert min(np.abs(image - saved).mean(axis=(1, 2)).min() for image in images[:50]) > 0.005
    # ...but it still reads as its digit to the shipped CNN.
    assert (load_model().predict(images) == labels).mean() > 0.9


def test_imported_rows_without_strokes_are_distorted_images(mnist, tmp_path):
    store = DrawingStore(tmp_path / "imports.sqlite")
    store.import_csv(kaggle_csv(mnist, rows=20), person=LOCAL_PERSON)
    drawings = store.list(person=LOCAL_PERSON)
    assert all(d.strokes is None for d in drawings)
    images, labels = MyDrawings(drawings).sample(200, np.random.default_rng(1))
    saved, saved_labels = images_and_labels(drawings)
    assert set(labels) <= set(saved_labels.tolist())
    untouched = [any(np.array_equal(image, s) for s in saved) for image in images]
    assert 0 < np.mean(untouched) < 0.3  # AugmentConfig().untouched leaves about a tenth as is


class Constant:
    """A digit source of blank images all labelled ``digit``."""

    def __init__(self, digit: int) -> None:
        self.name, self.digit = f"all {digit}", digit

    def sample(self, count, rng):
        return np.zeros((count, 28, 28), np.float32), np.full(count, self.digit, np.int64)


def test_a_mixture_gives_each_source_its_share():
    mixture = Mixture([(Constant(1), 0.3), (Constant(2), 0.1)])
    assert mixture.name == "all 1 + all 2"
    images, labels = mixture.sample(4000, np.random.default_rng(0))
    assert images.shape == (4000, 28, 28) and labels.shape == (4000,)
    assert abs((labels == 1).mean() - 0.75) < 0.03 and set(labels.tolist()) == {1, 2}


def test_replay_holds_not_digits_only_for_a_model_with_that_output(store, pen):
    drawings, config, rng = (
        store.list(person=LOCAL_PERSON),
        FineTuneConfig(),
        np.random.default_rng(0),
    )
    eleven, share = extra_digits(drawings, PenDigits(pen), config, not_digits=True)
    assert share == pytest.approx(config.mine_share + config.pen_share + config.not_digit_share)
    _, labels = eleven.sample(2000, rng)
    expected = config.not_digit_share / share
    assert abs((labels == NOT_A_DIGIT).mean() - expected) < 0.03
    ten, share = extra_digits(drawings, PenDigits(pen), config, not_digits=False)
    assert share == pytest.approx(config.mine_share + config.pen_share)
    assert NOT_A_DIGIT not in ten.sample(500, rng)[1]
    # Without the pen data there is nothing to make drawings that are not digits from.
    alone, share = extra_digits(drawings, None, config, not_digits=True)
    assert share == config.mine_share and alone.name == "my drawings"


def test_drawings_saved_as_not_a_digit_are_learned_only_by_a_model_with_that_output(
    store, fixture_model_file
):
    drawings = store.list(person=LOCAL_PERSON)
    mixed = [as_not_digit(d) for d in drawings[:5]] + drawings[5:]
    assert learnable(mixed, load_model(fixture_model_file)) == mixed
    assert learnable(mixed, ten_outputs()) == drawings[5:]
    _, labels = MyDrawings(mixed).sample(400, np.random.default_rng(0))
    assert 0 < (labels == NOT_A_DIGIT).mean() < 0.2  # 5 of 60, kept as they were saved


def test_a_base_without_that_output_and_too_few_digits_says_so(store, mnist_dataset):
    train, held = split_drawings(store, SHORT)
    train = [as_not_digit(d) for d in train[: len(train) - 3]] + train[len(train) - 3 :]
    with pytest.raises(DigitnetError, match="too few drawings of digits.*'not a digit'"):
        fine_tune(ten_outputs(), train, held, mnist_dataset, None, SHORT)


def test_blending_moves_every_array_part_of_the_way_back_to_the_base():
    spec = cnn_spec(filters=(4,), hidden=(8,))  # a convolution, BatchNorm, dense layers
    base, tuned = Model(spec, seed=0), Model(spec, seed=1)
    for name, array in base.arrays().items():
        if name.endswith("running_mean"):
            array += 1.0  # statistics differ too
    expected = {
        name: 0.25 * base.arrays()[name] + 0.75 * array for name, array in tuned.arrays().items()
    }
    blend(tuned, base, 0.25)
    for name, array in tuned.arrays().items():
        np.testing.assert_allclose(array, expected[name], rtol=1e-5, atol=1e-6)
    blend(tuned, base, 0.0)  # keeps none of the base: unchanged
    np.testing.assert_allclose(tuned.arrays()["0.W"], expected["0.W"], rtol=1e-6)


def test_mnist_digits_keep_the_base_models_dev_digits_out(mnist_dataset, fixture_model_file):
    config = FineTuneConfig(steps=10)
    shipped = load_model()  # trained on MNIST with 5,000 dev digits held out
    images, labels, dev_images, dev_labels = mnist_digits(shipped, mnist_dataset, config, 0.35)
    expected_dev, expected_labels = dev_split(shipped, mnist_dataset)
    np.testing.assert_array_equal(dev_images, expected_dev)
    np.testing.assert_array_equal(dev_labels, expected_labels)
    assert len(images) == len(labels) == 10 * config.mnist_per_batch(0.35) == 10 * 42
    assert not {image.tobytes() for image in images} & {d.tobytes() for d in dev_images}
    without_dev = mnist_digits(load_model(fixture_model_file), mnist_dataset, config, 0.45)
    assert len(without_dev.train_images) == 10 * config.mnist_per_batch(0.45) == 10 * 35
    assert len(without_dev.dev_images) == 0


def test_the_held_back_drawings_never_share_a_drawing_with_the_training_part(store):
    # Each drawing saved twice, as two answers on the Draw page keep it.
    for drawing in store.list(person=LOCAL_PERSON):
        store.add(
            person=LOCAL_PERSON,
            label=drawing.label,
            image=drawing.image,
            session="again",
            strokes=drawing.strokes,
            canvas_width=drawing.canvas_width,
            canvas_height=drawing.canvas_height,
            brush_width=drawing.brush_width,
        )
    train, held = split_drawings(store, SHORT)
    assert len(train) + len(held) == 120
    assert not {(d.label, d.image.tobytes()) for d in train} & {
        (d.label, d.image.tobytes()) for d in held
    }


# --- one-line refusals -------------------------------------------------------------------------


def refusal(store: DrawingStore) -> str:
    with pytest.raises(DigitnetError) as caught:
        split_drawings(store)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_no_drawings_too_few_or_nothing_to_learn_is_one_line(pen, mnist, tmp_path):
    empty = DrawingStore(tmp_path / "empty.sqlite")
    assert "save some on the Draw page" in refusal(empty)
    assert not empty.path.exists()  # asking created nothing
    few = DrawingStore(tmp_path / "few.sqlite")
    add_pen_drawings(few, first(pen, 6))
    assert "too few drawings" in refusal(few)
    blank = DrawingStore(tmp_path / "blank.sqlite")
    header = kaggle_csv(mnist, rows=1).decode().splitlines()[0]
    zeros = [header] + [str(digit) + ",0" * 784 for digit in range(10)]  # one blank each
    blank.import_csv("\n".join(zeros).encode(), person=LOCAL_PERSON)
    assert "none of the 10 drawings" in refusal(blank)


def test_bad_settings_are_refused():
    with pytest.raises(DigitnetError, match="steps"):
        FineTuneConfig(steps=0)
    with pytest.raises(DigitnetError, match="a tenth of every batch to MNIST"):
        FineTuneConfig(mine_share=0.7, pen_share=0.3)
    with pytest.raises(DigitnetError, match="keep base must be from 0 to below 1"):
        FineTuneConfig(keep_base=1)


# --- a real fine-tuning ------------------------------------------------------------------------


def test_fine_tuning_learns_the_writer_and_leaves_the_base_alone(tuned, collection):
    base, before, held, result, _ = tuned
    assert fingerprint(base) == before  # the loaded model is never changed
    assert fingerprint(result.model) != before
    # It learned the writer: surer of the right digit on the drawings it never trained on.
    assert result.held_back.after >= result.held_back.before
    assert held_back_loss(result.model, held) < 0.8 * held_back_loss(base, held)
    assert result.mnist_test.after > 0.85  # it still reads MNIST
    train, _ = split_drawings(DrawingStore(collection), SHORT)
    assert {d.id for d in train}.isdisjoint({d.id for d in held})
    assert result.trained_on == len(train) and result.held_back_count == len(held)
    # The drawings saved as "Not a digit" were learned: the eleventh output rose for them.
    not_digits, _ = images_and_labels(train[:NOT_DIGITS_SAVED])
    assert result.model.not_digit_proba(not_digits).mean() > base.not_digit_proba(not_digits).mean()


def test_the_blend_is_what_is_calibrated_scored_and_returned(store, mnist_dataset):
    small = dataclasses.replace(
        mnist_dataset, images=mnist_dataset.images[:3000], labels=mnist_dataset.labels[:3000]
    )
    base = Model("mlp:16", seed=0)
    config = TrainConfig(epochs=1, batch_size=64, dev_size=1000)
    TrainingRun(base, config, small, name="small", architecture="mlp 16").run()
    train, held = split_drawings(store, SHORT)
    result = fine_tune(base, train, held, small, None, dataclasses.replace(SHORT, steps=20))
    dev_images, dev_labels = dev_split(result.model, small)
    logits = result.model.logits(dev_images)
    assert result.model.metadata["temperature"] == fit_temperature(logits[:, :10], dev_labels)
    assert result.model.temperature != base.temperature
    # Half way between the base and what the same training made without blending.
    unblended = dataclasses.replace(SHORT, steps=20, keep_base=0)
    plain = fine_tune(base, train, held, small, None, unblended).model
    for blended, start, trained in zip(*(m.arrays().values() for m in (result.model, base, plain))):
        assert np.abs(trained - start).max() > 0
        np.testing.assert_allclose(blended, start + 0.5 * (trained - start), atol=1e-6)


def test_the_figures_are_the_two_models_scores(tuned, mnist_dataset):
    base, _, held, result, _ = tuned
    images, labels = images_and_labels(held)
    assert result.held_back.before == evaluate(base, images, labels).accuracy
    assert result.held_back.after == evaluate(result.model, images, labels).accuracy
    test = (mnist_dataset.test_images, mnist_dataset.test_labels)
    assert result.mnist_test.before == evaluate(base, *test).accuracy
    assert result.mnist_test.after == evaluate(result.model, *test).accuracy


def test_the_card_says_what_it_was_made_from_and_survives_a_save(tuned, tmp_path):
    base, _, _, result, reported = tuned
    path = tmp_path / "my.npz"
    made = card(load_model(save_model(result.model, path)))
    assert made.name == "fixture + my drawings"
    assert made.metrics["test"].accuracy == result.mnist_test.after
    assert made.metrics[HELD_BACK_METRIC].accuracy == result.held_back.after
    assert made.training["extra_source"] == "my drawings + pen drawings + not digits"
    assert made.training["learning_rate"] == SHORT.learning_rate
    assert load_model(path).metadata["fine_tuned_from"]["name"] == "fixture"
    assert reported == sorted(reported) and reported[-1] == 1.0


# --- the command line --------------------------------------------------------------------------


def fine_tune_cli(model, out, *extra) -> list[str]:
    return ["train", "--fine-tune", str(model), "--mine", "--out", str(out), *extra]


def test_cli_prints_before_and_after_and_writes_the_model(
    store, fixture_model_file, tmp_path, capsys
):
    checksum = fingerprint(load_model(fixture_model_file))
    out = tmp_path / "my.npz"
    assert main(fine_tune_cli(fixture_model_file, out, "--steps", "20", "--name", "mine")) == 0
    printed = capsys.readouterr().out
    assert "held-back drawings" in printed and "MNIST test (10,000)" in printed
    assert "before" in printed and "after" in printed
    assert card(load_model(out)).name == "mine"
    assert fingerprint(load_model(fixture_model_file)) == checksum


@pytest.mark.parametrize(
    "setup, flags, message",
    [
        ("empty", [], "no drawings of local in"),
        ("few", [], "too few drawings"),
        ("collection", ["--fine-tune", "nosuchmodel"], "nosuchmodel: no such weights file"),
        ("collection", ["--no-mine"], "--fine-tune MODEL and --mine go together"),
    ],
)
def test_cli_bad_cases_are_one_line_and_exit_2(
    setup, flags, message, store, pen, fixture_model_file, tmp_path, monkeypatch, capsys
):
    if setup != "collection":
        path = tmp_path / f"{setup}.sqlite"
        monkeypatch.setenv("DIGITNET_DB", str(path))
        if setup == "few":
            add_pen_drawings(DrawingStore(path), first(pen, 4))
    out = tmp_path / "my.npz"
    argv = fine_tune_cli(fixture_model_file, out)
    if "--no-mine" in flags:
        argv.remove("--mine")
    elif flags:
        argv[argv.index("--fine-tune") + 1] = flags[1]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not out.exists()


# --- the Train page ----------------------------------------------------------------------------


def test_the_train_page_fine_tunes_the_sidebar_model(store, open_app, monkeypatch):
    monkeypatch.setattr("pages.common.finetune.CONFIG", SHORT)
    app = open_app(TRAIN)
    assert not app.exception
    assert any("**60** drawings" in text.value for text in app.markdown)
    app.button(key="finetune_start").click().run()
    assert not app.exception
    assert "Fine-tuned on" in app.success[0].value
    label = app.session_state["model_choice"]
    assert label.startswith("fixture + my drawings") and label.endswith("(this session)")
    table = app.table[0].value
    assert list(table.columns) == ["before", "after"]
    assert table.index[0].startswith("your held-back drawings")


def test_the_train_page_says_why_it_cannot_fine_tune(open_app, monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITNET_DB", str(tmp_path / "none.sqlite"))
    app = open_app(TRAIN)
    assert not app.exception
    assert any(info.value == NONE_SAVED for info in app.info)
    assert not [b for b in app.button if b.key == "finetune_start"]
