"""The images every model reads: MNIST's shape, the one place the number 28 is written.

A module of its own so that the network, the data and the pages agree on it without the network
importing the data (or the data the network)."""

import numpy as np

from digitnet.errors import DigitnetError

IMAGE_SIZE = 28
IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE)
PIXELS = IMAGE_SIZE * IMAGE_SIZE
NUM_CLASSES = 10  # the digits 0-9
NOT_A_DIGIT = 10  # the eleventh output: a drawing that is not a digit at all
NUM_OUTPUTS = NUM_CLASSES + 1  # what a network built now ends in; older ones end in NUM_CLASSES


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0-255 as the float32 in [0, 1] the model takes (floats pass through as
    float32, taken to be scaled already)."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return np.divide(images, np.float32(255), dtype=np.float32)
    if np.issubdtype(images.dtype, np.floating):
        return images.astype(np.float32, copy=False)
    raise DigitnetError(f"images must be uint8 0-255 or floats in [0, 1], got {images.dtype}")
