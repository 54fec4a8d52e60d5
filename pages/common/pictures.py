"""Pictures for the pages: 28x28 digits at a size people can see (crisp), the preprocessing's
steps, weights as images, probabilities as bars."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image

from digitnet.data.preprocess import Step
from digitnet.images import IMAGE_SIZE

# Screen pixels per pixel of the 28 x 28 digit: the preprocessing's 4x work grid shows 1:1.
STEP_SCALE = 4
STEP_SIZE = IMAGE_SIZE * STEP_SCALE  # every step's picture is a square this wide
FRAME = 160  # grey of the line around a step's picture: it shows on white and on black
PAPER = 255  # what is around a step's picture in its square: the page's white


def enlarge(images: np.ndarray, factor: int = 6) -> np.ndarray:
    """uint8 picture of a float [0, 1] or uint8 digit (or a stack of them), each pixel a
    factor x factor block (nearest neighbour: a browser's smooth scaling would blur the pixels
    the network sees)."""
    return grey_levels(images).repeat(factor, axis=-2).repeat(factor, axis=-1)


def grey_levels(images: np.ndarray) -> np.ndarray:
    """uint8 levels (0-255) of float [0, 1] images; uint8 ones as they are."""
    if images.dtype == np.uint8:
        return images
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8)


# Each step's caption (one line on why it is there; {width} and {height} are the step's image's)
# and its text alternative (what the picture shows).
STEP_WORDS = {
    "canvas": (
        "The canvas, {width} x {height}: more pixels than the network reads.",
        "Your drawing on the canvas, dark on light",
    ),
    "grey": (
        "In grey, {width} x {height}: a digit is light and dark, not colour.",
        "The photo in shades of grey",
    ),
    "ink": (
        "The ink found: the paper and its uneven light taken away.",
        "The ink found in the photo, white on black",
    ),
    "box": (
        "Its box: the empty paper around it says nothing.",
        "The ink cropped to its box, white on black",
    ),
    "scaled": (
        "Scaled to 20 pixels long, strokes as thick as MNIST's.",
        "The digit scaled down, white on black",
    ),
    "centred": (
        "Centred by its mass in 28 x 28: what the network reads.",
        "The 28 x 28 pixels the network reads, white on black",
    ),
}


@dataclass(frozen=True)
class StepPicture:
    """One preprocessing step to show: the picture, one line on why the step is there, and what
    the picture shows in words (its text alternative)."""

    picture: np.ndarray
    caption: str
    alt: str


def step_pictures(steps: Sequence[Step]) -> list[StepPicture]:
    """The steps a drawing or photo went through (``canvas_to_mnist``'s or ``image_to_mnist``'s
    ``steps``), numbered, each a STEP_SIZE square (grey levels) for one row of st.image. The
    digit scaled to 20 pixels is shown at the work grid's own size, so it is as large as it is
    in the last picture, the 28 x 28 result."""
    pictures = []
    for number, step in enumerate(steps, start=1):
        height, width = step.image.shape[:2]
        caption, alt = STEP_WORDS[step.name]
        caption = f"{number}. " + caption.format(width=width, height=height)
        pictures.append(StepPicture(_on_square(_step_picture(step)), caption, alt))
    return pictures


def _step_picture(step: Step) -> np.ndarray:
    """The step's image in grey levels, framed (its edges show even where ink or paper reaches
    them), at most STEP_SIZE across."""
    if step.name == "centred":
        return enlarge(step.image, STEP_SCALE)
    if step.name == "scaled":
        return _framed(grey_levels(step.image))
    if step.name == "canvas":
        height, width = step.image.shape[:2]
        paper = Image.new("RGBA", (width, height), "white")
        picture = np.asarray(
            Image.alpha_composite(paper, Image.fromarray(step.image, "RGBA")).convert("L")
        )
    else:  # the grey photo, its ink, the box
        picture = grey_levels(step.image)
    return _framed(_fitted(picture, STEP_SIZE - 2))


def _fitted(picture: np.ndarray, size: int) -> np.ndarray:
    """A uint8 picture scaled so its longer side is ``size`` (crisp when enlarged, averaged when
    shrunk)."""
    height, width = picture.shape
    scale = size / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.NEAREST if scale >= 1 else Image.BOX
    return np.asarray(Image.fromarray(picture).resize(new_size, resample))


def _framed(picture: np.ndarray) -> np.ndarray:
    """The picture with a one-pixel grey line around it."""
    return np.pad(picture, 1, constant_values=FRAME)


def _on_square(picture: np.ndarray) -> np.ndarray:
    """The picture in the middle of a STEP_SIZE square of PAPER."""
    height, width = picture.shape
    square = np.full((STEP_SIZE, STEP_SIZE), PAPER, np.uint8)
    top, left = (STEP_SIZE - height) // 2, (STEP_SIZE - width) // 2
    square[top : top + height, left : left + width] = picture
    return square


def first_layer_weights(layers: list, count: int) -> np.ndarray | None:
    """What the first layer looks for, as (k, h, w) images in [0, 1] (grey is 0, white positive,
    black negative, each image scaled on its own): a dense layer's first ``count`` units as
    28x28 maps, a convolution's first ``count`` kernels (first input channel). None when the
    network starts with neither."""
    for layer in layers:
        weights = layer.params.get("W")
        if weights is None:
            continue
        if weights.ndim == 2:  # dense: (784, units)
            maps = weights[:, :count].T.reshape(-1, 28, 28)
        else:  # conv2d: (kh, kw, channels, filters)
            maps = weights[:, :, 0, :count].transpose(2, 0, 1)
        maps = maps.astype(np.float32)  # a copy: training goes on writing the weights
        scale = np.abs(maps).max(axis=(1, 2), keepdims=True)
        return 0.5 + 0.5 * maps / np.maximum(scale, 1e-12)
    return None


# A chart spec's "config" for its axes' and legends' text: Streamlit draws it in a grey of 3.7:1 on
# white, under WCAG's 4.5:1 for text; this grey is 4.8:1.
CHART_TEXT = {
    part: {"labelColor": "#6b7280", "titleColor": "#6b7280"} for part in ("axis", "legend")
}


def probability_chart(probabilities: np.ndarray) -> dict:
    """Vega-Lite bars of the ten probabilities, the top one in red. A plain spec for
    st.vega_lite_chart: building it through Altair validates it against the schema, which takes
    longer (50-100 ms) than everything else the Draw page does after a stroke."""
    top = int(probabilities.argmax())
    values = [
        {"digit": str(digit), "probability": float(p)} for digit, p in enumerate(probabilities)
    ]
    return {
        "data": {"values": values},
        "height": 180,
        "mark": {"type": "bar"},
        "encoding": {
            "x": {
                "field": "digit",
                "type": "nominal",
                "sort": None,
                "title": None,
                "axis": {"labelAngle": 0},
            },
            "y": {
                "field": "probability",
                "type": "quantitative",
                "scale": {"domain": [0, 1]},
                "axis": {"format": "%"},
            },
            "color": {
                "condition": {"test": f"datum.digit === '{top}'", "value": "#d62728"},
                "value": "#7b8794",  # grey bars 3.7:1 on white (WCAG's 3:1 for graphics)
            },
            "tooltip": [
                {"field": "digit", "type": "nominal"},
                {"field": "probability", "type": "quantitative", "format": ".1%"},
            ],
        },
        "config": CHART_TEXT,
    }


def curves_chart(
    series: dict[str, list[float]],
    x_title: str,
    y_title: str,
    percent: bool = False,
    points: bool = True,
    colours: tuple[str, ...] = ("#1f77b4", "#d95f02"),  # 4.8:1 and 3.8:1 on white
    height: int = 200,
) -> dict:
    """Vega-Lite lines, one per named series, over x = 1, 2, ...; points mark every value (a
    first epoch is one point, which a bare line would not show). None values are left out."""
    values = [
        {"x": x, "series": name, "value": value}
        for name, ys in series.items()
        for x, value in enumerate(ys, start=1)
        if value is not None
    ]
    return {
        "data": {"values": values},
        "height": height,
        "mark": {"type": "line", "point": points, "tooltip": True},
        "encoding": {
            "x": {
                "field": "x",
                "type": "quantitative",
                "title": x_title,
                "axis": {"tickMinStep": 1, "format": "d"},
            },
            "y": {
                "field": "value",
                "type": "quantitative",
                "title": y_title,
                "scale": {"zero": False},
                "axis": {"format": ".0%" if percent else ".2~f"},
            },
            "color": {
                "field": "series",
                "type": "nominal",
                "title": None,
                "scale": {"domain": list(series), "range": list(colours)},
                "legend": {"orient": "top", "direction": "horizontal"},
            },
        },
        "config": CHART_TEXT,
    }


def confidence_bin(low: float, high: float) -> str:
    """A reliability bin's name: '93%-100%'."""
    return f"{low:.0%}-{high:.0%}"


def reliability_charts(
    tables: dict[str, pd.DataFrame],
    description: str,
    colours: tuple[str, ...] = ("#1f77b4", "#d95f02"),
) -> tuple[dict, dict]:
    """A reliability diagram of named ``reliability`` tables (digitnet.analysis.metrics), as two
    Vega-Lite charts to show one above the other: each bin's accuracy against its mean
    confidence, over the dashed diagonal where the two are equal; then, on the same confidence
    axis, the digits in each bin, the tables' bars side by side (a log scale: the top bin holds
    most digits). Two charts, not one of two views, because only a single view fits the page's
    width. ``description`` is the diagram's text alternative (its picture's accessible name)."""
    points, bars = [], []
    for position, (name, table) in enumerate(tables.items()):
        for row in table.itertuples():
            shown = {
                "series": name,
                "bin": confidence_bin(row.low, row.high),
                "confidence": row.confidence,
                "accuracy": row.accuracy,
                "digits": int(row.count),
            }
            width = (row.high - row.low) / len(tables)
            start = row.low + position * width
            points.append(shown)
            bars.append({**shown, "from": start, "to": start + width})
    share = {"type": "quantitative", "scale": {"domain": [0, 1]}, "axis": {"format": "%"}}
    # The same room for both charts' y labels, so that their confidence axes line up.
    y_axis = {"minExtent": 44, "maxExtent": 44}
    colour = {
        "field": "series",
        "type": "nominal",
        "title": None,
        "scale": {"domain": list(tables), "range": list(colours)},
        "legend": {"orient": "top", "direction": "vertical"},  # a phone's width for each
    }
    tooltip = [
        {"field": "series", "type": "nominal", "title": "temperature"},
        {"field": "bin", "type": "nominal", "title": "confidence bin"},
        {"field": "confidence", "type": "quantitative", "format": ".1%", "title": "confidence"},
        {"field": "accuracy", "type": "quantitative", "format": ".1%"},
        {"field": "digits", "type": "quantitative", "format": ","},
    ]
    diagonal = {
        "data": {"values": [{"confidence": 0, "accuracy": 0}, {"confidence": 1, "accuracy": 1}]},
        "mark": {"type": "line", "color": "#555555", "strokeDash": [4, 4], "strokeWidth": 1},
        "encoding": {
            "x": {"field": "confidence", "type": "quantitative"},
            "y": {"field": "accuracy", "type": "quantitative"},
        },
    }
    curves = {
        "data": {"values": points},
        "mark": {"type": "line", "point": {"size": 50}},
        "encoding": {
            "x": {"field": "confidence", **share, "title": "confidence"},
            "y": {
                "field": "accuracy",
                **share,
                "title": "accuracy",
                "axis": {"format": "%", **y_axis},
            },
            "color": colour,
            "tooltip": tooltip,
        },
    }
    most = max((bar["digits"] for bar in bars), default=1)
    counts = {
        "description": "How many digits each confidence bin holds (the table below has them).",
        "data": {"values": bars},
        "height": 100,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "from", **share, "title": "confidence bin"},
            "x2": {"field": "to"},
            "y": {
                "field": "digits",
                "type": "quantitative",
                "scale": {"type": "symlog"},
                "axis": {
                    "values": [10**power for power in range(len(str(most)))],
                    "labelExpr": "format(datum.value, ',')",  # a symlog axis' format is "e"
                    "labelOverlap": False,
                    **y_axis,
                },
            },
            "y2": {"datum": 0},
            "color": {**colour, "legend": None},
            "tooltip": tooltip,
        },
        "config": CHART_TEXT,
    }
    diagram = {
        "description": description,
        "height": 240,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "layer": [diagonal, curves],
        "config": CHART_TEXT,
    }
    return diagram, counts


def tile(images: np.ndarray, columns: int, gap: int = 2, background: float = 0.5) -> np.ndarray:
    """One picture of a stack of same-sized (k, h, w) images, row-major, ``gap`` pixels of
    ``background`` between them, in the images' dtype: a grid for st.image or a PNG (the default
    grey separates light-on-black digits like MNIST's; invert them for paper)."""
    count, height, width = images.shape
    rows = -(-count // columns)
    step_y, step_x = height + gap, width + gap
    cells = np.full((rows * columns, step_y, step_x), background, dtype=images.dtype)
    cells[:count, :height, :width] = images
    picture = cells.reshape(rows, columns, step_y, step_x).transpose(0, 2, 1, 3)
    return picture.reshape(rows * step_y, columns * step_x)[
        : rows * step_y - gap, : columns * step_x - gap
    ]
