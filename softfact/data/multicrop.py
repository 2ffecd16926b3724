"""Multi-crop sampling: K shifted crops per anchor, so one forward pass yields K(K-1)/2 pairs.

The seed draws one pair (two crops) per anchor. Here half the crops are pitch shifts and half
time shifts (random sign, magnitude 1..max_shift), and every pair of crops of the same anchor
is a training pair with the seed's target (+1 / -1 / 0, the cosine of the shift vectors).
``softfact.losses.pairwise_factorization_loss`` weights the pair types like the seed's
uniform scheme mix, so the objective is the seed's, estimated from more pairs per image.

``antithetic``: the crops of each factor come in mirrored pairs, +s then -s with the same
magnitude (a third crop of a factor, if any, stays free). Every crop is still uniform over
+-1..max_shift, and the pair types and targets are the seed's; what changes is that every
anchor contributes one exact opposite-sign pair per factor, the case the seed's sign probe
and opposite-sign cosine measure and the hardest for zero-filled shifts (variance reduction
by antithetic variates). Measured on the toy: the seed's opposite-sign figure is reached in
about half the steps (``benchmarks/results/cpu_recipe.md``).
"""
from __future__ import annotations

import torch

from softfact.data.blobs import translate
from softfact.data.crops import CropBatch


MultiCropBatch = CropBatch  # K crops per anchor: the one batch type


def sample_crop_shifts(n: int, k: int, *, max_shift: int, generator: torch.Generator,
                       antithetic: bool = False) -> torch.Tensor:
    """(n, k, 2) shifts: the first k//2 crops move pitch (dy), the rest time (dx).

    With ``antithetic``, crops 2i+1 mirror crops 2i within each factor's block.
    """
    if k < 2:
        raise ValueError(f"need at least 2 crops per anchor, got {k}")
    kw = dict(generator=generator, device=generator.device)
    mag = torch.randint(1, max_shift + 1, (n, k), **kw)
    signed = mag * torch.where(torch.rand(n, k, **kw) > 0.5, 1, -1)
    if antithetic:
        for lo, hi in ((0, k // 2), (k // 2, k)):
            mirror = torch.arange(lo + 1, hi, 2, device=generator.device)
            signed[:, mirror] = -signed[:, mirror - 1]
    is_pitch = torch.arange(k, device=generator.device) < k // 2
    zero = torch.zeros_like(signed)
    return torch.stack([torch.where(is_pitch, signed, zero), torch.where(is_pitch, zero, signed)], -1)


def sample_multicrop(image_fn, n: int, *, crops: int, max_shift: int, generator: torch.Generator,
                     wrap: bool = False, antithetic: bool = False) -> MultiCropBatch:
    """``n`` anchors with ``crops`` shifted crops each (see the module docstring)."""
    deltas = sample_crop_shifts(n, crops, max_shift=max_shift, generator=generator,
                                antithetic=antithetic)
    per_crop = list(deltas.unbind(1))
    packed = hasattr(image_fn, "unpack")  # compare compact views, write pixels last
    if hasattr(image_fn, "views"):
        anchor, *views = image_fn.views(n, generator, per_crop, wrap=wrap,
                                        **({"packed": True} if packed else {}))
    else:
        anchor = image_fn(n, generator)
        views = [translate(anchor, d[:, 0], d[:, 1], wrap=wrap) for d in per_crop]
    v = torch.stack(views, 1).flatten(2)                        # (n, K, -1)
    distinct = (v[:, :, None] != v[:, None, :]).any(-1)
    if packed:
        anchor, views = image_fn.unpack(anchor), [image_fn.unpack(x) for x in views]
    return CropBatch(anchor, torch.stack(views, 1), deltas, distinct=distinct)
