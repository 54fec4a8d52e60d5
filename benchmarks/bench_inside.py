"""Server time of the Draw page's "Inside the network" view per stroke, and of the Explore
page's map and robustness curves, for each shipped model.

Per stroke (p50 / p95 over drawn digits, one at a time as the page sees them): every layer's
activations, the SmoothGrad saliency map (the default), the three nearest of 10,000 training
digits by their last-hidden-layer features (computed once per model, outside the timing, as the
page caches them), and the pictures (feature-map grids for a CNN, the strongest units' weights
for an MLP). Then, once per model: PCA and t-SNE of 3,000 test digits' features, and the
robustness curves on 1,000 test digits.

BLAS gets one thread, as in the app's server (``digitnet.training.jobs``): on this busy 2-core
machine, OpenBLAS's two threads made the CNN's saliency map ten times slower (878 ms against 87 ms).

    DIGITNET_DATA=../shared/data/mnist python -m benchmarks.bench_inside [--count 100] [--quick]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

import digitnet
from digitnet.analysis.embedding import fit_pca, tsne
from digitnet.analysis.inside import (
    DigitIndex,
    after_each_convolution,
    feature_maps,
    saliency,
    strongest_units,
)
from digitnet.analysis.robustness import SUBSET, robustness_curves
from digitnet.data.drawn import drawn_test_set
from digitnet.data.mnist import load_mnist
from digitnet.images import to_float
from pages.common.pictures import tile

REFERENCE_DIGITS = 10_000
MAP_DIGITS = 3_000


def inside_view(model: digitnet.Model, image: np.ndarray, reference: DigitIndex) -> None:
    """What the page computes after a stroke, beside the prediction."""
    outputs = model.activations(image[None])
    saliency(model, image)
    reference.nearest(outputs[-2][1][0])
    positions = after_each_convolution(model)
    for position in positions:
        tile(feature_maps(outputs[position][1]), columns=8, gap=1)
    if not positions:
        strongest_units(model, image)


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def bench(path: str | None, mnist, drawings: np.ndarray, quick: bool) -> None:
    model = digitnet.load_model(path)
    name = "cnn" if path is None else "mlp"
    reference = DigitIndex(model.features(to_float(mnist.train_images[:REFERENCE_DIGITS])))
    inside_view(model, drawings[0], reference)  # warm up
    seconds = np.array([timed(lambda d=d: inside_view(model, d, reference)) for d in drawings])
    p50, p95 = np.percentile(seconds * 1000, [50, 95])
    print(f"{name}: inside view per stroke p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    for part, run in [
        ("activations", lambda: model.activations(drawings[0][None])),
        ("saliency (smoothgrad)", lambda: saliency(model, drawings[0])),
        ("nearest of 10,000", lambda: reference.nearest(reference.unit_features[0])),
    ]:
        print(f"  {part}: {np.median([timed(run) for _ in range(20)]) * 1000:.1f} ms")
    if quick:
        return
    test = to_float(mnist.test_images[:MAP_DIGITS])
    features = model.features(test)
    print(f"  features of {MAP_DIGITS} digits: {timed(lambda: model.features(test)):.2f} s")
    print(f"  PCA: {timed(lambda: fit_pca(features).transform(features)):.2f} s")
    print(f"  t-SNE: {timed(lambda: tsne(features)):.1f} s")
    subset = (mnist.test_images[:SUBSET], mnist.test_labels[:SUBSET])
    started = time.perf_counter()
    curves = robustness_curves(model, *subset)
    print(f"  robustness curves: {time.perf_counter() - started:.1f} s")
    for distortion, points in curves.items():
        print(f"    {distortion}: " + ", ".join(f"{v:g}: {a:.1%}" for v, a in points))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100, help="drawn digits, one per stroke")
    parser.add_argument("--quick", action="store_true", help="per-stroke figures only")
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")
    mnist = load_mnist()
    drawings, _, _ = drawn_test_set(mnist.test_images, mnist.test_labels, n=args.count, seed=1)
    for path in (None, "weights/mlp.npz"):
        bench(path, mnist, drawings, args.quick)


if __name__ == "__main__":
    main()
