"""The soft factorization loss: (cos(d1, d2) - target)^2 on difference vectors."""
from __future__ import annotations

from typing import Sequence

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


def _masked_mean(err: torch.Tensor, use: torch.Tensor, cross: torch.Tensor,
                 cross_weight: float) -> torch.Tensor:
    """``_weighted_mean(err[use], cross[use], cross_weight)`` without indexing by ``use``:
    nothing reads the mask on the host; no entry in use gives 0 (and zero gradients)."""
    w = use.to(err.dtype)
    if cross_weight != 1.0:
        w = w * torch.where(cross, cross_weight, 1.0).to(err.dtype)
    return (torch.where(use, err, 0.0) * w).sum() / w.sum().clamp_min(1e-12)


def _check_mask(mask: torch.Tensor | None, shape: tuple) -> None:
    if mask is not None and (mask.dtype != torch.bool or mask.shape != shape):
        raise ValueError(f"mask must be a bool tensor of shape {tuple(shape)}, got "
                         f"{mask.dtype} {tuple(mask.shape)}")


def _per_token_targets(targets: torch.Tensor, shape: tuple) -> torch.Tensor:
    """Targets (B,) for every token of (B, *T), or already (B, *T)."""
    if targets.shape == shape:
        return targets
    _check("targets", targets, tuple(shape[:1]))
    return targets.reshape(shape[:1] + (1,) * (len(shape) - 1)).expand(shape)


def factorization_loss(*, z_anchor: torch.Tensor, z_crop1: torch.Tensor, z_crop2: torch.Tensor,
                       targets: torch.Tensor, mask: torch.Tensor | None = None,
                       cross_weight: float = 1.0, eps: float = 1e-8) -> torch.Tensor:
    """Mean of (cos(z_crop1 - z_anchor, z_crop2 - z_anchor) - targets)^2.

    Shapes: z_anchor, z_crop1, z_crop2 (B, D) pooled embeddings, or (B, *T, D) with token
    axes T (e.g. (B, N, D) patch tokens, (B, H, W, D) a feature map: one cosine per token);
    targets (B,) (every token of a triplet shares it) or (B, *T), with +1 (same factor, same
    sign), -1 (same factor, opposite sign), 0 (different factors), or any cosine in [-1, 1]
    (see ``shift_cosine_targets``); mask optional bool (B, *T), True for the tokens that count
    (e.g. non-empty patches): the mean runs over those alone and the others get no gradient
    (no valid token: 0). Returns a scalar. ``cross_weight`` weights the pairs whose target
    is 0 (orthogonal shifts) against the others, as if the seed drew its cross scheme that
    much more often; 1 is the seed's plain mean.

    >>> za = torch.zeros(1, 2); z1 = torch.tensor([[1., 0.]]); z2 = torch.tensor([[-2., 0.]])
    >>> factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=torch.tensor([-1.]))
    tensor(0.)
    >>> tokens = torch.randn(3, 1, 5, 4)                  # (anchor, crop1, crop2) x (B, N, D)
    >>> keep = torch.tensor([[True, True, False, True, False]])  # non-empty patches
    >>> factorization_loss(z_anchor=tokens[0], z_crop1=tokens[1], z_crop2=tokens[2],
    ...                    targets=torch.tensor([0.]), mask=keep).shape
    torch.Size([])
    """
    if z_anchor.dim() < 2:
        raise ValueError(f"z_anchor must be (B, D) or (B, *T, D), got shape {tuple(z_anchor.shape)}")
    _check("z_crop1", z_crop1, z_anchor.shape)
    _check("z_crop2", z_crop2, z_anchor.shape)
    targets = _per_token_targets(targets, z_anchor.shape[:-1])
    _check_mask(mask, z_anchor.shape[:-1])
    _check_cross_weight(cross_weight)
    cos = difference_cosine(z_crop1 - z_anchor, z_crop2 - z_anchor, eps)
    err, cross = (cos - targets.to(cos.dtype)).square(), targets == 0
    if mask is not None:  # a weighted mean, no boolean indexing (no host sync: graph-safe)
        return _masked_mean(err, mask, cross, cross_weight)
    return _weighted_mean(err, cross, cross_weight)


def multiscale_factorization_loss(*, z_anchor: Sequence[torch.Tensor],
                                  z_crop1: Sequence[torch.Tensor],
                                  z_crop2: Sequence[torch.Tensor], targets: torch.Tensor,
                                  weights: Sequence[float] | None = None,
                                  masks: Sequence[torch.Tensor | None] | None = None,
                                  cross_weight: float = 1.0, eps: float = 1e-8) -> torch.Tensor:
    """Sum over levels l of weights[l] * factorization_loss(level l): one loss per feature map.

    Shapes: z_anchor, z_crop1, z_crop2 lists of L tensors, level l (B, *T_l, D_l) channels-last
    (a Swin stage's (B, H_l, W_l, C_l) as it is; an NCHW map as ``f.flatten(2).transpose(1, 2)``);
    targets (B,) shared by all levels; weights L floats >= 0 (default 1/L each, so equal levels
    give the one-level loss); masks None or L optional bool (B, *T_l). Returns a scalar.

    >>> lv = [torch.randn(3, 2, 16, 8), torch.randn(3, 2, 4, 16)]  # two levels, (B, N_l, D_l)
    >>> multiscale_factorization_loss(z_anchor=[l[0] for l in lv], z_crop1=[l[1] for l in lv],
    ...     z_crop2=[l[2] for l in lv], targets=torch.tensor([1., 0.]), weights=[0.5, 1.0]).shape
    torch.Size([])
    """
    n = len(z_anchor)
    if n == 0 or len(z_crop1) != n or len(z_crop2) != n:
        raise ValueError(f"z_anchor, z_crop1, z_crop2 must be lists of equal length >= 1, got "
                         f"{len(z_anchor)}, {len(z_crop1)}, {len(z_crop2)}")
    weights = [1.0 / n] * n if weights is None else list(weights)
    masks = [None] * n if masks is None else list(masks)
    if len(weights) != n or len(masks) != n:
        raise ValueError(f"weights and masks need one entry per level ({n}), got "
                         f"{len(weights)} and {len(masks)}")
    if any(not w >= 0 for w in weights):
        raise ValueError(f"weights must be >= 0, got {weights}")
    return sum(w * factorization_loss(z_anchor=a, z_crop1=c1, z_crop2=c2, targets=targets,
                                      mask=m, cross_weight=cross_weight, eps=eps)
               for w, a, c1, c2, m in zip(weights, z_anchor, z_crop1, z_crop2, masks))


class FactorizationLoss(nn.Module):
    """Module form of ``factorization_loss``; ``weight`` scales it (0 switches it off)."""

    def __init__(self, weight: float = 1.0, cross_weight: float = 1.0, eps: float = 1e-8):
        super().__init__()
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        _check_cross_weight(cross_weight)
        self.weight, self.cross_weight, self.eps = weight, cross_weight, eps

    def forward(self, *, z_anchor, z_crop1, z_crop2, targets, mask=None) -> torch.Tensor:
        return self.weight * factorization_loss(z_anchor=z_anchor, z_crop1=z_crop1,
                                                z_crop2=z_crop2, targets=targets, mask=mask,
                                                cross_weight=self.cross_weight, eps=self.eps)


class MultiScaleFactorizationLoss(nn.Module):
    """Module form of ``multiscale_factorization_loss``: per-level ``weights`` (default 1/L)."""

    def __init__(self, weights: Sequence[float] | None = None, weight: float = 1.0,
                 cross_weight: float = 1.0, eps: float = 1e-8):
        super().__init__()
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        _check_cross_weight(cross_weight)
        self.levels = None if weights is None else [float(w) for w in weights]
        self.weight, self.cross_weight, self.eps = weight, cross_weight, eps

    def forward(self, *, z_anchor, z_crop1, z_crop2, targets, masks=None) -> torch.Tensor:
        return self.weight * multiscale_factorization_loss(
            z_anchor=z_anchor, z_crop1=z_crop1, z_crop2=z_crop2, targets=targets,
            weights=self.levels, masks=masks, cross_weight=self.cross_weight, eps=self.eps)


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


def _fold_tokens(z_anchor, z_crops, deltas, valid, mask):
    """Token axes T into the batch: (B, *T, D), (B, K, *T, D) -> (B*T, D), (B*T, K, D), with
    deltas, valid repeated per token and the token mask turned into a pair mask."""
    B, K = z_crops.shape[:2]
    T = z_anchor.shape[1:-1]
    if z_crops.shape[2:] != z_anchor.shape[1:]:
        raise ValueError(f"z_crops must be (B, K, *T, D) matching z_anchor {tuple(z_anchor.shape)}, "
                         f"got {tuple(z_crops.shape)}")
    n = 1
    for t in T:
        n *= t
    za = z_anchor.reshape(B * n, -1)
    zc = z_crops.reshape(B, K, n, -1).transpose(1, 2).reshape(B * n, K, -1)
    dl = deltas.repeat_interleave(n, dim=0)
    pair = None if valid is None else valid.repeat_interleave(n, dim=0)
    if mask is not None:
        if mask.shape == (B, *T):
            m = mask.reshape(B * n, 1).expand(B * n, K)
        elif mask.shape == (B, K, *T):
            m = mask.reshape(B, K, n).transpose(1, 2).reshape(B * n, K)
        else:
            raise ValueError(f"mask must be a bool tensor of shape {(B, *T)} or {(B, K, *T)}, "
                             f"got {tuple(mask.shape)}")
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor, got {mask.dtype}")
        pm = m[:, :, None] & m[:, None, :]
        pair = pm if pair is None else pair & pm
    return za, zc, dl, pair


def pairwise_factorization_loss(*, z_anchor: torch.Tensor, z_crops: torch.Tensor,
                                deltas: torch.Tensor, valid: torch.Tensor | None = None,
                                mask: torch.Tensor | None = None,
                                balance: bool = True, cross_weight: float = 1.0,
                                eps: float = 1e-8, sync_free: bool = False) -> torch.Tensor:
    """The factorization loss over every pair of crops of each anchor.

    Shapes: z_anchor (B, D); z_crops (B, K, D); deltas (B, K, 2) integer [dy, dx] shifts;
    valid (B, K, K) optional bool mask of usable pairs (e.g. crops that differ). Token
    embeddings work too: z_anchor (B, *T, D), z_crops (B, K, *T, D), every token a pair of its
    own (all tokens of one type pooled into that type's mean), with ``mask`` optional bool
    (B, *T) (the anchor's valid tokens) or (B, K, *T) (each crop's): a pair counts at a token
    only where both crops' tokens are valid; masked tokens get no gradient (no valid pair:
    0). Targets are
    the cosines of the shift vectors. Pairs with equal shifts are skipped (the seed redraws
    identical crops). With ``balance`` the pitch/pitch, time/time and cross pair types get
    equal total weight, as the seed's uniform scheme choice gives them; otherwise all pairs
    count equally. ``cross_weight`` multiplies the weight of the pairs whose target is 0 (the
    cross pairs; with ``balance``, the cross type's share). For K = 2 and one valid pair per
    anchor this is ``factorization_loss``.
    ``sync_free``: the same loss as masked sums (no boolean indexing, nothing read on the
    host), so a CUDA graph can capture it; equal to the default to float rounding (tested).
    """
    if z_anchor.dim() > 2 or mask is not None:             # token embeddings
        if z_crops.dim() != z_anchor.dim() + 1 or z_crops.shape[0] != z_anchor.shape[0]:
            raise ValueError(f"z_crops must be (B, K, *T, D) matching z_anchor "
                             f"{tuple(z_anchor.shape)}, got {tuple(z_crops.shape)}")
        B, K = z_crops.shape[:2]
        if deltas.shape != (B, K, 2):
            raise ValueError(f"deltas must have shape {(B, K, 2)}, got {tuple(deltas.shape)}")
        za, zc, dl, pair = _fold_tokens(z_anchor, z_crops, deltas, valid, mask)
        if not sync_free and pair is not None and not pair.any():
            return (zc * 0.0).sum()
        return pairwise_factorization_loss(z_anchor=za, z_crops=zc, deltas=dl, valid=pair,
                                           balance=balance, cross_weight=cross_weight, eps=eps,
                                           sync_free=sync_free)
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
    if not sync_free and not use.any():  # no usable pair: 0, as the token form and sync_free give
        return (cos * 0.0).sum()
    if sync_free:
        if not balance:
            return _masked_mean(err, use, target == 0, cross_weight)
        # per pair type t: its mean over the pairs in use; the types present averaged
        per_type = (pair_types(deltas)[..., None] == torch.arange(4, device=d.device)) & use[..., None]
        count = per_type.sum((0, 1, 2))                                  # (4,)
        means = torch.where(per_type, err[..., None], 0.0).sum((0, 1, 2)) / count.clamp_min(1)
        return _masked_mean(means, count > 0, torch.arange(4, device=d.device) == 2, cross_weight)
    if not balance:
        return _weighted_mean(err[use], target[use] == 0, cross_weight)
    types = pair_types(deltas)
    present = [t for t in range(4) if (use & (types == t)).any()]
    means = torch.stack([err[use & (types == t)].mean() for t in present])
    is_cross = torch.tensor([t == 2 for t in present], device=err.device)
    return _weighted_mean(means, is_cross, cross_weight)
