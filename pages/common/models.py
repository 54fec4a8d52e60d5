"""The sidebar's model chooser, drawn by the router for every page.

The models are loaded once per server (``caches.cached_model``), keyed by file, so a hundred
sessions on the shipped model hold one copy of it. The choice itself is kept in session state
under ``CHOICE``: a widget's own state is per page, the choice is not.
The router draws the chooser (``sidebar()``) before the page runs; the page gets the model it
chose with ``chosen_model()``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from digitnet import DigitnetError, Model
from digitnet.training.card import describe
from digitnet.training.catalog import ModelEntry, fingerprint, list_models
from pages.common.caches import cached_model

CHOICE = "model_choice"
SELECT_KEY = "model_select"
SESSION_MODELS = "session_models"
SESSION_SUFFIX = " (this session)"
PENDING = "model_pending"
CHOSEN = "chosen_model"  # the model the sidebar chose in this run, for the page


def add_session_model(model: Model, name: str) -> str:
    """Makes a model trained in this session selectable in the sidebar, and selects it from the
    next run on."""
    model.metadata["checksum"] = fingerprint(model)
    label = f"{name}{SESSION_SUFFIX}"
    st.session_state.setdefault(SESSION_MODELS, {})[label] = model
    select(label)
    return label


def select(label: str) -> None:
    """Selects a model from the next run on (the sidebar's widget may already be drawn in this
    one, and a drawn widget's state cannot be set): call st.rerun() after it."""
    st.session_state[PENDING] = label


def select_saved(path: Path) -> None:
    select(ModelEntry(path.stem, path, shipped=False).label)


def remember_choice() -> None:
    st.session_state[CHOICE] = st.session_state[SELECT_KEY]


def sidebar() -> Model | None:
    """The model chooser in the sidebar: the model to use (None, with the reason shown, when
    it cannot be loaded), kept for ``chosen_model()``."""
    model = choose_model()
    st.session_state[CHOSEN] = model
    return model


def chosen_model() -> Model | None:
    """The model the sidebar chose in this run (the router draws the sidebar first)."""
    return st.session_state.get(CHOSEN)


def choose_model() -> Model | None:
    files = {entry.label: entry.path for entry in list_models()}
    in_memory: dict[str, Model] = st.session_state.setdefault(SESSION_MODELS, {})
    labels = list(files) + [label for label in in_memory if label not in files]
    sidebar = st.sidebar
    if not labels:
        sidebar.warning("No model yet: the weights/ folder is empty. Train one on the Train page.")
        return None
    pending = st.session_state.pop(PENDING, None)
    choice = pending if pending in labels else st.session_state.get(CHOICE)
    if choice not in labels:
        choice = labels[0]
    st.session_state[CHOICE] = st.session_state[SELECT_KEY] = choice
    sidebar.selectbox(
        "Model",
        labels,
        key=SELECT_KEY,
        on_change=remember_choice,
        help="The shipped models, the ones saved on this server, and the ones you trained.",
    )
    if choice in in_memory:
        model = in_memory[choice]
    else:
        path = Path(files[choice])
        try:
            model = cached_model(str(path), path.stat().st_mtime)
        except (DigitnetError, OSError) as error:
            sidebar.error(str(error))
            return None
    show_model_card(model)
    return model


def show_model_card(model: Model) -> None:
    info = describe(model)
    name = info.get("architecture", spec_summary(model))
    lines = [f"**{name}**, {model.num_parameters:,} parameters"]
    for key, label in (("test_accuracy", "test accuracy"), ("dev_accuracy", "dev accuracy")):
        if key in info:
            lines.append(f"{label} {info[key]:.2%}")
    st.sidebar.caption("  \n".join(lines))


def spec_summary(model: Model) -> str:
    """'dense 128 > relu > dense 10', for a model whose metadata does not name it."""
    parts = []
    for layer in model.spec["layers"]:
        size = layer.get("units") or layer.get("filters") or ""
        if layer["type"] != "flatten":
            parts.append(f"{layer['type']} {size}".strip())
    return " > ".join(parts)
