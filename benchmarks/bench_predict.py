"""Latency of one canvas reading, preprocessing included, as the Draw page makes it: a 280x280
RGBA canvas (dark ink on the page's white background) -> ``digitnet.read_canvas`` (canvas_to_mnist,
the network, the verdict). p50 and p99 over many drawn digits, for each shipped model, beside
PyTorch running the same network on the same preprocessed image.

    DIGITNET_DATA=../shared/data/mnist python -m benchmarks.bench_predict [--count 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import digitnet
from benchmarks.torch_reference import torch, torch_model
from digitnet.data.drawn import drawn_digits
from digitnet.data.mnist import load_mnist
from digitnet.data.preprocess import canvas_to_mnist
from digitnet.network.weights import WEIGHTS_DIR


def on_white(canvas: np.ndarray) -> np.ndarray:
    """The drawn digit as the app's canvas returns it: black ink on opaque white."""
    ink = canvas[..., 3:4].astype(np.float32) / 255
    page = np.empty_like(canvas)
    page[..., :3] = (255 * (1 - ink)).astype(np.uint8)
    page[..., 3] = 255
    return page


def percentiles(seconds: list[float]) -> str:
    p50, p99 = np.percentile(np.array(seconds) * 1000, [50, 99])
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    mnist = load_mnist()
    canvases = [on_white(c) for c, _ in drawn_digits(mnist.test_images[: args.count], seed=1)]
    torch.set_num_threads(1)
    for path in sorted(WEIGHTS_DIR.glob("*.npz")):
        model = digitnet.load_model(path)
        reference = torch_model(model).eval()
        preprocess_only, ours, theirs = [], [], []
        for canvas in canvases:
            started = time.perf_counter()
            digitnet.read_canvas(canvas, model)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            image = canvas_to_mnist(canvas)
            preprocessing = time.perf_counter() - started
            preprocess_only.append(preprocessing)
            started = time.perf_counter()
            with torch.inference_mode():
                torch.softmax(reference(torch.from_numpy(image).reshape(1, 1, 28, 28)), 1)
            theirs.append(preprocessing + time.perf_counter() - started)
        print(f"{path.name}: canvas to reading {percentiles(ours)}")
        print(f"  of which preprocessing {percentiles(preprocess_only)}")
        print(f"  PyTorch (1 thread) on the same preprocessing: {percentiles(theirs)}")


if __name__ == "__main__":
    main()
