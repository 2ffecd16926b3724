import numpy as np
import pytest

from softfact.metrics.disentangle import FactorRotation, dci, discretize, mig
from softfact.evaluation.grid import differences, flat_samples

from metric_grids import factor_grid


def _factors(n=10, m=3):
    return np.tile(factor_grid(m).reshape(-1, 2), (n, 1))


def test_rotation_recovers_orthogonal_map(rng):
    f = _factors()
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    d = np.concatenate([f, np.zeros((len(f), 3))], 1) @ q.T
    rot = FactorRotation().fit(d, f)
    assert np.allclose(rot.transform(d)[:, :2], f) and np.allclose(rot.transform(d)[:, 2:], 0)
    assert np.allclose(rot.rotation_ @ rot.rotation_.T, np.eye(5))


def test_mig_axis_aligned_is_one_and_duplicated_latent_is_zero():
    f = _factors()
    assert mig(np.concatenate([f, np.zeros((len(f), 2))], 1), f)["mig"] == pytest.approx(1.0)
    # dy in two latents: the gap between the top two is 0 for dy, 1 for dx
    dup = np.stack([f[:, 0], f[:, 0], f[:, 1]], 1)
    assert mig(dup, f)["mig"] == pytest.approx(0.5)


def test_mig_needs_the_rotation(oracle_grid):
    x, f = flat_samples(differences(oracle_grid))
    assert mig(x, f)["mig"] < 0.6
    assert mig(FactorRotation().fit(x, f).transform(x), f)["mig"] == pytest.approx(1.0)


def test_discretize_puts_equal_values_in_one_bin():
    x = np.repeat(np.arange(-3, 4) * 0.7, 50)[:, None]
    x = x + np.random.default_rng(0).normal(size=x.shape) * 1e-14  # rounding noise
    codes = discretize(x)[:, 0]
    assert len(np.unique(codes)) == 7


def test_dci_aligned_vs_45_degrees():
    f = _factors()
    aligned = dci(f, f, f, f)
    assert aligned["dci_disentanglement"] == pytest.approx(1.0, abs=1e-3)
    assert aligned["dci_completeness"] == pytest.approx(1.0, abs=1e-3)
    assert aligned["dci_informativeness"] == pytest.approx(1.0, abs=1e-4)
    mixed = np.stack([f[:, 0] + f[:, 1], f[:, 0] - f[:, 1]], 1)  # each latent carries both
    m = dci(mixed, f, mixed, f)
    assert m["dci_disentanglement"] < 0.01 and m["dci_completeness"] < 0.01
    assert m["dci_informativeness"] == pytest.approx(1.0, abs=1e-4)


def test_dci_random_is_uninformative(rng):
    f = _factors(20)
    x = rng.normal(size=(len(f), 6))
    r = dci(x[: len(f) // 2], f[: len(f) // 2], x[len(f) // 2:], f[len(f) // 2:])
    assert r["dci_informativeness"] < 0.05
    assert r["dci_disentanglement"] < 0.7 and r["dci_completeness"] < 0.6
