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

With ``latent_map=C`` a 1 x 1 conv also reads the last feature map into C channels: the spatial
latent a decoder reads (``latent(x)``: the pooled embedding, then the flattened map). The
embedding ``forward`` returns, which every loss and analysis sees, is unchanged: the
factorization loss acts on the pooled summary, the decoder gets where the notes are from the map.
A pooled 128- or 512-d embedding decoded to 64 x 64 piano rolls reached recon F1 0.21
(benchmarks/results/decoder.md); a 4 x 4 map keeps their positions.
"""
from __future__ import annotations

import torch
from torch import nn

from softfact.models.activations import GELU


def _groups(channels: int) -> int:
    """Largest of 8, 4, 2, 1 dividing ``channels``: GroupNorm groups."""
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


def with_coords(x: torch.Tensor) -> torch.Tensor:
    """``x`` (B, C, H, W) with two more channels holding each pixel's row and column in [-1, 1]."""
    B, _, H, W = x.shape
    r = torch.linspace(-1, 1, H, device=x.device, dtype=x.dtype)
    c = torch.linspace(-1, 1, W, device=x.device, dtype=x.dtype)
    grid = torch.stack(torch.meshgrid(r, c, indexing="ij")).expand(B, 2, H, W)
    return torch.cat([x, grid], dim=1)


def map_side(image_size: int, depth: int) -> int:
    """The side of the last feature map (the spatial latent) for square inputs of ``image_size``.

    >>> map_side(64, 4)
    4
    """
    for _ in range(depth):  # a 3 x 3 conv of stride 2 and padding 1
        image_size = (image_size + 1) // 2
    return image_size


class ConvEncoder(nn.Module):
    """(B, 1, H, W) -> (B, latent_dim); H and W divisible by 2**depth work best."""

    def __init__(self, latent_dim: int = 16, width: int = 32, depth: int = 4, *,
                 coords: bool = True, in_channels: int = 1, latent_map: int = 0):
        super().__init__()
        if latent_dim < 1 or width < 1 or depth < 1 or latent_map < 0:
            raise ValueError(f"latent_dim, width and depth must be >= 1 and latent_map >= 0, got "
                             f"{latent_dim}, {width}, {depth}, {latent_map}")
        self.coords, self.latent_dim, self.latent_map, self.depth = coords, latent_dim, latent_map, depth
        layers: list[nn.Module] = []
        c_in, c = in_channels + 2 * coords, width
        for _ in range(depth):
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(_groups(c), c), GELU()]
            c_in, c = c, 2 * c
        c = c_in
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, latent_dim))
        if latent_map:
            self.to_map = nn.Conv2d(c, latent_map, 1)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(with_coords(x) if self.coords else x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self._features(x))

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim + latent_map * h * w): the embedding, then the flattened spatial map.

        >>> enc = ConvEncoder(latent_dim=8, width=4, depth=2, latent_map=3)
        >>> enc.latent(torch.zeros(2, 1, 16, 16)).shape   # 8 + 3 * 4 * 4
        torch.Size([2, 56])
        """
        h = self._features(x)
        if not self.latent_map:
            return self.head(h)
        return torch.cat([self.head(h), self.to_map(h).flatten(1)], dim=1)


class SpatialLatent(nn.Module):
    """``encoder.latent`` as a module's forward: what a spatial-latent decoder reads.

    Hand it to ``softfact.ops`` (``encode``, ``evaluate_operations``) as the encoder, so that an
    operation z + v(s) acts on everything the decoder reads.
    """

    def __init__(self, encoder: ConvEncoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.latent(x)


def decoder_input(encoder: nn.Module) -> nn.Module:
    """What a decoder reads from ``encoder``: its spatial latent if it has one, else the encoder."""
    return SpatialLatent(encoder) if getattr(encoder, "latent_map", 0) else encoder
