"""Encode once, in batches, into one (N, D) tensor: every analysis starts from here."""
from __future__ import annotations

from typing import Callable

import torch

Encoder = Callable[[torch.Tensor], torch.Tensor]


@torch.inference_mode()
def batched(fn: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor, *,
            batch_size: int, device: torch.device | str | None = None) -> list[torch.Tensor]:
    """``fn`` on ``inputs`` ``batch_size`` rows at a time, in inference mode, -> float CPU parts.

    ``fn`` is any callable; a module runs in eval mode (its mode is restored after). ``device``
    defaults to the module's parameters' device (the inputs' for a plain function). The one
    loop behind ``encode`` and ``softfact.ops.decode``.
    """
    if device is None:
        params = list(fn.parameters()) if isinstance(fn, torch.nn.Module) else []
        device = params[0].device if params else inputs.device
    was_training = getattr(fn, "training", False)
    if isinstance(fn, torch.nn.Module):
        fn.eval()
    try:
        return [fn(inputs[i:i + batch_size].to(device)).float().cpu()
                for i in range(0, inputs.shape[0], batch_size)]
    finally:
        if was_training:
            fn.train()


def encode(encoder: Encoder, images: torch.Tensor, *, batch_size: int = 4096,
           device: torch.device | str | None = None) -> torch.Tensor:
    """Map images (N, C, H, W) to embeddings (N, D) on the CPU, ``batch_size`` at a time.

    ``encoder`` is any callable from (B, C, H, W) to (B, D): ToyEncoder or your own model.
    ``device`` defaults to the encoder's parameters' device (CPU for a plain function).
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    out = batched(encoder, images, batch_size=batch_size, device=device)
    z = torch.cat(out) if out else torch.empty(0, 0)
    if z.dim() != 2 or z.shape[0] != images.shape[0]:
        raise ValueError(f"encoder must return (B, D) embeddings, got shape {tuple(z.shape)}")
    return z
