"""Image sources: callables ``(n, generator) -> (n, 1, H, W)`` of anchors for the sampler."""
from __future__ import annotations

from softfact.data.blobs import BlobSource


def build_image_source(cfg, split: str = "train"):
    """The anchor source for a config: toy blobs, or piano-roll crops of ``split`` songs."""
    if cfg.data == "blobs":
        return BlobSource(cfg.image_size, margin=cfg.blob_margin)
    from softfact.data.midi_crops import build_roll_source  # lazy: MIDI parsing deps
    return build_roll_source(cfg, split)
