"""The command line: ``digitnet train | evaluate | predict | submit | download | drawings``.

Also ``python -m digitnet ...``. ``digitnet --help`` lists the commands, ``digitnet COMMAND
--help`` one command's flags.

Every user mistake (a bad file, a bad flag value) ends in one line on stderr and exit status 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

import digitnet
from digitnet.analysis.metrics import Evaluation, evaluate
from digitnet.data import mnist, preprocess
from digitnet.data.augment import AugmentConfig
from digitnet.data.negatives import NotDigits, held_out_negatives
from digitnet.data.pendigits import (
    DEFAULT_PEN_SHARE,
    PenDigits,
    find_pen_data,
    load_pen_data,
    pen_dev_set,
)
from digitnet.errors import DigitnetError
from digitnet.files import (
    DISK_FULL,
    atomic_path,
    check_folder,
    check_room,
    check_writable,
    why,
    write_lock,
)
from digitnet.images import NOT_A_DIGIT, to_float
from digitnet.network.model import Model
from digitnet.network.optim import OPTIMIZERS, SCHEDULES
from digitnet.network.spec import ACTIVATIONS, parse_spec
from digitnet.network.weights import save_model, spec_errors
from digitnet.reading import Reading, a_digit, verdicts
from digitnet.training.budget import estimate
from digitnet.training.card import card, dev_split
from digitnet.training.catalog import keep_elsewhere, load_named, weights_file_bytes
from digitnet.training.pipeline import Event, StageEvent, TrainingRun
from digitnet.training.sources import DEFAULT_NOT_DIGIT_SHARE, mixed_in
from digitnet.training.trainer import BatchEvent, TrainConfig

DEFAULTS = TrainConfig()
SPLITS = ("test", "dev", "drawn", "pen-dev", "mine", "not-digits")
# The splits whose errors are worth reading one digit at a time: drawings, not scans.
DRAWING_SPLITS = ("drawn", "pen-dev", "mine")
FIND_PEN_DATA = ""  # `--pen-data` without a folder: look in the usual places, then download
# A photo of one digit is a few MB at most; this keeps `predict /dev/zero` from reading forever.
PROGRESS_SECONDS = 0.25  # how often the bar is redrawn on a terminal
MNIST_TRAIN_DIGITS = 60_000  # in its training files, whose checksums are known
# `evaluate --split not-digits`: a model that reads a drawing that is no digit as a digit with at
# least these probabilities answers it with confidence (from 60% on, the Draw page shows the
# answer without its "not sure" note).
CONFIDENT = (0.6, 0.9)


class HelpFormat(argparse.ArgumentDefaultsHelpFormatter):
    """Every default in --help, except None and False: those flags' help says what happens."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


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
    parser = argparse.ArgumentParser(
        prog="digitnet",
        description="Handwritten digits with a from-scratch NumPy network: train one, score it, "
        "read images of digits, and get the data.",
        formatter_class=HelpFormat,
    )
    parser.add_argument("--version", action="version", version=digitnet.__version__)
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        title="commands",
        metavar="COMMAND",
        help="run 'digitnet COMMAND --help' for its flags",
    )

    def command(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        """A command: ``help`` is its line in ``digitnet --help`` (short enough for one line),
        ``description`` (default: the same) heads its own --help."""
        return commands.add_parser(
            name, help=help, description=description or help, formatter_class=HelpFormat
        )

    weights_help = "a .npz file, or a shipped or saved model's name (default: the shipped model)"
    add_train_flags(command("train", "train a network and save its weights"))
    evaluate_command = command("evaluate", "score a model: accuracy, per-digit scores, confusion")
    evaluate_command.add_argument("weights", nargs="?", help=weights_help)
    add_data_flags(evaluate_command)
    evaluate_command.add_argument(
        "--split",
        choices=SPLITS,
        default="test",
        help="test: MNIST's 10,000 test digits (scanned pen-on-paper digits by MNIST's writers); "
        "dev: the digits this model held out of training (size and seed from its card); "
        "drawn: MNIST test digits re-drawn as canvas strokes (MNIST's writers, the app's "
        "brush); pen-dev: digits by 6 tablet writers never trained on, drawn as canvas strokes "
        "(handwriting the model has not seen); mine: the drawings saved in the app "
        "($DIGITNET_DB), each with the digit its maker said it is; not-digits: drawings that "
        "are not digits (letters of unseen fonts, unseen symbols and shapes, scribbles, several "
        "and partial digits by unseen writers), how often the model reads them as a digit "
        "with confidence and how many its reading catches (unsure or not a digit); on digits, "
        "evaluate also says how many are called not a digit or unsure",
    )
    evaluate_command.add_argument(
        "--drawn-count", type=int, default=2000, help="how many drawn digits"
    )
    evaluate_command.add_argument(
        "--negative-count", type=int, default=1200, help="how many drawings for not-digits"
    )
    add_pen_flag(
        evaluate_command,
        "for --split pen-dev and not-digits (default: $DIGITNET_PEN_DATA, then the cache, then "
        "a download)",
    )

    predict = command(
        "predict",
        "read the digit in PNG or JPEG images",
        "read the digit in each PNG or JPEG image, one line each with the verdict: the digit "
        "and its probability, 'not sure' with the top two, or 'not a digit' and why (a file "
        "that cannot be read gets its one-line error on stderr, the others are still read, and "
        "the exit status is 2)",
    )
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="a PNG or JPEG")
    predict.add_argument("--weights", help=weights_help)

    submit = command("submit", "write a Kaggle submission")
    submit.add_argument("--test", type=Path, required=True, help="Kaggle test.csv")
    submit.add_argument("--out", type=Path, required=True, help="submission.csv to write")
    add_force_flag(submit, "--out")
    submit.add_argument("--weights", help=weights_help)

    download = command(
        "download",
        "get MNIST and the pen-drawn digits, if not found",
        "get MNIST and the pen-drawn digits (for --pen-data): says where each already is "
        "($DIGITNET_DATA and $DIGITNET_PEN_DATA, then the cache) and downloads into the cache "
        "only what is missing",
    )
    download.add_argument(
        "--to",
        type=Path,
        help="one folder for both, downloading what it lacks (default: where they are found, "
        "else the cache)",
    )

    drawings = command(
        "drawings",
        "the drawings saved in the app: list, export, import, delete",
        "the drawings saved in the app ($DIGITNET_DB): list, export, import, delete",
    )
    actions = drawings.add_subparsers(dest="action", required=True)
    list_command = actions.add_parser("list", help="drawings per digit, the model's accuracy")
    list_command.add_argument("--each", action="store_true", help="also one line per drawing")
    export = actions.add_parser("export", help="write them as a Kaggle train.csv")
    export.add_argument("csv", type=Path)
    add_force_flag(export, "CSV")
    import_command = actions.add_parser("import", help="add the rows of a Kaggle train.csv")
    import_command.add_argument("csv", type=Path)
    delete = actions.add_parser("delete", help="delete drawings by id, or all of them")
    for action in (list_command, export, delete):
        add_person_flag(action.add_mutually_exclusive_group())
    add_person_flag(import_command)
    which = delete.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--id", type=int, nargs="+", dest="ids", metavar="N", help="ids from 'list --each'"
    )
    which.add_argument(
        "--all", action="store_true", help="every drawing of the person (needs --yes)"
    )
    delete.add_argument("--yes", action="store_true", help="confirm --all")
    return parser


def add_person_flag(parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup) -> None:
    """--person NAME (whose drawings; default: the local person, a laptop's one person), and
    --everyone where the parser is a group for it."""
    parser.add_argument(
        "--person",
        metavar="NAME",
        help="whose drawings (default: local, the one person of the app alone on a laptop)",
    )
    if isinstance(parser, argparse._MutuallyExclusiveGroup):
        parser.add_argument("--everyone", action="store_true", help="everyone's drawings")


def drawings_person(args: argparse.Namespace) -> str | None:
    """Whose drawings a command is about: --person, the local person, or None (--everyone)."""
    from digitnet.data.collection.store import LOCAL_PERSON

    if getattr(args, "everyone", False):
        return None
    return getattr(args, "person", None) or LOCAL_PERSON


def add_train_flags(train: argparse.ArgumentParser) -> None:
    add_data_flags(train)
    train.add_argument("--arch", default="mlp", help="mlp, mlp:512,256, cnn, or a JSON spec")
    train.add_argument(
        "--activation", choices=ACTIVATIONS, help="hidden activation (default: the preset's)"
    )
    train.add_argument("--dropout", type=float, help="dropout rate (default: the preset's)")
    train.add_argument(
        "--init", choices=("he", "glorot"), help="weight initialisation (default: the preset's)"
    )
    train.add_argument("--epochs", type=int, default=DEFAULTS.epochs, help="passes over the data")
    train.add_argument(
        "--batch-size", type=int, default=DEFAULTS.batch_size, help="images per step"
    )
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=DEFAULTS.optimizer, help="update")
    train.add_argument("--lr", type=float, default=DEFAULTS.learning_rate, help="learning rate")
    train.add_argument("--momentum", type=float, default=DEFAULTS.momentum, help="sgd momentum")
    train.add_argument(
        "--weight-decay", type=float, default=DEFAULTS.weight_decay, help="L2 penalty"
    )
    train.add_argument("--schedule", choices=SCHEDULES, default=DEFAULTS.schedule, help="lr curve")
    train.add_argument("--step-size", type=int, default=DEFAULTS.step_size, help="epochs per step")
    train.add_argument("--gamma", type=float, default=DEFAULTS.gamma, help="factor per step")
    train.add_argument("--seed", type=int, default=DEFAULTS.seed, help="weights, split, batches")
    train.add_argument(
        "--dev-size", type=int, default=DEFAULTS.dev_size, help="images held out of training"
    )
    train.add_argument("--augment", action="store_true", help="augment batches on the fly")
    for field in fields(AugmentConfig):
        train.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=float,
            default=field.default,
            help="augmentation strength",
        )
    add_pen_flag(
        train,
        "to train also on the pen-train writers' digits (see --pen-share). On by default when "
        "found ($DIGITNET_PEN_DATA, then the cache); the flag without DIR also downloads it",
    )
    train.add_argument(
        "--no-pen-data", action="store_true", help="train on the images alone, without pen digits"
    )
    train.add_argument(
        "--pen-share",
        type=float,
        default=DEFAULT_PEN_SHARE,
        help="share of every batch that is pen digits, drawn on the fly with stroke augmentation",
    )
    train.add_argument(
        "--not-digit-share",
        type=float,
        default=DEFAULT_NOT_DIGIT_SHARE,
        help="share of every batch that is drawings that are not digits (letters, symbols, "
        "shapes, scribbles, several or partial digits), drawn like the pen digits and taught "
        "as the eleventh output; mixed in with the pen data, 0 for none",
    )
    train.add_argument("--out", type=Path, required=True, help="where to write the .npz")
    add_force_flag(train, "--out")
    train.add_argument("--name", help="a name for the model (default: the file's stem)")
    train.add_argument(
        "--fine-tune",
        metavar="MODEL",
        help="instead of a new network, fine-tune MODEL (a .npz, or a shipped or saved model's "
        "name) with --mine; --arch and the training flags do not apply, --seed and "
        "--pen-share do",
    )
    train.add_argument(
        "--mine",
        action="store_true",
        help="with --fine-tune: train on 60%% of the drawings saved in the app ($DIGITNET_DB), "
        "mixed with MNIST and pen digits, and report the other 40%% and MNIST test before and "
        "after",
    )
    add_person_flag(train)
    train.add_argument("--steps", type=int, help="fine-tuning steps (default: 300)")


def add_force_flag(parser: argparse.ArgumentParser, output: str) -> None:
    parser.add_argument(
        "--force", action="store_true", help=f"replace {output} if it is an existing file"
    )


def add_pen_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--pen-data",
        nargs="?",
        const=FIND_PEN_DATA,
        metavar="DIR",
        help=f"the folder (or file) holding pendigits-orig.tra[.gz], {what}",
    )


def pen_source(args: argparse.Namespace) -> PenDigits | None:
    """The pen-train digits to mix into training: on by default when the pen data is found
    (``--pen-data DIR``, $DIGITNET_PEN_DATA, the cache), downloaded when ``--pen-data`` is
    given bare; None with ``--no-pen-data`` or when the data is nowhere and not asked for."""
    if args.no_pen_data:
        return None
    given = None if args.pen_data in (None, FIND_PEN_DATA) else args.pen_data
    if find_pen_data(given) is None and args.pen_data is None:
        print("pen data not found: training on the images alone (--pen-data downloads it)")
        return None
    return PenDigits(load_pen_data(given))


def load_training_data(args: argparse.Namespace, purpose: str = "train") -> mnist.Dataset:
    """MNIST's training digits, or the --kaggle-train CSV; ``purpose`` ("train" or "score")
    words the refusal of a CSV without labels."""
    if args.kaggle_train:
        return mnist.load_dataset(args.kaggle_train, purpose=purpose)
    return mnist.load_dataset("mnist", path=args.data, purpose=purpose)


def output_of(args: argparse.Namespace) -> Path | None:
    """The file the command writes, None for a command that writes none."""
    if args.command in ("train", "submit"):
        return args.out
    if args.command == "drawings" and args.action == "export":
        return args.csv
    return None


def check_output(path: Path, replace: bool = False) -> None:
    """Refuses, before any work starts, an output that must not or cannot be written
    (``digitnet.files.check_writable``): the drawing collection, a link, a folder, a device,
    a FIFO, an existing file without --force, a folder that takes no new files."""
    from digitnet.data.collection.store import default_path

    check_writable(path, replace=replace, collection=default_path())


@contextmanager
def writing(path: Path | None, replace: bool) -> Iterator[None]:
    """Around a command that writes ``path``: checks it before any work and holds its lock until
    the command ends, so a second run writing the same file is refused at its start; a write
    that fails for a full disk is one line."""
    if path is None:
        yield
        return
    check_output(path, replace)
    try:
        with write_lock(path):
            yield
    except OSError as error:
        if error.errno not in DISK_FULL:
            raise
        raise DigitnetError(f"{path}: disk full; nothing was written") from None


def save_output(model: Model, args: argparse.Namespace) -> Path:
    """Writes the trained model to --out (never over a file that appeared there meanwhile,
    unless --force). A write that fails, for a full disk say, keeps the model elsewhere
    (``catalog.keep_elsewhere``) and says where, in one line: a finished training is never
    lost."""
    try:
        with atomic_path(args.out, replace=args.force) as temporary:
            save_model(model, temporary)
        return args.out
    except FileExistsError:
        problem = "a file appeared there during the training"
    except OSError as error:
        problem = why(error)
    try:
        kept = f"the trained model is in {keep_elsewhere(model, args.out.stem)} instead"
    except DigitnetError as error:
        kept = f"and {error}"
    raise DigitnetError(f"{args.out}: {problem}; nothing was written there, {kept}")


def arch_options(args: argparse.Namespace) -> dict[str, Any]:
    """The preset options given on the command line (--activation, --dropout, --init)."""
    given = (("activation", args.activation), ("dropout", args.dropout), ("init", args.init))
    return {key: value for key, value in given if value is not None}


def build_model(args: argparse.Namespace) -> Model:
    with spec_errors("--arch"):
        return Model(parse_spec(args.arch, **arch_options(args)), seed=args.seed)


def check_memory(args: argparse.Namespace, config: TrainConfig) -> None:
    """Refuses a training over the memory budget (DIGITNET_MEMORY_BUDGET) before its network is
    built or MNIST loaded, from the spec, the settings and MNIST's digit count. A --kaggle-train
    CSV's count is known once it is read: the training pipeline checks it then."""
    if args.kaggle_train:
        return
    with spec_errors("--arch"):
        spec = parse_spec(args.arch, **arch_options(args))
    dev_count = min(config.dev_size, MNIST_TRAIN_DIGITS)
    estimate(spec, config, MNIST_TRAIN_DIGITS - dev_count, dev_count).check()


def check_shares(args: argparse.Namespace) -> None:
    shares = {"--pen-share": args.pen_share, "--not-digit-share": args.not_digit_share}
    for flag, share in shares.items():
        if not 0 <= share < 1:
            raise DigitnetError(f"{flag} must be at least 0 and below 1, got {share}")
    if sum(shares.values()) >= 1:
        raise DigitnetError(
            "--pen-share and --not-digit-share leave no MNIST digits in a batch: together they "
            f"must be below 1, got {sum(shares.values()):g}"
        )


def train_config(args: argparse.Namespace, extra_share: float = 0.0) -> TrainConfig:
    augment = (
        AugmentConfig(**{f.name: getattr(args, f.name) for f in fields(AugmentConfig)})
        if args.augment
        else None
    )
    return TrainConfig(
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
        extra_share=extra_share,
    )


class Progress:
    """Training progress: on a terminal, a bar of batches on stderr redrawn a few times a
    second; either way one line per epoch on stdout, so a log gets exactly that."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.dev: dict[str, str] = {}  # the latest dev accuracy, shown beside the loss
        self.bar = tqdm(
            unit="batch",
            dynamic_ncols=True,
            mininterval=PROGRESS_SECONDS,
            delay=PROGRESS_SECONDS,  # nothing drawn before the first batch gives the total
            leave=False,
            disable=not sys.stderr.isatty(),
        )

    def __call__(self, event: Event) -> None:
        if isinstance(event, StageEvent):  # after the last batch: scoring, the card, saving
            self.bar.set_description(event.text)
            return
        if isinstance(event, BatchEvent):
            if self.bar.total is None:
                self.bar.total = self.epochs * event.batches_per_epoch
            self.bar.set_description(f"epoch {event.epoch + 1}/{self.epochs}", refresh=False)
            self.bar.set_postfix(
                loss=f"{event.loss:.4f}",
                **self.dev,
                speed=f"{event.samples_per_second:,.0f}/s",
                refresh=False,
            )
            self.bar.update()
            return
        dev = ""
        if event.dev_accuracy is not None:
            self.dev["dev"] = f"{event.dev_accuracy:.2%}"
            dev = f", dev {event.dev_accuracy:.2%}"
        self.bar.write(
            f"epoch {event.epoch + 1}: train loss {event.train_loss:.4f}, "
            f"train {event.train_accuracy:.2%}{dev} ({event.seconds:.1f} s)",
            file=sys.stdout,
        )

    def close(self) -> None:
        self.bar.close()


def run_fine_tune(args: argparse.Namespace) -> None:
    """``train --fine-tune MODEL --mine``: see ``digitnet.training.finetune``."""
    from digitnet.data.collection.store import DrawingStore
    from digitnet.training.finetune import FineTuneConfig, fine_tune, split_drawings

    if not (args.fine_tune and args.mine):
        raise DigitnetError("--fine-tune MODEL and --mine go together: give both")
    if args.kaggle_train:
        raise DigitnetError("--fine-tune mixes in MNIST and reports MNIST test: no --kaggle-train")
    steps = {} if args.steps is None else {"steps": args.steps}
    config = FineTuneConfig(**steps, pen_share=args.pen_share, seed=args.seed)
    train, held = split_drawings(DrawingStore(), config, person=drawings_person(args))
    base = load_named(args.fine_tune)
    check_room(args.out, weights_file_bytes(base))
    mnist_data, pen = mnist.load_dataset("mnist", path=args.data), pen_source(args)
    print(f"fine-tuning {card(base).name} on {len(train)} drawings, {len(held)} held back")
    save = partial(save_output, args=args)
    result = fine_tune(base, train, held, mnist_data, pen, config, name=args.name, save=save)
    print("\n".join(result.summary()))
    print(f"wrote {args.out}")


def run_train(args: argparse.Namespace) -> None:
    if args.fine_tune or args.mine:
        return run_fine_tune(args)
    if args.person:
        raise DigitnetError("--person is whose drawings --fine-tune MODEL --mine trains on")
    check_shares(args)
    config = train_config(args, args.pen_share + args.not_digit_share)  # all checked before
    check_memory(args, config)
    model = build_model(args)
    check_room(args.out, weights_file_bytes(model))
    dataset = load_training_data(args)
    pen = pen_source(args)
    not_digits = NotDigits(pen.data) if pen and model.knows_not_digit else None
    extra, share = mixed_in([(pen, args.pen_share), (not_digits, args.not_digit_share)])
    config = train_config(args, share)
    progress = Progress(config.epochs)
    run = TrainingRun(
        model,
        config,
        dataset,
        name=args.name or args.out.stem,
        architecture=args.arch,
        extra=extra,
        on_event=progress,
    )
    train_count, dev_count = len(run.split.train_labels), len(run.split.dev_labels)
    print(f"{model}; {train_count} training and {dev_count} dev images")
    if pen:
        print(
            f"plus pen digits by {len(set(pen.data.writers.tolist()))} writers "
            f"({len(pen.data.labels)} digits, drawn with stroke augmentation): "
            f"{round(args.pen_share * config.batch_size)} of every {config.batch_size}"
        )
    if not_digits and args.not_digit_share:
        print(
            "plus drawings that are not digits (letters, symbols, shapes, scribbles, several or "
            f"partial digits): {round(args.not_digit_share * config.batch_size)} of every "
            f"{config.batch_size}"
        )
    try:
        outcome = run.run(save=partial(save_output, args=args))
    finally:
        progress.close()
    if not outcome.usable:
        raise DigitnetError(f"{outcome.result.message} (now {args.lr}); no weights were written")
    if "test" in outcome.scores:
        test = outcome.scores["test"]
        print(f"test accuracy {test.accuracy:.2%}, calibration error {test.calibration_error:.2%}")
    print(f"{outcome.result.status} in {outcome.result.seconds:.0f} s; wrote {args.out}")


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


def evaluation_data(args: argparse.Namespace, model: Model) -> tuple[str, np.ndarray, np.ndarray]:
    """(data set name, images, labels) for ``--split``, loading only what it needs: the dev
    split is rebuilt from the model's card, the test and drawn splits read MNIST's test files,
    pen-dev the pen data, mine the saved drawings."""
    if args.split == "pen-dev":
        given = None if args.pen_data in (None, FIND_PEN_DATA) else args.pen_data
        return "pen digits", *pen_dev_set(load_pen_data(given))
    if args.split == "mine":
        from digitnet.data.collection.store import DrawingStore

        store = DrawingStore()
        images, labels = store.labelled_images(person=drawings_person(args))
        if len(labels) == 0:
            raise DigitnetError(
                f"no saved drawings in {store.where}: save some on the app's Draw page "
                "(or import a CSV with `digitnet drawings import`)"
            )
        return "saved drawings", images, labels
    if args.split == "dev" or args.kaggle_train:
        dataset = load_training_data(args, purpose="score")
        if args.split == "dev":
            return (dataset.name, *dev_split(model, dataset))
        return dataset.name, dataset.images, dataset.labels
    images, labels = mnist.load_mnist_test(args.data)
    if args.split == "drawn":
        from digitnet.data.drawn import drawn_test_set

        images, labels, _ = drawn_test_set(images, labels, n=args.drawn_count)
    return "MNIST", images, labels


def run_evaluate(args: argparse.Namespace) -> None:
    model = load_named(args.weights)
    if args.split == "not-digits":
        return run_not_digits(args, model)
    name, images, labels = evaluation_data(args, model)
    said_none = labels == NOT_A_DIGIT  # only saved drawings can be: their maker said so
    if not said_none.all():
        digits = images[~said_none]
        evaluation = evaluate(model, digits, labels[~said_none])
        print_evaluation(f"{card(model).name} on {name} {args.split}", evaluation)
        if args.split in DRAWING_SPLITS:
            print_errors(evaluation)
        print_verdicts(model, digits, evaluation)
    if said_none.any():
        said = verdicts(model, to_float(images[said_none]))
        caught = int((said != "digit").sum())
        print(
            f"saved as not a digit: {len(said)}; caught (called unsure or not a digit): "
            f"{caught} of {len(said)} ({caught / len(said):.2%})"
        )


def print_errors(evaluation: Evaluation) -> None:
    print("still wrong, per true digit (predicted: count):")
    for digit in range(10):
        row = evaluation.confusion[digit]
        errors = ", ".join(f"{p}: {row[p]}" for p in np.argsort(-row) if p != digit and row[p])
        print(f"{digit}: {errors or 'none'}")


def print_verdicts(model: Model, images: np.ndarray, evaluation: Evaluation) -> None:
    """What a person is told about these real digits (``digitnet.reading``, with the model's
    thresholds): how many are rejected as no digit, how many get "not sure", and the accuracy
    when a digit called "not a digit" counts as wrong."""
    said = verdicts(model, to_float(images))
    total = len(said)
    for verdict, words in (("not a digit", "called not a digit"), ("unsure", "called unsure")):
        count = int((said == verdict).sum())
        print(f"{words}: {count} of {total} ({count / total:.2%})")
    right = (evaluation.predictions == evaluation.labels) & (said != "not a digit")
    print(f"accuracy, a digit called not a digit counting as wrong: {right.mean():.2%}")


def run_not_digits(args: argparse.Namespace, model: Model) -> None:
    """``evaluate --split not-digits``: per kind of held-out drawing that is not a digit, the
    share the model reads as a digit with a probability of at least each of CONFIDENT (its top
    digit's probability, what the page showed before verdicts), the share the reading catches
    (``digitnet.reading``: called unsure or not a digit, so not a digit with confidence) and
    the share it calls not a digit, and the digit it reads most often."""
    if args.negative_count < 1:
        raise DigitnetError(f"--negative-count must be at least 1, got {args.negative_count}")
    given = None if args.pen_data in (None, FIND_PEN_DATA) else args.pen_data
    held = held_out_negatives(args.negative_count, data=load_pen_data(given))
    digits = model.predict_proba(held.images)
    sure, read_as, kinds = digits.max(axis=1), digits.argmax(axis=1), np.array(held.kinds)
    said = verdicts(model, held.images)
    print(
        f"{card(model).name} on {len(kinds)} held-out drawings that are not digits: the share "
        "read as a digit with confidence, caught (called unsure or not a digit) and rejected "
        "(called not a digit)"
    )
    thresholds = " ".join(f"{f'>= {c:.0%}':>7}" for c in CONFIDENT)
    print(f"{'kind':<16} {'drawings':>8} {thresholds}  {'caught':>7} {'rejected':>8}  most often")
    for kind in [*dict.fromkeys(held.kinds), "all"]:
        chosen = kinds == kind if kind != "all" else np.ones(len(kinds), bool)
        shares = " ".join(f"{(sure[chosen] >= c).mean():>7.1%}" for c in CONFIDENT)
        caught, rejected = said[chosen] != "digit", said[chosen] == "not a digit"
        digit = np.bincount(read_as[chosen], minlength=10).argmax()
        often = f"{digit} ({(read_as[chosen] == digit).mean():.0%})"
        caught_shares = f"{caught.mean():>7.1%} {rejected.mean():>8.1%}"
        print(f"{kind:<16} {chosen.sum():>8} {shares}  {caught_shares}  {often}")


def read_image(path: Path, model: Model) -> Reading:
    """What ``model`` reads in a PNG or JPEG file (``digitnet.read_image``); errors name the
    file as the user typed it."""
    raw = preprocess.read_image_file(path)
    try:
        with warnings.catch_warnings():  # a huge image is preprocess's to refuse, in one line
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            Image.open(io.BytesIO(raw))  # identifies the format from the header; decodes nothing
    except UnidentifiedImageError:
        raise DigitnetError(f"{path}: not a readable PNG or JPEG image") from None
    except (OSError, ValueError, Image.DecompressionBombError):
        pass  # recognised: preprocess decodes it, or refuses it with its own reason
    try:
        return digitnet.read_image(raw, model)
    except DigitnetError as error:
        raise DigitnetError(f"{path}: {str(error).removeprefix('upload ')}") from None


def run_predict(args: argparse.Namespace) -> int:
    """One line per image with the verdict (``verdict_line``). An image that cannot be read
    gets its one-line error on stderr and the others are still read; exit status 2 if any
    failed."""
    model = load_named(args.weights)
    failed = 0
    for path in args.images:
        try:
            reading = read_image(path, model)
        except DigitnetError as error:
            failed += 1
            sys.stdout.flush()  # the error lands after the lines before it, even in one pipe
            print(f"error: {error}", file=sys.stderr)
            continue
        print(f"{path}: {verdict_line(reading)}")
    return 2 if failed else 0


def verdict_line(reading: Reading) -> str:
    """``7 (97.1%)``; ``not sure: 4 (55.0%) or 9 (40.0%)``, and why when it is not those two
    (``; might not be a digit; a 4?``); ``not a digit (looks like several marks side by
    side)``."""
    if reading.verdict == "not a digit":
        return f"not a digit ({reading.reason})"
    first, second = reading.digit, reading.runner_up
    shares = reading.probabilities
    if reading.verdict == "digit":
        return f"{first} ({shares[first]:.1%})"
    line = f"not sure: {first} ({shares[first]:.1%}) or {second} ({shares[second]:.1%})"
    if reading.reason == f"{a_digit(first)} or {a_digit(second)}?":  # the line says it already
        return line
    return f"{line}; {reading.reason}"


def run_submit(args: argparse.Namespace) -> None:
    images, _ = mnist.read_kaggle_csv(args.test)
    model = load_named(args.weights)
    labels = model.predict(to_float(images))
    mnist.write_submission(args.out, labels)
    print(f"wrote {len(labels)} predictions to {args.out}")


def run_download(args: argparse.Namespace) -> None:
    """MNIST and the pen digits where digitnet looks for them, each downloaded only if missing:
    data found through $DIGITNET_DATA or $DIGITNET_PEN_DATA are left where they are, else the
    cache gets what it lacks (``--to DIR``: DIR does). Ends with one line each saying where."""
    from digitnet.data.cache import mnist_cache_dir
    from digitnet.data.download import MNIST_FILES, download_mnist
    from digitnet.data.pendigits import PEN_ENV, PEN_FILE, download_pen_data, pen_cache_dir

    if args.to is not None:
        check_folder(args.to)
    if args.to is None and (found := found_through(mnist.DATA_ENV, mnist.find_mnist)):
        folder, where = found, f" (${mnist.DATA_ENV}): nothing to download"
    else:
        folder = args.to or mnist_cache_dir()
        missing = [name for name in MNIST_FILES if not has_mnist_file(folder, name)]
        where = download_note(args.to, bool(missing))
        if missing:
            print(f"downloading {', '.join(missing)} into {folder}")
            download_mnist(folder, files=missing)
    lines = [f"MNIST is in {folder}{where}"]
    if args.to is None and (found := found_through(PEN_ENV, find_pen_data)):
        folder, where = found.parent, f" (${PEN_ENV}): nothing to download"
    else:
        folder = args.to or pen_cache_dir()
        missing = not has_pen_file(folder)
        where = download_note(args.to, missing)
        if missing:
            print(f"downloading {PEN_FILE} into {folder}")
            download_pen_data(folder)
    lines.append(f"the pen-drawn digits are in {folder}{where}")
    print("\n".join(lines))


def found_through(variable: str, find: Callable[[], Path | None]) -> Path | None:
    """What ``find`` finds when the environment ``variable`` is set, else None. Set, it must
    point at the data: an error names what is missing, never a download somewhere else."""
    if not os.environ.get(variable):
        return None
    try:
        return find()
    except DigitnetError as error:
        raise DigitnetError(f"{error} (or unset {variable} to download into the cache)") from None


def download_note(to: Path | None, downloaded: bool) -> str:
    """What follows "... is in FOLDER" when ``to`` or the cache was filled in."""
    return ("" if to else " (the cache)") + ("" if downloaded else ": nothing to download")


def has_mnist_file(folder: Path, name: str) -> bool:
    try:
        return mnist.find_mnist(folder, files=(name,)) is not None
    except DigitnetError:
        return False


def has_pen_file(folder: Path) -> bool:
    try:
        return find_pen_data(folder) is not None
    except DigitnetError:
        return False


def run_drawings(args: argparse.Namespace) -> None:
    from digitnet.data.collection.store import DrawingStore, total

    store, person = DrawingStore(), drawings_person(args)
    whose = store.whose(person)
    if args.action == "list":
        if args.each:
            print(f"{'id':>6} {'created':<29} label predicted source  shared person  session")
            for d in store.list(person=person):
                predicted = "-" if d.prediction is None else d.prediction
                when = f"{d.id:>6} {d.created:<29}"
                shared = "yes" if d.shared else "no"
                print(
                    f"{when} {d.label:>5} {predicted:>9} {d.source:<7} {shared:<6} {d.person} "
                    f"{d.session}"
                )
        counts = store.counts_by_digit(person=person)
        print(f"drawings {whose}")
        print("digit  drawings  predicted  right  accuracy")
        for digit, count in [*counts.items(), ("all", total(counts.values()))]:
            accuracy = "-" if count.accuracy is None else f"{count.accuracy:.1%}"
            numbers = f"{count.drawings:>9} {count.predicted:>10} {count.right:>6}"
            print(f"{digit:>5} {numbers} {accuracy:>9}")
    elif args.action == "export":
        print(f"wrote {store.export_csv(args.csv, person=person)} drawings to {args.csv}")
    elif args.action == "import":
        imported = store.import_csv(args.csv, person=person)
        print(f"imported {imported.added} drawings {whose}{imported.skipped_note}")
    elif args.all:
        if not args.yes:
            everything = total(store.counts_by_digit(person=person).values()).drawings
            raise DigitnetError(
                f"delete --all would delete all {everything} drawings {whose}; add --yes to confirm"
            )
        print(f"deleted {store.delete_all(person=person)} drawings {whose}")
    else:
        print(f"deleted {store.delete(args.ids, person=person)} drawings {whose}")


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
        with writing(output_of(args), getattr(args, "force", False)):
            status = COMMANDS[args.command](args)  # None, or the status of a command that goes on
    except DigitnetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): not an error worth a traceback
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (Python's recipe: no flush at exit)
        return 0
    return status or 0
