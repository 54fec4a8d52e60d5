"""Draw: write a digit with the mouse or a finger (or upload a photo of one) and see what the
network makes of it, after every stroke. Then say whether it read it right ("Right", or "No,
it's a ..."): the drawing is saved to the collection (see My drawings), as strokes or as the
photo, and the canvas is cleared for the next one, so writing ten digits in a row is quick.

The canvas's value lives in session state under CANVAS, so tests inject a drawing there.
Clear and every save hand the canvas a new empty drawing, which it loads and sends back; until
then the browser may still send the old drawing (or its last stroke, late), so the page reads
nothing from the canvas until the empty drawing arrives. The canvas keeps its key: a new key
would mount a new canvas, and streamlit-drawable-canvas 0.13 can throw away a canvas mounted
while the page is busy (its box stays empty). The photo uploader gets a new key, which empties
it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from digitnet import DigitnetError, Model
from digitnet.data.preprocess import canvas_to_mnist, image_to_mnist, read_canvas_png
from digitnet.data.strokes import read_canvas_json
from pages.common.collection import collection, session_id
from pages.common.inside import show_inside
from pages.common.models import chosen_model
from pages.common.pictures import enlarge, probability_chart

NOT_SURE_BELOW = 0.6  # a top probability under this gets a "not sure" note
CANVAS_SIZE = 280
CANVAS_BACKGROUND = "white"
CANVAS_GENERATION = "canvas_generation"  # how many times the inputs were emptied
CANVAS = "canvas"  # the canvas's widget key, where its drawing is
EMPTYING = "canvas_emptying"  # from Clear or a save until the canvas sends its empty drawing
SAVE_TOGGLE = "save_drawings"
SAVED = "drawing_saved"  # (generation, "Saved as a 7"): shown until the next digit
NOT_SAVED = "drawing_not_saved"  # why the last save failed, shown once
INPUT_MODES = ("Draw", "Upload a photo")
DRAW_HINT = "Draw a digit from 0 to 9: the network's guess appears here."
UPLOAD_HINT = "Upload a photo: the network's guess appears here."
KEYBOARD_HINT = (
    "No mouse or touch screen? Choose **Upload a photo** above: a photo or scan of a digit gets "
    "a prediction too."
)
NO_DIGIT = (
    "No digit found in this photo: nothing stands out from the paper. Try a photo with the "
    "digit large, dark on light (or light on dark), and evenly lit."
)


@dataclass(frozen=True, eq=False)
class Digit:
    """What the network reads (the 28x28 ``image``) and what a save keeps of where it came
    from: the canvas's own drawing (st_canvas's json_data) or the photo's bytes."""

    image: np.ndarray
    canvas_json: dict | None = None
    photo: bytes | None = None


def generation() -> int:
    return st.session_state.get(CANVAS_GENERATION, 0)


def clear_canvas() -> None:
    st.session_state[CANVAS_GENERATION] = generation() + 1
    st.session_state[EMPTYING] = True


def drawn_digit() -> Digit | None:
    # Imported here: the canvas component registers itself on import, which only works in a
    # running app, and a test imports this page for its constants.
    from streamlit_drawable_canvas import st_canvas

    stroke_width = st.slider("Stroke width", 6, 40, 20, key="stroke_width")
    result = st_canvas(
        stroke_width=stroke_width,
        stroke_color="#000000",
        background_color="#FFFFFF",
        width=CANVAS_SIZE,
        height=CANVAS_SIZE,
        drawing_mode="freedraw",
        update_streamlit=True,
        return_image_data=True,
        # A new empty drawing each time the inputs are emptied: the canvas loads it.
        initial_drawing={"objects": [], "digitnet_generation": generation()},
        key=CANVAS,
    )
    st.button("Clear", on_click=clear_canvas, icon=":material/ink_eraser:", key="clear")
    st.caption(KEYBOARD_HINT)
    if not (result.json_data or {}).get("objects"):
        st.session_state[EMPTYING] = False
    if result.image_bytes is None or st.session_state.get(EMPTYING):
        return None
    try:  # the browser sends the PNG: its header is checked before it is decoded
        rgba = read_canvas_png(result.image_bytes, CANVAS_SIZE, CANVAS_SIZE)
    except DigitnetError as error:
        st.error(str(error))
        return None
    image = canvas_to_mnist(rgba)
    return None if image is None else Digit(image, canvas_json=result.json_data)


def uploaded_digit() -> tuple[Digit | None, str | None]:
    """The uploaded digit, or None and what to say instead of a prediction (None when an error
    is already shown)."""
    upload = st.file_uploader(
        "A photo or scan of one digit (dark on light paper, or light on dark)",
        type=["png", "jpg", "jpeg"],
        key=f"digit_photo-{generation()}",
    )
    if upload is None:
        return None, UPLOAD_HINT
    photo = upload.getvalue()
    try:
        image = image_to_mnist(photo)
    except DigitnetError as error:
        st.error(str(error))
        return None, None
    if image is None:
        return None, NO_DIGIT
    return Digit(image, photo=photo), None


def saving_switch() -> bool:
    """The person's choice to keep what they answer (on unless turned off), and where it goes."""
    on = st.toggle("Save each drawing I answer", value=True, key=SAVE_TOGGLE)
    if on:
        st.caption(
            "Kept on this server, to see on My drawings.",
            help=f"The collection: `{collection().path}`",
        )
    return on


def show_prediction(model: Model, image: np.ndarray) -> np.ndarray:
    """Shows the model's answer; returns its ten probabilities."""
    probabilities = model.predict_proba(image[None])[0]
    top = int(probabilities.argmax())
    confidence = float(probabilities[top])
    st.metric("Prediction", str(top), help="The digit with the highest probability.")
    st.caption(f"{confidence:.0%} sure")
    if confidence < NOT_SURE_BELOW:
        runner_up = int(np.argsort(probabilities)[-2])
        st.warning(f"Not sure: it could also be a {runner_up}. Try a clearer, centred digit.")
    return probabilities


def show_details(image: np.ndarray, probabilities: np.ndarray) -> None:
    st.vega_lite_chart(spec=probability_chart(probabilities), width="stretch")
    st.image(
        enlarge(image),
        caption="What the network sees: 28 x 28 pixels",
        output_format="PNG",
        alt="Your digit as the network reads it, light on dark",
    )


def ask_if_right(model: Model, digit: Digit, probabilities: np.ndarray) -> None:
    """ "Right" saves the drawing with the model's answer as its label; "No, it's a ..." with
    the digit chosen. Both clear the inputs for the next digit."""
    reading = Reading(digit, probabilities, model.metadata.get("checksum"), generation())
    st.button(
        "Right",
        key=f"right-{reading.generation}",
        icon=":material/check:",
        on_click=save,
        args=(int(probabilities.argmax()), reading),
    )
    st.pills(
        "No, it's a ...",
        range(10),
        key=f"correction-{reading.generation}",
        on_change=save_correction,
        args=(reading,),
        width=190,  # two rows of five, like a keypad: ten in a row do not fit the column
        wrap=True,
    )


@dataclass(eq=False)
class Reading:
    """One prediction the person can answer, handed to the answer widgets' callbacks. Every
    call of a widget's callback gets this same object, so ``saved`` makes a second answer to
    it (a double click, a click before the page has updated) save nothing. The two calls of a
    double click can run at once, in two threads: ``lock`` makes the second wait until the
    first has saved and emptied the canvas."""

    digit: Digit
    probabilities: np.ndarray
    checksum: str | None
    generation: int  # of the inputs it was read from
    saved: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def save_correction(reading: Reading) -> None:
    label = st.session_state.get(f"correction-{reading.generation}")
    if label is not None:
        save(label, reading)


def save(label: int, reading: Reading) -> None:
    """Saves the digit as ``label`` (a callback, so the cleared canvas shows in the same run);
    a failure is kept for the page to show."""
    with reading.lock:
        if reading.saved:
            return
        try:
            collection().add(
                label=label,
                image=reading.digit.image,
                session=session_id(),
                prediction=int(reading.probabilities.argmax()),
                probabilities=reading.probabilities,
                model_checksum=reading.checksum,
                **source_columns(reading.digit),
            )
        except DigitnetError as error:
            st.session_state[NOT_SAVED] = f"Not saved: {error}"
            return
        reading.saved = True
        clear_canvas()
        st.session_state[SAVED] = (generation(), f"Saved as a {label}.")


def source_columns(digit: Digit) -> dict:
    """What the collection keeps of where the digit came from: the photo, or the strokes read
    from the canvas's drawing with its size and brush."""
    if digit.photo is not None:
        return {"photo": digit.photo}
    drawing = read_canvas_json(digit.canvas_json, CANVAS_SIZE, CANVAS_SIZE, CANVAS_BACKGROUND)
    return {
        "strokes": drawing.strokes,
        "canvas_width": drawing.width,
        "canvas_height": drawing.height,
        "brush_width": drawing.brush_width,
    }


def show_save_outcome(next_digit: bool) -> None:
    """The last save's one line: "saved" on the canvas it emptied until the next digit is
    drawn (nothing is popped: two runs of a session can overlap, after a double click), why
    not once."""
    saved_on, saved = st.session_state.get(SAVED, (None, None))
    if saved_on == generation() and not next_digit:
        st.success(saved, icon=":material/check_circle:")
    if failed := st.session_state.pop(NOT_SAVED, None):
        st.warning(failed)


def render(model: Model | None) -> None:
    st.title("Draw a digit")
    mode = st.radio(
        "Input", INPUT_MODES, horizontal=True, label_visibility="collapsed", key="draw_input"
    )
    drawing_column, result_column = st.columns(2, gap="medium")
    with drawing_column:
        if mode == INPUT_MODES[0]:
            digit, hint = drawn_digit(), DRAW_HINT
        else:
            digit, hint = uploaded_digit()
        saving = saving_switch()
    with result_column:
        show_save_outcome(next_digit=digit is not None)
        if model is None:
            st.info("Choose a model in the sidebar.")
        elif digit is not None:
            probabilities = show_prediction(model, digit.image)
            if saving:
                ask_if_right(model, digit, probabilities)
            show_details(digit.image, probabilities)
        elif hint is not None:
            st.info(hint)
    show_inside(model, None if digit is None else digit.image)  # after the prediction


if __name__ == "__main__":  # run as a page (see streamlit_app.py); a test only imports it
    render(chosen_model())
