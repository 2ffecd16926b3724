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


def test_analogy_by_shift_is_per_shift_top1(rng):
    """A grid linear in the shift except for an image-specific offset at (dy, dx) = (1, -1):
    analogies hold at every shift but that one."""
    from softfact.metrics.algebra import analogy_by_shift
    m, n = 2, 10
    s = np.arange(-m, m + 1)
    W = rng.normal(size=(2, 6))
    Z = rng.normal(size=(n, 1, 1, 6)) + (np.stack(np.meshgrid(s, s, indexing="ij"), -1) @ W)[None]
    Z[:, m + 1, m - 1] += rng.normal(scale=3.0, size=(n, 6))
    pairs = analogy_pairs(np.arange(n))
    got = analogy_by_shift(analogy_ranks(Z, pairs), s)
    assert np.isnan(got[m, m]) and got.shape == (5, 5)
    assert got[m + 1, m - 1] < 0.5
    others = np.ones((5, 5), bool)
    others[m, m] = others[m + 1, m - 1] = False
    assert (got[others] == 1).all()
    with pytest.raises(ValueError, match=r"\(P, 24\).*got \(10, 3\)"):
        analogy_by_shift(np.ones((10, 3)), s)


def test_border_loss_is_what_translate_pushes_off(rng):
    import torch
    from softfact.data.blobs import translate
    from softfact.metrics.algebra import border_loss
    x = (rng.random((5, 2, 9, 7)) > 0.6).astype(np.float64)
    x[4] = 0  # a blank image loses nothing
    s = np.arange(-3, 4)
    got = border_loss(x, s)
    t = torch.from_numpy(x)
    for a, dy in enumerate(s):
        for b, dx in enumerate(s):
            kept = translate(t, torch.full((5,), int(dy)), torch.full((5,), int(dx))).sum((1, 2, 3))
            want = np.where(t.sum((1, 2, 3)) > 0, 1 - kept / t.sum((1, 2, 3)).clamp_min(1), 0)
            np.testing.assert_allclose(got[:, a, b], want, atol=1e-12)
    assert (got[:, 3, 3] == 0).all() and (got[4] == 0).all()
    with pytest.raises(ValueError, match=r"got shape \(9, 7\)"):
        border_loss(x[0, 0], s)


def test_analogy_by_border_loss_groups_every_case_once():
    from softfact.metrics.algebra import BORDER_BINS, analogy_by_border_loss
    S = 3
    loss = np.zeros((3, S, S))
    loss[1, 0, 0], loss[2, 2, 2] = 0.3, 0.04                       # B of pair 0, A of pair 2
    pairs = np.array([[0, 1], [2, 0], [1, 2]])
    ranks = np.ones((3, 8), int)
    ranks[0, 0] = 5                                                 # pair 0 misses at (-1, -1)
    groups = analogy_by_border_loss(ranks, pairs, loss)
    assert len(groups) == len(BORDER_BINS) and sum(g["n"] for g in groups) == 24
    assert sum(g["share"] for g in groups) == pytest.approx(1.0)
    none, worst = groups[0], groups[-1]
    assert none["hi"] == 0 and none["n"] == 20 and none["top1"] == 1.0
    assert worst["n"] == 2 and worst["top1"] == 0.5   # (-1, -1): pair 0 (missed) and pair 2
    assert [g["n"] for g in groups[1:-1]] == [0, 2, 0, 0]
    assert np.isnan(groups[1]["top1"])
