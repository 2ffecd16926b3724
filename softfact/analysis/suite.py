"""Every analysis of the seed on one encoder: probes, grid SVD, kernel PCA, UMAP.

The shift grid is encoded once (the largest grid any analysis needs) and shared: the SVD
uses the first ``n_svd`` images' grids, kernel PCA and UMAP all ``n_points_images`` grids.
Sizes default to the seed's: 500 probe images, 50 x 81 grid points for the SVD and
200 x 81 = 16,200 points for kernel PCA and UMAP. Larger grids are capped
(``softfact.evaluation.sampling``): at most 50,000 encoded grid points (whole grids) and at most
16,200 kernel PCA / UMAP points, the same number in every (dy, dx) cell; neither cap bites at
the seed's sizes. A MIDI run with max_shift 12 thus analyses 15,625 of its 80 x 625 grid points.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from softfact.analysis.diffs import cosine_groups, pca_cross
from softfact.metrics.svd import grid_svd
from softfact.metrics.algebra import (analogy_by_border_loss, analogy_by_shift, analogy_ranks,
                                      border_loss, held_out_pairs)
from softfact.evaluation.grid import ShiftGrid, encode_shift_grid
from softfact.analysis.kpca import RBFKernelPCA
from softfact.evaluation import DiffVectors, evaluate_encoder
from softfact.evaluation.sampling import (MAX_GRID_POINTS, MAX_POINTS, capped_grid_images,
                                          stratified_points)
from softfact.utils.progress import phase


@dataclass
class Analysis:
    """What ``analyse`` computed; arrays only, ready for ``softfact.plotting``."""
    metrics: dict                 # evaluate_encoder's metrics + SVD shares (+ kPCA facts)
    diffs: DiffVectors
    cross: dict                   # pca_cross(diffs)
    cosines: dict                 # cosine_groups(diffs)
    svd: dict                     # grid_svd(...)
    points_dy: np.ndarray         # (N,) labels of the kernel PCA / UMAP points
    points_dx: np.ndarray
    points_total: int             # grid points they were drawn from (N when not capped)
    kpca: np.ndarray              # (N, 4)
    umap: dict = field(default_factory=dict)     # {2: (N, 2), 3: (N, 3)} when asked for
    analogies: dict = field(default_factory=dict)  # where_analogies_hold(grid): by shift, by border loss
    timings: dict = field(default_factory=dict)  # seconds per step


def analyse(encoder, image_fn, *, max_shift: int, wrap: bool = False, seed: int = 0,
            n_probe: int = 500, n_svd: int = 50, n_points_images: int = 200,
            kpca_components: int = 4, kpca_gamma: float = 1.0, kpca_max_exact: int = 6000,
            kpca_landmarks: int = 1000, umap: bool = True,
            probe: tuple[dict, DiffVectors] | None = None, grid: ShiftGrid | None = None,
            batch_size: int = 4096, max_grid_points: int | None = MAX_GRID_POINTS,
            max_points: int | None = MAX_POINTS, progress: bool = False) -> Analysis:
    """Run the seed's analyses on ``encoder`` ((B, 1, H, W) -> (B, D)) and ``image_fn``.

    ``max_shift`` has no default: pass the one the encoder was trained with (the seed's toy:
    4; a run's: ``run.config.max_shift``); the angles depend on it.

    ``probe``: an already computed ``evaluate_encoder`` result to reuse (same seed and sizes);
    ``grid``: an already encoded shift grid to reuse when it holds enough images.
    ``max_grid_points`` caps the encoded grid, ``max_points`` the kernel PCA / UMAP points
    (None: no cap); ``progress``: a bar per phase.
    """
    timings = {}
    t = time.perf_counter()
    if probe is None:
        with phase("analyse: seed protocol", enabled=progress):
            probe = evaluate_encoder(encoder, image_fn, n=n_probe, max_shift=max_shift,
                                     seed=seed, wrap=wrap)
    metrics, dv = dict(probe[0]), probe[1]
    cross, cosines = pca_cross(dv), cosine_groups(dv)
    timings["probes"] = time.perf_counter() - t

    t = time.perf_counter()
    n_grid = capped_grid_images(max(n_svd, n_points_images), max_shift, max_grid_points)
    if grid is None or grid.n_images < n_grid or len(grid.shifts) != 2 * max_shift + 1:
        g = torch.Generator().manual_seed(seed + 1)
        with phase("analyse: encode shift grid", enabled=progress,
                   total=n_grid * (2 * max_shift + 1) ** 2, unit="img") as bar:
            grid = encode_shift_grid(encoder, image_fn, n_images=n_grid, max_shift=max_shift,
                                     generator=g, wrap=wrap, batch_size=batch_size,
                                     on_batch=bar.update)
    timings["encode_grid"] = time.perf_counter() - t

    t = time.perf_counter()
    svd = grid_svd(ShiftGrid(grid.z[:n_svd], grid.shifts))
    metrics.update(svd_sv1_share_pitch=svd["pitch_sv1_share"],
                   svd_sv1_share_time=svd["time_sv1_share"])
    timings["svd"] = time.perf_counter() - t

    t = time.perf_counter()
    analogies = where_analogies_hold(grid, seed=seed, wrap=wrap)
    timings["analogies"] = time.perf_counter() - t

    X, dy, dx = grid.points(min(n_points_images, grid.n_images))
    keep = stratified_points(dy, dx, max_points, seed=seed)
    n_total, X, dy, dx = len(dy), X[keep], dy[keep], dx[keep]
    t = time.perf_counter()
    with phase(f"analyse: kernel PCA ({len(X):,} points)", enabled=progress):
        kp = RBFKernelPCA(kpca_components, gamma=kpca_gamma, max_exact=kpca_max_exact,
                          n_landmarks=kpca_landmarks, random_state=seed).fit(X)
    timings["kernel_pca"] = time.perf_counter() - t

    coords = {}
    if umap:
        from softfact.analysis.embed2d import umap_embeddings
        t = time.perf_counter()
        with phase(f"analyse: UMAP 2-D + 3-D ({len(X):,} points)", enabled=progress):
            coords = umap_embeddings(X, dims=(2, 3))
        timings["umap"] = time.perf_counter() - t
    return Analysis(metrics=metrics, diffs=dv, cross=cross, cosines=cosines, svd=svd,
                    points_dy=dy, points_dx=dx, points_total=n_total, kpca=kp.embedding_,
                    umap=coords, analogies=analogies, timings=timings)


def where_analogies_hold(grid: ShiftGrid, *, seed: int = 0, wrap: bool = False) -> dict:
    """The analogy ranks of ``grid`` (the metrics' own pairs: held-out images, ``seed``) broken
    down per shift and by how much content the shifts push off the border.

    Returns {} for a grid too small to pair held-out images, else {"shifts", "pairs" (how many), "top1"
    (over all pairs and shifts: metrics' analogy_top1 on the same grid), "by_shift" (S, S)
    top-1 [dy, dx], "by_border" (``analogy_by_border_loss``; empty when the grid kept no
    images or shifts wrap around, which lose nothing)}.
    """
    try:
        pairs = held_out_pairs(grid.n_images, seed=seed)  # the metrics' own pairs
    except ValueError:  # a grid too small to pair held-out images: nothing to say
        return {}
    ranks = analogy_ranks(np.asarray(grid.z, dtype=np.float64), pairs)
    out = {"shifts": grid.shifts, "pairs": len(pairs), "top1": float((ranks == 1).mean()),
           "by_shift": analogy_by_shift(ranks, grid.shifts), "by_border": []}
    if grid.images is not None and not wrap:
        out["by_border"] = analogy_by_border_loss(ranks, pairs, border_loss(grid.images, grid.shifts))
    return out
