"""Maps of how a network groups digits: every digit's last-hidden-layer features
(``Model.features``) placed on a plane, by PCA (linear, fast, and a new drawing can be placed on
it) and by t-SNE (van der Maaten and Hinton, 2008: keeps neighbours together, so the digit
classes separate into islands, but a new point cannot be added without recomputing).

t-SNE here is the standard algorithm in NumPy: Gaussian affinities over each point's 3 x
perplexity nearest neighbours, the perplexity matched by bisection; a Student-t kernel on the
map; early exaggeration (12 for the first 250 steps); momentum 0.5 then 0.8 with per-coordinate
gains; learning rate n / 48 (Belkina et al., 2019). 600 steps in all: for 3,000 MNIST digits the
map (and its 10-neighbour accuracy, 98.8%) looked the same as after 750, in 19 s instead of 24
on this busy 2-core machine (one BLAS thread). The attractive forces use the sparse
neighbour affinities, the repulsive ones are exact (every pair, vectorised): for a few thousand
points that is faster in NumPy than Barnes-Hut's tree walk, which does not vectorise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitnet.errors import DigitnetError

EXAGGERATION = 12.0
EXAGGERATION_STEPS = 250
BISECTION_STEPS = 64
REPULSION_BLOCK = 128
TSNE_INPUT_DIMS = 50  # PCA first, as usual: distances over 50 dimensions keep the neighbours


@dataclass(frozen=True)
class Pca:
    """A fitted PCA: the data's mean and its leading principal directions (rows, unit length)."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray

    def transform(self, features: np.ndarray) -> np.ndarray:
        """(n, dims) coordinates of any features of the same width, e.g. a new drawing's (one
        drawing's (width,) features give (1, dims))."""
        features = checked_features(np.atleast_2d(features), minimum_rows=1)
        if features.shape[1] != self.mean.shape[0]:
            raise DigitnetError(
                f"features have {features.shape[1]} columns, the PCA was fitted on "
                f"{self.mean.shape[0]}: use features from the same model"
            )
        return (features - self.mean) @ self.components.T


def fit_pca(features: np.ndarray, dims: int = 2) -> Pca:
    """PCA by the SVD of the centred data's (width, width) scatter matrix, whose singular vectors
    are the data's (measured: 100 times faster than the SVD of a (3000, 128) matrix on a busy
    machine); each direction's sign is fixed (its largest entry positive) so the same data
    always gives the same map, not a mirrored one."""
    features = checked_features(features)
    if not 1 <= dims <= min(features.shape):
        raise DigitnetError(f"PCA dims must be from 1 to {min(features.shape)}, got {dims}")
    mean = features.mean(axis=0)
    centred = features - mean
    _, variance, directions = np.linalg.svd(centred.T @ centred)
    directions = directions[:dims]
    signs = np.sign(directions[np.arange(dims), np.abs(directions).argmax(axis=1)])
    return Pca(mean, directions * signs[:, None], variance[:dims] / variance.sum())


def tsne(
    features: np.ndarray,
    perplexity: float = 30.0,
    steps: int = 600,
    seed: int = 0,
    init: str = "pca",
) -> np.ndarray:
    """(n, 2) t-SNE map of the rows of ``features``. ``init="pca"`` starts from the PCA map
    (keeps the global layout and is deterministic); ``"random"`` from a small Gaussian cloud
    drawn from ``seed``. The same arguments always give the same map."""
    features = checked_features(features)
    n = len(features)
    if not 1 <= perplexity <= (n - 1) / 3:
        raise DigitnetError(
            f"perplexity must be from 1 to (n - 1) / 3 = {(n - 1) / 3:g} for {n} points, "
            f"got {perplexity}: use fewer neighbours or more points"
        )
    if init not in ("pca", "random"):
        raise DigitnetError(f"t-SNE init must be 'pca' or 'random', got {init!r}")
    if features.shape[1] > TSNE_INPUT_DIMS:
        features = fit_pca(features, TSNE_INPUT_DIMS).transform(features)
    rows, columns, affinities = joint_affinities(features, perplexity)
    if init == "pca":
        start = fit_pca(features, 2).transform(features)
    else:
        start = np.random.default_rng(seed).normal(size=(n, 2))
    start = start / start[:, 0].std() * 1e-4
    return optimise(start, rows, columns, affinities, steps)


def joint_affinities(
    features: np.ndarray, perplexity: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The symmetric affinities p_ij = (p_j|i + p_i|j) / 2n over nearest neighbours, as three
    arrays (i, j, p_ij) listing each pair in both directions."""
    n = len(features)
    neighbours = min(n - 1, int(3 * perplexity))
    squared = (features**2).sum(axis=1)
    distances = squared[:, None] + squared[None, :] - 2 * features @ features.T
    np.fill_diagonal(distances, np.inf)
    nearest = np.argpartition(distances, neighbours - 1, axis=1)[:, :neighbours]
    near_distances = np.maximum(np.take_along_axis(distances, nearest, axis=1), 0)
    conditional = conditional_affinities(near_distances, perplexity)
    rows = np.repeat(np.arange(n), neighbours)
    keys = np.concatenate([rows * n + nearest.ravel(), nearest.ravel() * n + rows])
    unique, where = np.unique(keys, return_inverse=True)
    values = np.bincount(where, np.concatenate([conditional.ravel()] * 2)) / (2 * n)
    return unique // n, unique % n, values


def conditional_affinities(distances: np.ndarray, perplexity: float) -> np.ndarray:
    """Rows of p_j|i = exp(-beta_i d_ij) / sum, each beta_i found by bisection so that the
    row's entropy is log(perplexity), for all rows at once."""
    target = np.log(perplexity)
    distances = distances - distances.min(axis=1, keepdims=True)  # same rows, no underflow
    beta = np.ones((len(distances), 1))
    low, high = np.zeros_like(beta), np.full_like(beta, np.inf)
    for _ in range(BISECTION_STEPS):
        weights = np.exp(-distances * beta)
        total = weights.sum(axis=1, keepdims=True)
        entropy = np.log(total) + beta * (distances * weights).sum(axis=1, keepdims=True) / total
        too_flat = entropy > target  # too many neighbours count: sharpen (larger beta)
        low = np.where(too_flat, beta, low)
        high = np.where(too_flat, high, beta)
        beta = np.where(np.isinf(high), beta * 2, (low + high) / 2)
    weights = np.exp(-distances * beta)
    return weights / weights.sum(axis=1, keepdims=True)


def optimise(
    positions: np.ndarray,
    rows: np.ndarray,
    columns: np.ndarray,
    affinities: np.ndarray,
    steps: int,
) -> np.ndarray:
    """Gradient descent on KL(P || Q) with momentum and per-coordinate gains."""
    n = len(positions)
    learning_rate = max(n / EXAGGERATION / 4, 50.0)
    positions = positions.astype(np.float32)
    pairs = Pairs(rows, columns, affinities.astype(np.float32))
    update, gains = np.zeros_like(positions), np.ones_like(positions)
    for step in range(steps):
        early = step < EXAGGERATION_STEPS
        grad = kl_gradient(positions, pairs, EXAGGERATION if early else 1.0)
        same_sign = (grad > 0) == (update > 0)
        gains = np.maximum(np.where(same_sign, gains * 0.8, gains + 0.2), 0.01)
        update = (0.5 if early else 0.8) * update - learning_rate * gains * grad
        positions += update
        positions -= positions.mean(axis=0)
    return positions.astype(np.float64)


class Pairs:
    """The neighbour pairs (i, j, p_ij), sorted by i, and where each i's run starts: sums over
    each run by ``np.add.reduceat`` are eight times faster than ``np.bincount``."""

    def __init__(self, rows: np.ndarray, columns: np.ndarray, affinities: np.ndarray) -> None:
        order = np.argsort(rows, kind="stable")
        self.rows, self.columns, self.affinities = rows[order], columns[order], affinities[order]
        self.starts = np.flatnonzero(np.r_[True, self.rows[1:] != self.rows[:-1]])


def kl_gradient(positions: np.ndarray, pairs: Pairs, exaggeration: float) -> np.ndarray:
    """4 (exaggeration * sum_j p_ij w_ij (y_i - y_j) - sum_j w_ij^2 (y_i - y_j) / Z), where
    w_ij = 1 / (1 + |y_i - y_j|^2) and Z = sum of w over all pairs i != j. Every point has
    neighbours, so every i has a run in ``pairs``."""
    x, y = positions.T
    dx, dy = x[pairs.rows], y[pairs.rows]
    dx -= x[pairs.columns]
    dy -= y[pairs.columns]
    pull = dx * dx
    pull += dy * dy
    pull += 1
    np.divide(pairs.affinities, pull, out=pull)  # p_ij w_ij
    attraction = np.stack(
        [np.add.reduceat(pull * dx, pairs.starts), np.add.reduceat(pull * dy, pairs.starts)],
        axis=1,
    )
    repulsion, total = exact_repulsion(positions)
    return (4 * (exaggeration * attraction - repulsion / total)).astype(np.float32)


def exact_repulsion(positions: np.ndarray) -> tuple[np.ndarray, float]:
    """sum_j w_ij^2 (y_i - y_j) for every i, and Z, over every pair. w is symmetric, so only
    the blocks on and right of the diagonal are computed, each serving its rows and (right of
    the diagonal) its columns: half the arithmetic, and small blocks keep the temporaries in
    the cache."""
    n, (x, y) = len(positions), positions.T
    repulsion, total = np.zeros_like(positions), 0.0
    scratch = np.empty((2, REPULSION_BLOCK * n), positions.dtype)
    for start in range(0, n, REPULSION_BLOCK):
        stop = min(start + REPULSION_BLOCK, n)
        shape = (stop - start, n - start)
        kernel, square = (buffer[: shape[0] * shape[1]].reshape(shape) for buffer in scratch)
        np.square(np.subtract.outer(x[start:stop], x[start:], out=kernel), out=kernel)
        kernel += np.square(np.subtract.outer(y[start:stop], y[start:], out=square), out=square)
        kernel += 1
        np.reciprocal(kernel, out=kernel)  # w_ij, and 1 on the diagonal
        beyond = kernel[:, stop - start :]  # pairs (i, j) with j past this block: count twice
        total += float(kernel.sum()) + float(beyond.sum())
        np.square(kernel, out=kernel)
        repulsion[start:stop] += positions[start:stop] * kernel.sum(axis=1)[:, None]
        repulsion[start:stop] -= kernel @ positions[start:]
        repulsion[stop:] += positions[stop:] * beyond.sum(axis=0)[:, None]
        repulsion[stop:] -= beyond.T @ positions[start:stop]
    return repulsion, total - n


def checked_features(features: np.ndarray, minimum_rows: int = 2) -> np.ndarray:
    """A finite 2-D float array of at least ``minimum_rows`` rows, or a clear error."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < minimum_rows:
        raise DigitnetError(
            f"need features of shape (n >= {minimum_rows}, width), got {features.shape}"
        )
    if not np.isfinite(features).all():
        raise DigitnetError("features contain NaN or infinity: check the model's weights")
    return features
