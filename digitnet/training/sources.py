"""What a training mixes into its batches beside the data set's images: pen digits drawn on the
fly, drawings that are not digits (for the eleventh output) and, when fine-tuning, a person's
own drawings; ``Mixture`` makes several of them one ``DigitSource``.

Drawings that are not digits are mixed in by default wherever pen digits are (both are drawn
through the same canvas renderer), at DEFAULT_NOT_DIGIT_SHARE of every batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from digitnet.training.trainer import DigitSource

DEFAULT_NOT_DIGIT_SHARE = 0.1  # 13 of a batch of 128


class Mixture:
    """Several digit sources as one, each giving its share of every sample (drawn from
    ``rng``, so a training stays repeatable)."""

    def __init__(self, parts: Sequence[tuple[DigitSource, float]]) -> None:
        self.sources = [source for source, _ in parts]
        weights = np.array([weight for _, weight in parts], float)
        self.shares = weights / weights.sum()
        self.name = " + ".join(source.name for source in self.sources)

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        counts = rng.multinomial(count, self.shares)
        pieces = [s.sample(int(n), rng) for s, n in zip(self.sources, counts) if n]
        return np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces])


def mixed_in(parts: Sequence[tuple[DigitSource | None, float]]) -> tuple[DigitSource | None, float]:
    """The sources that are there with a share above 0, as one source (None: none), and the
    share of every batch they take together (a TrainConfig's ``extra_share``)."""
    present = [(source, share) for source, share in parts if source is not None and share > 0]
    if not present:
        return None, 0.0
    total = sum(share for _, share in present)
    source = present[0][0] if len(present) == 1 else Mixture(present)
    return source, round(total, 6)
