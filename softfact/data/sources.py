"""Image sources: callables ``(n, generator) -> (n, 1, H, W)`` of anchors for the sampler."""
from __future__ import annotations

from functools import partial

import torch

from softfact.data.blobs import make_blobs


def _blobs(n: int, generator: torch.Generator, *, size: int) -> torch.Tensor:
    return make_blobs(n, size=size, generator=generator)


def build_image_source(cfg, split: str = "train"):
    """The anchor source for a config: toy blobs, or piano-roll crops of ``split`` songs."""
    if cfg.data == "blobs":
        return partial(_blobs, size=cfg.image_size)
    from softfact.data.midi_source import build_roll_source  # lazy: MIDI parsing deps
    return build_roll_source(cfg, split)
