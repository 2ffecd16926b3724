"""Shared synthetic grids for the metric tests."""
import numpy as np

from softfact.evaluation.grid import shift_values


def factor_grid(m: int) -> np.ndarray:
    """(S, S, 2) [dy, dx] of every grid cell."""
    s = shift_values(m)
    return np.stack(np.meshgrid(s, s, indexing="ij"), -1).astype(float)


def orthogonal_directions(rng, D: int, scale=(1.0, 1.0)) -> np.ndarray:
    """(2, D): two orthogonal directions of the given lengths, at a random angle in R^D."""
    q, _ = np.linalg.qr(rng.normal(size=(D, 2)))
    return q.T * np.array(scale)[:, None]


