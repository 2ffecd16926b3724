"""Encoders and image sources with known geometry for the analysis tests."""
import torch
import torch.nn.functional as F

from softfact.data.blobs import make_blobs

D = 8


class OracleEncoder:
    """Centre of mass (row, col) of the image's pixels, embedded along two orthonormal
    directions of R^D: a shift by (dy, dx) that keeps the content inside the frame moves the
    embedding by exactly dy * e_pitch + dx * e_time."""

    def __init__(self, seed: int = 0, offset: float = 0.0):
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(D, D, generator=g))
        self.e_pitch, self.e_time = q[:, 0], q[:, 1]
        self.offset = offset * q[:, 2]  # a constant part along a third direction

    def __call__(self, x):
        h, w = x.shape[-2:]
        mass = x.sum((1, 2, 3)).clamp_min(1e-12)
        r = (x.sum((1, 3)) * torch.arange(h, dtype=x.dtype)).sum(1) / mass
        c = (x.sum((1, 2)) * torch.arange(w, dtype=x.dtype)).sum(1) / mass
        return r[:, None] * self.e_pitch + c[:, None] * self.e_time + self.offset


def inner_blobs(n, generator, *, size=16, margin=4):
    """Blobs drawn in the centre (size - 2 margin)^2 of the frame: shifts up to ``margin``
    never push content out, so zero-fill shifts are exact translations."""
    core = make_blobs(n, size=size - 2 * margin, generator=generator)
    return F.pad(core, (margin, margin, margin, margin))


def blobs(n, generator):
    return make_blobs(n, generator=generator)


