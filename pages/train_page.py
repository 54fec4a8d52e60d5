"""Train: choose the data, the network and every knob of the training, then watch it learn.

The training runs in a background thread (digitnet.training.jobs.TrainingJob) that never touches the
page; a fragment polls it every POLL_SECONDS and redraws the live view. Polling is also what
keeps the job alive: leave the page or close the tab, and its idle watchdog stops it.
"""

from __future__ import annotations

import time
from dataclasses import fields, replace

import numpy as np
import pandas as pd
import streamlit as st

from digitnet import DigitnetError, Model
from digitnet.data.augment import LIMITS, AugmentConfig, preview
from digitnet.data.mnist import Dataset
from digitnet.data.negatives import NotDigits
from digitnet.data.pendigits import DEFAULT_PEN_SHARE, PenDigits
from digitnet.network.optim import OPTIMIZERS, SCHEDULES
from digitnet.network.spec import ACTIVATIONS, cnn_spec, mlp_spec, parse_sizes
from digitnet.training import catalog
from digitnet.training.budget import estimate, show_bytes
from digitnet.training.card import card
from digitnet.training.catalog import model_bytes, sanitize_name, save_user_model
from digitnet.training.finetune import MyDrawings
from digitnet.training.jobs import JobProgress, TrainingJob, TrainingLimit
from digitnet.training.pipeline import Split, TrainingRun
from digitnet.training.sources import DEFAULT_NOT_DIGIT_SHARE, mixed_in
from digitnet.training.trainer import DigitSource, TrainConfig, TrainResult
from pages.common.caches import cached_float_split
from pages.common.collection import collection
from pages.common.data import MNIST_NAME, datasets
from pages.common.finetune import fine_tune_section, pen_digits
from pages.common.models import SESSION_SUFFIX, add_session_model, select_saved
from pages.common.people import me, training_limit
from pages.common.pictures import curves_chart, enlarge, first_layer_weights, tile
from pages.common.server import server
from pages.common.through_training import through_training

POLL_SECONDS = 1.0
SMOOTHING = 0.9  # weight of the past in the batch loss's moving average
MAX_POINTS = 400  # batch-loss points drawn; more are thinned out
WEIGHT_MAPS = 16
JOB = "train_job"
ERROR = "train_error"
DONE = "train_done"  # (job, sidebar label, .npz bytes) once a job's end has been handled
TAKEN = "train_name_taken"  # the name a Save found taken, until Replace or another name
ACTIVE = ("running", "paused")
PEN_CHOICE = f"{MNIST_NAME} + pen drawings"
CLASS_CHOICE = f"{PEN_CHOICE} + the class's drawings"  # a teacher's class model
DEFAULT_CLASS_SHARE = 0.25  # of every batch: as fine-tuning gives a person's drawings
DEFAULTS = TrainConfig()


def network_settings(disabled: bool) -> tuple[dict, str]:
    """The network's spec and a short name for it; DigitnetError for sizes that are not
    numbers."""
    kind = st.radio("Network", ["mlp", "cnn"], horizontal=True, key="train_kind", disabled=disabled)
    if kind == "mlp":
        hidden_text = st.text_input(
            "Hidden layer sizes", "256,128", key="train_hidden", disabled=disabled
        )
    else:
        filters_text = st.text_input(
            "Convolution filters", "16,32", key="train_filters", disabled=disabled
        )
        hidden_text = st.text_input(
            "Dense layer sizes", "128", key="train_cnn_hidden", disabled=disabled
        )
        kernel = st.select_slider("Kernel", [3, 5], 5, key="train_kernel", disabled=disabled)
        batchnorm = st.checkbox("Batch normalisation", key="train_batchnorm", disabled=disabled)
    activation = st.selectbox("Activation", ACTIVATIONS, key="train_activation", disabled=disabled)
    dropout = st.slider("Dropout", 0.0, 0.8, 0.0, 0.05, key="train_dropout", disabled=disabled)
    hidden = parse_sizes(hidden_text, "hidden layer sizes")
    if kind == "mlp":
        return mlp_spec(hidden, activation, dropout), f"mlp {','.join(map(str, hidden))}"
    filters = parse_sizes(filters_text, "convolution filters")
    spec = cnn_spec(
        filters, hidden, kernel, activation=activation, dropout=dropout, batchnorm=batchnorm
    )
    return spec, f"cnn {','.join(map(str, filters))}"


def learning_rate_input(label: str, value: float, key: str, **options) -> float:
    """The learning rate's box, before training and during it."""
    rate = st.number_input(label, 1e-6, 100.0, value, format="%.5f", step=1e-4, key=key, **options)
    return float(rate)


def optimizer_widgets(disabled: bool) -> dict:
    """The optimizer and its step: TrainConfig's optimizer, learning_rate, momentum and
    weight_decay."""
    optimizer = st.selectbox(
        "Optimizer",
        OPTIMIZERS,
        OPTIMIZERS.index(DEFAULTS.optimizer),
        key="train_optimizer",
        disabled=disabled,
    )
    learning_rate = learning_rate_input(
        "Learning rate", DEFAULTS.learning_rate, key="train_lr", disabled=disabled
    )
    momentum = st.slider(
        "Momentum",
        0.0,
        0.99,
        DEFAULTS.momentum,
        0.01,
        key="train_momentum",
        disabled=disabled or optimizer != "momentum",
    )
    weight_decay = st.number_input(
        "Weight decay (L2)",
        0.0,
        1.0,
        DEFAULTS.weight_decay,
        format="%.5f",
        step=1e-4,
        key="train_decay",
        disabled=disabled,
    )
    return dict(
        optimizer=optimizer,
        learning_rate=learning_rate,
        momentum=float(momentum),
        weight_decay=float(weight_decay),
    )


def schedule_widgets(disabled: bool) -> dict:
    """How the learning rate changes: TrainConfig's schedule, step_size and gamma."""
    schedule = st.selectbox(
        "Schedule",
        SCHEDULES,
        SCHEDULES.index(DEFAULTS.schedule),
        key="train_schedule",
        disabled=disabled,
    )
    stepped = schedule == "step"
    step_size = st.number_input(
        "Step every (epochs)",
        1,
        100,
        DEFAULTS.step_size,
        key="train_step_size",
        disabled=disabled or not stepped,
    )
    gamma = st.number_input(
        "Step factor",
        0.01,
        1.0,
        DEFAULTS.gamma,
        0.05,
        key="train_gamma",
        disabled=disabled or not stepped,
    )
    return dict(schedule=schedule, step_size=int(step_size), gamma=float(gamma))


def batch_size_widget(disabled: bool) -> dict:
    batch_size = st.select_slider(
        "Batch size",
        [16, 32, 64, 128, 256, 512, 1024],
        DEFAULTS.batch_size,
        key="train_batch",
        disabled=disabled,
    )
    return dict(batch_size=int(batch_size))


def run_widgets(disabled: bool, training_size: int) -> dict:
    """How long, on what, from where: TrainConfig's epochs, dev_size and seed."""
    epochs_column, dev_column, seed_column = st.columns(3)
    epochs = epochs_column.number_input("Epochs", 1, 100, 3, key="train_epochs", disabled=disabled)
    dev_size = dev_column.number_input(
        "Dev size",
        0,
        max(training_size - 1, 0),
        min(DEFAULTS.dev_size, training_size // 5),
        step=500,
        key="train_dev_size",
        disabled=disabled,
        help="Digits held out of training to measure it honestly and pick the best epoch.",
    )
    seed = seed_column.number_input(
        "Seed", 0, 2**31 - 1, DEFAULTS.seed, key="train_seed", disabled=disabled
    )
    return dict(epochs=int(epochs), dev_size=int(dev_size), seed=int(seed))


def training_settings(disabled: bool, training_size: int) -> TrainConfig:
    """The Optimizer tab: its widgets, laid out in two columns, then one TrainConfig."""
    first, second = st.columns(2)
    with first:
        optimizer = optimizer_widgets(disabled)
    with second:
        schedule = schedule_widgets(disabled)
        batch = batch_size_widget(disabled)
    run = run_widgets(disabled, training_size)
    return TrainConfig(**optimizer, **schedule, **batch, **run)


def augment_settings(disabled: bool, examples: np.ndarray) -> AugmentConfig | None:
    enabled = st.toggle("Augment the training digits", key="train_augment", disabled=disabled)
    if not enabled:
        return None
    defaults = AugmentConfig()
    values = {}
    columns = st.columns(2)
    for index, field in enumerate(fields(AugmentConfig)):
        unit, limit = LIMITS[field.name]
        default = getattr(defaults, field.name)
        values[field.name] = columns[index % 2].slider(
            field.name.replace("_", " ").capitalize(),
            0.0,
            float(limit),
            float(default),
            float(limit) / 100,
            key=f"train_augment_{field.name}",
            help=unit,
            disabled=disabled,
        )
    config = AugmentConfig(**values)
    st.caption("What training sees: each row is a digit (left) and seven augmented copies.")
    picture = tile(preview(examples, config, seed=0), columns=8)
    st.image(
        enlarge(picture, 3),
        width="stretch",
        output_format="PNG",
        alt="Training digits in rows, each followed by seven augmented copies of it",
    )
    return config


def start_training(
    model: Model,
    config: TrainConfig,
    dataset: Dataset,
    name: str,
    limit: TrainingLimit,
    extra: DigitSource | None,
    memory_budget: int,
) -> None:
    """The Start button's callback: starts the training pipeline in a job, or keeps the reason
    it cannot. ``extra`` (pen drawings) supplies ``config.extra_share`` of every batch;
    ``memory_budget``: the bytes a training may use on this server."""
    st.session_state.pop(ERROR, None)
    current = st.session_state.get(JOB)
    if current is not None and current.running:  # a second click before the page redrew
        return
    try:
        split = Split(*cached_float_split(dataset.checksum, config.dev_size, config.seed, dataset))
        run = TrainingRun(
            model,
            config,
            dataset,
            name=f"{name} {time.strftime('%H:%M:%S')}",
            architecture=name,
            split=split,
            extra=extra,
            memory_budget=memory_budget,
        )
        job = TrainingJob(run, limit=limit)
        job.start()
    except DigitnetError as error:
        st.session_state[ERROR] = str(error)
        return
    st.session_state[JOB] = job


def smoothed(losses: list[float]) -> dict[str, list[float]]:
    """The batch losses (thinned out to MAX_POINTS) and their exponential moving average."""
    average = pd.Series(losses).ewm(alpha=1 - SMOOTHING).mean().tolist()
    step = max(1, len(losses) // MAX_POINTS)
    return {
        name: [None if i % step else value for i, value in enumerate(values)]
        for name, values in (("each batch", losses), ("average", average))
    }


def progress_text(progress: JobProgress) -> str:
    latest = progress.latest
    if latest is None:
        return "Starting..."
    if progress.stage is not None and progress.status == "running":
        return progress.stage.text  # the batches are done: scoring, the card
    # A time left only while it runs: a stopped or finished training has none.
    eta = f"ETA {latest.eta_seconds:,.0f} s · " if progress.status == "running" else ""
    return (
        f"{progress.status} · epoch {latest.epoch + 1}, batch {latest.batch + 1}/"
        f"{latest.batches_per_epoch} · {latest.samples_per_second:,.0f} samples/s · "
        f"{eta}learning rate {latest.learning_rate:.2g}"
    )


def show_curves(job: TrainingJob, progress: JobProgress) -> None:
    done = progress.latest.progress if progress.latest else 0.0
    st.progress(min(done, 1.0), text=progress_text(progress))
    epochs = progress.epochs
    batch_loss, accuracy = st.columns(2)
    epoch_loss, weights = st.columns(2)
    batch_loss.markdown("**Loss per batch**")
    if progress.batch_losses:
        chart = curves_chart(
            smoothed(progress.batch_losses),
            "batch",
            "loss",
            points=False,
            colours=("#c6d4e6", "#1f77b4"),
        )
        batch_loss.vega_lite_chart(spec=chart, width="stretch")
    accuracy.markdown("**Accuracy per epoch**")
    epoch_loss.markdown("**Loss per epoch**")
    if epochs:
        chart = curves_chart(
            {"train": [e.train_accuracy for e in epochs], "dev": [e.dev_accuracy for e in epochs]},
            "epoch",
            "accuracy",
            percent=True,
        )
        accuracy.vega_lite_chart(spec=chart, width="stretch")
        chart = curves_chart(
            {"train": [e.train_loss for e in epochs], "dev": [e.dev_loss for e in epochs]},
            "epoch",
            "loss",
        )
        epoch_loss.vega_lite_chart(spec=chart, width="stretch")
    else:
        accuracy.caption("After the first epoch.")
        epoch_loss.caption("After the first epoch.")
    maps = first_layer_weights(job.model.layers, WEIGHT_MAPS)
    if maps is not None:
        weights.markdown("**First layer's weights** (white: positive, black: negative)")
        picture = tile(enlarge(maps, max(2, 84 // maps.shape[1])), columns=4, background=255)
        weights.image(
            picture,
            width="stretch",
            output_format="PNG",
            alt=f"{len(maps)} of the first layer's weights as pictures",
        )
    through_training(job)


def live_controls(job: TrainingJob, progress: JobProgress) -> None:
    pause, stop, rate = st.columns([1, 1, 2], vertical_alignment="bottom")
    if progress.status == "running":
        pause.button("Pause", on_click=job.pause, icon=":material/pause:", key="train_pause")
    else:
        pause.button(
            "Resume", on_click=job.resume, icon=":material/play_arrow:", key="train_resume"
        )
    stop.button("Stop", on_click=job.stop, icon=":material/stop:", key="train_stop")
    with rate:
        learning_rate_input(
            "Learning rate now",
            job.trainer.base_learning_rate,
            key="train_live_lr",
            on_change=change_rate,
            args=(job,),
        )


def change_rate(job: TrainingJob) -> None:
    try:
        job.set_learning_rate(float(st.session_state["train_live_lr"]))
    except DigitnetError as error:
        st.session_state[ERROR] = str(error)


@st.fragment(run_every=POLL_SECONDS)
def live_view() -> None:
    """Redrawn every POLL_SECONDS while the job runs; a full rerun once it ends."""
    job: TrainingJob = st.session_state[JOB]
    job.touch()
    progress = job.progress()
    if progress.status not in ACTIVE:
        st.rerun()
    if ERROR in st.session_state:
        st.error(st.session_state.pop(ERROR))
    live_controls(job, progress)
    show_curves(job, progress)


def outcome(job: TrainingJob) -> None:
    """What a finished, stopped, diverged or failed training leaves: the message, the curves,
    and for a usable model: save it, use it, download it."""
    progress = job.progress()
    if progress.status == "failed":
        st.error(progress.error)
        return
    result = progress.result
    if progress.status == "diverged":
        st.error(f"Training {result.message}.")
        show_curves(job, progress)
        return
    if st.session_state.get(DONE, (None,))[0] is not job:
        label = add_session_model(job.model, job.run.name)
        st.session_state[DONE] = (job, label, model_bytes(job.model))
        st.rerun()  # to show it in the sidebar
    st.success(f"Training {result.status} in {result.seconds:.1f} s{scores(result, job.model)}.")
    _, label, payload = st.session_state[DONE]
    st.caption(f"It is selected in the sidebar as **{label}**, for the other pages too.")
    keep_or_download(job.model, file_stem(label.removesuffix(SESSION_SUFFIX)), payload)
    show_curves(job, progress)


def scores(result: TrainResult, model: Model) -> str:
    """The best dev accuracy and the test accuracy (from the card), as the end of a sentence."""
    shown = []
    if result.best_dev_accuracy is not None:
        shown.append(
            f"best dev accuracy {result.best_dev_accuracy:.2%} (epoch {result.best_epoch + 1})"
        )
    test = card(model).metrics.get("test")
    if test is not None:
        shown.append(f"test accuracy {test.accuracy:.2%}")
    return f": {', '.join(shown)}" if shown else ""


def file_stem(name: str, fallback: str = "model") -> str:
    """``name`` made safe for a file name, or ``fallback`` when nothing of it is usable (the
    default name and the download's file name must never fail)."""
    try:
        return sanitize_name(name)
    except DigitnetError:
        return fallback


def keep_or_download(model: Model, default_name: str, payload: bytes) -> None:
    """Save under a name (asking before it replaces another model), and Download. A name that
    cannot be used gets one line; the result stays on the page."""
    name = st.text_input("Model name", default_name, key="train_save_name")
    save_column, download_column = st.columns(2)
    if save_column.button("Save", icon=":material/save:", key="train_save"):
        save(model, name, overwrite=False)
    if st.session_state.get(TAKEN) == name:
        st.warning(f"A model called {file_stem(name)} is already saved: replace it?")
        if st.button("Replace", icon=":material/published_with_changes:", key="train_replace"):
            save(model, name, overwrite=True)
    download_column.download_button(
        "Download .npz",
        payload,
        file_name=f"{file_stem(name, default_name)}.npz",
        mime="application/octet-stream",
        icon=":material/download:",
        on_click="ignore",
    )


def save(model: Model, name: str, overwrite: bool) -> None:
    """Saves and selects the saved model; a taken name is kept to ask about (TAKEN), any other
    refusal is shown in one line."""
    try:
        path = save_user_model(model, name, overwrite=overwrite)
    except catalog.NameTaken:
        st.session_state[TAKEN] = name
        return
    except DigitnetError as error:
        st.error(str(error))
        return
    st.session_state.pop(TAKEN, None)
    select_saved(path)
    st.rerun()


def pen_share(pen: PenDigits, disabled: bool) -> float:
    """The slider for the share of every batch drawn from the pen-train writers' digits."""
    share = st.slider(
        "Pen drawings in every batch",
        0.05,
        0.5,
        DEFAULT_PEN_SHARE,
        0.025,
        format="percent",
        key="train_pen_share",
        disabled=disabled,
        help="Digits by the pen-train writers, drawn on the fly as canvas drawings with stroke "
        "augmentation: handwriting styles MNIST barely has. An epoch is still one pass over "
        "MNIST's images.",
    )
    writers = len(set(pen.data.writers.tolist()))
    st.caption(f"Pen drawings: {len(pen.data.labels):,} digits by {writers} writers.")
    return float(share)


def not_digits(pen: PenDigits, disabled: bool) -> tuple[NotDigits, float]:
    """Drawings that are not digits, for the eleventh output, and their share of every batch."""
    share = st.slider(
        "Drawings that are not digits in every batch",
        0.0,
        0.3,
        DEFAULT_NOT_DIGIT_SHARE,
        0.025,
        format="percent",
        key="train_not_digit_share",
        disabled=disabled,
        help="Letters, symbols, shapes, scribbles, several digits side by side and parts of "
        "digits, drawn like the pen digits: the network learns to answer 'not a digit' for "
        "them instead of its likeliest digit. 0: none.",
    )
    return NotDigits(pen.data), float(share)


def class_digits(pen: PenDigits, disabled: bool) -> tuple[DigitSource | None, float]:
    """A class model's extra digits: pen drawings and the drawings people shared with the class
    (redrawn with stroke augmentation, as fine-tuning does), each a share of every batch; (None,
    0) when nobody has shared any, said in one line. A model saved from it is everyone's to
    pick."""
    pens = pen_share(pen, disabled)
    try:
        shared = collection().list(person=None, shared_only=True)
        drawings = MyDrawings(shared) if shared else None
    except DigitnetError as error:
        st.warning(str(error))
        return None, 0.0
    if drawings is None:
        st.info("Nobody has shared a drawing with the class yet (My drawings' switch).")
        return None, 0.0
    drawings.name = "the class's drawings"
    share = st.slider(
        "The class's drawings in every batch",
        0.05,
        0.5,
        DEFAULT_CLASS_SHARE,
        0.025,
        format="percent",
        key="train_class_share",
        disabled=disabled,
        help="What people shared on My drawings (and a teacher did not remove), each drawn "
        "again with a new hand every time it is picked.",
    )
    people = len({d.person for d in shared})
    st.caption(
        f"The class's drawings: {len(drawings.labels):,} shared by {people} "
        f"{'person' if people == 1 else 'people'}. Save the model when it is trained: every "
        "one on this server can pick it in the sidebar."
    )
    return mixed_in([(pen, pens), (drawings, share)])


def settings_column(available: dict[str, Dataset], running: bool, limit: TrainingLimit) -> None:
    """The data, the three tabs of settings, and Start (disabled while a job runs, when the
    settings make no network, or when its training would need more memory than a training may
    use on this server), with the network's size and the memory its training needs."""
    pen = pen_digits() if MNIST_NAME in available else None
    choices = list(available)
    if pen is not None:
        choices.insert(choices.index(MNIST_NAME) + 1, PEN_CHOICE)
        if me().teacher:
            choices.insert(choices.index(PEN_CHOICE) + 1, CLASS_CHOICE)
    data_name = st.radio("Data", choices, horizontal=True, key="train_data", disabled=running)
    dataset = available[MNIST_NAME if data_name in (PEN_CHOICE, CLASS_CHOICE) else data_name]
    st.caption(f"{len(dataset.images):,} labelled digits from {dataset.source}")
    share, extra = (pen_share(pen, running), pen) if data_name == PEN_CHOICE else (0.0, None)
    if data_name == CLASS_CHOICE:
        extra, share = class_digits(pen, running)
    if extra is not None:
        extra, share = mixed_in([(extra, share), not_digits(pen, running)])
    network_tab, optimizer_tab, augment_tab = st.tabs(["Network", "Optimizer", "Augmentation"])
    with optimizer_tab:
        config = replace(training_settings(running, len(dataset.images)), extra_share=share)
    spec = name = None
    with network_tab:
        try:
            spec, name = network_settings(running)
        except DigitnetError as error:
            st.error(str(error))
    with augment_tab:
        try:
            config.augment = augment_settings(running, dataset.images[:4])
        except DigitnetError as error:
            st.error(str(error))
            spec = None
    budget = server().memory_budget
    model = needs = reason = None
    if spec is not None:
        try:
            needs = estimate(spec, config, len(dataset.images) - config.dev_size, config.dev_size)
            reason = needs.refusal(budget)
            # Built within the budget only; building checks the shapes: 16,32,64 filters do not fit.
            model = None if reason else Model(spec, seed=config.seed)
        except DigitnetError as error:
            network_tab.error(str(error))
    st.button(
        "Start",
        type="primary",
        icon=":material/play_arrow:",
        disabled=running or model is None or (data_name == CLASS_CHOICE and extra is None),
        on_click=start_training,
        args=(model, config, dataset, name, limit, extra, budget),
        key="train_start",
    )
    if reason is not None:
        st.error(reason)
    if needs is not None:
        st.caption(f"{needs.parameters:,} parameters · about {show_bytes(needs.bytes)} to train")


def render(limit: TrainingLimit) -> None:
    st.title("Train a network")
    job: TrainingJob | None = st.session_state.get(JOB)
    running = job is not None and job.progress().status in ACTIVE
    available = datasets("train")
    if not available:
        return
    fine_tune_section(limit)
    settings, view = st.columns([2, 3], gap="large")
    with settings:
        settings_column(available, running, limit)
    with view:
        if ERROR in st.session_state:
            st.error(st.session_state.pop(ERROR))
        if job is None:
            st.info("Choose the settings and press Start: the curves appear here as it learns.")
        elif running:
            live_view()
        else:
            outcome(job)


if __name__ == "__main__":  # run as a page (see streamlit_app.py); a test only imports it
    render(training_limit())
