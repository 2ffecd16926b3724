import numpy as np
import pytest

from softfact.metrics.algebra import additivity_error, analogy_pairs, analogy_ranks, analogy_scores
from softfact.evaluation.grid import differences

from metric_grids import factor_grid, orthogonal_directions


def _additivity_loop(d):
    """Per-cell reference: the definition written out."""
    m = d.shape[1] // 2
    vals = []
    for i in range(d.shape[0]):
        for a in range(d.shape[1]):
            for b in range(d.shape[2]):
                if a != m and b != m:
                    r = d[i, a, b] - d[i, a, m] - d[i, m, b]
                    vals.append(np.linalg.norm(r) / np.linalg.norm(d[i, a, b]))
    return float(np.mean(vals))


def test_additivity_zero_for_linear_encoder(oracle_grid):
    assert additivity_error(differences(oracle_grid))["additivity_err"] < 1e-12


def test_additivity_matches_definition_on_interacting_factors(rng):
    F = factor_grid(3)
    A = orthogonal_directions(rng, 6)
    inter = (F[..., 0] * F[..., 1])[..., None] * rng.normal(size=6)  # dy*dx term
    Z = rng.normal(size=(5, 1, 1, 6)) + F @ A + 0.3 * inter
    d = differences(Z)
    got = additivity_error(d)["additivity_err"]
    assert got == pytest.approx(_additivity_loop(d), rel=1e-12)
    assert got > 0.1


def test_additivity_random_near_sqrt2(random_grid):
    assert additivity_error(differences(random_grid))["additivity_err"] == pytest.approx(np.sqrt(2), abs=0.15)


def _ranks_loop(Z, pairs):
    n, S, _, D = Z.shape
    m = S // 2
    out = []
    for a, b in pairs:
        row = []
        for t in range(S * S):
            ty, tx = divmod(t, S)
            if (ty, tx) == (m, m):
                continue
            q = Z[b, m, m] + Z[a, ty, tx] - Z[a, m, m]
            dist = np.linalg.norm(Z[b].reshape(S * S, D) - q, axis=1)
            row.append(int((dist <= dist[t] * (1 + 1e-9)).sum()))
        out.append(row)
    return np.array(out)


def test_analogy_ranks_match_loop_and_chunking(random_grid):
    pairs = analogy_pairs(np.arange(6), seed=1)
    got = analogy_ranks(random_grid[:6], pairs)
    assert np.array_equal(got, _ranks_loop(random_grid[:6], pairs))
    assert np.array_equal(got, analogy_ranks(random_grid[:6], pairs, chunk_cells=1))


def test_analogy_perfect_for_linear_encoder(oracle_grid):
    s = analogy_scores(oracle_grid, analogy_pairs(np.arange(24)))
    assert s == {"analogy_top1": 1.0, "analogy_mrr": 1.0}


def test_analogy_chance_for_random_and_worst_for_constant(random_grid):
    K = 7 * 7
    s = analogy_scores(random_grid, analogy_pairs(np.arange(24)))
    chance_mrr = np.mean(1.0 / np.arange(1, K + 1))
    assert s["analogy_top1"] < 5 / K
    assert s["analogy_mrr"] < 2 * chance_mrr
    const = np.zeros((4, 7, 7, 3))
    assert analogy_scores(const, analogy_pairs(np.arange(4)))["analogy_mrr"] == pytest.approx(1 / K)


def test_analogy_pairs_use_distinct_images():
    p = analogy_pairs(np.array([3, 5, 9, 11]))
    assert (p[:, 0] != p[:, 1]).all() and sorted(p[:, 0]) == [3, 5, 9, 11]
    with pytest.raises(ValueError):
        analogy_pairs(np.array([1]))
