"""A conv decoder: (B, latent_dim) embeddings -> (B, 1, H, W) logits of a binary image.

The mirror of ``ConvEncoder``: a linear layer spreads the embedding over a 4 x 4 map of
``width * 2**(stages-2)`` channels, then ``stages - 1`` blocks each double the resolution
(nearest upsampling, 3 x 3 conv, GroupNorm, GELU) and halve the channels down to ``width``,
and a last 4 x 4 stride-2 transposed conv gives the full-resolution logits (train with
``binary_cross_entropy_with_logits``). 16 x 16 images take 2 stages, 64 x 64 crops 4. There
is no full-resolution conv with many channels: measured on the 2-core CPU at batch 896, a
3 x 3 conv of 32 channels at 16 x 16 made the decoder 4.7x the ToyEncoder's time, the
transposed conv to one channel costs little. A side that is not 4 * 2**k is reached by
resizing the logits. Row/column coordinate channels join the input of every layer
(CoordConv), so the decoder places content by position as easily as the encoder reads it.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def _groups(channels: int) -> int:
    """Largest of 8, 4, 2, 1 dividing ``channels``: GroupNorm groups."""
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


def _coords(x: torch.Tensor) -> torch.Tensor:
    """``x`` with two channels holding each pixel's row and column in [-1, 1]."""
    B, _, H, W = x.shape
    r = torch.linspace(-1, 1, H, device=x.device, dtype=x.dtype)
    c = torch.linspace(-1, 1, W, device=x.device, dtype=x.dtype)
    grid = torch.stack(torch.meshgrid(r, c, indexing="ij")).expand(B, 2, H, W)
    return torch.cat([x, grid], dim=1)


class _UpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in + 2, c_out, 3, padding=1)
        self.norm = nn.GroupNorm(_groups(c_out), c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return F.gelu(self.norm(self.conv(_coords(x))))


class ConvDecoder(nn.Module):
    """(B, latent_dim) -> (B, 1, image_size, image_size) logits.

    >>> dec = ConvDecoder(latent_dim=16, image_size=16, width=8)
    >>> dec(torch.zeros(2, 16)).shape
    torch.Size([2, 1, 16, 16])
    """

    def __init__(self, latent_dim: int = 16, image_size: int = 16, width: int = 32):
        super().__init__()
        if latent_dim < 1 or image_size < 4 or width < 1:
            raise ValueError(f"latent_dim >= 1, image_size >= 4 and width >= 1 needed, "
                             f"got {latent_dim}, {image_size}, {width}")
        self.latent_dim, self.image_size, self.width = latent_dim, image_size, width
        self.stages = max(1, math.ceil(math.log2(image_size / 4)))
        c = width * 2 ** max(0, self.stages - 2)
        self.start = c
        self.fc = nn.Linear(latent_dim, c * 16)
        blocks = []
        for _ in range(self.stages - 1):
            blocks.append(_UpBlock(c, max(width, c // 2)))
            c = max(width, c // 2)
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.ConvTranspose2d(c + 2, 1, 4, stride=2, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"ConvDecoder expects (B, {self.latent_dim}) embeddings, "
                             f"got shape {tuple(z.shape)}")
        x = F.gelu(self.fc(z).view(-1, self.start, 4, 4))
        x = self.out(_coords(self.blocks(x)))
        if x.shape[-1] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                              align_corners=False)
        return x

    def config(self) -> dict:
        """The arguments that rebuild this decoder's shape."""
        return {"latent_dim": self.latent_dim, "image_size": self.image_size, "width": self.width}


def build_decoder(cfg, *, width: int | None = None) -> nn.Module:
    """The decoder for a TrainConfig's latent_dim and image_size (width: ``decoder_width``)."""
    w = width if width is not None else cfg.decoder_width
    return ConvDecoder(latent_dim=cfg.latent_dim, image_size=cfg.image_size, width=w)
