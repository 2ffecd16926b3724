import numpy as np
import pytest
import torch

from softfact.data.blobs import make_blobs, translate
from softfact.evaluation.grid import differences
from softfact.metrics.sign import empty_border_source, sign_angles

from metric_grids import factor_grid


def test_straight_shift_lines_are_antiparallel(oracle_grid):
    a = sign_angles(differences(oracle_grid))
    for f in ("pitch", "time"):
        assert np.allclose(a[f"{f}_angle_deg"], 180.0) and np.allclose(a[f"{f}_opp_cos"], -1.0)


def test_curved_trajectory_matches_chord_geometry(rng):
    # z(dy, dx) = (dy, dy^2, dx, dx^2): d(+s) = (s, s^2), d(-s) = (-s, s^2), cos = (s^2-1)/(s^2+1)
    F = factor_grid(3)
    Z = np.stack([F[..., 0], F[..., 0] ** 2, F[..., 1], F[..., 1] ** 2], -1)[None].repeat(3, 0)
    a = sign_angles(differences(Z))
    s = np.arange(1, 4)
    want = np.degrees(np.arccos((s ** 2 - 1) / (s ** 2 + 1)))
    assert np.allclose(a["pitch_angle_deg"], want) and np.allclose(a["time_angle_deg"], want)
    assert np.allclose(a["pitch_opp_cos"], (s ** 2 - 1) / (s ** 2 + 1))


def test_empty_border_source_makes_zero_fill_lossless():
    src = empty_border_source(lambda n, g: make_blobs(n, generator=g), 4)
    x = src(40, torch.Generator().manual_seed(0))
    assert x.shape == (40, 1, 16, 16) and (x.flatten(1).sum(1) > 0).all()
    for dy, dx in ((4, -4), (-3, 2), (0, 4)):
        assert torch.equal(translate(x, dy, dx), translate(x, dy, dx, wrap=True))
    with pytest.raises(ValueError, match="blank border"):
        empty_border_source(lambda n, g: make_blobs(n, generator=g), 8, max_rounds=2)(4, torch.Generator())
