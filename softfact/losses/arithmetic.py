"""Latent-arithmetic losses: one direction per factor for every input, |d| proportional to |s|.

The seed's loss compares the two crops of *one* anchor, and only their directions, so what it
learns is local to each input. These options (all off by default) tie difference vectors
d = z(crop) - z(anchor) across the anchors of a batch. All take (B, K, D) crop embeddings,
(B, D) anchor embeddings and (B, K, 2) integer [dy, dx] shifts:

* ``shared_direction_loss``: the seed's (cos(d_i, d_j) - cos(s_i, s_j))^2 over every pair of
  crops of *different* anchors, as one (BK x BK) product;
* ``magnitude_loss``: the squared coefficient of variation of |d| / |s| within each factor
  across the batch (0 when |d| is proportional to |s|; scale-free);
* ``linear_shift_loss``: the share of the differences' energy that the best linear map of the
  shifts, d ~ s W with one (2, D) W fitted to the whole batch by least squares, leaves
  unexplained. 0 means z(shift(x)) = z(x) + s W for every crop: one direction per factor for
  every input, magnitudes proportional to the shift, and (on the grid) additive factors and
  exact analogies. Scale-free, like the seed's cosines.
* ``shift_consistency_loss``: the share of the differences' energy that their per-shift means
  over the batch leave unexplained: 0 means d depends on the shift alone (every input moves by
  the same vector v(s) for a shift s), the property the analogy and operation metrics (z(x) +
  v(s) decoded) reward, without asking v to be linear in s (content pushed off a zero-filled
  image makes it bend at large shifts). One (BK x BK) equality matrix, no loop.
* ``shift_means``: those per-shift means, for the joint decoder's operation loss.
"""
from __future__ import annotations

import torch
from torch import nn


def _check(z_anchor: torch.Tensor, z_crops: torch.Tensor, deltas: torch.Tensor) -> tuple[int, int, int]:
    if z_crops.dim() != 3:
        raise ValueError(f"z_crops must be (B, K, D), got shape {tuple(z_crops.shape)}")
    B, K, D = z_crops.shape
    if z_anchor.shape != (B, D):
        raise ValueError(f"z_anchor must have shape {(B, D)} to match z_crops {(B, K, D)}, "
                         f"got {tuple(z_anchor.shape)}")
    if deltas.shape != (B, K, 2):
        raise ValueError(f"deltas must have shape {(B, K, 2)} to match z_crops {(B, K, D)}, "
                         f"got {tuple(deltas.shape)}")
    return B, K, D


def flat_differences(z_anchor: torch.Tensor, z_crops: torch.Tensor,
                     deltas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked shapes -> d = z(crop) - z(anchor) as (B*K, D) rows and their shifts (B*K, 2),
    anchor-major (row b*K + k): the one flattening every term here starts from."""
    B, K, D = _check(z_anchor, z_crops, deltas)
    return (z_crops - z_anchor[:, None]).reshape(B * K, D), deltas.reshape(B * K, 2)


def shared_direction_loss(*, z_anchor: torch.Tensor, z_crops: torch.Tensor, deltas: torch.Tensor,
                          eps: float = 1e-8) -> torch.Tensor:
    """Mean of (cos(d_i, d_j) - cos(s_i, s_j))^2 over pairs of crops of different anchors.

    Shapes: z_anchor (B, D); z_crops (B, K, D); deltas (B, K, 2) shifts (zero shifts are
    skipped). Returns a scalar; one (BK x BK) matrix product, no loop.

    >>> za = torch.zeros(2, 2); s = torch.tensor([[[1, 0]], [[0, 2]]])
    >>> shared_direction_loss(z_anchor=za, z_crops=torch.tensor([[[1., 0.]], [[0., 3.]]]), deltas=s)
    tensor(0.)
    """
    d, s = flat_differences(z_anchor, z_crops, deltas)
    B, K = z_crops.shape[:2]
    u = d / (d.square().sum(-1, keepdim=True) + eps * eps).sqrt()
    s = s.to(d.dtype)
    sn = s / s.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    anchor = torch.arange(B, device=d.device).repeat_interleave(K)
    moves = s.abs().sum(-1) > 0
    use = (anchor[:, None] != anchor[None, :]) & moves[:, None] & moves[None, :]
    err = (u @ u.T - sn @ sn.T).square()
    return (err * use).sum() / use.sum().clamp_min(1)


def magnitude_loss(*, z_anchor: torch.Tensor, z_crops: torch.Tensor, deltas: torch.Tensor,
                   eps: float = 1e-8) -> torch.Tensor:
    """Squared coefficient of variation of |d| / |s| per factor, averaged over the factors.

    A factor's crops are those that move along it only (pitch: dy != 0, dx == 0; time: the
    reverse); a factor with fewer than two such crops is skipped. Shapes as
    ``shared_direction_loss``; returns a scalar, 0 when |d| = c_f |s| for every crop.

    >>> za = torch.zeros(1, 2); s = torch.tensor([[[1, 0], [-3, 0], [0, 2]]])
    >>> magnitude_loss(z_anchor=za, z_crops=torch.tensor([[[0., 2.], [6., 0.], [1., 1.]]]), deltas=s)
    tensor(0.)
    """
    d, s = flat_differences(z_anchor, z_crops, deltas)
    ratio = (d.square().sum(-1) + eps * eps).sqrt() / s.abs().sum(-1).clamp_min(1).to(d.dtype)
    # masked moments, no boolean indexing: nothing read on the host (a CUDA graph holds it)
    along = torch.stack([(s[:, 0] != 0) & (s[:, 1] == 0), (s[:, 1] != 0) & (s[:, 0] == 0)])  # (2, N)
    w = along.to(d.dtype)
    n = w.sum(1).clamp_min(1)
    mean = (torch.where(along, ratio, 0.0)).sum(1) / n
    var = torch.where(along, (ratio - mean[:, None]).square(), 0.0).sum(1) / n
    present = w.sum(1) > 1
    terms = torch.where(present, var / mean.square().clamp_min(eps), 0.0)
    return terms.sum() / present.sum().clamp_min(1) + d.sum() * 0.0


def linear_shift_loss(*, z_anchor: torch.Tensor, z_crops: torch.Tensor, deltas: torch.Tensor,
                      eps: float = 1e-8) -> torch.Tensor:
    """||d - s W||^2 / ||d||^2 with W = argmin ||d - s W||^2 fitted on the batch: 1 - R^2.

    Shapes as ``shared_direction_loss``; W is (2, D), solved in closed form (a 2 x 2 system,
    lightly ridged so a batch with one factor only still solves). Returns a scalar in [0, 1].

    >>> za = torch.zeros(1, 2); s = torch.tensor([[[1, 0], [-2, 0], [0, 3]]])
    >>> loss = linear_shift_loss(z_anchor=za, z_crops=torch.tensor([[[1., 1.], [-2., -2.], [0., 3.]]]), deltas=s)
    >>> round(loss.item(), 6)
    0.0
    """
    d, s = flat_differences(z_anchor, z_crops, deltas)
    s = s.to(d.dtype)
    gram = s.T @ s + 1e-6 * torch.eye(2, dtype=d.dtype, device=d.device)
    W = torch.linalg.solve(gram, s.T @ d)                      # (2, D)
    return (d - s @ W).square().sum() / (d.square().sum() + eps)


def shift_means(d: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Mean of the rows of ``d`` (N, D) over the rows with the same shift; ``shifts`` (N, 2).

    One (N x N) equality matrix and one product (memory N^2: fine for the few thousand crops of
    a batch). Returns (N, D), the mean of each row's own group (itself included).

    >>> shift_means(torch.tensor([[1., 0.], [3., 2.], [5., 5.]]), torch.tensor([[1, 0], [1, 0], [0, 1]]))
    tensor([[2., 1.],
            [2., 1.],
            [5., 5.]])
    """
    if d.dim() != 2 or shifts.shape != (d.shape[0], 2):
        raise ValueError(f"d must be (N, D) and shifts (N, 2), got {tuple(d.shape)} and {tuple(shifts.shape)}")
    same = (shifts[:, None, :] == shifts[None, :, :]).all(-1).to(d.dtype)   # (N, N)
    return (same @ d) / same.sum(1, keepdim=True)


def shift_consistency_loss(*, z_anchor: torch.Tensor, z_crops: torch.Tensor, deltas: torch.Tensor,
                           eps: float = 1e-8) -> torch.Tensor:
    """||d - mean_s(d)||^2 / ||d||^2: the share of d left once each shift's mean is taken out.

    Shapes as ``shared_direction_loss``; crops with the same [dy, dx] form a group (zero shifts
    are skipped; a group of one explains itself). Returns a scalar in [0, 1], 0 when every
    input's difference vector for a shift is that shift's mean, whatever the means are.

    >>> za = torch.zeros(2, 2); s = torch.tensor([[[1, 0], [0, 2]], [[1, 0], [0, 2]]])
    >>> shift_consistency_loss(z_anchor=za, z_crops=torch.tensor([[[1., 0.], [0., 3.]], [[1., 0.], [0., 3.]]]), deltas=s)
    tensor(0.)
    """
    d, s = flat_differences(z_anchor, z_crops, deltas)
    moves = (s.abs().sum(-1) > 0).to(d.dtype)[:, None]
    resid = (d - shift_means(d, s)) * moves
    return resid.square().sum() / ((d * moves).square().sum() + eps)


class _Weighted(nn.Module):
    """A weight (0 switches the term off) and eps; forward -> weight * the term."""

    term = None

    def __init__(self, weight: float = 1.0, eps: float = 1e-8):
        super().__init__()
        if not weight >= 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        self.weight, self.eps = weight, eps

    def forward(self, *, z_anchor, z_crops, deltas) -> torch.Tensor:
        return self.weight * type(self).term(z_anchor=z_anchor, z_crops=z_crops, deltas=deltas, eps=self.eps)


class SharedDirectionLoss(_Weighted):
    """Module form of ``shared_direction_loss``."""
    term = staticmethod(shared_direction_loss)


class MagnitudeLoss(_Weighted):
    """Module form of ``magnitude_loss``."""
    term = staticmethod(magnitude_loss)


class LinearShiftLoss(_Weighted):
    """Module form of ``linear_shift_loss``."""
    term = staticmethod(linear_shift_loss)


class ShiftConsistencyLoss(_Weighted):
    """Module form of ``shift_consistency_loss``."""
    term = staticmethod(shift_consistency_loss)


class ArithmeticLoss(nn.Module):
    """Weighted sum of the four terms (weights 0 switch them off); forward -> dict of terms.

    The dict holds ``loss`` (the weighted sum) and each term whose weight is > 0, unweighted,
    under ``shared``, ``magnitude``, ``linear`` and ``consistency``.
    """

    def __init__(self, shared_weight: float = 0.0, magnitude_weight: float = 0.0,
                 linear_weight: float = 0.0, eps: float = 1e-8, *, consistency_weight: float = 0.0):
        super().__init__()
        for name, w in (("shared_weight", shared_weight), ("magnitude_weight", magnitude_weight),
                        ("linear_weight", linear_weight), ("consistency_weight", consistency_weight)):
            if not w >= 0:
                raise ValueError(f"{name} must be >= 0, got {w}")
        self.weights = {"shared": shared_weight, "magnitude": magnitude_weight, "linear": linear_weight,
                        "consistency": consistency_weight}
        self.eps = eps

    def forward(self, *, z_anchor, z_crops, deltas) -> dict[str, torch.Tensor]:
        fns = {"shared": shared_direction_loss, "magnitude": magnitude_loss, "linear": linear_shift_loss,
               "consistency": shift_consistency_loss}
        out = {name: fns[name](z_anchor=z_anchor, z_crops=z_crops, deltas=deltas, eps=self.eps)
               for name, w in self.weights.items() if w > 0}
        out["loss"] = sum((self.weights[k] * v for k, v in out.items()), z_crops.new_zeros(()))
        return out
