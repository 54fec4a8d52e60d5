import numpy as np
import pytest

from digitnet.errors import DigitnetError
from digitnet.network.layers import (
    Dense,
    Dropout,
    Flatten,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Tanh,
    softmax,
    softmax_cross_entropy,
)
from tests.gradcheck import check_layer, numeric_gradient, relative_error


def away_from_zero(shape, seed=0):
    """Inputs not too close to 0, where ReLU-like layers have a kink finite differences trip on."""
    x = np.random.default_rng(seed).normal(size=shape)
    return x + np.sign(x) * 0.1


@pytest.mark.parametrize("init", ["he", "glorot"])
def test_dense_gradients(init):
    check_layer(Dense((7,), np.random.default_rng(0), units=5, init=init), away_from_zero((4, 7)))


@pytest.mark.parametrize(
    "layer_type, options",
    [(ReLU, {}), (LeakyReLU, {"alpha": 0.1}), (Tanh, {}), (Sigmoid, {})],
)
def test_activation_gradients(layer_type, options):
    check_layer(layer_type((6,), None, **options), away_from_zero((3, 6)))


def test_dropout_gradients_with_a_fixed_mask():
    layer = Dropout((8,), None, rate=0.5)

    def reseed():
        layer.rng = np.random.default_rng(3)

    check_layer(layer, away_from_zero((5, 8)), training=True, reseed=reseed)


def test_dropout_keeps_the_expected_value_and_is_identity_at_inference():
    layer = Dropout((1000,), np.random.default_rng(0), rate=0.3)
    x = np.ones((50, 1000), np.float32)
    out = layer.forward(x, training=True)
    assert abs(out.mean() - 1) < 0.02
    assert abs((out == 0).mean() - 0.3) < 0.02
    assert out.dtype == np.float32
    assert np.array_equal(layer.forward(x, training=False), x)


def test_flatten_gradients():
    check_layer(Flatten((3, 4)), away_from_zero((2, 3, 4)))


def test_initialisation_scales():
    rng = np.random.default_rng(0)
    he = Dense((800,), rng, units=400, init="he").params["W"]
    glorot = Dense((800,), rng, units=400, init="glorot").params["W"]
    assert he.dtype == np.float32
    assert abs(he.std() - np.sqrt(2 / 800)) < 0.002
    assert abs(glorot.std() - np.sqrt(2 / 1200)) < 0.002
    with pytest.raises(DigitnetError, match="unknown initialisation"):
        Dense((4,), rng, units=2, init="zeros")


def test_softmax_cross_entropy_gradient_and_value():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 10))
    labels = rng.integers(0, 10, size=6)
    loss, grad = softmax_cross_entropy(logits, labels)
    expected = -np.log(softmax(logits.copy())[np.arange(6), labels]).mean()
    assert loss == pytest.approx(expected)
    numeric = numeric_gradient(lambda: softmax_cross_entropy(logits, labels)[0], logits)
    assert relative_error(grad, numeric) < 1e-6


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0, -1e4], [-1e4, 1e4, 0]], np.float32)
    loss, grad = softmax_cross_entropy(logits, np.array([0, 0]))
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert loss == pytest.approx(1e4, rel=1e-3)  # the second row is wrong by 2e4, halved
    probabilities = softmax(logits.copy())
    assert np.isfinite(probabilities).all()
    assert np.allclose(probabilities.sum(axis=1), 1)
