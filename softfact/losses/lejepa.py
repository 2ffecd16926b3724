"""LeJEPA: attraction between views plus SIGReg against collapse."""
from __future__ import annotations

import torch
from torch import nn

from softfact.losses.sigreg import SIGREG_VARIANTS, sigreg, sigreg_seed


def attraction_loss(z1: torch.Tensor, z2: torch.Tensor, *, deltas: torch.Tensor | None = None,
                    tau: float = 100.0) -> torch.Tensor:
    """Mean squared distance between two views' embeddings (B, D), optionally down-weighted.

    With ``deltas`` (B, k) (e.g. the (dy, dx) shift between the views) each pair is weighted
    by exp(-|delta|^2 / tau): distant views are pulled together less. Returns a scalar
    (0 for an empty batch, as the seed's ``safe_mean``).

    >>> attraction_loss(torch.ones(2, 3), torch.zeros(2, 3))
    tensor(1.)
    """
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"z1 and z2 must both be (B, D), got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if z1.shape[0] == 0:
        return z1.sum() * 0.0
    sq = (z1 - z2).square()
    if deltas is None:
        return sq.mean()
    if deltas.dim() != 2 or deltas.shape[0] != z1.shape[0]:
        raise ValueError(f"deltas must be (B, k) with B={z1.shape[0]}, got {tuple(deltas.shape)}")
    fac = torch.exp(-deltas.float().square().sum(1) / tau)
    return (sq * fac.unsqueeze(-1)).mean()


def lejepa_loss(z1: torch.Tensor, z2: torch.Tensor, *, step: int, lambd: float = 0.5,
                deltas: torch.Tensor | None = None, tau: float = 100.0,
                variant: str = "official", num_slices: int = 256) -> dict[str, torch.Tensor]:
    """(1 - lambd) * attraction(z1, z2) + lambd * SIGReg(cat(z1, z2)); z1, z2 (B, D).

    Returns a dict of tensors: ``loss``, ``sim`` (attraction), ``sigreg``.
    """
    if not 0.0 <= lambd <= 1.0:
        raise ValueError(f"lambd must be in [0, 1], got {lambd}")
    if variant not in SIGREG_VARIANTS:
        raise ValueError(f"variant must be one of {SIGREG_VARIANTS}, got {variant!r}")
    sim = attraction_loss(z1, z2, deltas=deltas, tau=tau)
    fn = sigreg if variant == "official" else sigreg_seed
    reg = fn(torch.cat((z1, z2), dim=0), step=step, num_slices=num_slices)
    return {"loss": (1 - lambd) * sim + lambd * reg, "sim": sim, "sigreg": reg}


class LeJEPALoss(nn.Module):
    """Module form of ``lejepa_loss`` holding its hyperparameters."""

    def __init__(self, lambd: float = 0.5, *, variant: str = "official", num_slices: int = 256,
                 tau: float = 100.0):
        super().__init__()
        if variant not in SIGREG_VARIANTS:
            raise ValueError(f"variant must be one of {SIGREG_VARIANTS}, got {variant!r}")
        self.lambd, self.variant, self.num_slices, self.tau = lambd, variant, num_slices, tau

    def forward(self, z1, z2, *, step: int, deltas=None) -> dict[str, torch.Tensor]:
        return lejepa_loss(z1, z2, step=step, lambd=self.lambd, deltas=deltas, tau=self.tau,
                           variant=self.variant, num_slices=self.num_slices)
