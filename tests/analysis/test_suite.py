import numpy as np
import pytest
import torch
from tests.oracles import blobs, inner_blobs
from sklearn.manifold import trustworthiness

from softfact.analysis import analyse, encode_shift_grid, umap_embeddings
from softfact.models import ToyEncoder

SMALL = dict(max_shift=4, n_probe=100, n_svd=4, n_points_images=4, umap=False)


def test_oracle_geometry_is_recovered(oracle):
    a = analyse(oracle, inner_blobs, **SMALL)
    m = a.metrics
    assert m["cross_abs_cos"] < 1e-4
    assert m["same_sign_cos"] > 0.9999 and m["opposite_sign_cos"] < -0.9999
    assert m["angle_pitch_deg"] > 179.9 and m["angle_time_deg"] > 179.9
    assert m["svd_sv1_share_pitch"] > 0.8 and m["svd_sv1_share_time"] > 0.8
    # the PCA "cross": two components hold everything, pitch and time on separate axes
    assert a.cross["evr"].sum() > 0.9999
    proj, n = a.cross["proj"], a.cross["n_pitch"]
    u = proj / np.linalg.norm(proj, axis=1, keepdims=True)
    assert abs(u[:n] @ u[n:].T).max() < 1e-3
    assert set(a.cosines) == {"cross", "same", "opposite"}
    assert a.kpca.shape == (4 * 81, 4) and len(a.points_dy) == 4 * 81
    assert a.umap == {}


def test_constant_encoder_gives_finite_results(constant_encoder):
    a = analyse(constant_encoder, blobs, **SMALL)
    for key, value in a.metrics.items():
        assert np.isfinite(value), key
    assert a.metrics["cross_abs_cos"] == 0.0 and a.metrics["svd_sv1_share_pitch"] == 1.0
    assert all(np.isfinite(v).all() for v in a.cosines.values())
    assert np.isfinite(a.cross["proj"]).all() and np.isfinite(a.kpca).all()


def test_random_toy_encoder_runs_and_stays_in_range():
    torch.manual_seed(0)
    a = analyse(ToyEncoder(), blobs, **SMALL)
    assert all(np.isfinite(v) for v in a.metrics.values())
    for v in a.cosines.values():
        assert np.abs(v).max() <= 1 + 1e-6
    # an untrained network is no oracle: pitch and time directions are far from orthogonal
    assert a.metrics["cross_abs_cos"] > 0.05
    assert set(a.timings) >= {"probes", "encode_grid", "svd", "kernel_pca"}


def test_shared_grid_slices_svd_and_points(oracle, gen):
    a = analyse(oracle, inner_blobs, max_shift=4, n_probe=50, n_svd=3, n_points_images=2, umap=False)
    assert a.svd["pitch_spectra"].shape == (3, 9) and a.kpca.shape == (2 * 81, 4)


def test_umap_2d_and_3d_preserve_neighbourhoods(oracle, gen):
    grid = encode_shift_grid(oracle, inner_blobs, n_images=4, max_shift=4, generator=gen)
    X, _, _ = grid.points()
    X = X + 0.01 * np.random.default_rng(0).normal(size=X.shape)
    out = umap_embeddings(X, dims=(2, 3))
    assert out[2].shape == (len(X), 2) and out[3].shape == (len(X), 3)
    for d in (2, 3):
        assert np.isfinite(out[d]).all()
        assert trustworthiness(X, out[d], n_neighbors=5) > 0.85


def test_umap_rejects_too_few_points():
    with pytest.raises(ValueError, match="N >= 3"):
        umap_embeddings(np.zeros((2, 4)))


def test_where_analogies_hold_matches_the_metric_and_knows_the_border(oracle):
    """The oracle reads blob positions exactly: its analogies fail only where a shift pushes
    content off the border (blobs near the edge), and the overall figure is the metric's."""
    from softfact.analysis.suite import where_analogies_hold
    from softfact.metrics import metrics_from_grid
    grid = encode_shift_grid(oracle, blobs, n_images=24, max_shift=3,
                             generator=torch.Generator().manual_seed(0))
    an = where_analogies_hold(grid, seed=0)
    assert an["top1"] == metrics_from_grid(grid.z, seed=0)["analogy_top1"]
    assert an["by_shift"].shape == (7, 7) and np.isnan(an["by_shift"][3, 3])
    intact, rest = an["by_border"][0], an["by_border"][1:]
    assert intact["n"] > 0 and intact["top1"] == 1.0
    assert min(g["top1"] for g in rest if g["n"]) < 1.0
    assert where_analogies_hold(grid, seed=0, wrap=True)["by_border"] == []
