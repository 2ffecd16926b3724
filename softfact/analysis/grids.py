"""Shift grids: every (dy, dx) in -m..m squared applied to each image, encoded in one pass.

The seed's ``grid_embeddings`` (SVD, 50 blobs) and its kernel-PCA / UMAP sections (200 blobs)
all use this grid; here it is built with ``translate`` (zero fill = the seed's
``shift_no_wrap``, or ``torch.roll`` with ``wrap``) and encoded once, batched.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from softfact.analysis.encode import encode
from softfact.data.blobs import translate


@dataclass
class ShiftGrid:
    """Embeddings of a shift grid.

    ``z`` is (n_images, S, S, D) with S = 2 * max_shift + 1, indexed [image, dy, dx];
    ``shifts`` the S shift values -max_shift..max_shift.
    """
    z: np.ndarray
    shifts: np.ndarray

    @property
    def n_images(self) -> int:
        return self.z.shape[0]

    def points(self, n_images: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flatten the first ``n_images`` grids -> (X (N, D), dy (N,), dx (N,)), N = n * S * S.

        Points are ordered image-major, then dy, then dx, as the seed's loops append them.
        """
        z = self.z[:n_images] if n_images is not None else self.z
        n, s = z.shape[0], z.shape[1]
        dy = np.broadcast_to(self.shifts[None, :, None], (n, s, s)).reshape(-1)
        dx = np.broadcast_to(self.shifts[None, None, :], (n, s, s)).reshape(-1)
        return z.reshape(n * s * s, -1), dy.copy(), dx.copy()


def grid_images(images: torch.Tensor, *, max_shift: int, wrap: bool = False) -> torch.Tensor:
    """(n, C, H, W) -> (n * S * S, C, H, W): each image at every (dy, dx), dy-major then dx."""
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    n = images.shape[0]
    s = torch.arange(-max_shift, max_shift + 1)
    dy = s[:, None].expand(len(s), len(s)).reshape(-1)
    dx = s[None, :].expand(len(s), len(s)).reshape(-1)
    k = dy.numel()
    rep = images.repeat_interleave(k, dim=0)
    return translate(rep, dy.repeat(n).to(images.device), dx.repeat(n).to(images.device), wrap=wrap)


def encode_shift_grid(encoder, image_fn, *, n_images: int = 50, max_shift: int = 4,
                      generator: torch.Generator, wrap: bool = False,
                      batch_size: int = 4096) -> ShiftGrid:
    """Draw ``n_images`` from ``image_fn(n, generator)`` and encode their shift grids once.

    Grids are built and encoded about ``batch_size`` images at a time, so memory holds one
    batch of shifted images, not all n * S * S of them.
    """
    if n_images < 1:
        raise ValueError(f"n_images must be >= 1, got {n_images}")
    images = image_fn(n_images, generator).cpu()
    s = 2 * max_shift + 1
    per_batch = max(1, batch_size // (s * s))
    z = torch.cat([encode(encoder, grid_images(images[i:i + per_batch], max_shift=max_shift,
                                               wrap=wrap), batch_size=batch_size)
                   for i in range(0, n_images, per_batch)])
    return ShiftGrid(z=z.numpy().reshape(n_images, s, s, -1),
                     shifts=np.arange(-max_shift, max_shift + 1))


def _normalised_spectra(m: np.ndarray) -> np.ndarray:
    """Batched singular values (n, r, c) -> (n, min(r, c)), each row divided by its sum."""
    sv = np.linalg.svd(m.astype(np.float64), compute_uv=False)
    total = sv.sum(axis=1, keepdims=True)
    return np.divide(sv, total, out=np.zeros_like(sv), where=total > 0)


def grid_svd(grid: ShiftGrid | np.ndarray) -> dict:
    """The seed's SVD of shift grids, for every image at once.

    Each image's grid (S_dy, S_dx, D) is reshaped as (pitch, time * latent) and as
    (time, pitch * latent); returns the per-image normalised spectra sv / sv.sum()
    (``pitch_spectra``, ``time_spectra``: (n, S)), their means (``*_mean``: (S,)) and the mean
    share of the first singular value (``pitch_sv1_share``, ``time_sv1_share``). An all-zero
    grid gives an all-zero spectrum, not NaN.
    """
    z = grid.z if isinstance(grid, ShiftGrid) else np.asarray(grid)
    if z.ndim != 4:
        raise ValueError(f"grid embeddings must be (n, S_dy, S_dx, D), got shape {z.shape}")
    n, sy, sx, d = z.shape
    pitch = _normalised_spectra(z.reshape(n, sy, sx * d))
    time = _normalised_spectra(z.transpose(0, 2, 1, 3).reshape(n, sx, sy * d))
    return {"pitch_spectra": pitch, "time_spectra": time,
            "pitch_mean": pitch.mean(0), "time_mean": time.mean(0),
            "pitch_sv1_share": float(pitch[:, 0].mean()),
            "time_sv1_share": float(time[:, 0].mean())}
