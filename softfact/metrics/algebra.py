"""Latent arithmetic on shift grids: additivity of the two factors and GloVe-style analogies.

* ``additivity_error``: ||d(dy, dx) - d(dy, 0) - d(0, dx)|| / ||d(dy, dx)||, mean over images and
  every grid cell with dy != 0 and dx != 0 (0 = the factors add exactly; about sqrt(2) for
  embeddings unrelated to the shift).
* ``analogy_scores``: for image pairs (A, B) and every shift T != 0 the query
  z(B) + (z(T A) - z(A)) is ranked by **euclidean** distance among the embeddings of all S*S
  shifts of B (T = 0 included); top-1 accuracy and mean reciprocal rank of z(T B), as SIE reports
  MRR and H@k. Chance: top-1 = 1/S^2, MRR = (1 + 1/2 + ... + 1/S^2) / S^2.
"""
from __future__ import annotations

import numpy as np

from softfact.evaluation.grid import differences


def additivity_error(d: np.ndarray, *, eps: float = 1e-12) -> dict[str, float]:
    """d (n, S, S, D) with d[:, m, m] = 0 -> {'additivity_err'}."""
    m = d.shape[1] // 2
    both = d                                  # d(dy, dx)
    only_dy = d[:, :, m:m + 1]                # d(dy, 0), broadcast over dx
    only_dx = d[:, m:m + 1, :]                # d(0, dx), broadcast over dy
    resid = np.linalg.norm(both - only_dy - only_dx, axis=-1)
    norm = np.linalg.norm(both, axis=-1)
    mask = np.ones(d.shape[1:3], bool)
    mask[m, :] = mask[:, m] = False
    ratio = resid[:, mask] / np.maximum(norm[:, mask], eps)
    return {"additivity_err": float(ratio.mean())}


def analogy_ranks(Z: np.ndarray, pairs: np.ndarray, *, chunk_cells: int = 4_000_000) -> np.ndarray:
    """Z (n, S, S, D), pairs (P, 2) of image indices (A, B) -> ranks (P, S*S - 1), 1 = best.

    Ties count against the correct answer (rank = number of candidates at least as close).
    Pairs go ``chunk_cells`` distances at a time, so large grids stay in memory.
    """
    n, S, _, D = Z.shape
    m = S // 2
    d = differences(Z).reshape(n, S * S, D)
    cand = Z.reshape(n, S * S, D)
    shifts = np.flatnonzero(np.arange(S * S) != m * S + m)    # every T but the identity
    step = max(1, chunk_cells // (len(shifts) * S * S))
    out = []
    for lo in range(0, len(pairs), step):
        A, B = pairs[lo:lo + step, 0], pairs[lo:lo + step, 1]
        query = Z[B, m, m][:, None, :] + d[A][:, shifts]         # (P, T, D)
        cb = cand[B]                                              # (P, K, D)
        dist = ((query ** 2).sum(-1)[:, :, None] - 2 * np.einsum("ptd,pkd->ptk", query, cb)
                + (cb ** 2).sum(-1)[:, None, :])                  # squared euclidean (P, T, K)
        true = dist[:, np.arange(len(shifts)), shifts]            # (P, T)
        # the correct candidate counts itself once, so the best possible rank is 1
        out.append((dist <= true[..., None] + 1e-9 * np.abs(true[..., None])).sum(-1))
    return np.concatenate(out)


def analogy_scores(Z: np.ndarray, pairs: np.ndarray) -> dict[str, float]:
    """-> {'analogy_top1', 'analogy_mrr'} over all pairs and shifts T != 0."""
    ranks = analogy_ranks(Z, pairs)
    return {"analogy_top1": float((ranks == 1).mean()), "analogy_mrr": float((1.0 / ranks).mean())}


def analogy_pairs(images: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Pair each image index with a different one of the same set: (P, 2) [A, B]."""
    images = np.asarray(images)
    if len(images) < 2:
        raise ValueError("analogies need at least 2 images")
    perm = np.random.default_rng(seed).permutation(images)
    return np.stack([perm, np.roll(perm, 1)], 1)
