"""Pictures for the pages: 28x28 digits at a size people can see (crisp), weights as images,
probabilities as bars."""

from __future__ import annotations

import numpy as np


def enlarge(images: np.ndarray, factor: int = 6) -> np.ndarray:
    """uint8 picture of a float [0, 1] or uint8 digit (or a stack of them), each pixel a
    factor x factor block (nearest neighbour: a browser's smooth scaling would blur the pixels
    the network sees)."""
    if images.dtype != np.uint8:
        images = (np.clip(images, 0, 1) * 255).round().astype(np.uint8)
    return images.repeat(factor, axis=-2).repeat(factor, axis=-1)


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
