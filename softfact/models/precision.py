"""The precision rule: under bf16 autocast the embedding layer runs in float32.

The loss compares differences of nearby embeddings; with bf16's 8-bit mantissa those
differences drown in rounding (measured: training with a bf16 last layer stalled at
opposite-sign cos -0.53 where float32 reached -0.83). The rule is applied where autocast is
applied (the training loop), to any encoder, including ones users bring: the layer named by
the model's ``embedding_layer`` attribute, else its last ``nn.Linear``, runs outside autocast
on float32 inputs. Weights and state dicts are untouched; without autocast nothing changes.
"""
from __future__ import annotations

import types

import torch
from torch import nn


def _float32_forward(self, *args, **kwargs):
    dev = next((a.device.type for a in args if torch.is_tensor(a)), "cpu")
    forward = type(self).forward
    if not torch.is_autocast_enabled(dev):
        return forward(self, *args, **kwargs)
    args = tuple(a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args)
    with torch.autocast(dev, enabled=False):
        return forward(self, *args, **kwargs)


def embedding_layer(model: nn.Module) -> nn.Module | None:
    """The layer that writes the embedding: ``model.embedding_layer``, else the last Linear."""
    named = getattr(model, "embedding_layer", None)
    if isinstance(named, nn.Module):
        return named
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def float32_embedding(model: nn.Module) -> nn.Module:
    """Make ``model``'s embedding layer run in float32 under autocast (in place); returns it.

    >>> m = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 2))
    >>> with torch.autocast("cpu", dtype=torch.bfloat16):
    ...     float32_embedding(m)(torch.randn(3, 4)).dtype
    torch.float32
    """
    layer = embedding_layer(model)
    if layer is not None and not getattr(layer, "_softfact_float32", False):
        layer.forward = types.MethodType(_float32_forward, layer)
        layer._softfact_float32 = True
    return model


def bf16_autocast(device_type: str, enabled: bool = True, cache: bool = True):
    """The bf16 autocast context softfact trains under (``amp``): on CUDA and on CPUs, off on
    other devices. Pair it with ``float32_embedding`` on the encoder. ``cache=False`` casts
    the weights afresh at every use (what a captured CUDA graph needs: ``cuda_graph``).

    >>> with bf16_autocast("cpu"):
    ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
    torch.bfloat16
    """
    return torch.autocast(device_type, dtype=torch.bfloat16,
                          enabled=enabled and device_type in ("cuda", "cpu"), cache_enabled=cache)
