"""Caps on grid and analysis points: equal weight per shift, and the seed's sizes untouched."""
import numpy as np
import pytest
import torch

from softfact.metrics.svd import grid_svd
from tests.oracles import blobs, inner_blobs

from softfact.analysis import analyse, encode_shift_grid
from softfact.evaluation import evaluate_encoder
from softfact.evaluation.sampling import (MAX_GRID_POINTS, MAX_POINTS, capped_grid_images,
                                          stratified_points)
from softfact.metrics import evaluate, metrics_from_grid
from softfact.models import ToyEncoder


def _labels(n_images, max_shift):
    s = np.arange(-max_shift, max_shift + 1)
    dy = np.broadcast_to(s[None, :, None], (n_images, len(s), len(s))).reshape(-1)
    dx = np.broadcast_to(s[None, None, :], (n_images, len(s), len(s))).reshape(-1)
    return dy.copy(), dx.copy()


def test_caps_do_not_bite_at_the_seeds_sizes():
    assert capped_grid_images(200, 4) == 200          # 16,200 grid points
    dy, dx = _labels(200, 4)
    assert np.array_equal(stratified_points(dy, dx), np.arange(16_200))
    assert MAX_POINTS == 16_200 and MAX_GRID_POINTS >= 16_200


def test_grid_cap_keeps_whole_grids():
    assert capped_grid_images(200, 12) == 50_000 // 625 == 80
    assert capped_grid_images(200, 30, 10_000) == 4        # never below the held-out minimum
    assert capped_grid_images(10, 12, None) == 10


def test_stratified_points_weigh_every_shift_equally():
    dy, dx = _labels(200, 12)                              # 125,000 points, 625 cells
    idx = stratified_points(dy, dx, 16_200, seed=3)
    assert len(idx) == 25 * 625 and np.all(np.diff(idx) > 0)
    _, counts = np.unique(np.stack([dy[idx], dx[idx]], 1), axis=0, return_counts=True)
    assert len(counts) == 625 and np.all(counts == 25)
    images = idx // 625                                    # drawn from many images, not the first
    assert len(np.unique(images)) > 150
    assert np.array_equal(idx, stratified_points(dy, dx, 16_200, seed=3))
    assert not np.array_equal(idx, stratified_points(dy, dx, 16_200, seed=4))
    with pytest.raises(ValueError, match="one length"):
        stratified_points(dy, dx[:-1])


def test_evaluate_equals_the_uncapped_path_at_seed_grid_size():
    """Seed grid (200 images x 81 shifts): every metric exactly as the uncapped computation."""
    torch.manual_seed(0)
    enc = ToyEncoder().eval()
    ev = evaluate(enc, blobs, max_shift=4, n_probe=50, n_grid=200)
    probe, _ = evaluate_encoder(enc, blobs, n=50, max_shift=4, seed=0)
    grid = encode_shift_grid(enc, blobs, n_images=200, max_shift=4,
                             generator=torch.Generator().manual_seed(1))
    svd = grid_svd(grid.z[:50])
    expected = {**probe, **metrics_from_grid(grid.z, seed=0),
                "svd_sv1_share_pitch": svd["pitch_sv1_share"], "svd_sv1_share_time": svd["time_sv1_share"]}
    assert set(ev.metrics) == set(expected) and ev.grid.n_images == 200
    for key, value in expected.items():
        assert ev.metrics[key] == pytest.approx(value, abs=1e-6), key


def test_capped_evaluation_is_the_evaluation_of_fewer_images(oracle):
    capped = evaluate(oracle, inner_blobs, max_shift=4, n_probe=20, n_grid=10, max_grid_points=5 * 81)
    fewer = evaluate(oracle, inner_blobs, max_shift=4, n_probe=20, n_grid=5, max_grid_points=None)
    assert capped.grid.n_images == 5 and capped.metrics.pop("grid_images") == 5
    assert capped.metrics == fewer.metrics
    assert "grid_images" not in evaluate(oracle, inner_blobs, max_shift=4, n_probe=20, n_grid=5).metrics


def test_analyse_caps_points_by_cell_and_reuses_a_capped_grid(oracle):
    a = analyse(oracle, inner_blobs, max_shift=4, n_probe=20, n_svd=2, n_points_images=6, umap=False,
                max_grid_points=4 * 81, max_points=2 * 81)
    assert a.points_total == 4 * 81 and a.kpca.shape == (2 * 81, 4)
    _, counts = np.unique(np.stack([a.points_dy, a.points_dx], 1), axis=0, return_counts=True)
    assert len(counts) == 81 and np.all(counts == 2)
    full = analyse(oracle, inner_blobs, max_shift=4, n_probe=20, n_svd=2, n_points_images=2, umap=False)
    same = analyse(oracle, inner_blobs, max_shift=4, n_probe=20, n_svd=2, n_points_images=2, umap=False,
                   max_points=None, max_grid_points=None)
    assert full.points_total == len(full.points_dy) == 2 * 81
    np.testing.assert_array_equal(full.kpca, same.kpca)


def test_progress_bars_only_when_asked(oracle, capsys):
    evaluate(oracle, inner_blobs, max_shift=4, n_probe=20, n_grid=4)
    assert capsys.readouterr().err == ""
    evaluate(oracle, inner_blobs, max_shift=4, n_probe=20, n_grid=4, progress=True)
    err = capsys.readouterr().err
    for name in ("seed protocol", "encode shift grid", "grid metrics"):
        assert name in err
    assert "324/324" in err                                 # 4 images x 81 shifts encoded
