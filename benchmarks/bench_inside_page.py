"""Server time of the Draw page's "Inside the network" view per stroke, on the page: the whole
page run in AppTest (prediction, view, pictures encoded as PNG) for drawn digits, with the view
and without it (``show_inside`` replaced by a no-op), for each shipped model. The difference is
what the view adds to a stroke; the prediction is drawn before it either way.

BLAS gets one thread, as on the app's server. The nearest-digit index is built before timing
(the page caches it per model).

    DIGITNET_DATA=../shared/data/mnist python -m benchmarks.bench_inside_page [--count 30]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

from digitnet.data.drawn import drawn_test_set
from digitnet.data.mnist import load_mnist
from pages.common import inside
from pages.draw_page import CANVAS
from tests.conftest import ROOT, canvas_state


def canvas(image: np.ndarray) -> np.ndarray:
    """A 28x28 digit as black ink on a white 280x280 RGBA canvas."""
    ink = (np.clip(image, 0, 1) * 255).astype(np.uint8).repeat(10, 0).repeat(10, 1)
    rgba = np.full((280, 280, 4), 255, np.uint8)
    rgba[..., :3] = 255 - ink[..., None]
    return rgba


def page_runs(model: str, drawings: list[np.ndarray], with_view: bool) -> np.ndarray:
    from streamlit.testing.v1 import AppTest

    shown, defer = inside.show_inside, inside.DEFER
    inside.DEFER = 0.0  # the view's pause, for the prediction to go out first, is not work
    if not with_view:
        inside.show_inside = lambda model, image: None
    try:
        app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
        app.session_state["model_choice"] = model
        app.run()
        seconds = []
        for index, rgba in enumerate([drawings[0], *drawings]):  # the first builds the caches
            app.session_state[CANVAS] = canvas_state(rgba)
            started = time.perf_counter()
            app.run()
            if index:
                seconds.append(time.perf_counter() - started)
            assert not app.exception, app.exception
        return np.array(seconds) * 1000
    finally:
        inside.show_inside, inside.DEFER = shown, defer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=30, help="drawn digits, one per stroke")
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")
    os.environ.setdefault("DIGITNET_CACHE", tempfile.mkdtemp())
    mnist = load_mnist()
    images, _, _ = drawn_test_set(mnist.test_images, mnist.test_labels, n=args.count, seed=1)
    drawings = [canvas(image) for image in images]
    for model in ("cnn", "mlp"):
        with_view = page_runs(model, drawings, True)
        without = page_runs(model, drawings, False)
        p50, p95 = np.percentile(with_view, [50, 95])
        print(
            f"{model}: page run per stroke with the view p50 {p50:.0f} ms (p95 {p95:.0f}), "
            f"without {np.median(without):.0f} ms: the view adds "
            f"{p50 - np.median(without):.0f} ms"
        )


if __name__ == "__main__":
    main()
