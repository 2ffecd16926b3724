"""The seed's SVD of shift grids: is each image's grid near a tensor product?

The spectra are drawn by the report; the mean share of the first singular value is a metric.
"""
from __future__ import annotations

import numpy as np

from softfact.evaluation.grid import ShiftGrid


def _normalised_spectra(m: np.ndarray) -> np.ndarray:
    """Batched singular values (n, r, c) -> (n, min(r, c)), each row divided by its sum."""
    sv = np.linalg.svd(m.astype(np.float64), compute_uv=False)
    total = sv.sum(axis=1, keepdims=True)
    return np.divide(sv, total, out=np.zeros_like(sv), where=total > 0)


def grid_svd(grid: ShiftGrid | np.ndarray) -> dict:
    """The seed's SVD of shift grids, for every image at once.

    Each image's grid (S_dy, S_dx, D) is reshaped as (pitch, time * latent) and as
    (time, pitch * latent); returns the per-image normalised spectra sv / sv.sum()
    (``pitch_spectra``, ``time_spectra``: (n, S)), their means (``*_mean``: (S,)) and the mean
    share of the first singular value (``pitch_sv1_share``, ``time_sv1_share``). An all-zero
    grid gives an all-zero spectrum, not NaN.
    """
    z = grid.z if isinstance(grid, ShiftGrid) else np.asarray(grid)
    if z.ndim != 4:
        raise ValueError(f"grid embeddings must be (n, S_dy, S_dx, D), got shape {z.shape}")
    n, sy, sx, d = z.shape
    pitch = _normalised_spectra(z.reshape(n, sy, sx * d))
    time = _normalised_spectra(z.transpose(0, 2, 1, 3).reshape(n, sx, sy * d))
    return {"pitch_spectra": pitch, "time_spectra": time,
            "pitch_mean": pitch.mean(0), "time_mean": time.mean(0),
            "pitch_sv1_share": float(pitch[:, 0].mean()),
            "time_sv1_share": float(time[:, 0].mean())}
