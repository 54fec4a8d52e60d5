"""The PyTorch twin the benchmarks time digitnet against (benchmarks/torch_reference.py) computes
what digitnet computes: the same logits, to float32 rounding, on real MNIST digits. For the MLP
and the CNN the benchmarks build (fresh weights, as a benchmark starts) and for the shipped
models (trained weights, BatchNorm running statistics), each copied into the twin. A twin that
differed would make the timings compare different work.

Needs PyTorch (requirements-bench.txt; CI installs it): without it this fails, never skips.
"""

from __future__ import annotations

import numpy as np
import pytest

from digitnet.images import to_float
from digitnet.network.model import Model
from digitnet.network.spec import mlp_spec
from digitnet.network.weights import WEIGHTS_DIR, load_model

IMAGES = 512  # MNIST test digits, all ten classes many times over
TOLERANCE = 1e-4
MODELS = {
    "mlp as benchmarked": lambda: Model(mlp_spec(), seed=0),  # benchmarks/bench_mlp_epoch.py
    "cnn as benchmarked": lambda: Model("cnn", seed=0),  # benchmarks/bench_cnn_epoch.py
    "shipped mlp": lambda: load_model(WEIGHTS_DIR / "mlp.npz"),
    "shipped cnn": lambda: load_model(WEIGHTS_DIR / "cnn.npz"),
}


@pytest.mark.parametrize("name", MODELS)
def test_the_torch_twin_gives_digitnets_logits(name, mnist):
    import torch  # a plain import: a missing PyTorch is a failure here, not a skip

    from benchmarks.torch_reference import torch_model

    model = MODELS[name]()
    images = to_float(mnist.test_images[:IMAGES])
    ours = model.logits(images)
    with torch.no_grad():
        theirs = torch_model(model).eval()(torch.from_numpy(images[:, None])).numpy()
    assert theirs.shape == ours.shape == (IMAGES, model.outputs) and theirs.dtype == np.float32
    assert np.abs(theirs - ours).max() < TOLERANCE, np.abs(theirs - ours).max()
    if name.startswith("shipped"):  # trained: both read the digits alike, and mostly right
        assert (theirs.argmax(axis=1) == ours.argmax(axis=1)).all()
        assert (ours.argmax(axis=1) == mnist.test_labels[:IMAGES]).mean() > 0.95
