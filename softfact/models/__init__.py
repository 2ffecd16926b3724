"""Encoders: the seed's ToyEncoder, ConvEncoder for piano rolls, and the precision rule.

``build_encoder(cfg)`` makes the encoder a TrainConfig names.
"""
from __future__ import annotations

from torch import nn

from softfact.models.chunked import ChunkedEncoder
from softfact.models.conv import ConvEncoder, SpatialLatent, decoder_input
from softfact.models.decoder import ConvDecoder, build_decoder, position_moves
from softfact.models.precision import bf16_autocast, embedding_layer, float32_embedding
from softfact.models.toy import ToyEncoder

__all__ = ["ChunkedEncoder", "ConvEncoder", "ToyEncoder", "build_encoder", "embedding_layer",
           "float32_embedding", "bf16_autocast", "ConvDecoder", "build_decoder", "position_moves", "SpatialLatent", "decoder_input"]


def build_encoder(cfg) -> nn.Module:
    """The encoder named by a TrainConfig (``toy``, ``conv`` or ``timm:NAME``)."""
    if cfg.encoder.startswith("timm:"):  # optional extra: timm is imported only here
        from softfact.models.timm import TimmEncoder
        return TimmEncoder(cfg.encoder[len("timm:"):], latent_dim=cfg.latent_dim,
                           image_size=cfg.image_size)
    if cfg.encoder == "toy":
        return ToyEncoder(cfg.latent_dim)
    return ConvEncoder(latent_dim=cfg.latent_dim, width=cfg.width, depth=cfg.depth,
                       coords=cfg.conv_coords, in_channels=1 + bool(cfg.onset),
                       latent_map=cfg.latent_map)
