"""The seed's ToyEncoder (61,264 parameters at latent_dim 16), exactly as the notebook has it."""
from __future__ import annotations

import torch
from torch import nn

from softfact.models.activations import GELU


class ToyEncoder(nn.Module):
    """Tiny ConvNet for 16x16 images -> latent vector, exactly the seed's."""

    def __init__(self, latent_dim: int = 16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), GELU(),             # 16x16
            nn.Conv2d(16, 32, 3, stride=2, padding=1), GELU(),  # 8x8
            nn.Conv2d(32, 64, 3, stride=2, padding=1), GELU(),  # 4x4
            nn.Conv2d(64, 64, 3, padding=1), GELU(),            # 4x4
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(64, latent_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
