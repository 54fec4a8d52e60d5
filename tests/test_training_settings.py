"""Every setting a person can choose reaches the training, field by field, through the one
pipeline: each flag of `digitnet train` and each widget of the Train page ends up in the trained
model's card (whose ``training`` is the very TrainConfig the Trainer ran with) or its spec.

Each chosen value differs from its default, so a flag or widget that is ignored fails here."""

from __future__ import annotations

from dataclasses import asdict, fields

import pytest

import digitnet
from digitnet.cli import main
from digitnet.data.augment import AugmentConfig
from digitnet.data.pendigits import PEN_ENV, load_pen_data
from digitnet.training.card import card
from digitnet.training.trainer import TrainConfig
from tests.test_app_train import finish, job_of
from tests.test_cli import write_kaggle_csv, write_pen_file

AUGMENT = AugmentConfig(
    rotation=9.0,
    scale=0.05,
    shift=1.4,
    shear=6.0,
    elastic_alpha=1.0,
    elastic_sigma=4.2,
    thickness=0.3,
    untouched=0.2,
)
CHOSEN = {
    "epochs": 2,
    "batch_size": 64,
    "optimizer": "momentum",
    "learning_rate": 0.02,
    "momentum": 0.8,
    "weight_decay": 0.001,
    "schedule": "step",
    "step_size": 1,
    "gamma": 0.7,
    "seed": 5,
    "dev_size": 300,
    "augment": AUGMENT,
    "extra_share": 0.25,  # pen digits 0.2 and drawings that are not digits 0.05
}
PEN_SHARE, NOT_DIGIT_SHARE = 0.2, 0.05
SPEC = {"activation": "tanh", "dropout": 0.1}


def test_the_chosen_values_cover_every_field_and_none_is_a_default():
    defaults = TrainConfig()
    assert set(CHOSEN) == {field.name for field in fields(TrainConfig)}
    assert [name for name, value in CHOSEN.items() if getattr(defaults, name) == value] == []
    assert [f.name for f in fields(AugmentConfig) if getattr(AUGMENT, f.name) == f.default] == []


def assert_trained_with_the_chosen_settings(model: digitnet.Model) -> None:
    training = card(model).training
    for name, value in CHOSEN.items():
        expected = asdict(value) if name == "augment" else value
        assert training[name] == pytest.approx(expected), name
    assert training["extra_source"] == "pen drawings + not digits"
    hidden = [layer for layer in model.spec["layers"] if layer["type"] not in ("dense", "flatten")]
    assert {layer["type"] for layer in hidden} == {"tanh", "dropout"}
    assert {layer["rate"] for layer in hidden if layer["type"] == "dropout"} == {SPEC["dropout"]}


@pytest.fixture
def pen_folder(tmp_path, monkeypatch):
    write_pen_file(tmp_path / "pen", load_pen_data(download=False), per_writer=20)
    monkeypatch.setenv(PEN_ENV, str(tmp_path / "pen"))
    return tmp_path / "pen"


def test_every_train_flag_reaches_the_training(mnist, pen_folder, tmp_path):
    csv = write_kaggle_csv(
        tmp_path / "train.csv", mnist.train_images[:800], mnist.train_labels[:800]
    )
    augment = [
        part
        for field in fields(AugmentConfig)
        for part in (f"--{field.name.replace('_', '-')}", str(getattr(AUGMENT, field.name)))
    ]
    flags = {
        "--epochs": CHOSEN["epochs"],
        "--batch-size": CHOSEN["batch_size"],
        "--optimizer": CHOSEN["optimizer"],
        "--lr": CHOSEN["learning_rate"],
        "--momentum": CHOSEN["momentum"],
        "--weight-decay": CHOSEN["weight_decay"],
        "--schedule": CHOSEN["schedule"],
        "--step-size": CHOSEN["step_size"],
        "--gamma": CHOSEN["gamma"],
        "--seed": CHOSEN["seed"],
        "--dev-size": CHOSEN["dev_size"],
        "--pen-share": PEN_SHARE,
        "--not-digit-share": NOT_DIGIT_SHARE,
        "--activation": SPEC["activation"],
        "--dropout": SPEC["dropout"],
    }
    out = tmp_path / "chosen.npz"
    arguments = ["train", "--kaggle-train", str(csv), "--arch", "mlp:16", "--augment", *augment]
    arguments += [str(part) for pair in flags.items() for part in pair]
    assert main([*arguments, "--pen-data", str(pen_folder), "--out", str(out)]) == 0
    assert_trained_with_the_chosen_settings(digitnet.load_model(out))


def test_every_train_page_widget_reaches_the_training(open_app, app_cache, pen_folder):
    app = open_app("pages/train_page.py")
    app.radio(key="train_data").set_value("MNIST + pen drawings").run()
    app.slider(key="train_pen_share").set_value(PEN_SHARE).run()
    app.slider(key="train_not_digit_share").set_value(NOT_DIGIT_SHARE).run()
    app.text_input(key="train_hidden").input("16").run()
    app.selectbox(key="train_activation").select(SPEC["activation"]).run()
    app.slider(key="train_dropout").set_value(SPEC["dropout"]).run()
    app.selectbox(key="train_optimizer").select(CHOSEN["optimizer"]).run()
    app.selectbox(key="train_schedule").select(CHOSEN["schedule"]).run()
    app.toggle(key="train_augment").set_value(True).run()
    widgets = {
        ("number_input", "train_lr"): CHOSEN["learning_rate"],
        ("slider", "train_momentum"): CHOSEN["momentum"],
        ("number_input", "train_decay"): CHOSEN["weight_decay"],
        ("number_input", "train_step_size"): CHOSEN["step_size"],
        ("number_input", "train_gamma"): CHOSEN["gamma"],
        ("select_slider", "train_batch"): CHOSEN["batch_size"],
        ("number_input", "train_epochs"): CHOSEN["epochs"],
        ("number_input", "train_dev_size"): CHOSEN["dev_size"],
        ("number_input", "train_seed"): CHOSEN["seed"],
        **{
            ("slider", f"train_augment_{field.name}"): getattr(AUGMENT, field.name)
            for field in fields(AugmentConfig)
        },
    }
    for (kind, key), value in widgets.items():
        getattr(app, kind)(key=key).set_value(value).run()
    assert not app.exception
    app.button(key="train_start").click().run()
    assert not app.exception
    job = job_of(app)
    job.stop()  # the settings are the point, not the training: the pipeline still ends it
    finish(app, timeout=120)
    assert not app.exception
    assert job.progress().status == "stopped"
    assert_trained_with_the_chosen_settings(job.model)
