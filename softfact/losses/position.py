"""The position loss of a translating decoder: its position head reads the crops' known shifts.

A translating decoder (``ConvDecoder(margin > 0)``) moves what it draws by a position p read
linearly from the embedding (and, with a spatial latent, by p - q, q read from the map). Its
moves are exact by construction, but reconstruction alone asks nothing of p except that it be
right for what the encoder gives: p may read directions the encoder never moves along, and the
encoder's own difference vectors then move the drawing by nothing (measured on POP909,
benchmarks/results/decoder.md). This term asks p(crop) - p(anchor) to be the crop's shift, so
that the encoder's d = z(crop) - z(anchor) moves the decoder by the shift it stands for.
"""
from __future__ import annotations

import torch


def position_loss(*, p_anchor: torch.Tensor, p_crops: torch.Tensor, deltas: torch.Tensor,
                  scale: float = 1.0) -> torch.Tensor:
    """mean over anchors, crops and the two axes of ((p_crop - p_anchor - delta) / scale)^2.

    Shapes: p_anchor (B, 2) positions (rows, columns) read from the anchors; p_crops (B, K, 2)
    from their crops; deltas (B, K, 2) the crops' shifts (dy, dx) in pixels; ``scale`` (e.g. the
    largest shift) makes the loss unit-free.

    >>> pa = torch.zeros(1, 2); pc = torch.tensor([[[2., 0.], [0., -1.]]])
    >>> position_loss(p_anchor=pa, p_crops=pc, deltas=torch.tensor([[[2, 0], [0, -1]]]))
    tensor(0.)
    >>> position_loss(p_anchor=pa, p_crops=pc, deltas=torch.tensor([[[0, 0], [0, 0]]]), scale=2.0)
    tensor(0.3125)
    """
    if p_anchor.dim() != 2 or p_anchor.shape[1] != 2:
        raise ValueError(f"p_anchor must be (B, 2), got shape {tuple(p_anchor.shape)}")
    B = p_anchor.shape[0]
    if p_crops.dim() != 3 or p_crops.shape[0] != B or p_crops.shape[2] != 2:
        raise ValueError(f"p_crops must be (B, K, 2) with B = {B}, got shape {tuple(p_crops.shape)}")
    if deltas.shape != p_crops.shape:
        raise ValueError(f"deltas must have p_crops' shape {tuple(p_crops.shape)}, got "
                         f"{tuple(deltas.shape)}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    err = (p_crops.float() - p_anchor.float()[:, None] - deltas.float()) / scale
    return err.pow(2).mean()


def crop_major_position_loss(*, positions, deltas: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Sum of ``position_loss`` over a decoder's position heads (``ConvDecoder.positions``: p, and
    q of a map or None), each read from the step's views in crop-major rows: (B(K+1), 2), the B
    anchors, then the B first crops, ..., the B K-th crops; deltas (B, K, 2).

    >>> rows = torch.tensor([[0., 0.], [2., 0.], [0., -1.]])   # B = 1 anchor, K = 2 crops
    >>> crop_major_position_loss(positions=(rows, None), deltas=torch.tensor([[[2, 0], [0, -1]]]))
    tensor(0.)
    """
    B, K = deltas.shape[:2]
    total = None
    for h in positions:
        if h is None:
            continue
        if h.shape != (B * (K + 1), 2):
            raise ValueError(f"each head must be ({B * (K + 1)}, 2) for {B} anchors x {K} crops, "
                             f"got shape {tuple(h.shape)}")
        term = position_loss(p_anchor=h[:B], p_crops=h[B:].view(K, B, 2).transpose(0, 1),
                             deltas=deltas, scale=scale)
        total = term if total is None else total + term
    if total is None:
        raise ValueError("no position head given")
    return total
