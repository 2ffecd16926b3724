"""Decode embeddings, and move images through the latent space: decode(z(x) + v(dy, dx)).

A decoder is any callable (B, D) embeddings -> (B, C, H, W) scores (logits: higher = on);
softfact's decoders return logits. Like ``encode``, decoding runs once per batch, in inference
mode, and hands back CPU tensors.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from softfact.data.blobs import translate
from softfact.models.encode import batched, encode

Decoder = Callable[[torch.Tensor], torch.Tensor]


class OpsError(ValueError):
    """An encoder, decoder or operation that does not fit the data; the message is one line."""


@torch.inference_mode()
def decode(decoder: Decoder, z: torch.Tensor, *, batch_size: int = 1024) -> torch.Tensor:
    """Map embeddings (N, D) to decoder scores (N, C, H, W) on the CPU, ``batch_size`` at a time.

    ``decoder``: any callable (B, D) -> (B, C, H, W); a module runs in eval mode (restored after).
    """
    z = torch.as_tensor(z)
    if z.dim() != 2:
        raise OpsError(f"z must be (N, D) embeddings, got shape {tuple(z.shape)}")
    out = batched(decoder, z, batch_size=batch_size)
    x = torch.cat(out) if out else torch.empty(0)
    if x.dim() != 4 or x.shape[0] != z.shape[0]:
        raise OpsError(f"decoder must return (B, C, H, W) images, got shape {tuple(x.shape)}")
    return x


def latent_shift(encoder, decoder: Decoder, operations, images: torch.Tensor, dy, dx, *,
                 batch_size: int = 1024) -> torch.Tensor:
    """decode(z(x) + v(dy, dx)) for images (B, C, H, W): the shift done in the latent space.

    ``operations``: a fitted ``OperationVectors`` (or anything with ``apply(z, dy, dx)``);
    ``dy``, ``dx``: ints or (B,) per image. Returns decoder scores (B, C, H, W).
    """
    z = encode(encoder, images, batch_size=batch_size)
    return decode(decoder, operations.apply(z, dy, dx), batch_size=batch_size)


def default_example_shifts(max_shift: int) -> list[tuple[int, int]]:
    """Pitch then time shifts of -m, -m/2, +m/2, +m (the seed's -4, -2, +2, +4 at m = 4)."""
    h = max(1, max_shift // 2)
    sizes = sorted({-max_shift, -h, h, max_shift})
    return [(s, 0) for s in sizes] + [(0, s) for s in sizes]


@dataclass
class OperationExamples:
    """A few images with their true and latent shifts, as binary numpy arrays for drawing.

    ``original`` (n, H, W); ``recon`` (n, H, W) = decode(z(x)) > threshold; ``true`` and
    ``latent`` (n, K, H, W): shift(x, s) and decode(z(x) + v(s)) > threshold for the K shifts
    ``shifts`` [(dy, dx), ...]; ``lowest_pitch`` (n,) each crop's lowest MIDI pitch (None on
    images that are not piano rolls); ``emptied`` (K, H, W) the pixels each shift leaves empty
    (the zero-filled border; none when the shifts wrap).
    """
    original: np.ndarray
    recon: np.ndarray
    true: np.ndarray
    latent: np.ndarray
    shifts: list[tuple[int, int]]
    threshold: float
    lowest_pitch: np.ndarray | None = None
    emptied: np.ndarray | None = None


def operation_examples(encoder, decoder: Decoder, operations, images: torch.Tensor, *,
                       shifts: list[tuple[int, int]], threshold: float = 0.0,
                       wrap: bool = False, lowest_pitch=None) -> OperationExamples:
    """Encode ``images`` (n, 1, H, W) once, decode them and each shift of ``shifts`` once."""
    images = torch.as_tensor(images).float().cpu()
    n, k = len(images), len(shifts)
    dy = torch.tensor([s[0] for s in shifts]).repeat(n)
    dx = torch.tensor([s[1] for s in shifts]).repeat(n)
    z = encode(encoder, images)
    z_rep = z.repeat_interleave(k, dim=0)
    scores = decode(decoder, torch.cat([z, operations.apply(z_rep, dy, dx)]))
    true = translate(images.repeat_interleave(k, dim=0), dy, dx, wrap=wrap)
    H, W = images.shape[-2:]
    on = (scores[:, 0] > threshold).numpy()
    kept = translate(torch.ones(k, 1, H, W), dy[:k], dx[:k], wrap=wrap)
    return OperationExamples(
        original=images[:, 0].numpy() > 0.5, recon=on[:n],
        true=true[:, 0].numpy().reshape(n, k, H, W) > 0.5, latent=on[n:].reshape(n, k, H, W),
        shifts=[(int(a), int(b)) for a, b in shifts], threshold=float(threshold),
        lowest_pitch=None if lowest_pitch is None else np.asarray(lowest_pitch, dtype=np.int64),
        emptied=kept[:, 0].numpy() < 0.5)
