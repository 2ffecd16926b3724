import numpy as np
import torch
from tests.oracles import OracleEncoder, blobs, inner_blobs

from softfact.analysis import ShiftGrid, encode_shift_grid, grid_images, grid_svd
from softfact.data.blobs import shift_no_wrap
from softfact.models import ToyEncoder


def test_grid_images_match_the_seeds_per_image_loop(gen):
    imgs = blobs(3, gen)
    got = grid_images(imgs, max_shift=2)
    want = [shift_no_wrap(shift_no_wrap(img[None], dy, 2), dx, 3)[0]
            for img in imgs for dy in range(-2, 3) for dx in range(-2, 3)]
    assert torch.equal(got, torch.stack(want))


def test_grid_of_the_oracle_is_exact_translation(gen, oracle):
    grid = encode_shift_grid(oracle, inner_blobs, n_images=4, max_shift=4, generator=gen)
    assert grid.z.shape == (4, 9, 9, 8)
    rel = grid.z - grid.z[:, 4:5, 4:5]
    s = torch.arange(-4, 5, dtype=torch.float32)
    want = s[:, None, None] * oracle.e_pitch + s[None, :, None] * oracle.e_time
    np.testing.assert_allclose(rel, np.broadcast_to(want.numpy(), rel.shape), atol=1e-4)
    X, dy, dx = grid.points()
    assert X.shape == (4 * 81, 8)
    # point order is image, dy, dx: point 10 of image 0 is (dy, dx) = (-3, -3)
    assert (dy[10], dx[10]) == (-3, -3) and (dy[81], dx[81]) == (-4, -4)
    np.testing.assert_array_equal(X[81 + 80], grid.z[1, 8, 8])


def test_grid_svd_matches_the_seeds_loop(gen):
    torch.manual_seed(0)
    grid = encode_shift_grid(ToyEncoder(), blobs, n_images=5, max_shift=4, generator=gen)
    out = grid_svd(grid)
    Z = torch.from_numpy(grid.z)
    for i in range(5):
        sv = np.linalg.svd(Z[i].reshape(9, 9 * 16).numpy(), compute_uv=False)
        np.testing.assert_allclose(out["pitch_spectra"][i], sv / sv.sum(), rtol=1e-4, atol=1e-6)
        sv_t = np.linalg.svd(Z[i].permute(1, 0, 2).reshape(9, 9 * 16).numpy(), compute_uv=False)
        np.testing.assert_allclose(out["time_spectra"][i], sv_t / sv_t.sum(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["pitch_mean"], out["pitch_spectra"].mean(0))
    assert out["time_sv1_share"] == float(out["time_spectra"][:, 0].mean())


def test_oracle_grid_is_rank_two_with_a_dominant_first_value(gen):
    grid = encode_shift_grid(OracleEncoder(offset=5.0), inner_blobs, n_images=6, max_shift=4,
                             generator=gen)
    out = grid_svd(grid)
    for key in ("pitch", "time"):
        spectra = out[f"{key}_spectra"]
        np.testing.assert_allclose(spectra.sum(1), 1.0, rtol=1e-6)
        assert np.abs(spectra[:, 2:]).max() < 1e-5   # (a + dy) e1 + (b + dx) e2 + c: rank 2
        assert out[f"{key}_sv1_share"] > 0.8


def test_zero_grid_gives_zero_spectra_not_nan():
    out = grid_svd(ShiftGrid(z=np.zeros((2, 3, 3, 4)), shifts=np.arange(-1, 2)))
    assert np.isfinite(out["pitch_spectra"]).all() and out["pitch_sv1_share"] == 0.0


def test_grid_svd_rejects_wrong_shape():
    import pytest
    with pytest.raises(ValueError, match="n, S_dy, S_dx, D"):
        grid_svd(np.zeros((3, 4, 5)))


def test_chunked_grid_encode_equals_one_pass(gen, oracle):
    imgs = blobs(7, gen)
    fixed = lambda n, g: imgs[:n]  # noqa: E731
    whole = encode_shift_grid(oracle, fixed, n_images=7, max_shift=2, generator=gen)
    chunked = encode_shift_grid(oracle, fixed, n_images=7, max_shift=2, generator=gen,
                                batch_size=50)   # 2 images (50 // 25) per batch
    np.testing.assert_array_equal(whole.z, chunked.z)
    np.testing.assert_allclose(whole.z[3, 2, 2], oracle(imgs[3:4])[0].numpy(), rtol=1e-6)
