"""Draw: write a digit with the mouse or a finger (or upload a photo of one) and see what the
network makes of it, after every stroke, as ``digitnet.reading`` says it: the digit, "Not sure:
a 4 or a 9?", or "That doesn't look like a digit". Then say whether it read it right ("Right",
or "No, it's a ..." with a digit or "Not a digit"): the drawing is saved to the collection (see
My drawings), as strokes or as the photo, and the canvas is cleared for the next one, so
writing ten digits in a row is quick. Under the verdict: the probabilities in words and as bars
(one click away when the network is not sure it is a digit), then the preprocessing step by step
(the steps ``canvas_to_mnist`` or ``image_to_mnist`` ran), then the inside view.

Everything that follows the drawing is one fragment (``read_and_show``): a stroke reruns it
alone, not the sidebar and the rest of the page.

The canvas's value lives in session state under CANVAS, so tests inject a drawing there (the
page reads it there before it draws the canvas, so that a stroke's rerun sends the prediction
first).
Clear and every save hand the canvas a new empty drawing, which it loads and sends back; until
then the browser may still send the old drawing (or its last stroke, late), so the page reads
nothing from the canvas until the empty drawing arrives. The canvas keeps its key: a new key
would mount a new canvas, and streamlit-drawable-canvas 0.13 can throw away a canvas mounted
while the page is busy (its box stays empty). The photo uploader gets a new key, which empties
it.
"""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from digitnet import DigitnetError, Model
from digitnet.data.preprocess import Step, canvas_to_mnist, photo_marks, read_canvas_png
from digitnet.data.strokes import read_canvas_json
from digitnet.images import NOT_A_DIGIT
from digitnet.reading import Reading, a_digit, read
from pages.common.collection import collection, session_id, sharing
from pages.common.inside import show_inside
from pages.common.models import chosen_model
from pages.common.people import me
from pages.common.pictures import STEP_SIZE, probability_chart, step_pictures

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
NOT_DIGIT = "That doesn't look like a digit"
NO_DIGIT_LIKE = "doesn't look like any digit"  # the reading's reason that NOT_DIGIT says already
NO_DIGIT = (
    "No digit found in this photo: nothing stands out from the paper. Try a photo with the "
    "digit large, dark on light (or light on dark), and evenly lit."
)


@dataclass(frozen=True, eq=False)
class Digit:
    """What the network reads (the 28x28 ``image``), how the preprocessing made it (its
    ``steps``), and what a save keeps of where it came from: the canvas's own drawing
    (st_canvas's json_data) or the photo's bytes."""

    image: np.ndarray
    steps: tuple[Step, ...]
    canvas_json: dict | None = None
    photo: bytes | None = None
    doubt: str | None = None  # a photo's: why the preprocessing can't tell which mark is the digit


def generation() -> int:
    return st.session_state.get(CANVAS_GENERATION, 0)


def clear_canvas() -> None:
    st.session_state[CANVAS_GENERATION] = generation() + 1
    st.session_state[EMPTYING] = True


def drawn_digit() -> Digit | None:
    """The digit on the canvas, read from the canvas's value in session state (the browser
    sends it after each stroke) before the canvas is drawn (``draw_canvas``): a stroke's rerun
    then sends the prediction first."""
    drawing = (st.session_state.get(CANVAS) or {}).get("drawing") or {}
    json_data, url = drawing.get("raw"), drawing.get("data")
    if not (json_data or {}).get("objects"):
        st.session_state[EMPTYING] = False
    if url is None or st.session_state.get(EMPTYING):
        return None
    try:  # the browser sends the PNG: its header is checked before it is decoded
        rgba = read_canvas_png(data_url_bytes(url), CANVAS_SIZE, CANVAS_SIZE)
    except DigitnetError as error:
        st.error(str(error))
        return None
    steps = []
    image = canvas_to_mnist(rgba, steps)
    return None if image is None else Digit(image, tuple(steps), canvas_json=json_data)


def data_url_bytes(url: object) -> bytes:
    """The bytes of the canvas's PNG, which the browser sends as a base64 data URL."""
    header, _, data = url.partition(",") if isinstance(url, str) else ("", "", "")
    if header != "data:image/png;base64":
        raise DigitnetError("the canvas image is not a PNG data URL")
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error:
        raise DigitnetError("the canvas image's data URL is not valid base64") from None


def draw_canvas() -> None:
    """The canvas, its brush and its Clear button."""
    # Imported here: the canvas component registers itself on import, which only works in a
    # running app, and a test imports this page for its constants.
    from streamlit_drawable_canvas import st_canvas

    stroke_width = st.slider("Stroke width", 6, 40, 20, key="stroke_width")
    st_canvas(
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
    steps = []
    try:
        marks = photo_marks(photo, steps)
    except DigitnetError as error:
        st.error(str(error))
        return None, None
    if marks.image is None:
        return None, NO_DIGIT
    return Digit(marks.image, tuple(steps), photo=photo, doubt=marks.reason), None


def saving_switch() -> None:
    """The person's choice to keep what they answer (on unless turned off), and where it goes."""
    if st.toggle("Save each drawing I answer", value=True, key=SAVE_TOGGLE):
        st.caption(
            "Kept on this server, to see on My drawings.",
            help=f"The collection: `{collection().where}`",
        )


def show_verdict(reading: Reading) -> None:
    """The reading as a person says it: a digit in big, or why not, its best guess smaller."""
    if reading.verdict == "digit":
        st.metric("Prediction", str(reading.digit), help="The digit with the highest probability.")
        st.caption(in_words(reading))  # what the bars say, in words a screen reader reads out
    elif reading.verdict == "unsure":
        st.subheader(f"Not sure: {reading.reason}", anchor=False)
        st.caption(in_words(reading))  # the best guess, smaller
    else:
        st.subheader(NOT_DIGIT, anchor=False)
        if reading.reason != NO_DIGIT_LIKE:  # what it looks like, when the reading can say
            st.caption(reading.reason[:1].upper() + reading.reason[1:] + ".")


def in_words(reading: Reading) -> str:
    """The top two digits' probabilities: 'Reads 7 (94% sure); next 1 (3%).' ('As a digit, it
    reads ...' when it is not one)."""
    top, runner_up = int(reading.probabilities.argmax()), reading.runner_up
    reads = "Reads" if reading.digit is not None else "As a digit, it reads"
    return (
        f"{reads} {top} ({reading.probabilities[top]:.0%} sure); "
        f"next {runner_up} ({reading.probabilities[runner_up]:.0%})."
    )


def show_probabilities(reading: Reading, knows_not_digit: bool) -> None:
    """The ten digits' bars (how likely each digit is, if it is one), and the eleventh
    output's probability that it is none, when the model has that output."""
    st.vega_lite_chart(spec=probability_chart(reading.probabilities), width="stretch")
    if knows_not_digit:
        st.caption(
            f"Not a digit at all: {reading.not_digit:.0%} (the network's eleventh output; the "
            "bars say which digit, if it is one)."
        )


def show_steps(steps: tuple[Step, ...]) -> None:
    """The preprocessing this digit went through, as it ran: picture by picture."""
    st.markdown("**From your digit to what the network reads**")
    pictures = step_pictures(steps)
    st.image(
        [step.picture for step in pictures],
        caption=[step.caption for step in pictures],
        alt=[step.alt for step in pictures],
        width=STEP_SIZE,  # else each picture of a list is as wide as its caption
        output_format="PNG",
    )


def ask_if_right(model: Model, digit: Digit, reading: Reading) -> None:
    """ "Right" saves the drawing with the model's answer as its label (NOT_A_DIGIT for "not a
    digit", the best guess when unsure); "No, it's a ..." with the digit chosen, or "Not a
    digit". Both clear the inputs for the next digit."""
    question = Question(digit, reading, model.metadata.get("checksum"), generation())
    st.button(
        "Right" if reading.verdict == "digit" else f"Right: {answer_name(said(reading))}",
        key=f"right-{question.generation}",
        icon=":material/check:",
        on_click=save,
        args=(said(reading), question),
    )
    st.pills(
        "No, it's a ...",
        [*range(10), NOT_A_DIGIT],
        format_func=lambda label: "Not a digit" if label == NOT_A_DIGIT else str(label),
        key=f"correction-{question.generation}",
        on_change=save_correction,
        args=(question,),
        width=190,  # two rows of five, like a keypad, and "Not a digit" under them
        wrap=True,
    )


def said(reading: Reading) -> int:
    """What the reading says as a label: its digit, or NOT_A_DIGIT."""
    return NOT_A_DIGIT if reading.digit is None else reading.digit


def answer_name(label: int) -> str:
    """'a 7', 'an 8', 'not a digit'."""
    return "not a digit" if label == NOT_A_DIGIT else a_digit(label)


@dataclass(eq=False)
class Question:
    """One reading the person can answer, handed to the answer widgets' callbacks. Every
    call of a widget's callback gets this same object, so ``saved`` makes a second answer to
    it (a double click, a click before the page has updated) save nothing. The two calls of a
    double click can run at once, in two threads: ``lock`` makes the second wait until the
    first has saved and emptied the canvas."""

    digit: Digit
    reading: Reading
    checksum: str | None
    generation: int  # of the inputs it was read from
    saved: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def save_correction(question: Question) -> None:
    label = st.session_state.get(f"correction-{question.generation}")
    if label is not None:
        save(label, question)


def save(label: int, question: Question) -> None:
    """Saves the digit as ``label`` (a callback, so the cleared canvas shows in the same run);
    a failure is kept for the page to show."""
    with question.lock:
        if question.saved:
            return
        try:
            store, visitor = collection(), me()
            store.add(
                person=visitor.person,
                shared=visitor.shared and sharing(store, visitor.person),
                label=label,
                image=question.digit.image,
                session=session_id(),
                prediction=said(question.reading),
                probabilities=question.reading.probabilities,
                model_checksum=question.checksum,
                **source_columns(question.digit),
            )
        except DigitnetError as error:
            st.session_state[NOT_SAVED] = f"Not saved: {error}"
            return
        question.saved = True
        clear_canvas()
        st.session_state[SAVED] = (generation(), f"Saved as {answer_name(label)}.")


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
    read_and_show(model, mode)


@st.fragment
def read_and_show(model: Model | None, mode: str) -> None:
    """Everything that follows the drawing or photo. A fragment: a stroke, an answer or Clear
    reruns only this, not the page and sidebar around it. A drawing's prediction is sent
    before the canvas and the switch (read from session state, then drawn); the inside view
    comes last."""
    drawing_column, result_column = st.columns(2, gap="medium")
    drawing = mode == INPUT_MODES[0]
    if drawing:
        with result_column:  # where a broken canvas image's one line shows
            digit, hint = drawn_digit(), DRAW_HINT
    else:
        with drawing_column:
            digit, hint = uploaded_digit()
    with result_column:  # the switch is drawn after: its value is read from session state
        show_result(model, digit, hint, saving=st.session_state.get(SAVE_TOGGLE, True))
    with drawing_column:
        if drawing:
            draw_canvas()
        saving_switch()
    if digit is not None and model is not None:
        show_steps(digit.steps)
    show_inside(model, None if digit is None else digit.image)


def show_result(model: Model | None, digit: Digit | None, hint: str | None, saving: bool) -> None:
    """The verdict, the answers (when saving), the bars; or why there is none."""
    show_save_outcome(next_digit=digit is not None)
    if model is None:
        st.info("Choose a model in the sidebar.")
    elif digit is not None:
        reading = read(digit.image, model, doubt=digit.doubt)
        show_verdict(reading)
        if saving:
            ask_if_right(model, digit, reading)
        if reading.verdict == "digit":
            show_probabilities(reading, model.knows_not_digit)
        else:  # one click away: the bars of a drawing that may be no digit mislead at a glance
            with st.expander("The probabilities"):
                if reading.digit is None:  # else they are in words under the heading
                    st.caption(in_words(reading))
                show_probabilities(reading, model.knows_not_digit)
    elif hint is not None:
        st.info(hint)


if __name__ == "__main__":  # run as a page (see streamlit_app.py); a test only imports it
    render(chosen_model())
