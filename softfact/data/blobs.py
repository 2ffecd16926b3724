"""Random binary blob images and shifts, batched and on any device.

The distribution is the seed's ``make_blob``: three axis-aligned rectangles with top-left
corner (r, c) uniform in [0, size-4] and height/width uniform in [1, 3], then a vertical and
a horizontal flip, each with probability 1/2. Rows are pitch (dy), columns are time (dx).
``margin`` m > 0 (not the seed's) draws the same rectangles in the inner (size - 2m) square,
so a shift by up to m pixels never pushes content off the image. (It keeps the seed's
distribution on a wider image; ``softfact.metrics.sign.empty_border_source`` instead keeps only
the seed's images that happen to leave a blank border, for evaluation.)

Images are drawn as *row masks*: one integer per image row whose bit j is pixel (row, j).
Shifting a blob image is then a gather along rows and a bit shift along columns, two images
are equal exactly when their masks are, and pixels are written once, at the end, by a table
lookup. This keeps the sampler two orders of magnitude faster than drawing images one by one.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from softfact.seed_reference import shift_no_wrap  # noqa: F401  (the seed's, re-exported)

MAX_MASK_SIZE = 62  # row masks live in int64; larger images use ``render_blobs``


def _check_margin(size: int, margin: int) -> None:
    if margin < 0 or size - 2 * margin < 4:
        raise ValueError(f"size - 2 * margin must be >= 4 (rectangles start in [margin, "
                         f"size-margin-4]), got size {size}, margin {margin}")


def draw_blob_params(n: int, *, size: int = 16, n_blobs: int = 3, margin: int = 0,
                     generator: torch.Generator | None = None, device=None):
    """Rectangles (r, c, h, w), each (n, n_blobs), after the random flips, inside
    [margin, size - margin) (margin 0: the seed's, the whole image)."""
    _check_margin(size, margin)
    if generator is not None:
        device = generator.device
    kw = dict(generator=generator, device=device)
    r = torch.randint(margin, size - margin - 3, (n, n_blobs), **kw)
    c = torch.randint(margin, size - margin - 3, (n, n_blobs), **kw)
    h = torch.randint(1, 4, (n, n_blobs), **kw)
    w = torch.randint(1, 4, (n, n_blobs), **kw)
    flip_v = torch.rand(n, **kw) > 0.5
    flip_h = torch.rand(n, **kw) > 0.5
    # A flip maps the rectangle [r, r+h) to [size-r-h, size-r): flip the corners, not the pixels.
    r = torch.where(flip_v[:, None], size - r - h, r)
    c = torch.where(flip_h[:, None], size - c - w, c)
    return r, c, h, w


def render_blobs(r, c, h, w, *, size: int = 16, dy=None, dx=None, wrap: bool = False) -> torch.Tensor:
    """Draw rectangles (n, k) moved by per-image (dy, dx) -> (n, 1, size, size), any size.

    Moving the rectangles equals shifting the drawn image: clipped at the border (zero
    fill, the seed's ``shift_no_wrap``) or modulo the size (``torch.roll``) when ``wrap``.
    """
    ar = torch.arange(size, device=r.device)
    r = r if dy is None else r + torch.as_tensor(dy, device=r.device).view(-1, 1)
    c = c if dx is None else c + torch.as_tensor(dx, device=r.device).view(-1, 1)
    pr, pc = ar - r[..., None], ar - c[..., None]  # (n, k, size): offset inside each rectangle
    if wrap:
        pr, pc = pr % size, pc % size
    rows = ((pr >= 0) & (pr < h[..., None])).float()
    cols = ((pc >= 0) & (pc < w[..., None])).float()
    # union of rectangles = min(rows^T @ cols, 1): one small batched matmul for the batch
    return torch.bmm(rows.transpose(1, 2), cols).clamp_(max=1.0).unsqueeze(1)


def blob_masks(r, c, h, w, *, size: int = 16) -> torch.Tensor:
    """Rectangles (n, k) -> (n, size) int64 row masks (bit j of row i = pixel (i, j))."""
    if size > MAX_MASK_SIZE:
        raise ValueError(f"row masks hold at most {MAX_MASK_SIZE} columns, got size {size}")
    # rows narrower than 32 bits are built in int32 (half the memory traffic), returned as int64
    dtype = torch.int32 if size < 32 else torch.int64
    ar = torch.arange(size, device=r.device, dtype=dtype)
    r, h = r.to(dtype), h.to(dtype)
    in_rect = (ar >= r[..., None]) & (ar < (r + h)[..., None])   # (n, k, size)
    per_rect = in_rect * (((1 << w) - 1) << c).to(dtype)[..., None]  # the rectangle's bits per row
    out = per_rect[:, 0]
    for j in range(1, per_rect.shape[1]):  # union of the k rectangles
        out = out | per_rect[:, j]
    return out.long()


def shift_masks(masks: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, *, size: int,
                wrap: bool = False) -> torch.Tensor:
    """Row masks (n, size) shifted per image by (dy, dx), as ``translate`` shifts pixels."""
    ar = torch.arange(size, device=masks.device)
    src = ar - dy.view(-1, 1)                                       # source row per row
    full = (1 << size) - 1
    dx = dx.view(-1, 1)
    if wrap:
        out = masks.gather(1, src % size)
        s = dx % size
        return ((out << s) | (out >> (size - s))) & full
    if 3 * size > 63:
        inside = (src >= 0) & (src < size)
        out = masks.gather(1, src.clamp(0, size - 1)) * inside
        return torch.where(dx >= 0, (out << dx.clamp(min=0)) & full, out >> (-dx).clamp(min=0))
    # a zero row on each side: every source row outside the image reads one of them
    out = F.pad(masks, (1, 1)).gather(1, (src + 1).clamp_(0, size + 1))
    # one left shift by dx + size (>= 0) then a right shift by size moves bits either way
    return ((out << (dx.clamp(-size, size) + size)) >> size) & full


@functools.lru_cache(maxsize=8)
def _bit_table(bits: int, device: torch.device) -> torch.Tensor:
    """(2**bits, bits) float table: row v holds the bits of v, lowest first."""
    v = torch.arange(1 << bits, device=device)
    return ((v[:, None] >> torch.arange(bits, device=device)) & 1).float()


def masks_to_images(masks: torch.Tensor, *, size: int) -> torch.Tensor:
    """Row masks (n, size) -> float images (n, 1, size, size), pixels written once."""
    bits = min(size, 16)
    chunks = -(-size // bits)
    idx = masks if chunks == 1 else (
        (masks[..., None] >> (bits * torch.arange(chunks, device=masks.device))) & ((1 << bits) - 1))
    img = F.embedding(idx, _bit_table(bits, masks.device))
    return img.flatten(-2)[..., :size].unsqueeze(1) if chunks > 1 else img.unsqueeze(1)


def make_blobs(n: int, *, size: int = 16, n_blobs: int = 3, margin: int = 0,
               generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> torch.Tensor:
    """Draw ``n`` blob images at once.

    Returns a float tensor of shape (n, 1, size, size) with values in {0, 1}.

    >>> g = torch.Generator().manual_seed(0)
    >>> make_blobs(4, generator=g).shape
    torch.Size([4, 1, 16, 16])
    """
    params = draw_blob_params(n, size=size, n_blobs=n_blobs, margin=margin, generator=generator,
                              device=device)
    if size > MAX_MASK_SIZE:
        return render_blobs(*params, size=size)
    return masks_to_images(blob_masks(*params, size=size), size=size)


class BlobSource:
    """The toy image source: ``source(n, generator)`` draws anchors; ``views`` draws an
    anchor and shifted copies of it together.

    ``views(..., packed=True)`` returns row masks instead of pixels (equal masks = equal
    images), which the samplers compare and select cheaply before ``unpack`` writes pixels.
    ``margin``: blobs drawn that far from every border (see ``draw_blob_params``).
    """

    def __init__(self, size: int = 16, n_blobs: int = 3, margin: int = 0):
        _check_margin(size, margin)
        self.size, self.n_blobs, self.margin = size, n_blobs, margin

    def __call__(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return make_blobs(n, size=self.size, n_blobs=self.n_blobs, margin=self.margin,
                          generator=generator)

    def views(self, n: int, generator: torch.Generator, deltas: list[torch.Tensor], *,
              wrap: bool = False, packed: bool = False) -> list[torch.Tensor]:
        """Anchor plus one view per (n, 2) [dy, dx] tensor in ``deltas``."""
        params = draw_blob_params(n, size=self.size, n_blobs=self.n_blobs, margin=self.margin,
                                  generator=generator)
        if self.size > MAX_MASK_SIZE:  # too wide for row masks: draw pixels ("packed" = pixels)
            return [render_blobs(*params, size=self.size)] + [
                render_blobs(*params, size=self.size, dy=d[:, 0], dx=d[:, 1], wrap=wrap) for d in deltas]
        anchor = blob_masks(*params, size=self.size)
        out = [anchor] + [shift_masks(anchor, d[:, 0], d[:, 1], size=self.size, wrap=wrap) for d in deltas]
        return out if packed else [self.unpack(m) for m in out]

    def unpack(self, packed: torch.Tensor) -> torch.Tensor:
        """What ``views(..., packed=True)`` returned -> float images (n, 1, size, size)."""
        return packed if packed.dim() == 4 else masks_to_images(packed, size=self.size)


def translate(x: torch.Tensor, dy: torch.Tensor | int, dx: torch.Tensor | int, *,
              wrap: bool = False) -> torch.Tensor:
    """Shift each image of a batch by its own (dy, dx).

    x: (B, C, H, W); dy, dx: ints or (B,) integer tensors. Positive dy moves content down
    (towards higher row index), positive dx to the right, as ``torch.roll`` does. Vacated
    pixels are zero (the seed's ``shift_no_wrap``) unless ``wrap`` (``torch.roll``).

    >>> x = torch.zeros(1, 1, 4, 4); x[0, 0, 0, 0] = 1
    >>> translate(x, torch.tensor([1]), torch.tensor([2]))[0, 0].nonzero().tolist()
    [[1, 2]]
    """
    if x.dim() != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}")
    B, C, H, W = x.shape
    dy = torch.as_tensor(dy, device=x.device).expand(B)
    dx = torch.as_tensor(dx, device=x.device).expand(B)
    src_r = torch.arange(H, device=x.device)[None, :] - dy[:, None]  # (B, H)
    src_c = torch.arange(W, device=x.device)[None, :] - dx[:, None]  # (B, W)
    if wrap:
        src_r, src_c = src_r % H, src_c % W
    else:
        ok_r = (src_r >= 0) & (src_r < H)
        ok_c = (src_c >= 0) & (src_c < W)
        src_r, src_c = src_r.clamp(0, H - 1), src_c.clamp(0, W - 1)
    out = x.gather(2, src_r[:, None, :, None].expand(B, C, H, W))
    out = out.gather(3, src_c[:, None, None, :].expand(B, C, H, W))
    if not wrap:
        mask = ok_r[:, :, None] & ok_c[:, None, :]
        out = out * mask[:, None].to(out.dtype)
    return out
