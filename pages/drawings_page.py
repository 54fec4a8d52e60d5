"""My drawings: the digits saved on the Draw page ("Right" / "No, it's a ..."), how the model
does on them, and the collection's upkeep: pick and delete, export as a Kaggle-format CSV,
import one.

Each person sees their own drawings only (pages.common.people: alone on a laptop, that is all of
them). On a server a class shares, a person may share their drawings with the class ("Share with
my class"), and a teacher sees what the class shared, and removes what should not be trained on.

Two readings of each drawing: the prediction stored when it was saved (by whichever model was
chosen then), and the sidebar's model now, re-reading the saved 28x28 image.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from digitnet import DigitnetError, Model
from digitnet.analysis.metrics import Evaluation
from digitnet.data.collection.store import DrawingStore, SavedDrawing, images_and_labels
from digitnet.data.collection.transfer import BadRows
from digitnet.images import NOT_A_DIGIT
from pages.common.caches import cached_evaluation
from pages.common.collection import collection, session_id
from pages.common.models import chosen_model
from pages.common.people import Visitor, me
from pages.common.pictures import enlarge

ANY = "any"
SCOPES = ("This session", "Everyone's")  # alone on a laptop
MY_SCOPES = ("This session", "All mine")  # on a server a class shares
CLASS_SCOPE = "Shared with my class"  # a teacher's
SHARE = "Share with my class"
COLUMNS = 6
PAGE_SIZE = 36
CONFIRMING = "drawings_confirm_delete_all"
OUTCOME = "drawings_outcome"  # (kind, text) of the last action, shown once
BAD_ROWS = "drawings_bad_rows"  # an import's refused rows, shown once
IMPORTS = "drawings_imports"  # bumped by every import: a new uploader key empties it
SAVED_HELP = "By the model chosen when each drawing was saved (imported ones have no reading)."
NOW_HELP = "The model chosen in the sidebar, reading the saved 28 x 28 images again."
EMPTY = (
    "No drawings saved yet. On the Draw page, write a digit and answer the question under the "
    "prediction (Right, or No, it's a ...): each answer keeps the drawing here."
)


def render(model: Model | None) -> None:
    st.title("My drawings")
    visitor, store = me(), collection()
    show_outcome()
    try:
        mine = store.list(person=visitor.person)
    except DigitnetError as error:
        st.error(str(error))
        return
    if not mine and not visitor.teacher:
        st.info(EMPTY)
        st.page_link("pages/draw_page.py", label="Draw digits", icon=":material/draw:")
    else:
        scopes = (MY_SCOPES if visitor.shared else SCOPES) + (CLASS_SCOPE,) * visitor.teacher
        scope = st.segmented_control(  # on a shared server, all of theirs: what they came back to
            "Show", scopes, default=scopes[visitor.shared], required=True, key="drawings_scope"
        )
        if scope == CLASS_SCOPE:
            class_drawings(store, model)
        else:
            own_drawings(store, model, visitor, mine, scope == scopes[0], scopes[1])
    if visitor.shared and mine:
        share_switch(store, visitor.person, mine)
    import_csv(store)


def own_drawings(
    store: DrawingStore,
    model: Model | None,
    visitor: Visitor,
    mine: list[SavedDrawing],
    this_session: bool,
    all_of_them: str,
) -> None:
    """The person's drawings (this session's, or all of them), with Delete, Export and Delete
    all."""
    session = session_id() if this_session else None
    drawings = mine if session is None else [d for d in mine if d.session == session]
    picked = []
    if not drawings:
        st.info(f"None saved in this session yet: choose {all_of_them}, or draw some.")
    else:
        scores(model, drawings)
        picked = grid(drawings)
    with st.container(horizontal=True):
        if drawings:
            picked_button(
                "Delete", "delete_picked", picked, delete_picked, (store, picked, me().person)
            )
            export(store, session, len(drawings))
        st.button("Delete all...", key="delete_all", on_click=confirming, args=(True,))
    if st.session_state.get(CONFIRMING):
        confirm_delete_all(store, len(mine), visitor)


def class_drawings(store: DrawingStore, model: Model | None) -> None:
    """A teacher's view: every drawing people shared with the class, whose each is, and
    Remove (from the collection: it is not trained on, nor kept)."""
    try:
        shared = store.list(person=None, shared_only=True)
    except DigitnetError as error:
        st.error(str(error))
        return
    if not shared:
        st.info(
            'Nobody has shared a drawing with the class yet: each person turns on "Share with '
            'my class" on their My drawings.'
        )
        return
    people = len({d.person for d in shared})
    st.caption(
        f"Shared by {people} {'person' if people == 1 else 'people'}. Remove those that should "
        "not be learned from (a wrong label, not a digit): the Train page's class model learns "
        "from the rest."
    )
    scores(model, shared)
    picked = grid(shared, whose=True)
    picked_button("Remove", "remove_picked", picked, remove_shared, (store, picked))


def share_switch(store: DrawingStore, person: str, mine: list[SavedDrawing]) -> None:
    """ "Share with my class": all of the person's drawings, and those they save while it is
    on (``collection.sharing``; off by default)."""
    shared = sum(d.shared for d in mine)
    on = shared == len(mine)
    st.toggle(  # no key: a new switch whenever the collection says otherwise
        SHARE,
        value=on,
        on_change=share_all,
        args=(store, person, not on),
        help="Your teacher then sees your drawings and may train a class model on them, saved "
        "for everyone to pick. Off: only you see them.",
    )
    if 0 < shared < len(mine):
        st.caption(f"{shared} of your {count(len(mine))} are shared: turn it on to share all.")


def share_all(store: DrawingStore, person: str, on: bool) -> None:
    try:
        ids = [d.id for d in store.list(person=person)]
        changed = store.set_shared(ids, on, person=person)
    except DigitnetError as error:
        st.session_state[OUTCOME] = ("error", str(error))
        return
    st.session_state[OUTCOME] = (
        "success",
        f"Shared {count(changed)} with your class." if on else "Your drawings are yours alone.",
    )


def remove_shared(store: DrawingStore, ids: list[int]) -> None:
    try:
        removed = store.delete(ids, person=None, shared_only=True)
    except DigitnetError as error:
        st.session_state[OUTCOME] = ("error", str(error))
        return
    st.session_state[OUTCOME] = ("success", f"Removed {count(removed)}.")


def show_outcome() -> None:
    kind, text = st.session_state.pop(OUTCOME, (None, None))
    if kind == "success":
        st.success(text, icon=":material/check_circle:")
    elif kind == "error":
        st.error(text)
    if problems := st.session_state.pop(BAD_ROWS, None):
        st.code("\n".join(problems), language=None, wrap_lines=True)


def model_reading(model: Model, drawings: list[SavedDrawing]) -> Evaluation:
    """The model's predictions on the saved images, once per model and set of drawings."""
    images, labels = images_and_labels(drawings)
    ids = np.array([d.id for d in drawings], np.int64)
    key = "mine:" + hashlib.sha256(ids.tobytes()).hexdigest()[:16]
    return cached_evaluation(model.metadata["checksum"], key, model, images, labels)


def scores(model: Model | None, drawings: list[SavedDrawing]) -> None:
    """How many of each digit, how many the model read right when they were saved, and how
    many the sidebar's model reads right now."""
    labels = np.array([d.label for d in drawings])
    predicted = np.array([d.prediction is not None for d in drawings])
    right_then = np.array([d.prediction == d.label for d in drawings])
    now = model_reading(model, drawings).predictions == labels if model is not None else None
    rows = {"drawings": [], "right when saved": [], "right now": []}
    for digit in [*kinds(drawings), ANY]:
        of = labels == digit if digit != ANY else np.ones(len(labels), bool)
        rows["drawings"].append(str(int(of.sum())))
        rows["right when saved"].append(share(right_then[of & predicted], of & predicted))
        rows["right now"].append(share(now[of], of) if now is not None else "")
    table = pd.DataFrame(rows, index=[*map(name, kinds(drawings)), "all"]).T
    first, second, third = st.columns(3)
    first.metric("Drawings", len(drawings))
    second.metric("Read right when saved", rows["right when saved"][-1], help=SAVED_HELP)
    third.metric("Read right by the chosen model", rows["right now"][-1] or "-", help=NOW_HELP)
    st.table(table)


def share(right: np.ndarray, of: np.ndarray) -> str:
    return f"{right.mean():.0%}" if of.any() else ""


def grid(drawings: list[SavedDrawing], whose: bool = False) -> list[int]:
    """The drawings that pass the filters, a page at a time, each with a box to pick it (and
    whose it is); returns the ids of those picked."""
    digit_column, wrong_column = st.columns(2, vertical_alignment="bottom")
    digit = digit_column.selectbox(
        "Digit", [ANY, *kinds(drawings)], format_func=name, key="drawings_digit"
    )
    wrong_only = wrong_column.checkbox("Only those read wrong when saved", key="drawings_wrong")
    shown = [
        d for d in drawings if (digit == ANY or d.label == digit) and (d.wrong or not wrong_only)
    ]
    if not shown:
        st.info("No drawings match.")
        return []
    pages = -(-len(shown) // PAGE_SIZE)
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages})", 1, pages, 1, key="drawings_page"))
    shown = shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    for position, drawing in enumerate(shown):
        if position % COLUMNS == 0:
            columns = st.columns(COLUMNS)
        with columns[position % COLUMNS]:
            st.image(
                enlarge(drawing.image, 3),
                output_format="PNG",
                alt=f"A drawing of a {drawing.label}"
                if drawing.label != NOT_A_DIGIT
                else "A drawing that is not a digit",
            )
            label = caption(drawing) + (f" · {drawing.person}" if whose else "")
            st.checkbox(label, key=f"pick-{drawing.id}")
    return [d.id for d in shown if st.session_state.get(f"pick-{d.id}")]


def picked_button(
    verb: str, key: str, picked: list[int], on_click: Callable[..., None], args: tuple
) -> None:
    """ "Delete the 2 picked" (or Remove): disabled until some are picked."""
    st.button(
        f"{verb} the {len(picked)} picked" if picked else f"{verb} the picked",
        key=key,
        icon=":material/delete:",
        disabled=not picked,
        on_click=on_click,
        args=args,
    )


def caption(drawing: SavedDrawing) -> str:
    """'7, read 7'; a wrong reading in red; imports have none."""
    if drawing.prediction is None:
        return f"**{name(drawing.label)}**, imported"
    reading = f"read {name(drawing.prediction)}"
    return f"**{name(drawing.label)}**, {f':red[{reading}]' if drawing.wrong else reading}"


def kinds(drawings: list[SavedDrawing]) -> list[int]:
    """The labels the table and the filter list: the ten digits, and NOT_A_DIGIT when some
    drawing was answered "Not a digit"."""
    others = any(d.label == NOT_A_DIGIT for d in drawings)
    return [*range(10), *[NOT_A_DIGIT] * others]


def name(label: int | str) -> str:
    return "not a digit" if label == NOT_A_DIGIT else str(label)


def delete_picked(store: DrawingStore, ids: list[int], person: str) -> None:
    try:
        deleted = store.delete(ids, person=person)
    except DigitnetError as error:
        st.session_state[OUTCOME] = ("error", str(error))
        return
    st.session_state[OUTCOME] = ("success", f"Deleted {count(deleted)}.")


def count(drawings: int) -> str:
    return f"{drawings} drawing{'s' if drawings != 1 else ''}"


def confirm_delete_all(store: DrawingStore, how_many: int, visitor: Visitor) -> None:
    """The question "Delete all..." asks, naming how many (alone on a laptop: everyone's)."""
    if visitor.shared:
        st.warning(f"Delete all {count(how_many)} of yours, for good?")
    else:
        st.warning(f"Delete all {count(how_many)} in the collection, everyone's, for good?")
    yes, no = st.columns(2)
    yes.button("Yes, delete all", key="delete_all_yes", type="primary", on_click=delete_all,
               args=(store, visitor.person))  # fmt: skip
    no.button("Cancel", key="delete_all_no", on_click=confirming, args=(False,))


def confirming(on: bool) -> None:
    st.session_state[CONFIRMING] = on


def delete_all(store: DrawingStore, person: str) -> None:
    confirming(False)
    try:
        deleted = store.delete_all(person=person)
    except DigitnetError as error:
        st.session_state[OUTCOME] = ("error", str(error))
        return
    st.session_state[OUTCOME] = ("success", f"Deleted all {count(deleted)}.")


def csv_bytes(store: DrawingStore, session: str | None, person: str) -> bytes:
    """The person's drawings (one session's, or all) as a Kaggle train.csv."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "drawings.csv"
        store.export_csv(path, person=person, session=session)
        return path.read_bytes()


def export(store: DrawingStore, session: str | None, how_many: int) -> None:
    person = me().person
    st.download_button(
        f"Export these {count(how_many)} as CSV",
        data=lambda: csv_bytes(store, session, person),  # made on click, not on every rerun
        file_name="my-drawings.csv",
        mime="text/csv",
        icon=":material/download:",
        key="export",
        on_click="ignore",
        help="A Kaggle-format train.csv: label,pixel0..pixel783 (0-255), one drawing a row.",
    )


def import_csv(store: DrawingStore) -> None:
    with st.expander("Import a Kaggle-format CSV", icon=":material/upload:"):
        upload = st.file_uploader(
            "A train.csv: label,pixel0,...,pixel783, one digit a row",
            type="csv",
            key=f"drawings_import-{st.session_state.get(IMPORTS, 0)}",
        )
        if upload is not None:
            st.button(
                f"Import {upload.name}",
                key="import",
                icon=":material/upload:",
                on_click=add_rows,
                args=(store, upload.getvalue(), upload.name),
            )


def add_rows(store: DrawingStore, raw: bytes, name: str) -> None:
    """Imports every row or none (but those already in the collection); refused rows are listed
    one a line."""
    try:
        imported = store.import_csv(raw, name=name, session=session_id(), person=me().person)
    except BadRows as error:
        st.session_state[OUTCOME] = ("error", str(error).rsplit("\n", 1)[-1])
        st.session_state[BAD_ROWS] = error.problems
        return
    except DigitnetError as error:
        st.session_state[OUTCOME] = ("error", str(error))
        return
    st.session_state[IMPORTS] = st.session_state.get(IMPORTS, 0) + 1
    st.session_state[OUTCOME] = (
        "success",
        f"Imported {count(imported.added)} from {name}{imported.skipped_note}.",
    )


if __name__ == "__main__":  # run as a page (see streamlit_app.py); a test only imports it
    render(chosen_model())
