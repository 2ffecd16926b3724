"""Caps that keep every analysis of a shift grid sub-linear in its points, every shift weighted equally.

A grid of n images and S = 2 max_shift + 1 shifts per axis holds n * S^2 points: 16,200 for
the seed (200 x 81), 125,000 for a MIDI run with max_shift 12 (200 x 625), where encoding the
grid alone took 4 minutes on a busy 2-core machine and UMAP of every point 4 minutes on a quiet
one. Two caps bound that cost, and neither bites at the seed's sizes, so the seed's numbers
are unchanged there:

* ``MAX_GRID_POINTS`` (50,000) bounds the encoded grid: at most ``MAX_GRID_POINTS // S^2``
  whole grids (80 images at max_shift 12, all 200 up to max_shift 7). Whole grids keep every
  (dy, dx) cell equally represented and every grid metric (additivity, analogies: they need
  each image's whole grid) defined as before.
* ``MAX_POINTS`` (16,200, the seed's kernel PCA / UMAP size) bounds the points of kernel PCA,
  UMAP and their figures: ``stratified_points`` keeps the same number of points in every
  (dy, dx) cell, drawn at random among the images, so every shift keeps equal weight.
"""
from __future__ import annotations

import numpy as np

MAX_GRID_POINTS = 50_000
MAX_POINTS = 16_200


def capped_grid_images(n_images: int, max_shift: int, max_points: int | None = MAX_GRID_POINTS,
                       *, min_images: int = 4) -> int:
    """Images whose whole shift grids fit in ``max_points`` points (``None``: no cap).

    Never fewer than ``min_images`` (the held-out metrics need two halves), never more than
    ``n_images``.

    >>> capped_grid_images(200, 4), capped_grid_images(200, 12)
    (200, 80)
    """
    if max_points is None:
        return n_images
    cells = (2 * max_shift + 1) ** 2
    return min(n_images, max(min_images, max_points // cells))


def stratified_points(dy: np.ndarray, dx: np.ndarray, max_points: int | None = MAX_POINTS, *,
                      seed: int = 0) -> np.ndarray:
    """Indices of at most ``max_points`` points, the same number in every (dy, dx) cell.

    dy, dx: (N,) shift labels. When N <= ``max_points`` (or ``max_points`` is None) every index
    is returned in order, so small grids are analysed exactly as before. Otherwise each cell
    keeps ``max_points // cells`` of its points (at least 1), drawn without replacement by
    ``numpy.random.default_rng(seed)``; the indices come back sorted (the grid's own order).

    >>> dy = np.repeat([-1, 0, 1], 4); dx = np.tile([0, 1], 6)
    >>> idx = stratified_points(dy, dx, 6)
    >>> len(idx), sorted(zip(dy[idx], dx[idx])) == sorted(set(zip(dy, dx)))
    (6, True)
    """
    dy, dx = np.asarray(dy), np.asarray(dx)
    if dy.shape != dx.shape or dy.ndim != 1:
        raise ValueError(f"dy and dx must be (N,) of one length, got {dy.shape} and {dx.shape}")
    n = len(dy)
    if max_points is None or n <= max_points:
        return np.arange(n)
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    _, cell = np.unique(np.stack([dy, dx], 1), axis=0, return_inverse=True)
    cell = cell.reshape(-1)
    n_cells = int(cell.max()) + 1
    per_cell = max(1, max_points // n_cells)
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(cell == c))[:per_cell] for c in range(n_cells)]
    return np.sort(np.concatenate(keep))
