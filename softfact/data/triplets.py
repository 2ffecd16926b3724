"""Triplets (anchor, crop1, crop2) with known shifts and their cosine targets.

Schemes (the seed's, drawn uniformly): 0 "pitch" both crops shifted vertically, 1 "time"
both horizontally, 2 "cross" crop1 vertically and crop2 horizontally. Magnitudes are uniform
in 1..max_shift with independent random signs. The optional scheme 3 "mixed" shifts each crop
along both axes (magnitudes 0..max_shift, never both zero): its target is the cosine between
the two shift vectors, which is also the seed's +1/-1/0 on the first three schemes.
A triplet whose two crops are identical carries no signal and is redrawn whole, as the seed's
``BlobShiftDataset`` does.
"""
from __future__ import annotations

import functools
from typing import Callable

import torch

from softfact.data.blobs import translate
from softfact.data.crops import CropBatch
from softfact.utils.geometry import SCHEMES, shift_cosine


ImageFn = Callable[[int, torch.Generator], torch.Tensor]


# the seed's triplet is the K = 2 case of the one batch type
TripletBatch = CropBatch


@functools.lru_cache(maxsize=16)
def _scheme_ids(schemes: tuple[str, ...], device: torch.device) -> torch.Tensor:
    """The allowed schemes' ids on ``device``, made once (no host copy inside a step)."""
    return torch.tensor([SCHEMES.index(s) for s in schemes], device=device)


def sample_shifts(n: int, *, max_shift: int, generator: torch.Generator,
                  schemes: tuple[str, ...] = SCHEMES[:3], sync_free: bool = False):
    """Draw (scheme, delta1, delta2) for ``n`` triplets; deltas are (n, 2) [dy, dx].

    ``sync_free``: the "mixed" scheme's shifts are drawn for every row and kept where the
    scheme is mixed (no host synchronisation; a CUDA graph can hold it); the draws differ
    from the default's only when "mixed" is among the schemes.
    """
    if max_shift < 1:
        raise ValueError(f"max_shift must be >= 1, got {max_shift}")
    unknown = set(schemes) - set(SCHEMES)
    if unknown or not schemes:
        raise ValueError(f"schemes must be a non-empty subset of {SCHEMES}, got {schemes}")
    kw = dict(generator=generator, device=generator.device)
    allowed = _scheme_ids(tuple(schemes), generator.device)
    scheme = allowed[torch.randint(0, len(allowed), (n,), **kw)]
    mag = torch.randint(1, max_shift + 1, (n, 2), **kw)
    sign = torch.where(torch.rand(n, 2, **kw) > 0.5, 1, -1)
    s1, s2 = (mag * sign).unbind(1)
    zero = torch.zeros_like(s1)
    # columns: (dy1, dx1, dy2, dx2) per scheme
    dy1 = torch.where(scheme == 1, zero, s1)
    dx1 = torch.where(scheme == 1, s1, zero)
    dy2 = torch.where(scheme == 0, s2, zero)
    dx2 = torch.where(scheme == 0, zero, s2)
    delta1, delta2 = torch.stack([dy1, dx1], 1), torch.stack([dy2, dx2], 1)
    mixed = scheme == 3
    if sync_free and "mixed" in schemes:
        d = torch.randint(-max_shift, max_shift + 1, (n, 4), **kw)
        for a, b in ((0, 1), (2, 3)):  # a mixed crop must move: (0, 0) -> a unit shift
            still = (d[:, a] == 0) & (d[:, b] == 0)
            d[:, a] = torch.where(still, torch.where(torch.rand(n, **kw) > 0.5, 1, -1), d[:, a])
        m = mixed[:, None]
        delta1, delta2 = torch.where(m, d[:, :2], delta1), torch.where(m, d[:, 2:], delta2)
    elif "mixed" in schemes and mixed.any():
        m = int(mixed.sum())
        d = torch.randint(-max_shift, max_shift + 1, (m, 4), **kw)
        # a mixed crop must move: redraw (0, 0) shifts as a unit shift along a random axis
        for a, b in ((0, 1), (2, 3)):
            still = (d[:, a] == 0) & (d[:, b] == 0)
            d[still, a] = torch.where(torch.rand(int(still.sum()), **kw) > 0.5, 1, -1)
        delta1[mixed], delta2[mixed] = d[:, :2], d[:, 2:]
    return scheme, delta1, delta2


def sample_triplets(image_fn: ImageFn, batch_size: int, *, max_shift: int,
                    generator: torch.Generator, wrap: bool = False,
                    schemes: tuple[str, ...] = SCHEMES[:3], sync_free: bool = False) -> TripletBatch:
    """Draw a full batch of triplets, redrawing every triplet whose two crops are identical.

    ``image_fn(n, generator)`` returns (n, C, H, W) anchor images on the generator's device;
    a source with a ``views(n, generator, [delta1, delta2], wrap=)`` method draws the anchor
    and both crops itself, which is faster than shifting pixels. A source that also has
    ``unpack`` (``BlobSource``) is asked for ``packed`` views (compact tensors whose rows are
    equal exactly when the images are), compared and selected before pixels are written.

    ``sync_free``: one round of draws, the first ``batch_size`` accepted ones picked on the
    device (a stable sort, no host synchronisation: a CUDA graph can hold it). It is the
    default's batch whenever the first round accepts ``batch_size`` triplets (all but about
    one step in 10^8 on the toy); when it does not, the round's rejected triplets fill the
    batch and ``distinct`` (B, 2, 2) marks them, so the loss can leave them out. ``redraws``
    is not counted (0).

    >>> from softfact.data.blobs import make_blobs
    >>> g = torch.Generator().manual_seed(0)
    >>> b = sample_triplets(lambda n, g: make_blobs(n, generator=g), 8, max_shift=4, generator=g)
    >>> b.anchor.shape, b.target.shape
    (torch.Size([8, 1, 16, 16]), torch.Size([8]))
    """
    packed = hasattr(image_fn, "unpack")  # compare and select compact views, write pixels last

    def draw(n: int):
        scheme, d1, d2 = sample_shifts(n, max_shift=max_shift, generator=generator, schemes=schemes,
                                       sync_free=sync_free)
        if hasattr(image_fn, "views"):  # a source that draws shifted views directly
            kw = {"packed": True} if packed else {}
            img, c1, c2 = image_fn.views(n, generator, [d1, d2], wrap=wrap, **kw)
        else:
            img = image_fn(n, generator)
            c1 = translate(img, d1[:, 0], d1[:, 1], wrap=wrap)
            c2 = translate(img, d2[:, 0], d2[:, 1], wrap=wrap)
        return [img, c1, c2, scheme, d1, d2]

    # Rejection sampling in rounds: draw a few more triplets than needed (the seed redraws
    # about 1 in 12), keep the first ones whose crops differ. Keeping the first n accepted of
    # i.i.d. draws is the seed's per-sample redraw loop, batched.
    if sync_free:
        m = batch_size + batch_size // 8 + 16  # the default's first round
        parts = draw(m)
        accepted = (parts[1] != parts[2]).flatten(1).any(1)
        # accepted draws first, each group in draw order: the first batch_size accepted
        keep = torch.argsort((~accepted).to(torch.uint8), stable=True)[:batch_size]
        parts = [p.index_select(0, keep) for p in parts]
        if packed:
            parts[:3] = [image_fn.unpack(p) for p in parts[:3]]
        ok = accepted.index_select(0, keep)
        distinct = torch.zeros(batch_size, 2, 2, dtype=torch.bool, device=ok.device)
        distinct[:, 0, 1] = ok
        distinct[:, 1, 0] = ok
        batch = CropBatch.triplet(*parts)
        batch.distinct = distinct
        return batch
    chunks, need, redraws = [], batch_size, 0
    while need > 0:
        m = need + need // 8 + 16
        parts = draw(m)
        keep = (parts[1] != parts[2]).flatten(1).any(1).nonzero().squeeze(1)[:need]
        redraws += (int(keep[-1]) + 1 - need) if len(keep) == need else m - len(keep)
        chunks.append([p.index_select(0, keep) for p in parts])
        need -= len(keep)
    parts = chunks[0] if len(chunks) == 1 else [torch.cat(c) for c in zip(*chunks)]
    if packed:
        parts[:3] = [image_fn.unpack(p) for p in parts[:3]]
    img, c1, c2, scheme, d1, d2 = parts
    return CropBatch.triplet(img, c1, c2, scheme, d1, d2, redraws=redraws)
