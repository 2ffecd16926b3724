"""Geometry of shifts and difference vectors, shared by data, losses and evaluation.

The one home of the cosines and angles the evaluation reports (the loss's differentiable
cosine, with its zero-vector rule, is ``softfact.losses.difference_cosine``).
"""
from __future__ import annotations

import numpy as np
import torch

# the shift schemes a triplet can be drawn from (data/triplets.py says what each means)
SCHEMES = ("pitch", "time", "cross", "mixed")


def shift_cosine(delta1: torch.Tensor, delta2: torch.Tensor) -> torch.Tensor:
    """Cosine between shift vectors (..., 2) x (..., 2) -> (...): the loss target.

    The seed's +1 / -1 / 0 on its schemes (same factor and sign, opposite sign, across
    factors); any cosine for diagonal shifts.

    >>> shift_cosine(torch.tensor([[2, 0], [2, 0], [0, 1]]), torch.tensor([[3, 0], [-1, 0], [4, 0]]))
    tensor([ 1., -1.,  0.])
    """
    d1, d2 = delta1.float(), delta2.float()
    return (d1 * d2).sum(-1) / (d1.norm(dim=-1) * d2.norm(dim=-1)).clamp_min(1e-12)


def cosine(a, b) -> np.ndarray:
    """Row-wise cosine of (..., D) x (..., D) arrays -> (...), 0 for a zero row.

    >>> float(cosine(np.array([1.0, 0.0]), np.array([-2.0, 0.0])))
    -1.0
    """
    a, b = np.asarray(a), np.asarray(b)
    norm = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return (a * b).sum(-1) / np.maximum(norm, 1e-12)


def angle_deg(cos) -> np.ndarray:
    """Angle in degrees from a cosine (clipped to [-1, 1]).

    >>> float(angle_deg(-1.0))
    180.0
    """
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def mean_abs_pairwise_cosine(d) -> float:
    """Mean |cos| over all pairs of distinct rows of d (n, D): how far one direction serves all.

    >>> mean_abs_pairwise_cosine(np.array([[1.0, 0.0], [-3.0, 0.0], [2.0, 0.0]]))
    1.0
    """
    u = torch.as_tensor(d)
    u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
    c = (u @ u.T).abs()
    n = c.shape[0]
    return float((c.sum() - c.diagonal().sum()) / (n * (n - 1)))
