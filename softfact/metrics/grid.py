"""Shift grids with known ground truth: every (dy, dx) in -m..m of each image, encoded once.

A grid is the array ``Z`` (n, S, S, D) with S = 2m + 1: ``Z[i, a, b]`` embeds image i shifted
by (dy, dx) = (a - m, b - m). Difference vectors ``d = Z - Z[:, m, m]`` are z(shifted) - z(anchor);
every metric in this package is a pure function of ``Z`` (or ``d``) and the shift values.
Grids are built and encoded by ``softfact.analysis.encode_shift_grid`` (``ShiftGrid.z`` is Z).
"""
from __future__ import annotations

import numpy as np


def shift_values(max_shift: int) -> np.ndarray:
    """The signed shifts -m..m, (S,) int."""
    if max_shift < 1:
        raise ValueError(f"max_shift must be >= 1, got {max_shift}")
    return np.arange(-max_shift, max_shift + 1)


def differences(Z: np.ndarray) -> np.ndarray:
    """d = z(shifted) - z(anchor): (n, S, S, D), zero at the centre."""
    if Z.ndim != 4 or Z.shape[1] != Z.shape[2] or Z.shape[1] % 2 == 0:
        raise ValueError(f"Z must be (n, S, S, D) with odd S, got shape {Z.shape}")
    m = Z.shape[1] // 2
    return Z - Z[:, m:m + 1, m:m + 1]


def flat_samples(d: np.ndarray, *, drop_centre: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(n, S, S, D) -> (features (N, D), factors (N, 2) [dy, dx]), image-major order."""
    n, S = d.shape[0], d.shape[1]
    s = shift_values(S // 2)
    f = np.stack(np.meshgrid(s, s, indexing="ij"), -1).reshape(S * S, 2)
    x = d.reshape(n, S * S, -1)
    if drop_centre:
        keep = np.any(f != 0, axis=1)
        x, f = x[:, keep], f[keep]
    return x.reshape(-1, d.shape[-1]), np.tile(f, (n, 1))


def split_images(n: int, *, test_fraction: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint (train, test) image indices, so every score is on held-out images."""
    if n < 2:
        raise ValueError(f"held-out scores need at least 2 images, got {n}")
    perm = np.random.default_rng(seed).permutation(n)
    k = min(n - 1, max(1, int(round(n * test_fraction))))
    return np.sort(perm[k:]), np.sort(perm[:k])
