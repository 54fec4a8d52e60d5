"""The Mistakes and Confusion matrix pages in AppTest, checked against the engine's own
evaluation of the fixture model on MNIST's test set."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from digitnet import load_model, save_model
from digitnet.analysis.metrics import calibration_gap, evaluate, per_class_report
from digitnet.data.collection.store import LOCAL_PERSON, DrawingStore
from digitnet.data.mnist import split_dev
from digitnet.data.pendigits import PEN_ENV, load_pen_data, pen_dev_set
from digitnet.images import NOT_A_DIGIT
from pages.common.data import PEN_DEV_NAME
from tests.test_cli import write_pen_file
from tests.test_drawings import canvas_drawing

MISTAKES = "pages/mistakes_page.py"
CONFUSION = "pages/confusion_page.py"
SPLIT_RADIOS = [(MISTAKES, "mistakes_split"), (CONFUSION, "confusion_split")]
UPLOADERS = [(MISTAKES, "mistakes-upload"), (CONFUSION, "confusion-upload")]
CAPTION = re.compile(r"true (\d), predicted (\d) \((\d+)%\)")


@pytest.fixture(scope="module")
def test_evaluation(mnist, fixture_model_file):
    return evaluate(load_model(fixture_model_file), mnist.test_images, mnist.test_labels)


def shown_examples(app) -> list[tuple[int, int, int]]:
    """(true, predicted, confidence %) of every example image on the page."""
    found = []
    for image in app.image:
        for caption in image.captions:
            match = CAPTION.fullmatch(caption)
            if match:
                found.append(tuple(int(group) for group in match.groups()))
    return found


@pytest.mark.parametrize("page", [MISTAKES, CONFUSION])
def test_without_data_the_page_explains_and_offers_download_and_upload(open_app, no_data, page):
    app = open_app(page)
    assert not app.exception
    assert "MNIST is not on this server" in app.warning[0].value
    assert len(app.file_uploader) == 1
    assert any(button.label == "Download MNIST" for button in app.button)


def test_mistakes_lists_every_error_most_confident_first(open_app, test_evaluation):
    app = open_app(MISTAKES)
    assert not app.exception
    wrong = test_evaluation.mistakes()
    assert f"{len(wrong):,} mistakes out of 10,000" in app.caption[0].value
    shown = shown_examples(app)
    assert len(shown) == min(24, len(wrong))
    assert all(true != predicted for true, predicted, _ in shown)
    confidences = [confidence for _, _, confidence in shown]
    assert confidences == sorted(confidences, reverse=True)
    first = wrong[0]
    assert shown[0][:2] == (test_evaluation.labels[first], test_evaluation.predictions[first])


def test_mistakes_filters_order_and_pages(open_app, test_evaluation):
    app = open_app(MISTAKES)
    app.selectbox(key="mistakes_true").select(9).run()
    expected = [i for i in test_evaluation.mistakes() if test_evaluation.labels[i] == 9]
    assert {true for true, _, _ in shown_examples(app)} == {9}
    assert f"of {len(expected):,}" in " ".join(caption.value for caption in app.caption)

    app.selectbox(key="mistakes_predicted").select(4).run()
    both = [i for i in expected if test_evaluation.predictions[i] == 4]
    assert {(true, predicted) for true, predicted, _ in shown_examples(app)} == {(9, 4)}
    assert len(shown_examples(app)) == min(24, len(both))

    app.selectbox(key="mistakes_predicted").select("any").run()
    app.selectbox(key="mistakes_order").select("least confident first").run()
    confidences = [confidence for _, _, confidence in shown_examples(app)]
    assert confidences == sorted(confidences)

    page_input = app.number_input[0]
    assert page_input.label.startswith("Page (of ")
    first_page = shown_examples(app)
    page_input.set_value(2).run()
    second_page = shown_examples(app)
    assert second_page and second_page != first_page
    assert min(c for *_, c in second_page) >= max(c for *_, c in first_page)


def test_an_example_opens_with_all_ten_probabilities(open_app, test_evaluation):
    app = open_app(MISTAKES)
    app.button[0].click().run()
    assert not app.exception
    labels = [metric.label for metric in app.metric]
    assert labels == ["True digit", "Predicted"]
    first = test_evaluation.mistakes()[0]
    assert app.metric[0].value == str(test_evaluation.labels[first])
    assert len(app.get("vega_lite_chart")) == 1


def test_mistakes_on_the_dev_split_the_model_was_trained_with(
    open_app, app_cache, mnist, monkeypatch
):
    monkeypatch.delenv(PEN_ENV, raising=False)  # only MNIST's splits
    app = open_app(MISTAKES)
    # The fixture model was trained with no dev set: only the test set is offered.
    assert app.radio(key="mistakes_split").options == ["MNIST test (10,000)"]

    model = load_model(app_cache / "models" / "fixture.npz")
    model.metadata["dev_split"] = {"size": 1000, "seed": 3}
    model.metadata["dataset"] = {"name": "other.csv", "checksum": "0" * 64}
    save_model(model, app_cache / "models" / "elsewhere.npz")
    app = open_app(MISTAKES, model="elsewhere (saved)")
    assert app.radio(key="mistakes_split").options == ["MNIST test (10,000)"], (
        "trained on other digits: MNIST holds no dev set of its"
    )

    model.metadata["dataset"] = {"name": "MNIST", "checksum": mnist.checksum}
    save_model(model, app_cache / "models" / "with-dev.npz")
    app = open_app(MISTAKES, model="with-dev (saved)")
    app.radio(key="mistakes_split").set_value("MNIST dev (1,000)").run()
    assert not app.exception
    *_, dev_images, dev_labels = split_dev(mnist.train_images, mnist.train_labels, 1000, seed=3)
    wrong = evaluate(model, dev_images, dev_labels).mistakes()
    assert f"{len(wrong):,} mistakes out of 1,000 digits" in app.caption[0].value


def test_confusion_matrix_report_and_cell_examples(open_app, test_evaluation):
    app = open_app(CONFUSION)
    assert not app.exception
    assert app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")
    confusion = test_evaluation.confusion
    expected = per_class_report(confusion)
    table = app.dataframe[0].value
    scores = ["precision", "recall", "f1"]
    np.testing.assert_allclose(table[scores] / 100, expected[scores], rtol=1e-6)
    assert table["support"].tolist() == confusion.sum(axis=1).tolist()

    errors = confusion - np.diag(np.diag(confusion))
    worst = np.unravel_index(errors.argmax(), errors.shape)
    assert (
        app.selectbox(key="confusion_true").value,
        app.selectbox(key="confusion_predicted").value,
    ) == tuple(int(i) for i in worst)

    app.selectbox(key="confusion_true").select(7).run()
    app.selectbox(key="confusion_predicted").select(7).run()
    shown = shown_examples(app)
    assert f"{confusion[7, 7]:,} examples: a true 7 predicted as 7" in " ".join(
        c.value for c in app.caption
    )
    assert len(shown) == 24 and {(t, p) for t, p, _ in shown} == {(7, 7)}


def reliability_curves(app, description: str) -> dict:
    """The reliability diagram's curves, found by the diagram's text alternative."""
    specs = [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]
    (diagram,) = [spec for spec in specs if spec.get("description") == description]
    return diagram["layer"][1]


def test_calibration_before_and_after_the_temperature(
    open_app, app_cache, fixture_model_file, mnist
):
    model = load_model(fixture_model_file)
    model.metadata["temperature"] = 1.7  # less sure than the network on its own
    save_model(model, app_cache / "models" / "tempered.npz")
    app = open_app(CONFUSION, model="tempered (saved)")
    assert not app.exception
    after = evaluate(model, mnist.test_images, mnist.test_labels)
    before = after.untempered()
    summary = (
        f"Before the temperature {calibration_gap(before.reliability):.2%} ECE, after "
        f"{calibration_gap(after.reliability):.2%} (temperature 1.7)."
    )
    assert summary in [markdown.value for markdown in app.markdown]
    assert calibration_gap(after.reliability) == pytest.approx(after.calibration_error)

    curves = reliability_curves(app, summary)  # the summary is the chart's text alternative
    names = ["before (temperature 1)", "after (temperature 1.7)"]
    assert curves["encoding"]["color"]["scale"]["domain"] == names
    for name, evaluation in zip(names, (before, after), strict=True):
        shown = [point for point in curves["data"]["values"] if point["series"] == name]
        table = evaluation.reliability
        assert [point["digits"] for point in shown] == table["count"].tolist()
        np.testing.assert_allclose([point["accuracy"] for point in shown], table["accuracy"])
        np.testing.assert_allclose([point["confidence"] for point in shown], table["confidence"])

    *_, before_numbers, after_numbers = app.table  # the diagram's numbers, under it
    for numbers, evaluation in ((before_numbers.value, before), (after_numbers.value, after)):
        top = evaluation.reliability.iloc[-1]
        assert numbers.index[-1] == "93%-100%" and len(numbers) == len(evaluation.reliability)
        assert numbers.iloc[-1].tolist() == [
            f"{top['confidence']:.1%}",
            f"{top['accuracy']:.1%}",
            f"{int(top['count']):,}",
        ]


def test_calibration_of_a_model_without_a_temperature(open_app, test_evaluation):
    app = open_app(CONFUSION)  # the fixture model: trained without a dev set
    assert not app.exception
    summary = (
        f"ECE {test_evaluation.calibration_error:.2%}. This model has no temperature (it was "
        "trained without a dev set to fit one on): its confidence is the network's own."
    )
    assert summary in [markdown.value for markdown in app.markdown]
    curves = reliability_curves(app, summary)
    assert {point["series"] for point in curves["data"]["values"]} == {"temperature 1"}
    counts = app.table[0].value  # the heatmap's counts, as text
    assert counts.to_numpy().tolist() == test_evaluation.confusion.tolist()


def test_predictions_are_computed_once_per_model_and_split(open_app, fixture_model_file, mnist):
    from pages.common.caches import cached_evaluation

    model = load_model(fixture_model_file)
    first = cached_evaluation(
        model.metadata["checksum"], "test", model, mnist.test_images, mnist.test_labels
    )
    again = cached_evaluation(
        model.metadata["checksum"], "test", model, mnist.test_images[:10], mnist.test_labels[:10]
    )
    assert again is first  # keyed by checksum and split name, not by recomputing
    assert not first.probabilities.flags.writeable


def test_the_model_choice_is_shared_by_the_pages(open_app, app_cache, fixture_model_file):
    (app_cache / "models" / "second.npz").write_bytes(fixture_model_file.read_bytes())
    app = open_app()
    app.sidebar.selectbox(key="model_select").select("second (saved)").run()
    app.switch_page(CONFUSION).run()
    assert not app.exception
    assert app.sidebar.selectbox(key="model_select").value == "second (saved)"


def test_examples_are_chosen_by_digit_and_ordered_most_confident_first():
    from digitnet.analysis.metrics import Evaluation
    from pages.common.examples import examples_of

    probabilities = np.full((5, 10), 0.0)
    rows = [(3, 0.6), (5, 0.9), (3, 0.95), (3, 0.6), (2, 0.99)]  # (predicted, confidence)
    for index, (digit, confidence) in enumerate(rows):
        probabilities[index] = (1 - confidence) / 9
        probabilities[index, digit] = confidence
    evaluation = Evaluation(probabilities, np.array([3, 3, 5, 3, 2]))
    assert examples_of(evaluation).tolist() == [4, 2, 1, 0, 3]  # ties keep data order
    assert examples_of(evaluation, true=3).tolist() == [1, 0, 3]
    assert examples_of(evaluation, true=3, predicted=3).tolist() == [0, 3]
    assert examples_of(evaluation, mistakes_only=True).tolist() == [2, 1]
    assert examples_of(evaluation, predicted=5, mistakes_only=True).tolist() == [1]


# --- Pen drawings of unseen writers, the person's own drawings, a test.csv refused ---------------


@pytest.fixture(scope="module")
def tiny_pen_folder(tmp_path_factory) -> Path:
    """A pen file of one pen-train and two pen-dev writers, 30 digits each."""
    folder = tmp_path_factory.mktemp("pen")
    write_pen_file(folder, load_pen_data(download=False), per_writer=30)
    return folder


@pytest.mark.parametrize("page, key", SPLIT_RADIOS)
def test_pen_drawings_of_unseen_writers_are_a_split(
    open_app, monkeypatch, tiny_pen_folder, fixture_model_file, page, key
):
    monkeypatch.setenv(PEN_ENV, str(tiny_pen_folder))
    app = open_app(page)
    assert app.radio(key=key).options == ["MNIST test (10,000)", PEN_DEV_NAME]
    app.radio(key=key).set_value(PEN_DEV_NAME).run()
    assert not app.exception
    evaluation = evaluate(
        load_model(fixture_model_file), *pen_dev_set(load_pen_data(tiny_pen_folder))
    )
    if page == MISTAKES:
        wrong = len(evaluation.mistakes())
        assert f"{wrong:,} mistakes out of 60 digits" in app.caption[0].value
    else:
        assert f"Accuracy {evaluation.accuracy:.2%} on 60 digits" in app.caption[0].value


def test_without_pen_data_there_is_no_pen_split(open_app, monkeypatch, tmp_path):
    monkeypatch.setenv(PEN_ENV, str(tmp_path / "nowhere"))
    app = open_app(MISTAKES)
    assert not app.exception
    assert app.radio(key="mistakes_split").options == ["MNIST test (10,000)"]
    assert any("No pen drawings split: " in caption.value for caption in app.caption)


def test_my_drawings_are_a_split_that_follows_every_save(
    open_app, monkeypatch, tmp_path, mnist, fixture_model_file
):
    monkeypatch.delenv(PEN_ENV, raising=False)
    monkeypatch.setenv("DIGITNET_DB", str(tmp_path / "drawings.sqlite"))
    app = open_app(MISTAKES)
    assert app.radio(key="mistakes_split").options == ["MNIST test (10,000)"]
    store, model = DrawingStore(), load_model(fixture_model_file)
    # Saved as not a digit: not a digit to score, left out of the split.
    store.add(**canvas_drawing(99, label=NOT_A_DIGIT, image=np.eye(28)))
    for count in (40, 41):  # a save between two runs changes what the split holds
        while len(store.list(person=LOCAL_PERSON)) < count + 1:
            index = len(store.list(person=LOCAL_PERSON)) - 1
            label = int(mnist.test_labels[index])
            store.add(**canvas_drawing(index, label=label, image=mnist.test_images[index]))
        app.run()
        app.radio(key="mistakes_split").set_value(f"My drawings ({count})").run()
        assert not app.exception
        shown = evaluate(model, mnist.test_images[:count], mnist.test_labels[:count])
        wrong = len(shown.mistakes())
        assert f"{wrong:,} mistakes out of {count} digits" in app.caption[0].value


@pytest.mark.parametrize("page, key", UPLOADERS)
def test_a_kaggle_test_csv_is_refused_for_scoring(open_app, mnist, page, key):
    app = open_app(page)
    rows = [",".join(map(str, image.ravel())) for image in mnist.test_images[:20]]
    test_csv = "\n".join([",".join(f"pixel{i}" for i in range(784)), *rows]) + "\n"
    app.file_uploader(key=key).upload("test.csv", test_csv.encode(), "text/csv").run()
    assert not app.exception
    assert [error.value for error in app.error] == [
        "test.csv: has no label column: this looks like a Kaggle test.csv; a labelled "
        "train.csv is needed to score a model"
    ]
    assert not any(option.startswith("test.csv") for option in app.radio[0].options)
