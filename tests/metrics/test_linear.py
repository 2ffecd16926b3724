import numpy as np
import pytest

from softfact.evaluation.grid import differences, split_images
from softfact.metrics.linear import factor_accuracy, factor_labels, shift_r2

from metric_grids import factor_grid


def test_r2_perfect_for_linear_encoder_and_near_zero_for_random(oracle_grid, random_grid):
    tr, te = split_images(24)
    r = shift_r2(differences(oracle_grid), train=tr, test=te)
    assert r["r2"] == pytest.approx(1.0, abs=1e-9)
    assert r["r2_dy"] == pytest.approx(1.0, abs=1e-9) and r["r2_dx"] == pytest.approx(1.0, abs=1e-9)
    assert abs(shift_r2(differences(random_grid), train=tr, test=te)["r2"]) < 0.05


def test_r2_needs_signed_directions():
    # |dy|, |dx| are encoded perfectly but not their signs: no linear read-out of (dy, dx)
    Z = np.abs(factor_grid(3))[None].repeat(10, 0)
    tr, te = split_images(10)
    assert abs(shift_r2(differences(Z), train=tr, test=te)["r2"]) < 1e-6


def test_r2_is_held_out(oracle_grid):
    with pytest.raises(ValueError, match="overlap"):
        shift_r2(differences(oracle_grid), train=np.arange(12), test=np.arange(10, 24))


def test_factor_labels():
    f = np.array([[1, 0], [0, -2], [3, 4], [-1, 0]])
    assert factor_labels(f).tolist() == [0, 1, 2, 0]
    with pytest.raises(ValueError, match="no factor"):
        factor_labels(np.array([[0, 0]]))


def test_factor_accuracy_perfect_and_chance(oracle_grid, random_grid):
    tr, te = split_images(24)
    assert factor_accuracy(differences(oracle_grid), train=tr, test=te)["factor_acc"] == 1.0
    acc = factor_accuracy(differences(random_grid), train=tr, test=te)["factor_acc"]
    assert 0.2 < acc < 0.45  # balanced accuracy: chance is 1/3
