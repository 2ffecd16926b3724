"""The soft factorization loss: (cos(d1, d2) - target)^2 on difference vectors."""
from __future__ import annotations

import torch
from torch import nn

from softfact.utils.geometry import shift_cosine as shift_cosine_targets


def _check(name: str, t: torch.Tensor, shape: tuple) -> None:
    if t.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")


def difference_cosine(d1: torch.Tensor, d2: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Row-wise cosine of (B, D) x (B, D) -> (B,), 0 (with a finite gradient) for a zero row.

    Norms are sqrt(|d|^2 + eps^2) rather than clamped, so the gradient at d = 0 is finite;
    for |d| >> eps this equals ``F.cosine_similarity``.
    """
    n1 = (d1.square().sum(-1) + eps * eps).sqrt()
    n2 = (d2.square().sum(-1) + eps * eps).sqrt()
    return (d1 * d2).sum(-1) / (n1 * n2)


def _check_cross_weight(cross_weight: float) -> None:
    if not cross_weight >= 0:
        raise ValueError(f"cross_weight must be >= 0, got {cross_weight}")


def _weighted_mean(err: torch.Tensor, cross: torch.Tensor, cross_weight: float) -> torch.Tensor:
    """Mean of ``err`` with the ``cross`` entries counted ``cross_weight`` times (1: plain mean)."""
    if cross_weight == 1.0:
        return err.mean()
    w = torch.where(cross, cross_weight, 1.0).to(err.dtype)
    return (w * err).sum() / w.sum().clamp_min(1e-12)


def factorization_loss(*, z_anchor: torch.Tensor, z_crop1: torch.Tensor, z_crop2: torch.Tensor,
                       targets: torch.Tensor, cross_weight: float = 1.0,
                       eps: float = 1e-8) -> torch.Tensor:
    """Mean of (cos(z_crop1 - z_anchor, z_crop2 - z_anchor) - targets)^2.

    Shapes: z_anchor, z_crop1, z_crop2 (B, D); targets (B,) with +1 (same factor, same
    sign), -1 (same factor, opposite sign), 0 (different factors), or any cosine in [-1, 1]
    (see ``shift_cosine_targets``). Returns a scalar. ``cross_weight`` weights the pairs
    whose target is 0 (orthogonal shifts) against the others, as if the seed drew its
    cross scheme that much more often; 1 is the seed's plain mean.

    >>> za = torch.zeros(1, 2); z1 = torch.tensor([[1., 0.]]); z2 = torch.tensor([[-2., 0.]])
    >>> factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=torch.tensor([-1.]))
    tensor(0.)
    """
    if z_anchor.dim() != 2:
        raise ValueError(f"z_anchor must be (B, D), got shape {tuple(z_anchor.shape)}")
    _check("z_crop1", z_crop1, z_anchor.shape)
    _check("z_crop2", z_crop2, z_anchor.shape)
    _check("targets", targets, z_anchor.shape[:1])
    _check_cross_weight(cross_weight)
    cos = difference_cosine(z_crop1 - z_anchor, z_crop2 - z_anchor, eps)
    return _weighted_mean((cos - targets.to(cos.dtype)).square(), targets == 0, cross_weight)


class FactorizationLoss(nn.Module):
    """Module form of ``factorization_loss``; ``weight`` scales it (0 switches it off)."""

    def __init__(self, weight: float = 1.0, cross_weight: float = 1.0, eps: float = 1e-8):
        super().__init__()
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        _check_cross_weight(cross_weight)
        self.weight, self.cross_weight, self.eps = weight, cross_weight, eps

    def forward(self, *, z_anchor, z_crop1, z_crop2, targets) -> torch.Tensor:
        return self.weight * factorization_loss(z_anchor=z_anchor, z_crop1=z_crop1,
                                                z_crop2=z_crop2, targets=targets,
                                                cross_weight=self.cross_weight, eps=self.eps)


def pair_types(deltas: torch.Tensor) -> torch.Tensor:
    """(B, K, 2) shifts -> (B, K, K) pair type: 0 pitch/pitch, 1 time/time, 2 cross, 3 other."""
    moves = deltas != 0
    pitch_only = moves[..., 0] & ~moves[..., 1]
    time_only = moves[..., 1] & ~moves[..., 0]
    pp = pitch_only[:, :, None] & pitch_only[:, None, :]
    tt = time_only[:, :, None] & time_only[:, None, :]
    cross = (pitch_only[:, :, None] & time_only[:, None, :]) | (time_only[:, :, None] & pitch_only[:, None, :])
    out = torch.full(pp.shape, 3, dtype=torch.long, device=deltas.device)
    return out.masked_fill(pp, 0).masked_fill(tt, 1).masked_fill(cross, 2)


def pairwise_factorization_loss(*, z_anchor: torch.Tensor, z_crops: torch.Tensor,
                                deltas: torch.Tensor, valid: torch.Tensor | None = None,
                                balance: bool = True, cross_weight: float = 1.0,
                                eps: float = 1e-8) -> torch.Tensor:
    """The factorization loss over every pair of crops of each anchor.

    Shapes: z_anchor (B, D); z_crops (B, K, D); deltas (B, K, 2) integer [dy, dx] shifts;
    valid (B, K, K) optional bool mask of usable pairs (e.g. crops that differ). Targets are
    the cosines of the shift vectors. Pairs with equal shifts are skipped (the seed redraws
    identical crops). With ``balance`` the pitch/pitch, time/time and cross pair types get
    equal total weight, as the seed's uniform scheme choice gives them; otherwise all pairs
    count equally. ``cross_weight`` multiplies the weight of the pairs whose target is 0 (the
    cross pairs; with ``balance``, the cross type's share). For K = 2 and one valid pair per
    anchor this is ``factorization_loss``.
    """
    if z_crops.dim() != 3 or z_crops.shape[0] != z_anchor.shape[0] or z_crops.shape[2] != z_anchor.shape[-1]:
        raise ValueError(f"z_crops must be (B, K, D) matching z_anchor {tuple(z_anchor.shape)}, "
                         f"got {tuple(z_crops.shape)}")
    B, K, _ = z_crops.shape
    if deltas.shape != (B, K, 2):
        raise ValueError(f"deltas must have shape {(B, K, 2)}, got {tuple(deltas.shape)}")
    _check_cross_weight(cross_weight)
    d = z_crops - z_anchor[:, None]
    u = d / (d.square().sum(-1, keepdim=True) + eps * eps).sqrt()
    cos = u @ u.transpose(1, 2)                                     # (B, K, K)
    dl = deltas.float()
    dn = dl / dl.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    target = dn @ dn.transpose(1, 2)
    upper = torch.ones(K, K, dtype=torch.bool, device=d.device).triu(1)
    use = upper & (deltas[:, :, None] != deltas[:, None, :]).any(-1)
    if valid is not None:
        use = use & valid
    err = (cos - target).square()
    if not balance:
        return _weighted_mean(err[use], target[use] == 0, cross_weight)
    types = pair_types(deltas)
    present = [t for t in range(4) if (use & (types == t)).any()]
    means = torch.stack([err[use & (types == t)].mean() for t in present])
    is_cross = torch.tensor([t == 2 for t in present], device=err.device)
    return _weighted_mean(means, is_cross, cross_weight)
