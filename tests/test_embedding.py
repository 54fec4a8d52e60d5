import numpy as np
import pytest

from digitnet.analysis.embedding import (
    Pairs,
    conditional_affinities,
    exact_repulsion,
    fit_pca,
    joint_affinities,
    kl_gradient,
    tsne,
)
from digitnet.errors import DigitnetError
from tests.gradcheck import numeric_gradient, relative_error


def clusters(per_cluster: int = 60, count: int = 5, width: int = 20, seed: int = 0):
    """Well-separated Gaussian clusters: centres 10 apart, spread 1."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (count, width))
    labels = np.repeat(np.arange(count), per_cluster)
    return centres[labels] + rng.normal(0, 1, (len(labels), width)), labels


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    distances = ((points[:, None] - points[None]) ** 2).sum(axis=2)
    np.fill_diagonal(distances, np.inf)
    votes = labels[np.argsort(distances, axis=1)[:, :k]]
    guesses = np.array([np.bincount(row).argmax() for row in votes])
    return float((guesses == labels).mean())


def test_pca_finds_the_direction_of_largest_spread_and_places_new_points():
    rng = np.random.default_rng(0)
    direction = np.array([3.0, 4.0, 0.0]) / 5
    data = rng.normal(0, 5, (200, 1)) * direction + rng.normal(0, 0.1, (200, 3)) + 7
    pca = fit_pca(data, dims=2)
    assert abs(pca.components[0] @ direction) == pytest.approx(1, abs=1e-3)
    assert pca.explained_variance_ratio[0] > 0.99
    new = data.mean(axis=0) + 2 * direction  # one drawing's features: (width,)
    along = pca.transform(new)
    assert along.shape == (1, 2)
    assert along[0, 0] == pytest.approx(2 * np.sign(pca.components[0] @ direction), abs=1e-2)
    assert np.array_equal(fit_pca(data).components, pca.components)  # no random mirror
    with pytest.raises(DigitnetError, match="same model"):
        pca.transform(np.ones((1, 4)))
    with pytest.raises(DigitnetError, match="NaN"):
        fit_pca(np.full((3, 2), np.nan))


def test_perplexity_is_matched_by_bisection():
    distances = np.random.default_rng(1).random((40, 30)) * 10
    rows = conditional_affinities(distances, perplexity=8)
    assert np.allclose(rows.sum(axis=1), 1)
    entropy = -(rows * np.log(np.maximum(rows, 1e-300))).sum(axis=1)
    assert np.allclose(np.exp(entropy), 8, rtol=1e-4)


def test_affinities_are_symmetric_and_sum_to_one():
    rows, columns, values = joint_affinities(clusters(20)[0], perplexity=5)
    dense = np.zeros((100, 100))
    dense[rows, columns] = values
    assert np.allclose(dense, dense.T) and dense.sum() == pytest.approx(1)
    assert np.all(np.diag(dense) == 0)


def test_kl_gradient_matches_finite_differences():
    points = np.random.default_rng(2).normal(size=(12, 4))
    rows, columns, values = joint_affinities(points, perplexity=3)
    positions = np.random.default_rng(3).normal(size=(12, 2))
    p = np.zeros((12, 12))
    p[rows, columns] = values
    off_diagonal = ~np.eye(12, dtype=bool)

    def kl() -> float:
        distances = ((positions[:, None] - positions[None]) ** 2).sum(axis=2)
        q = 1 / (1 + distances)
        q = q[off_diagonal] / q[off_diagonal].sum()
        kept = p[off_diagonal] > 0
        return float((p[off_diagonal][kept] * np.log(p[off_diagonal][kept] / q[kept])).sum())

    analytic = kl_gradient(positions, Pairs(rows, columns, values), exaggeration=1.0)
    assert relative_error(analytic, numeric_gradient(kl, positions)) < 1e-5


def test_blocked_repulsion_is_the_sum_over_every_pair():
    positions = np.random.default_rng(4).normal(0, 3, (300, 2))  # more than one block
    differences = positions[:, None] - positions[None]
    kernel = 1 / (1 + (differences**2).sum(axis=2))
    repulsion, total = exact_repulsion(positions)
    assert np.allclose(repulsion, ((kernel**2)[:, :, None] * differences).sum(axis=1))
    assert total == pytest.approx(kernel.sum() - 300)


def test_tsne_keeps_clusters_together_and_is_repeatable():
    features, labels = clusters()
    layout = tsne(features, perplexity=20, steps=400, init="random", seed=7)
    assert layout.shape == (300, 2) and np.isfinite(layout).all()
    assert knn_accuracy(layout, labels) > 0.98
    assert np.array_equal(layout, tsne(features, perplexity=20, steps=400, init="random", seed=7))
    assert not np.allclose(layout, tsne(features, perplexity=20, steps=400, init="random", seed=8))
    assert knn_accuracy(tsne(features, perplexity=20, steps=400), labels) > 0.98  # PCA start


def test_tsne_refuses_impossible_settings():
    features = clusters(4, count=2)[0]
    with pytest.raises(DigitnetError, match="perplexity"):
        tsne(features, perplexity=30)
    with pytest.raises(DigitnetError, match="init"):
        tsne(features, perplexity=2, init="spectral")
