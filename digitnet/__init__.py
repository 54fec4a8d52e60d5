"""digitnet: handwritten digits with a neural network written from scratch in NumPy.

The stable API, for the app and outside tools (everything else may move):

- ``Model``: a network with ``predict_proba(images)`` and a ``metadata`` dict (its model card;
  ``digitnet.training.card.card(model)`` reads it as a typed ``ModelCard``).
- ``load_model(path=None)`` and ``save_model(model, path)``: a weights file (default: the
  shipped CNN).
- ``canvas_to_mnist(rgba)`` and ``image_to_mnist(image)``: a drawing canvas's RGBA array, or a
  photo, made into the 28x28 image the models read (None when there is no digit to read).
- ``read_canvas(rgba, model=None)`` and ``read_image(image, model=None)``: what a person sees, a
  ``Reading`` with a ``verdict`` ("digit", "unsure" or "not a digit"), the ``digit``, the ten
  ``probabilities`` and a short ``reason``.

Reading a drawing with these loads only the network and the preprocessing: no download, drawing
collection, pen data, training or command line.
"""

__version__ = "0.1.0"  # before the imports: digitnet.training.card reads it

from digitnet.data.preprocess import canvas_to_mnist, image_to_mnist  # noqa: E402
from digitnet.errors import DigitnetError  # noqa: E402
from digitnet.network.model import Model  # noqa: E402
from digitnet.network.weights import load_model, save_model  # noqa: E402
from digitnet.reading import Reading, read_canvas, read_image  # noqa: E402

__all__ = [
    "DigitnetError",
    "Model",
    "Reading",
    "canvas_to_mnist",
    "image_to_mnist",
    "load_model",
    "read_canvas",
    "read_image",
    "save_model",
    "__version__",
]
