"""Entry points: every metric of a shift grid, of an encoder, and the whole evaluation.

``evaluate`` is the one place where the seed's protocol and the grid metrics are computed
together (``softfact.Run.evaluate``, the CLI and the report all call it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from softfact.evaluation.grid import ShiftGrid
from softfact.evaluation.protocol import DiffVectors, evaluate_encoder

from softfact.metrics.algebra import additivity_error, analogy_scores, held_out_pairs
from softfact.metrics.disentangle import FactorRotation, dci, mig
from softfact.evaluation.grid import encode_shift_grid
from softfact.evaluation.grid import differences, flat_samples, split_images
from softfact.evaluation.sampling import MAX_GRID_POINTS, capped_grid_images
from softfact.utils.progress import phase
from softfact.metrics.linear import factor_accuracy, shift_r2
from softfact.metrics.svd import grid_svd


def metrics_from_grid(Z: np.ndarray, *, seed: int = 0) -> dict[str, float]:
    """Every metric of a grid Z (n, S, S, D); fitted parts train on half the images, score on the rest."""
    Z = np.asarray(Z, dtype=np.float64)
    d = differences(Z)
    train, test = split_images(Z.shape[0], seed=seed)
    out = {}
    out.update(shift_r2(d, train=train, test=test))
    out.update(factor_accuracy(d, train=train, test=test, seed=seed))
    out.update(additivity_error(d[test]))
    out.update(analogy_scores(Z, held_out_pairs(Z.shape[0], seed=seed)))
    xtr, ftr = flat_samples(d[train])
    xte, fte = flat_samples(d[test])
    rot = FactorRotation().fit(xtr, ftr)
    ltr, lte = rot.transform(xtr), rot.transform(xte)
    out.update(mig(lte, fte))
    out.update(dci(ltr, ftr, lte, fte))
    return out


def compute_metrics(encoder, image_fn, *, max_shift: int, seed: int = 0, wrap: bool = False,
                    n_images: int = 200) -> dict[str, float]:
    """Factorization metrics of ``encoder`` on ``n_images`` images from ``image_fn(n, generator)``.

    Each image is shifted by every (dy, dx) in -max_shift..max_shift (``wrap``: torch.roll,
    else the seed's zero fill) and encoded once. ``max_shift`` has no default: pass the
    encoder's own (the seed's toy: 4; a run's: ``run.config.max_shift``). Keys: r2, r2_dy, r2_dx, factor_acc,
    additivity_err, analogy_top1, analogy_mrr, mig, dci_disentanglement, dci_completeness,
    dci_informativeness (see the modules of softfact.metrics for definitions and chance levels).
    """
    if n_images < 4:
        raise ValueError(f"n_images must be >= 4 (half fit, half held out), got {n_images}")
    grid = encode_shift_grid(encoder, image_fn, n_images=n_images, max_shift=max_shift,
                             generator=torch.Generator().manual_seed(seed), wrap=wrap)
    return metrics_from_grid(grid.z, seed=seed)


@dataclass
class Evaluation:
    """The seed's protocol and the grid metrics of one encoder.

    ``metrics``: every figure as floats (the seed's cosines and angles, R^2, analogies, ...);
    ``probe``: the seed's difference vectors (for its figures); ``grid``: the encoded shift grid
    (reused by the analyses instead of encoding again).
    """
    metrics: dict
    probe: DiffVectors
    grid: ShiftGrid


def evaluate(encoder, image_fn, *, max_shift: int, wrap: bool = False, seed: int = 0,
             n_probe: int = 500, n_grid: int = 200, n_svd: int = 50,
             max_grid_points: int | None = MAX_GRID_POINTS, progress: bool = False) -> Evaluation:
    """The seed's protocol on ``n_probe`` images and the grid metrics on ``n_grid`` images.

    The seed's SVD shares (``svd_sv1_share_pitch`` / ``_time``) use the first ``n_svd``
    images of the grid, as the report's SVD figure does.

    ``encoder``: any callable (B, 1, H, W) -> (B, D); ``image_fn(n, generator)`` gives images.
    The probe draws from ``Generator(seed)``, the grid from ``Generator(seed + 1)``.
    The grid holds at most ``max_grid_points`` points (whole grids of fewer images, see
    ``softfact.evaluation.sampling``; it never bites at the seed's sizes); when it bites,
    ``metrics["grid_images"]`` records the images used. ``progress``: a bar per phase.
    """
    with phase("evaluate: seed protocol", enabled=progress):
        metrics, dv = evaluate_encoder(encoder, image_fn, n=n_probe, max_shift=max_shift,
                                       seed=seed, wrap=wrap)
    n_used = capped_grid_images(n_grid, max_shift, max_grid_points)
    with phase("evaluate: encode shift grid", enabled=progress,
               total=n_used * (2 * max_shift + 1) ** 2, unit="img") as bar:
        grid = encode_shift_grid(encoder, image_fn, n_images=n_used, max_shift=max_shift,
                                 generator=torch.Generator().manual_seed(seed + 1), wrap=wrap,
                                 on_batch=bar.update)
    with phase("evaluate: grid metrics", enabled=progress):
        metrics.update(metrics_from_grid(grid.z, seed=seed))  # R^2, analogies, MIG, DCI, ...
    svd = grid_svd(grid.z[:n_svd])
    metrics.update(svd_sv1_share_pitch=svd["pitch_sv1_share"], svd_sv1_share_time=svd["time_sv1_share"])
    if n_used < n_grid:
        metrics["grid_images"] = n_used
    return Evaluation(metrics=metrics, probe=dv, grid=grid)
