"""A configurable conv encoder for piano-roll crops (64 x 64, 128 x 128, ...).

``depth`` stride-2 conv stages (3 x 3), the first with ``width`` channels and each next one
doubling it, GroupNorm and GELU after each, then global average pooling and a linear head: the
ToyEncoder's design, scaled. A 64 x 64 crop with depth 4 ends as a 4 x 4 map of 8 * width
channels. There is no full-resolution layer: on 64 x 64 inputs one costs several times more
than all the stride-2 stages together.
No BatchNorm: the loss compares embeddings of views within one batch, and batch statistics
would couple them; GroupNorm normalises each sample on its own.

With ``coords=True`` two constant input channels hold each pixel's row and column in [-1, 1]
(as CoordConv does, and as a ViT's position embeddings would): after global average pooling a
plain conv net sees absolute position only through its zero padding, while a shift is exactly a
change of position.
"""
from __future__ import annotations

import torch
from torch import nn


def _groups(channels: int) -> int:
    """Largest of 8, 4, 2, 1 dividing ``channels``: GroupNorm groups."""
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


class ConvEncoder(nn.Module):
    """(B, 1, H, W) -> (B, latent_dim); H and W divisible by 2**depth work best."""

    def __init__(self, latent_dim: int = 16, width: int = 32, depth: int = 4, *,
                 coords: bool = True, in_channels: int = 1):
        super().__init__()
        if latent_dim < 1 or width < 1 or depth < 1:
            raise ValueError(f"latent_dim, width and depth must be >= 1, got {latent_dim}, {width}, {depth}")
        self.coords = coords
        layers: list[nn.Module] = []
        c_in, c = in_channels + 2 * coords, width
        for _ in range(depth):
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(_groups(c), c), nn.GELU()]
            c_in, c = c, 2 * c
        c = c_in
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, latent_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.coords:
            B, _, H, W = x.shape
            r = torch.linspace(-1, 1, H, device=x.device, dtype=x.dtype)
            c = torch.linspace(-1, 1, W, device=x.device, dtype=x.dtype)
            grid = torch.stack(torch.meshgrid(r, c, indexing="ij")).expand(B, 2, H, W)
            x = torch.cat([x, grid], dim=1)
        return self.head(self.features(x))
