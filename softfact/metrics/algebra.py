"""Latent arithmetic on shift grids: additivity of the two factors and GloVe-style analogies.

* ``additivity_error``: ||d(dy, dx) - d(dy, 0) - d(0, dx)|| / ||d(dy, dx)||, mean over images and
  every grid cell with dy != 0 and dx != 0 (0 = the factors add exactly; about sqrt(2) for
  embeddings unrelated to the shift).
* ``analogy_scores``: for image pairs (A, B) and every shift T != 0 the query
  z(B) + (z(T A) - z(A)) is ranked by **euclidean** distance among the embeddings of all S*S
  shifts of B (T = 0 included); top-1 accuracy and mean reciprocal rank of z(T B), as SIE reports
  MRR and H@k. Chance: top-1 = 1/S^2, MRR = (1 + 1/2 + ... + 1/S^2) / S^2.
* ``analogy_by_shift`` and ``analogy_by_border_loss``: where the analogies hold, per shift and
  by how much of A's or B's content the (zero-filled) shift pushes off the border
  (``border_loss``): content a shift loses is the input's own, so no vector per shift carries it.
"""
from __future__ import annotations

import numpy as np

from softfact.evaluation.grid import differences, split_images


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


def held_out_pairs(n_images: int, *, seed: int = 0) -> np.ndarray:
    """The (A, B) pairs the grid metrics score analogies on: the held-out images of
    ``split_images(n_images, seed=seed)``, paired by ``analogy_pairs``."""
    _, test = split_images(n_images, seed=seed)
    return analogy_pairs(test, seed=seed)


def analogy_by_shift(ranks: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Top-1 per shift: ``analogy_ranks`` (P, S*S - 1) -> (S, S) indexed [dy, dx], NaN at (0, 0).

    >>> analogy_by_shift(np.array([[1, 2, 1, 1, 1, 1, 1, 3], [1, 1, 1, 1, 1, 1, 1, 1]]),
    ...                  np.arange(-1, 2))[0]
    array([1. , 0.5, 1. ])
    """
    S = len(shifts)
    if ranks.ndim != 2 or ranks.shape[1] != S * S - 1:
        raise ValueError(f"ranks must be (P, {S * S - 1}) for {S} shift values, got {ranks.shape}")
    out = np.full(S * S, np.nan)
    out[np.arange(S * S) != (S // 2) * (S + 1)] = (ranks == 1).mean(0)
    return out.reshape(S, S)


def border_loss(images: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Share of each image's mass that a zero-filled shift pushes off the border.

    images (n, H, W) or (n, C, H, W) (channels summed); shifts the S values -m..m -> (n, S, S)
    [dy, dx], 0 for a blank image. A shift by (dy, dx) keeps input rows max(0, -dy) ..
    H - max(0, dy) and the same of columns, as ``softfact.data.blobs.translate`` does (tested
    against it); the sums over those rectangles come from one integral image.

    >>> x = np.zeros((1, 4, 4)); x[0, 0, 0] = x[0, 3, 3] = 1
    >>> border_loss(x, np.arange(-1, 2))[0]
    array([[0.5, 0.5, 1. ],
           [0.5, 0. , 0.5],
           [1. , 0.5, 0.5]])
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim not in (3, 4):
        raise ValueError(f"images must be (n, H, W) or (n, C, H, W), got shape {x.shape}")
    x = x.reshape(x.shape[0], -1, *x.shape[-2:]).sum(1)
    n, H, W = x.shape
    P = np.zeros((n, H + 1, W + 1))
    P[:, 1:, 1:] = x.cumsum(1).cumsum(2)
    s = np.asarray(shifts)
    r0, r1 = np.maximum(0, -s), H - np.maximum(0, s)   # kept input rows per dy
    c0, c1 = np.maximum(0, -s), W - np.maximum(0, s)   # kept input columns per dx
    kept = (P[:, r1][:, :, c1] - P[:, r0][:, :, c1] - P[:, r1][:, :, c0] + P[:, r0][:, :, c0])
    total = P[:, H, W][:, None, None]
    return np.where(total > 0, 1 - kept / np.where(total > 0, total, 1), 0.0).clip(0, 1)


BORDER_BINS = (0.0, 0.02, 0.05, 0.1, 0.2, 1.0)


def analogy_by_border_loss(ranks: np.ndarray, pairs: np.ndarray, loss: np.ndarray,
                           bins: tuple[float, ...] = BORDER_BINS) -> list[dict]:
    """Top-1 of every (pair, shift) grouped by the larger share of content A's or B's shift
    pushes off the border: ranks (P, S*S - 1) and pairs (P, 2) of ``analogy_ranks``, loss
    (n, S, S) of ``border_loss``. The first group is "nothing lost" (exactly 0), then
    (bins[i], bins[i+1]]. Returns one dict per group: lo, hi, share (of all cases), top1
    (NaN when empty), n.
    """
    n, S = loss.shape[0], loss.shape[1]
    if ranks.shape != (len(pairs), S * S - 1):
        raise ValueError(f"ranks must be ({len(pairs)}, {S * S - 1}), got {ranks.shape}")
    flat = loss.reshape(n, S * S)[:, np.arange(S * S) != (S // 2) * (S + 1)]
    worst = np.maximum(flat[pairs[:, 0]], flat[pairs[:, 1]])          # (P, S*S - 1)
    top = ranks == 1
    groups = [(0.0, 0.0, worst <= 0)] + [(lo, hi, (worst > lo) & (worst <= hi))
                                         for lo, hi in zip(bins[:-1], bins[1:])]
    return [{"lo": lo, "hi": hi, "share": float(sel.mean()), "n": int(sel.sum()),
             "top1": float(top[sel].mean()) if sel.any() else float("nan")} for lo, hi, sel in groups]
