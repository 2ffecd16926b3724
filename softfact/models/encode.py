"""Encode once, in batches, into one (N, D) tensor: every analysis starts from here."""
from __future__ import annotations

from typing import Callable

import torch

Encoder = Callable[[torch.Tensor], torch.Tensor]


@torch.inference_mode()
def encode(encoder: Encoder, images: torch.Tensor, *, batch_size: int = 4096,
           device: torch.device | str | None = None) -> torch.Tensor:
    """Map images (N, C, H, W) to embeddings (N, D) on the CPU, ``batch_size`` at a time.

    ``encoder`` is any callable from (B, C, H, W) to (B, D): ToyEncoder or your own model.
    ``device`` defaults to the encoder's parameters' device (CPU for a plain function).
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    if device is None:
        params = list(encoder.parameters()) if isinstance(encoder, torch.nn.Module) else []
        device = params[0].device if params else images.device
    was_training = getattr(encoder, "training", False)
    if isinstance(encoder, torch.nn.Module):
        encoder.eval()
    try:
        out = [encoder(images[i:i + batch_size].to(device)).float().cpu()
               for i in range(0, images.shape[0], batch_size)]
    finally:
        if was_training:
            encoder.train()
    z = torch.cat(out) if out else torch.empty(0, 0)
    if z.dim() != 2 or z.shape[0] != images.shape[0]:
        raise ValueError(f"encoder must return (B, D) embeddings, got shape {tuple(z.shape)}")
    return z
