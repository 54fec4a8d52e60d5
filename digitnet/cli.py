"""The command line: ``python -m digitnet train | evaluate | predict | submit | download``.

Every user mistake (a bad file, a bad flag value) ends in one line on stderr and exit status 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

import digitnet
from digitnet import data, preprocess
from digitnet.augment import AugmentConfig
from digitnet.errors import DigitnetError
from digitnet.metrics import Evaluation, evaluate
from digitnet.model import Model
from digitnet.optim import OPTIMIZERS, SCHEDULES
from digitnet.spec import ACTIVATIONS, parse_spec
from digitnet.train import BatchEvent, EpochEvent, TrainConfig, Trainer
from digitnet.weights import save_model

DEFAULTS = TrainConfig()


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="folder with the MNIST IDX files (default: $DIGITNET_DATA, "
        "then the cache, then a download)",
    )
    parser.add_argument(
        "--kaggle-train",
        metavar="CSV",
        help="a Kaggle 'Digit Recognizer' train.csv instead of MNIST",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m digitnet", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=digitnet.__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a network and save its weights")
    add_data_flags(train)
    train.add_argument("--arch", default="mlp", help="mlp, mlp:512,256, cnn, or a JSON spec")
    train.add_argument("--activation", choices=ACTIVATIONS, help="hidden activation (mlp)")
    train.add_argument("--dropout", type=float, help="dropout rate after hidden layers")
    train.add_argument("--init", choices=("he", "glorot"), help="weight initialisation (mlp)")
    train.add_argument("--epochs", type=int, default=DEFAULTS.epochs)
    train.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=DEFAULTS.optimizer)
    train.add_argument("--lr", type=float, default=DEFAULTS.learning_rate, help="learning rate")
    train.add_argument("--momentum", type=float, default=DEFAULTS.momentum)
    train.add_argument("--weight-decay", type=float, default=DEFAULTS.weight_decay)
    train.add_argument("--schedule", choices=SCHEDULES, default=DEFAULTS.schedule)
    train.add_argument("--step-size", type=int, default=DEFAULTS.step_size, help="epochs per step")
    train.add_argument("--gamma", type=float, default=DEFAULTS.gamma, help="factor per step")
    train.add_argument("--seed", type=int, default=DEFAULTS.seed)
    train.add_argument("--dev-size", type=int, default=DEFAULTS.dev_size)
    train.add_argument("--augment", action="store_true", help="augment batches on the fly")
    for field in fields(AugmentConfig):
        train.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=float,
            default=field.default,
            help=f"augmentation strength (default {field.default})",
        )
    train.add_argument("--out", type=Path, required=True, help="where to write the .npz")
    train.add_argument("--name", help="a name for the model (default: the file's stem)")

    evaluate_command = commands.add_parser("evaluate", help="accuracy, per-class scores, confusion")
    evaluate_command.add_argument("weights", nargs="?", help="a .npz (default: the shipped model)")
    add_data_flags(evaluate_command)
    evaluate_command.add_argument(
        "--split",
        choices=("test", "dev", "drawn"),
        default="test",
        help="MNIST test set, the dev set held out of training, or drawn digits "
        "(MNIST test digits re-drawn as canvas strokes)",
    )
    evaluate_command.add_argument("--dev-size", type=int, default=DEFAULTS.dev_size)
    evaluate_command.add_argument("--seed", type=int, default=DEFAULTS.seed)
    evaluate_command.add_argument("--drawn-count", type=int, default=2000)

    predict = commands.add_parser("predict", help="read a PNG or JPEG of one digit")
    predict.add_argument("image", type=Path)
    predict.add_argument("--weights", help="a .npz (default: the shipped model)")

    submit = commands.add_parser("submit", help="write a Kaggle submission")
    submit.add_argument("--test", type=Path, required=True, help="Kaggle test.csv")
    submit.add_argument("--out", type=Path, required=True, help="submission.csv to write")
    submit.add_argument("--weights", help="a .npz (default: the shipped model)")

    download = commands.add_parser("download", help="download MNIST into the cache")
    download.add_argument("--to", type=Path, help="folder (default: the cache)")

    drawings = commands.add_parser(
        "drawings", help="the saved drawings ($DIGITNET_DB): list, export, import, delete"
    )
    actions = drawings.add_subparsers(dest="action", required=True)
    list_command = actions.add_parser("list", help="drawings per digit, the model's accuracy")
    list_command.add_argument("--each", action="store_true", help="also one line per drawing")
    export = actions.add_parser("export", help="write them as a Kaggle train.csv")
    export.add_argument("csv", type=Path)
    import_command = actions.add_parser("import", help="add the rows of a Kaggle train.csv")
    import_command.add_argument("csv", type=Path)
    delete = actions.add_parser("delete", help="delete drawings by id, or all of them")
    which = delete.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--id", type=int, nargs="+", dest="ids", metavar="N", help="ids from 'list --each'"
    )
    which.add_argument("--all", action="store_true", help="every drawing (needs --yes)")
    delete.add_argument("--yes", action="store_true", help="confirm --all")
    return parser


def load_training_data(args: argparse.Namespace) -> data.Dataset:
    if args.kaggle_train:
        return data.load_dataset(args.kaggle_train)
    return data.load_dataset("mnist", path=args.data)


def run_train(args: argparse.Namespace) -> None:
    spec_options = {
        key: value
        for key, value in (
            ("activation", args.activation),
            ("dropout", args.dropout),
            ("init", args.init),
        )
        if value is not None
    }
    spec = parse_spec(args.arch, **spec_options)
    augment = (
        AugmentConfig(**{f.name: getattr(args, f.name) for f in fields(AugmentConfig)})
        if args.augment
        else None
    )
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        learning_rate=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        step_size=args.step_size,
        gamma=args.gamma,
        seed=args.seed,
        dev_size=args.dev_size,
        augment=augment,
    )
    dataset = load_training_data(args)
    train_images, train_labels, dev_images, dev_labels = data.split_dev(
        dataset.images, dataset.labels, args.dev_size, args.seed
    )
    model = Model(spec, seed=args.seed)
    print(f"{model}; {len(train_images)} training and {len(dev_images)} dev images")
    bar = tqdm(total=config.epochs, unit="epoch", dynamic_ncols=True)

    dev_accuracy = {}  # the latest, shown beside the loss once the first epoch is done

    def show(event: BatchEvent | EpochEvent) -> None:
        if isinstance(event, BatchEvent):
            bar.n = round(event.epoch + (event.batch + 1) / event.batches_per_epoch, 2)
            bar.set_postfix(
                loss=f"{event.loss:.4f}", **dev_accuracy, speed=f"{event.samples_per_second:,.0f}/s"
            )
        else:
            dev = ""
            if event.dev_accuracy is not None:
                dev_accuracy["dev"] = f"{event.dev_accuracy:.2%}"
                dev = f", dev {event.dev_accuracy:.2%}"
            bar.write(
                f"epoch {event.epoch + 1}: train loss {event.train_loss:.4f}, "
                f"train {event.train_accuracy:.2%}{dev} ({event.seconds:.1f} s)"
            )

    started = time.perf_counter()
    result = Trainer(
        model, config, train_images, train_labels, dev_images, dev_labels, on_event=show
    ).run()
    bar.close()
    seconds = time.perf_counter() - started
    if result.status == "diverged":
        raise DigitnetError(f"{result.message} (now {args.lr}); no weights were written")
    model.metadata.update(
        name=args.name or args.out.stem,
        architecture=args.arch,
        dataset={"name": dataset.name, "checksum": dataset.checksum},
        preprocessing_version=preprocess.PREPROCESS_VERSION,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        digitnet_version=digitnet.__version__,
        training_seconds=round(seconds, 1),
    )
    if dataset.test_images is not None:
        test = evaluate(model, dataset.test_images, dataset.test_labels)
        model.metadata["test_accuracy"] = test.accuracy
        model.metadata["test_calibration_error"] = test.calibration_error
        print(f"test accuracy {test.accuracy:.2%}, calibration error {test.calibration_error:.2%}")
    save_model(model, args.out)
    print(f"{result.status} in {seconds:.0f} s; wrote {args.out}")


def print_evaluation(title: str, evaluation: Evaluation) -> None:
    print(
        f"{title}: accuracy {evaluation.accuracy:.2%} on {len(evaluation.labels)} images, "
        f"calibration error {evaluation.calibration_error:.2%}"
    )
    print(evaluation.report.round(4).to_string())
    print("confusion matrix (rows: true digit, columns: predicted):")
    print("     " + " ".join(f"{d:>5}" for d in range(10)))
    for digit, row in enumerate(evaluation.confusion):
        print(f"{digit:>5}" + " ".join(f"{count:>5}" for count in row))


def run_evaluate(args: argparse.Namespace) -> None:
    model = digitnet.load_model(args.weights)
    dataset = load_training_data(args)
    if args.split == "dev":
        _, _, images, labels = data.split_dev(
            dataset.images, dataset.labels, args.dev_size, args.seed
        )
    elif args.kaggle_train:
        images, labels = dataset.images, dataset.labels
    elif args.split == "drawn":
        from digitnet.drawn import drawn_test_set

        images, labels, _ = drawn_test_set(
            dataset.test_images, dataset.test_labels, n=args.drawn_count
        )
    else:
        images, labels = dataset.test_images, dataset.test_labels
    evaluation = evaluate(model, images, labels)
    print_evaluation(
        f"{model.metadata.get('name', 'model')} on {dataset.name} {args.split}", evaluation
    )
    if args.split == "drawn":
        print("still wrong, per true digit (predicted: count):")
        for digit in range(10):
            row = evaluation.confusion[digit]
            errors = ", ".join(f"{p}: {row[p]}" for p in np.argsort(-row) if p != digit and row[p])
            print(f"{digit}: {errors or 'none'}")


def run_predict(args: argparse.Namespace) -> None:
    try:
        raw = args.image.read_bytes()
    except OSError as error:
        raise DigitnetError(f"{args.image}: cannot read ({error.strerror})") from None
    image = preprocess.image_to_mnist(raw)
    if image is None:
        raise DigitnetError(f"{args.image}: no digit found (the image looks blank)")
    model = digitnet.load_model(args.weights)
    probabilities = model.predict_proba(image[None])[0]
    top = np.argsort(-probabilities)[:3]
    print(f"{args.image}: {top[0]}")
    for digit in top:
        print(f"  {digit}: {probabilities[digit]:.1%}")


def run_submit(args: argparse.Namespace) -> None:
    images, _ = data.read_kaggle_csv(args.test)
    model = digitnet.load_model(args.weights)
    labels = model.predict(data.to_float(images))
    data.write_submission(args.out, labels)
    print(f"wrote {len(labels)} predictions to {args.out}")


def run_download(args: argparse.Namespace) -> None:
    from digitnet.download import download_mnist

    print(f"MNIST is in {download_mnist(args.to)}")


def run_drawings(args: argparse.Namespace) -> None:
    from digitnet.drawings import DrawingStore, total

    store = DrawingStore()
    if args.action == "list":
        if args.each:
            print(f"{'id':>6} {'created':<29} label predicted source  session")
            for d in store.list():
                predicted = "-" if d.prediction is None else d.prediction
                when = f"{d.id:>6} {d.created:<29}"
                print(f"{when} {d.label:>5} {predicted:>9} {d.source:<7} {d.session}")
        counts = store.counts_by_digit()
        print(f"drawings in {store.path}")
        print("digit  drawings  predicted  right  accuracy")
        for digit, count in [*counts.items(), ("all", total(counts.values()))]:
            accuracy = "-" if count.accuracy is None else f"{count.accuracy:.1%}"
            numbers = f"{count.drawings:>9} {count.predicted:>10} {count.right:>6}"
            print(f"{digit:>5} {numbers} {accuracy:>9}")
    elif args.action == "export":
        print(f"wrote {store.export_csv(args.csv)} drawings to {args.csv}")
    elif args.action == "import":
        print(f"imported {store.import_csv(args.csv)} drawings into {store.path}")
    elif args.all:
        if not args.yes:
            everything = total(store.counts_by_digit().values()).drawings
            raise DigitnetError(
                f"delete --all would delete all {everything} drawings in {store.path}; "
                "add --yes to confirm"
            )
        print(f"deleted {store.delete_all()} drawings from {store.path}")
    else:
        print(f"deleted {store.delete(args.ids)} drawings from {store.path}")


COMMANDS = {
    "train": run_train,
    "evaluate": run_evaluate,
    "predict": run_predict,
    "submit": run_submit,
    "download": run_download,
    "drawings": run_drawings,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except DigitnetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): not an error worth a traceback
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (Python's recipe: no flush at exit)
        return 0
    return 0
