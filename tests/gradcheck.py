"""Finite-difference gradient checks, in float64, for any layer that follows the protocol."""

import numpy as np


def numeric_gradient(f, array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f() with respect to every entry of ``array``."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        plus = f()
        array[index] = original - eps
        minus = f()
        array[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), 1e-8))


def check_layer(layer, x: np.ndarray, training: bool = False, reseed=None) -> None:
    """Asserts backward matches finite differences for the input and every parameter.

    The loss is sum(forward(x) * weights) with fixed random weights, so every output matters.
    ``reseed`` is called before every forward, for layers with randomness (dropout).
    """
    reseed = reseed or (lambda: None)
    layer.keep_for_backward = True  # a backward follows each forward, also in inference mode
    for name in layer.params:
        layer.params[name] = layer.params[name].astype(np.float64)
    x = x.astype(np.float64)
    reseed()
    out = layer.forward(x, training)
    weights = np.random.default_rng(1).normal(size=out.shape)

    def loss() -> float:
        reseed()
        return float((layer.forward(x, training) * weights).sum())

    reseed()
    layer.forward(x.copy(), training)
    # Copies: a backward that works in place on its gradient (ReLU's does, for speed) must not
    # change the weights the finite differences use, nor an x that it kept from forward.
    grad_x = layer.backward(weights.copy())
    analytic = {name: layer.grads[name].copy() for name in layer.params}
    assert grad_x.shape == x.shape
    assert relative_error(grad_x, numeric_gradient(loss, x)) < 1e-6, "input gradient"
    for name, param in layer.params.items():
        error = relative_error(analytic[name], numeric_gradient(loss, param))
        assert error < 1e-6, f"gradient of {name}: relative error {error}"
