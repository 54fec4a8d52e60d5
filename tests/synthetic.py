"""A small, learnable stand-in for MNIST: ten fixed random templates plus noise."""

import numpy as np


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    templates = np.random.default_rng(1234).random((10, 28, 28)) > 0.7
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    noise = rng.normal(0, 0.35, size=(n, 28, 28))
    images = np.clip(templates[labels] * 0.8 + noise, 0, 1)
    return (images * 255).astype(np.uint8), labels
