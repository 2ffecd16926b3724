"""Geometry of shifts and difference vectors, shared by data, losses and evaluation."""
from __future__ import annotations

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
