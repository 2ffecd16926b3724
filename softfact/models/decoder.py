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

With ``map_channels=C`` (a spatial latent, ``ConvEncoder(latent_map=C)``) the input is the
pooled embedding followed by a flattened C x m x m map: the decoder starts at m x m, where the
map joins the embedding's linear spread as C more channels.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from softfact.models.activations import gelu
from softfact.models.conv import _groups, map_side, with_coords


class _UpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in + 2, c_out, 3, padding=1)
        self.norm = nn.GroupNorm(_groups(c_out), c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return gelu(self.norm(self.conv(with_coords(x))))


class ConvDecoder(nn.Module):
    """(B, latent_dim) -> (B, 1, image_size, image_size) logits.

    >>> dec = ConvDecoder(latent_dim=16, image_size=16, width=8)
    >>> dec(torch.zeros(2, 16)).shape
    torch.Size([2, 1, 16, 16])
    """

    def __init__(self, latent_dim: int = 16, image_size: int = 16, width: int = 32, *,
                 map_channels: int = 0, map_size: int = 4):
        super().__init__()
        if latent_dim < 1 or image_size < 4 or width < 1 or map_channels < 0 or not 1 <= map_size < image_size:
            raise ValueError(f"latent_dim >= 1, image_size >= 4, width >= 1, map_channels >= 0 and "
                             f"1 <= map_size < image_size needed, got {latent_dim}, {image_size}, "
                             f"{width}, {map_channels}, {map_size}")
        self.latent_dim, self.image_size, self.width = latent_dim, image_size, width
        self.map_channels, self.map_size = map_channels, map_size if map_channels else 4
        self.in_dim = latent_dim + map_channels * self.map_size ** 2
        self.stages = max(1, math.ceil(math.log2(image_size / self.map_size)))
        c = width * 2 ** max(0, self.stages - 2)
        self.start = c
        self.fc = nn.Linear(latent_dim, c * self.map_size ** 2)
        blocks, c_in = [], c + map_channels
        for _ in range(self.stages - 1):
            blocks.append(_UpBlock(c_in, max(width, c // 2)))
            c = c_in = max(width, c // 2)
        c = c_in
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.ConvTranspose2d(c + 2, 1, 4, stride=2, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.in_dim:
            raise ValueError(f"ConvDecoder expects (B, {self.in_dim}) embeddings, "
                             f"got shape {tuple(z.shape)}")
        m = self.map_size
        x = gelu(self.fc(z[:, :self.latent_dim]).view(-1, self.start, m, m))
        if self.map_channels:
            x = torch.cat([x, z[:, self.latent_dim:].reshape(-1, self.map_channels, m, m)], dim=1)
        x = self.out(with_coords(self.blocks(x)))
        if x.shape[-1] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                              align_corners=False)
        return x

    def config(self) -> dict:
        """The arguments that rebuild this decoder's shape."""
        return {"latent_dim": self.latent_dim, "image_size": self.image_size, "width": self.width,
                "map_channels": self.map_channels, "map_size": self.map_size}


def build_decoder(cfg, *, width: int | None = None) -> nn.Module:
    """The decoder for a TrainConfig's latent (latent_dim, and latent_map's map) and image_size
    (width: ``decoder_width``)."""
    w = width if width is not None else cfg.decoder_width
    return ConvDecoder(latent_dim=cfg.latent_dim, image_size=cfg.image_size, width=w,
                       map_channels=cfg.latent_map, map_size=map_side(cfg.image_size, cfg.depth))
