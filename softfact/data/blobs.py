"""Random binary blob images and shifts, batched and on any device.

The distribution is the seed's ``make_blob``: three axis-aligned rectangles with top-left
corner (r, c) uniform in [0, size-4] and height/width uniform in [1, 3], then a vertical and
a horizontal flip, each with probability 1/2. Rows are pitch (dy), columns are time (dx).
"""
from __future__ import annotations

import torch


def draw_blob_params(n: int, *, size: int = 16, n_blobs: int = 3,
                     generator: torch.Generator | None = None, device=None):
    """Rectangles (r, c, h, w), each (n, n_blobs), after the random flips."""
    if size < 4:
        raise ValueError(f"size must be >= 4 (rectangles start in [0, size-4]), got {size}")
    if generator is not None:
        device = generator.device
    kw = dict(generator=generator, device=device)
    r = torch.randint(0, size - 3, (n, n_blobs), **kw)
    c = torch.randint(0, size - 3, (n, n_blobs), **kw)
    h = torch.randint(1, 4, (n, n_blobs), **kw)
    w = torch.randint(1, 4, (n, n_blobs), **kw)
    flip_v = torch.rand(n, **kw) > 0.5
    flip_h = torch.rand(n, **kw) > 0.5
    # A flip maps the rectangle [r, r+h) to [size-r-h, size-r): flip the corners, not the pixels.
    r = torch.where(flip_v[:, None], size - r - h, r)
    c = torch.where(flip_h[:, None], size - c - w, c)
    return r, c, h, w


def render_blobs(r, c, h, w, *, size: int = 16, dy=None, dx=None, wrap: bool = False) -> torch.Tensor:
    """Draw rectangles (n, k) moved by per-image (dy, dx) -> (n, 1, size, size).

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


def make_blobs(n: int, *, size: int = 16, n_blobs: int = 3,
               generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> torch.Tensor:
    """Draw ``n`` blob images at once.

    Returns a float tensor of shape (n, 1, size, size) with values in {0, 1}.

    >>> g = torch.Generator().manual_seed(0)
    >>> make_blobs(4, generator=g).shape
    torch.Size([4, 1, 16, 16])
    """
    params = draw_blob_params(n, size=size, n_blobs=n_blobs, generator=generator, device=device)
    return render_blobs(*params, size=size)


class BlobSource:
    """The toy image source: ``source(n, generator)`` draws anchors; ``views`` draws an
    anchor and shifted copies together by moving rectangles (no pixel gathers)."""

    def __init__(self, size: int = 16, n_blobs: int = 3):
        self.size, self.n_blobs = size, n_blobs

    def __call__(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return make_blobs(n, size=self.size, n_blobs=self.n_blobs, generator=generator)

    def views(self, n: int, generator: torch.Generator, deltas: list[torch.Tensor], *,
              wrap: bool = False) -> list[torch.Tensor]:
        """Anchor plus one view per (n, 2) [dy, dx] tensor in ``deltas``."""
        params = draw_blob_params(n, size=self.size, n_blobs=self.n_blobs, generator=generator)
        v = len(deltas) + 1
        zero = torch.zeros(n, 2, dtype=torch.long, device=params[0].device)
        d = torch.cat([zero, *deltas])  # (v * n, 2): all views drawn in one call
        img = render_blobs(*(p.repeat(v, 1) for p in params), size=self.size,
                           dy=d[:, 0], dx=d[:, 1], wrap=wrap)
        return list(img.split(n))


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


def shift_no_wrap(x: torch.Tensor, shifts: int, dims: int) -> torch.Tensor:
    """The seed's drop-in for ``torch.roll`` with zero fill, for one integer shift."""
    if shifts == 0:
        return x
    out = torch.roll(x, shifts=shifts, dims=dims)
    n = abs(shifts)
    if shifts > 0:
        out.narrow(dims, 0, n).zero_()
    else:
        out.narrow(dims, out.size(dims) - n, n).zero_()
    return out
