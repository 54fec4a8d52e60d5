"""What the network does inside, for one drawing: which pixels mattered (saliency), which
training digits it finds most alike, and pictures of its hidden layers.

Everything takes a model and a 28x28 float image in [0, 1] (``digitnet.images.to_float`` or the
canvas preprocessing gives one) and returns plain arrays that a page can draw. Nothing here
writes to the model (see ``Model.activations``), so sessions may share one.
"""

from __future__ import annotations

import numpy as np

from digitnet.errors import DigitnetError
from digitnet.network.conv import Conv2D
from digitnet.network.layers import Flatten, LeakyReLU, ReLU, Sigmoid, Tanh
from digitnet.network.model import Model

# Looked at on drawn digits for both shipped models: noise 0.15 left the CNN's map speckled,
# 0.3 gives smooth regions, 0.5 looks the same as 0.3; 16 samples look like 32 and take the
# CNN 15 ms instead of 53 (one BLAS thread, busy machine).
SMOOTHGRAD_SAMPLES = 16
SMOOTHGRAD_NOISE = 0.3  # standard deviation of the pixel noise, on the [0, 1] pixel scale
SALIENCY_METHODS = ("gradient", "gradient_x_input", "smoothgrad")


def saliency(
    model: Model,
    image: np.ndarray,
    digit: int | None = None,
    method: str = "smoothgrad",
    noise: float = SMOOTHGRAD_NOISE,
    samples: int = SMOOTHGRAD_SAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """A signed (28, 28) map in [-1, 1] of how each pixel moves the logit of ``digit`` (default:
    the model's answer): positive pushed towards it, negative against it.

    - ``"gradient"``: the logit's gradient. For the CNN a salt-and-pepper of single red and
      blue pixels, on the background as much as on the strokes: people see noise.
    - ``"gradient_x_input"``: the gradient times the pixel: only ink counts, so it shows which
      parts of the strokes spoke for the answer, but not where missing ink matters (the gap
      that would turn this 7 into a 9), and it keeps the speckle along the strokes.
    - ``"smoothgrad"`` (Smilkov et al., 2017; the default): the gradient averaged over
      ``samples`` copies of the drawing with Gaussian pixel noise of standard deviation
      ``noise``. For the CNN the speckle averages into regions: red inside the loops of an 8,
      blue to the left of a 7's stem (ink there would make it another digit). It reads best
      because it answers both "what does it look at?" and "where would a stroke change its
      mind?". For an MLP it changes little (the noise switches few of its units on or off, so
      its gradient barely moves) and shows the shape of its first layer's weights. Seeded: a
      drawing always gives one map.

    Scaled by the largest absolute value, so the sign and relative strength survive.
    """
    if method not in SALIENCY_METHODS:
        raise DigitnetError(f"unknown saliency method {method!r}: use one of {SALIENCY_METHODS}")
    image = one_image(image)
    if digit is None:
        digit = int(model.predict(image[None])[0])
    if method == "smoothgrad":
        if samples < 1 or not noise >= 0:
            raise DigitnetError(
                f"smoothgrad needs samples >= 1 and noise >= 0, got {samples} and {noise}"
            )
        rng = np.random.default_rng(seed)
        noisy = image + rng.normal(0, noise, (samples, *image.shape)).astype(np.float32)
        grad = model.input_gradient(noisy, np.full(samples, digit)).mean(axis=0)
    else:
        grad = model.input_gradient(image[None], np.array([digit]))[0]
        if method == "gradient_x_input":
            grad = grad * image
    return scale_signed(grad)


def scale_signed(values: np.ndarray) -> np.ndarray:
    """Divided by the largest absolute value, into [-1, 1] (all zero stays all zero)."""
    largest = np.abs(values).max()
    return (values / largest if largest > 0 else np.zeros_like(values)).astype(np.float32)


class DigitIndex:
    """The digits most alike to a drawing in the last hidden layer (``Model.features``), by
    cosine similarity.

    Cosine, not euclidean: after a ReLU the features' length grows with the amount of ink, and
    a thick 3 should still find thin 3s; the direction says which units fire, which is what the
    output layer reads. Build one per model from e.g. 10,000 training digits' features (~2 s
    for the CNN) and keep it (cache it per model checksum): the rows are normalised once here,
    so a query is one matrix-vector product.
    """

    def __init__(self, reference_features: np.ndarray) -> None:
        reference = np.asarray(reference_features, dtype=np.float32)
        if reference.ndim != 2 or not len(reference):
            raise DigitnetError(
                f"need reference features of shape (n, width), got {reference.shape}"
            )
        self.unit_features = unit_rows(reference)

    def nearest(self, features: np.ndarray, count: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """Indices into the reference set of the ``count`` digits most alike to one drawing's
        features, most alike first, and their cosine similarities."""
        features = np.asarray(features, dtype=np.float32).reshape(-1)
        if features.shape != self.unit_features.shape[1:]:
            raise DigitnetError(
                f"features of length {features.size} do not match the reference's "
                f"{self.unit_features.shape[1]}: use features from the same model"
            )
        similarity = self.unit_features @ unit_rows(features[None])[0]
        count = min(count, len(similarity))
        best = np.argpartition(-similarity, count - 1)[:count]
        best = best[np.argsort(-similarity[best])]
        return best, similarity[best]


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its length (rows of zeros stay zero)."""
    lengths = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(lengths, np.float32(1e-12))


def feature_maps(activation: np.ndarray) -> np.ndarray:
    """One image's (h, w, k) convolution output (after its activation) as (k, h, w) in [0, 1]:
    all maps divided by the layer's largest value, not each by its own, so a map that barely
    fires looks dark rather than as bright as the strongest one. Negative values (tanh) show
    as 0. A batch of one, (1, h, w, k), is accepted as well."""
    activation = np.asarray(activation, dtype=np.float32)
    if activation.ndim == 4 and len(activation) == 1:
        activation = activation[0]
    if activation.ndim != 3:
        raise DigitnetError(
            f"feature maps need one image's (h, w, k) output, got {activation.shape}"
        )
    maps = np.clip(activation.transpose(2, 0, 1), 0, None)
    largest = maps.max()
    return maps / largest if largest > 0 else maps


def after_each_convolution(model: Model) -> list[int]:
    """Positions in ``Model.activations`` of each convolution's maps after its activation (the
    first activation before the next convolution or the flatten; the convolution itself if it
    has none): what to draw with ``feature_maps`` (and ``augment.tile`` for a grid)."""
    positions = []
    for start, layer in enumerate(model.layers):
        if not isinstance(layer, Conv2D):
            continue
        chosen = start
        for position in range(start + 1, len(model.layers)):
            following = model.layers[position]
            if isinstance(following, Conv2D | Flatten):
                break
            if isinstance(following, ReLU | LeakyReLU | Tanh | Sigmoid):
                chosen = position
                break
        positions.append(chosen)
    return positions


def strongest_units(
    model: Model, image: np.ndarray, count: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a network whose first trainable layer is dense (an MLP): its ``count`` most active
    hidden units for this drawing (after the activation that follows it), their activations,
    and their incoming weights as (count, 28, 28) images in [-1, 1] (each scaled by its own
    largest weight: positive where ink excites the unit, negative where it inhibits it)."""
    layers = model.layers
    first = next((i for i, layer in enumerate(layers) if layer.params), None)
    if first is None or "W" not in layers[first].params or layers[first].params["W"].ndim != 2:
        raise DigitnetError("incoming weights as images need a network that starts with dense")
    names_and_outputs = model.activations(one_image(image)[None])
    # The output after the unit's activation, if one follows; the dense layer's otherwise.
    after = first + 1 if first + 1 < len(layers) - 1 else first
    activity = names_and_outputs[after][1][0]
    units = np.argsort(-activity, kind="stable")[:count]
    weights = layers[first].params["W"][:, units].T.reshape(len(units), 28, 28)
    largest = np.abs(weights).max(axis=(1, 2), keepdims=True)
    return units, activity[units], (weights / np.maximum(largest, 1e-12)).astype(np.float32)


def one_image(image: np.ndarray) -> np.ndarray:
    """A (28, 28) or (784,) float image, as float32 (28, 28), or a clear error."""
    image = np.asarray(image)
    if image.shape == (784,) or image.shape == (1, 28, 28):
        image = image.reshape(28, 28)
    if image.shape != (28, 28) or not np.issubdtype(image.dtype, np.floating):
        raise DigitnetError(
            f"expected one float 28x28 image in [0, 1], got {image.dtype} {image.shape}"
        )
    return image.astype(np.float32, copy=False)
