"""The operation loss of a jointly trained decoder: decode z(x) + v(s) into the shifted image.

``softfact.ops`` applies a shift s to an input in latent space as z(x) + v(s), v(s) the mean
difference vector of s over training images, and decodes the result (``op_f1``). The joint
decoder's reconstruction loss only asks decode(z(view)) = view; this term asks the operation
itself to decode right, with v(s) estimated the same way on the batch (each shift's mean of
d = z(crop) - z(anchor), ``arithmetic.shift_means``), so encoder and decoder learn a latent in
which the batch's operation vectors carry an input to its shifted image.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch.nn import functional as F

from softfact.losses.arithmetic import _check, flat_differences, shift_means


def operation_loss(*, decode: Callable[[torch.Tensor], torch.Tensor], z_anchor: torch.Tensor,
                   z_crops: torch.Tensor, deltas: torch.Tensor, crops: torch.Tensor) -> torch.Tensor:
    """BCE(decode(z_anchor + mean_s(d)), crop), mean over pixels, crops and anchors.

    Shapes: z_anchor (B, D); z_crops (B, K, D); deltas (B, K, 2); crops (B, K, *image) the
    crops' binary images (targets in [0, 1]); ``decode`` maps (N, D) to logits (N, *image).

    >>> dec = lambda z: z[:, :1, None, None].expand(-1, 1, 2, 2) * 50
    >>> za = torch.zeros(1, 2); zc = torch.tensor([[[1., 0.]]]); s = torch.tensor([[[1, 0]]])
    >>> operation_loss(decode=dec, z_anchor=za, z_crops=zc, deltas=s, crops=torch.ones(1, 1, 1, 2, 2)) < 1e-6
    tensor(True)
    """
    B, K, _ = _check(z_anchor, z_crops, deltas)
    if crops.shape[:2] != (B, K):
        raise ValueError(f"crops must be (B, K, *image) = ({B}, {K}, ...), got {tuple(crops.shape)}")
    logits = decode(operation_queries(z_anchor=z_anchor, z_crops=z_crops, deltas=deltas))
    return F.binary_cross_entropy_with_logits(logits.float(), crops.reshape(B * K, *crops.shape[2:]).float())


def operation_queries(*, z_anchor: torch.Tensor, z_crops: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """z_anchor + the batch's mean d for each crop's shift: (B*K, D), anchor-major (row b*K + k).

    What ``operation_loss`` decodes; the training loop decodes these in the same decoder call as
    the views' reconstructions (one forward per step, as DDP expects).

    >>> operation_queries(z_anchor=torch.zeros(2, 1), z_crops=torch.tensor([[[1.]], [[3.]]]),
    ...                   deltas=torch.tensor([[[1, 0]], [[1, 0]]]))
    tensor([[2.],
            [2.]])
    """
    d, s = flat_differences(z_anchor, z_crops, deltas)
    return z_anchor.repeat_interleave(z_crops.shape[1], 0) + shift_means(d, s)
