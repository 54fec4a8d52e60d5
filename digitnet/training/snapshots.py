"""The network as it was at the end of each epoch, so a page can show how it read a drawing
while it learned, not only at the end.

Light by design: a copy of the arrays per epoch (0.7 MB for the shipped CNN, 2 MB for the MLP),
and past ``max_bytes`` every other snapshot is let go (the first and the latest stay), so a long
training keeps an evenly thinned history in bounded memory.
"""

from __future__ import annotations

import threading

import numpy as np

from digitnet.errors import DigitnetError
from digitnet.network.model import Model, copy_weights, load_weights

MAX_BYTES = 64 * 1024 * 1024


class Snapshots:
    """Weights by epoch (0-based) of one training. ``take`` may be called from the training's
    thread while a page reads ``epochs`` and ``model_at`` from another."""

    def __init__(self, model: Model, max_bytes: int = MAX_BYTES) -> None:
        self.model = model
        self.max_bytes = max_bytes
        self._by_epoch: dict[int, tuple[list[np.ndarray], float]] = {}  # arrays, temperature
        self._lock = threading.Lock()

    def take(self, epoch: int) -> None:
        """Keeps the model's arrays (and its temperature, which training fits only at the end)
        as they are now, as ``epoch``'s."""
        kept = copy_weights(self.model), self.model.temperature
        with self._lock:
            self._by_epoch[epoch] = kept
            self._thin()

    @property
    def epochs(self) -> list[int]:
        with self._lock:
            return sorted(self._by_epoch)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._size()

    def model_at(self, epoch: int) -> Model:
        """A model with the same spec and ``epoch``'s weights (for reading, not training)."""
        with self._lock:
            if epoch not in self._by_epoch:
                kept = ", ".join(str(e + 1) for e in sorted(self._by_epoch)) or "none yet"
                raise DigitnetError(f"no snapshot of epoch {epoch + 1} (kept: {kept})")
            arrays, temperature = self._by_epoch[epoch]
        twin = Model(self.model.spec, metadata={"temperature": temperature})
        load_weights(twin, arrays)
        return twin

    def _thin(self) -> None:
        """Lets every other snapshot go, the first and the latest kept, until under the limit."""
        while len(self._by_epoch) > 2 and self._size() > self.max_bytes:
            epochs = sorted(self._by_epoch)
            for epoch in epochs[1:-1:2]:
                del self._by_epoch[epoch]

    def _size(self) -> int:
        return sum(a.nbytes for arrays, _ in self._by_epoch.values() for a in arrays)
