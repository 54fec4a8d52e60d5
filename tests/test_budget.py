"""The memory budget of a training: the estimate from the spec and the settings, held to measured
peaks; a training over the budget refused in one line before anything big is allocated, on the
command line and in the pipeline; fine-tuning the shipped models fits."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from digitnet.data.augment import AugmentConfig
from digitnet.data.mnist import load_dataset
from digitnet.errors import DigitnetError
from digitnet.network.model import Model
from digitnet.network.spec import cnn_spec, layer_sizes, parse_spec
from digitnet.network.weights import WEIGHTS_DIR, load_model
from digitnet.training.budget import (
    BUDGET_ENV,
    DEFAULT_BUDGET,
    GB,
    MB,
    configured_budget,
    estimate,
    read_budget,
)
from digitnet.training.finetune import FineTuneConfig, mnist_digits
from digitnet.training.pipeline import TrainingRun
from digitnet.training.trainer import TrainConfig
from tests.conftest import ROOT
from tests.synthetic import synthetic_dataset

BIGGER_CNN = cnn_spec((48, 96), (256,), kernel=5, padding=2)  # the cnn preset: 32, 64 and 128

# A short training in a process of its own: synthetic digits made, the pen digits read and
# everything imported first, then tracemalloc started, the model built and the pipeline run (no
# test split: no scoring). It prints the peak of what was allocated since.
MEASURE = """
import json, sys, tracemalloc
from digitnet.data.augment import AugmentConfig
from digitnet.data.mnist import Dataset
from digitnet.data.pendigits import PenDigits, load_pen_data
from digitnet.network.model import Model
from digitnet.training.pipeline import Split, TrainingRun
from digitnet.training.trainer import TrainConfig
from tests.synthetic import synthetic_digits

spec, settings, train_count, dev_count = json.loads(sys.argv[1])
images, labels = synthetic_digits(train_count + dev_count)
dataset = Dataset("synthetic", "memory", "c" * 64, images, labels, None, None)
cut = train_count
split = Split(images[:cut], labels[:cut], images[cut:], labels[cut:])
augment = AugmentConfig() if settings.pop("augment") else None
pen = PenDigits(load_pen_data()) if settings.get("extra_share") else None
config = TrainConfig(epochs=1, dev_size=dev_count, augment=augment, **settings)
tracemalloc.start()
TrainingRun(Model(spec), config, dataset, name="m", architecture="m", split=split, extra=pen).run()
print(tracemalloc.get_traced_memory()[1])
"""


def measured_peak(spec: dict, settings: dict, train_count: int, dev_count: int) -> int:
    command = [sys.executable, "-c", MEASURE, json.dumps([spec, settings, train_count, dev_count])]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


@pytest.mark.parametrize(
    ("spec", "settings"),
    [
        (parse_spec("mlp"), {"batch_size": 128}),
        (parse_spec("mlp"), {"batch_size": 2048}),
        (parse_spec("mlp:256"), {"batch_size": 256, "augment": True}),
        (parse_spec("mlp:256"), {"batch_size": 512, "extra_share": 0.25}),
        (parse_spec("mlp:2000,2000"), {"batch_size": 512, "optimizer": "momentum"}),
        (parse_spec("cnn"), {"batch_size": 64}),
        (parse_spec("cnn"), {"batch_size": 256}),
        (BIGGER_CNN, {"batch_size": 32}),
    ],
    ids=[
        "mlp-128",
        "mlp-2048",
        "mlp-augmented",
        "mlp-pen-digits",
        "wide-mlp-momentum",
        "cnn-64",
        "cnn-256",
        "bigger-cnn-32",
    ],
)
def test_the_estimate_is_within_half_again_of_the_measured_peak(spec, settings):
    """Measured with tracemalloc, which NumPy reports every array to: the peak of what the
    training allocated above what the process held before (imports, the digits), in a fresh
    process, over three batches and the dev passes (a few seconds). Not ru_maxrss: the process's
    high-water mark from before the training (imports, making the digits) hides a small
    training's peak under it, and it counts the BLAS library's buffers, whatever the network."""
    train_count, dev_count = 3 * settings["batch_size"], 300
    settings = {"augment": False, **settings}
    peak = measured_peak(spec, settings, train_count, dev_count)
    augment = AugmentConfig() if settings.pop("augment") else None
    config = TrainConfig(epochs=1, dev_size=dev_count, augment=augment, **settings)
    needs = estimate(spec, config, train_count, dev_count).bytes
    assert peak / 1.5 <= needs <= peak * 1.5, f"estimated {needs:,} bytes, measured {peak:,}"


def test_the_estimate_grows_with_the_batch_and_counts_every_part():
    spec, config = parse_spec("cnn"), TrainConfig(batch_size=128)
    small = estimate(spec, config, 55_000, 5_000)
    large = estimate(spec, TrainConfig(batch_size=1024), 55_000, 5_000)
    assert large.bytes > 4 * small.parts["one batch"]
    # the output layer: 128 x 11 + 11, the ten digits and "not a digit"
    assert small.parameters == Model(spec).num_parameters == 184_907
    weights = 4 * small.parameters
    assert small.parts["weights"] == weights
    assert small.parts["optimizer"] == 3 * weights  # Adam's two moments and its scratch
    momentum = estimate(spec, TrainConfig(optimizer="momentum", batch_size=128), 55_000, 5_000)
    assert momentum.parts["optimizer"] == 2 * weights
    assert small.parts["digits"] == 60_000 * (784 * 4 + 8)
    # A batch larger than the training digits is cut to them, as the Trainer cuts it.
    assert (
        estimate(spec, TrainConfig(batch_size=4096), 1000, 0).parts["batch buffers"]
        == (estimate(spec, TrainConfig(batch_size=1000), 1000, 0).parts["batch buffers"])
    )


@pytest.mark.parametrize(
    "spec", [parse_spec("mlp"), parse_spec("cnn"), BIGGER_CNN, parse_spec("mlp:64", dropout=0.2)]
)
def test_layer_sizes_give_the_built_layers_shapes_and_parameters(spec):
    """What the estimate reads from a spec without allocating: the same as the built model."""
    sizes, layers = layer_sizes(spec), Model(spec).layers
    assert [size.input_shape for size in sizes] == [layer.input_shape for layer in layers]
    assert [size.output_shape for size in sizes] == [layer.output_shape for layer in layers]
    assert [size.parameters for size in sizes] == [
        sum(p.size for p in layer.params.values()) for layer in layers
    ]


def test_cli_mlp_60000_with_batch_65536_is_one_line_and_exit_2_before_allocating(tmp_path):
    """The case: every flag is valid, and training asked for 12.3 GiB in a traceback. Run under
    a 3 GB address-space limit, so a check that came too late fails here instead of eating the
    machine; MNIST is pointed at an empty folder, so a check after loading it would say so."""
    out = tmp_path / "big.npz"
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)); "
    command = [
        sys.executable,
        "-c",
        limit + "import sys; from digitnet.cli import main; sys.exit(main(sys.argv[1:]))",
        *("train", "--arch", "mlp:60000", "--batch-size", "65536", "--out", str(out)),
    ]
    environment = {**os.environ, "DIGITNET_DATA": str(tmp_path)}
    environment.pop(BUDGET_ENV, None)
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: this training needs about ")
    assert "GB, over the 6 GB a training may use on this machine (DIGITNET_MEMORY_BUDGET): " in (
        result.stderr
    )
    assert result.stderr.endswith("smaller layers or a smaller batch\n")
    assert not out.exists()


def test_the_pipeline_refuses_a_training_over_its_budget_before_copying_the_digits():
    dataset = synthetic_dataset(600)
    config = TrainConfig(epochs=1, batch_size=128, dev_size=100)
    needs = estimate(parse_spec("cnn"), config, 500, 100)

    def run(budget: int) -> TrainingRun:
        return TrainingRun(
            Model("cnn"), config, dataset, name="x", architecture="cnn", memory_budget=budget
        )

    with pytest.raises(DigitnetError) as refused:
        run(needs.bytes - 1)
    message = str(refused.value)
    assert message.startswith("this training needs about ")
    assert "a training may use on this server: fewer filters or a smaller batch" in message
    assert run(needs.bytes).trainer.train_images.shape == (500, 28, 28)


def test_fine_tuning_is_within_budget_for_the_shipped_models():
    """Fine-tuning runs through the pipeline, which checks the budget: for every shipped model
    (the Train page's and the CLI's bases), with its real split of MNIST and the extra digits."""
    shipped = sorted(WEIGHTS_DIR.glob("*.npz"))
    assert [path.stem for path in shipped] == ["cnn", "mlp"]
    settings, mnist = FineTuneConfig(), load_dataset("mnist")
    for path in shipped:
        base = load_model(path)
        share = settings.mine_share + settings.pen_share + settings.not_digit_share  # the most
        split = mnist_digits(base, mnist, settings, share)
        config = settings.train_config(len(split.dev_labels), share)
        needs = estimate(base.spec, config, len(split.train_labels), len(split.dev_labels))
        assert 10 * MB < needs.bytes <= DEFAULT_BUDGET, f"{path.stem}: {needs.parts}"
        needs.check()  # what the pipeline does, under DIGITNET_MEMORY_BUDGET or the default


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6GB", 6 * GB),
        ("6 GB", 6 * GB),
        ("1.5gb", 1_500_000_000),
        ("500MB", 500 * MB),
        ("8G", 8 * GB),
    ],
)
def test_the_budget_is_read_in_megabytes_or_gigabytes(text, expected, monkeypatch):
    assert read_budget(text) == expected
    monkeypatch.setenv(BUDGET_ENV, text)
    assert configured_budget() == expected
    monkeypatch.delenv(BUDGET_ENV)
    assert configured_budget() == DEFAULT_BUDGET == 6 * GB


@pytest.mark.parametrize("text", ["6", "lots", "-1GB", "0.5MB", "6TB", ""])
def test_a_budget_without_a_size_and_unit_is_one_line(text):
    with pytest.raises(DigitnetError) as refused:
        read_budget(text)
    assert str(refused.value) == (
        f"DIGITNET_MEMORY_BUDGET={text!r} is not an amount of memory: write it like 6GB or 500MB"
    )
