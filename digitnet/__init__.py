"""digitnet: handwritten digits with a neural network written from scratch in NumPy.

The stable public API, for the app and outside tools:

- ``load_model(path=None)``: a model with ``predict_proba(x)`` and a ``metadata`` dict;
  ``digitnet.card.card(model)`` reads that dict as a typed ``ModelCard``.
- ``digitnet.preprocess.canvas_to_mnist(rgba)``: a drawing canvas's RGBA array to a 28x28 image.
"""

__version__ = "0.1.0"  # before the imports: digitnet.card reads it

from digitnet.errors import DigitnetError  # noqa: E402
from digitnet.model import Model  # noqa: E402
from digitnet.weights import load_model, save_model  # noqa: E402

__all__ = ["DigitnetError", "Model", "load_model", "save_model", "__version__"]
