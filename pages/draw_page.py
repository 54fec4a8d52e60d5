"""Draw: write a digit with the mouse or a finger (or upload a photo of one) and see what the
network makes of it, after every stroke.

The canvas's value lives in session state under its key (itself kept under CANVAS_KEY), so
tests inject a drawing there; Clear gives the canvas a new key, which empties it.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from digitnet import DigitnetError, Model
from digitnet.preprocess import canvas_to_mnist, image_to_mnist
from pages.common.models import chosen_model
from pages.common.pictures import enlarge, probability_chart

NOT_SURE_BELOW = 0.6  # a top probability under this gets a "not sure" note
CANVAS_SIZE = 280
CANVAS_GENERATION = "canvas_generation"
CANVAS_KEY = "canvas_key"  # the canvas's current widget key, where its drawing is
INPUT_MODES = ("Draw", "Upload a photo")
DRAW_HINT = "Draw a digit from 0 to 9: the network's guess appears here."
UPLOAD_HINT = "Upload a photo: the network's guess appears here."
NO_DIGIT = (
    "No digit found in this photo: nothing stands out from the paper. Try a photo with the "
    "digit large, dark on light (or light on dark), and evenly lit."
)


def canvas_key() -> str:
    key = f"canvas-{st.session_state.get(CANVAS_GENERATION, 0)}"
    st.session_state[CANVAS_KEY] = key
    return key


def clear_canvas() -> None:
    st.session_state[CANVAS_GENERATION] = st.session_state.get(CANVAS_GENERATION, 0) + 1


def drawn_digit() -> np.ndarray | None:
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
        key=canvas_key(),
    )
    st.button("Clear", on_click=clear_canvas, icon=":material/ink_eraser:", key="clear")
    if result.image_data is None:
        return None
    return canvas_to_mnist(result.image_data)


def uploaded_digit() -> tuple[np.ndarray | None, str | None]:
    """The uploaded digit, or None and what to say instead of a prediction (None when an error
    is already shown)."""
    upload = st.file_uploader(
        "A photo or scan of one digit (dark on light paper, or light on dark)",
        type=["png", "jpg", "jpeg"],
        key="digit_photo",
    )
    if upload is None:
        return None, UPLOAD_HINT
    try:
        image = image_to_mnist(upload.getvalue())
    except DigitnetError as error:
        st.error(str(error))
        return None, None
    return image, None if image is not None else NO_DIGIT


def show_prediction(model: Model, image: np.ndarray) -> None:
    probabilities = model.predict_proba(image[None])[0]
    top = int(probabilities.argmax())
    confidence = float(probabilities[top])
    st.metric("Prediction", str(top), help="The digit with the highest probability.")
    st.caption(f"{confidence:.0%} sure")
    if confidence < NOT_SURE_BELOW:
        runner_up = int(np.argsort(probabilities)[-2])
        st.warning(f"Not sure: it could also be a {runner_up}. Try a clearer, centred digit.")
    st.vega_lite_chart(spec=probability_chart(probabilities), width="stretch")
    st.image(enlarge(image), caption="What the network sees: 28 x 28 pixels", output_format="PNG")


def render(model: Model | None) -> None:
    st.title("Draw a digit")
    mode = st.radio(
        "Input", INPUT_MODES, horizontal=True, label_visibility="collapsed", key="draw_input"
    )
    drawing_column, result_column = st.columns(2, gap="medium")
    with drawing_column:
        if mode == INPUT_MODES[0]:
            image, hint = drawn_digit(), DRAW_HINT
        else:
            image, hint = uploaded_digit()
    with result_column:
        if model is None:
            st.info("Choose a model in the sidebar.")
        elif image is not None:
            show_prediction(model, image)
        elif hint is not None:
            st.info(hint)


if __name__ == "__main__":  # run as a page (see streamlit_app.py); a test only imports it
    render(chosen_model())
