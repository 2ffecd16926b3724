"""Shift grids with known ground truth: every (dy, dx) in -m..m of each image, encoded once.

A grid is the array ``Z`` (n, S, S, D) with S = 2m + 1: ``Z[i, a, b]`` embeds image i shifted
by (dy, dx) = (a - m, b - m). Difference vectors ``d = Z - Z[:, m, m]`` are z(shifted) - z(anchor);
every metric in this package is a pure function of ``Z`` (or ``d``) and the shift values.
``encode_shift_grid`` builds the grids (``translate``: zero fill = the seed's ``shift_no_wrap``,
or ``torch.roll`` with ``wrap``) and encodes them once, in batches; the seed's
``grid_embeddings`` (SVD, 50 blobs) and its kernel-PCA / UMAP sections (200 blobs) all use this
grid, and so do the metrics.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from softfact.data.blobs import translate
from softfact.models.encode import encode


def shift_values(max_shift: int) -> np.ndarray:
    """The signed shifts -m..m, (S,) int."""
    if max_shift < 1:
        raise ValueError(f"max_shift must be >= 1, got {max_shift}")
    return np.arange(-max_shift, max_shift + 1)


def differences(Z: np.ndarray) -> np.ndarray:
    """d = z(shifted) - z(anchor): (n, S, S, D), zero at the centre."""
    if Z.ndim != 4 or Z.shape[1] != Z.shape[2] or Z.shape[1] % 2 == 0:
        raise ValueError(f"Z must be (n, S, S, D) with odd S, got shape {Z.shape}")
    m = Z.shape[1] // 2
    return Z - Z[:, m:m + 1, m:m + 1]


def flat_samples(d: np.ndarray, *, drop_centre: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(n, S, S, D) -> (features (N, D), factors (N, 2) [dy, dx]), image-major order."""
    n, S = d.shape[0], d.shape[1]
    s = shift_values(S // 2)
    f = np.stack(np.meshgrid(s, s, indexing="ij"), -1).reshape(S * S, 2)
    x = d.reshape(n, S * S, -1)
    if drop_centre:
        keep = np.any(f != 0, axis=1)
        x, f = x[:, keep], f[keep]
    return x.reshape(-1, d.shape[-1]), np.tile(f, (n, 1))


def split_images(n: int, *, test_fraction: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint (train, test) image indices, so every score is on held-out images."""
    if n < 2:
        raise ValueError(f"held-out scores need at least 2 images, got {n}")
    perm = np.random.default_rng(seed).permutation(n)
    k = min(n - 1, max(1, int(round(n * test_fraction))))
    return np.sort(perm[k:]), np.sort(perm[:k])


@dataclass
class ShiftGrid:
    """Embeddings of a shift grid.

    ``z`` is (n_images, S, S, D) with S = 2 * max_shift + 1, indexed [image, dy, dx];
    ``shifts`` the S shift values -max_shift..max_shift; ``images`` (n_images, C, H, W) the
    unshifted images (``encode_shift_grid`` keeps them: what a shift pushes off the border).
    """
    z: np.ndarray
    shifts: np.ndarray
    images: np.ndarray | None = None

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
                      batch_size: int = 4096, on_batch=None) -> ShiftGrid:
    """Draw ``n_images`` from ``image_fn(n, generator)`` and encode their shift grids once.

    Grids are built and encoded about ``batch_size`` images at a time, so memory holds one
    batch of shifted images, not all n * S * S of them. ``on_batch(k)``, when given, is called
    after each batch with the number of shifted images just encoded (a progress bar's update).
    """
    if n_images < 1:
        raise ValueError(f"n_images must be >= 1, got {n_images}")
    images = image_fn(n_images, generator).cpu()
    s = 2 * max_shift + 1
    per_batch = max(1, batch_size // (s * s))
    parts = []
    for i in range(0, n_images, per_batch):
        parts.append(encode(encoder, grid_images(images[i:i + per_batch], max_shift=max_shift,
                                                 wrap=wrap), batch_size=batch_size))
        if on_batch is not None:
            on_batch(len(parts[-1]))
    z = torch.cat(parts)
    return ShiftGrid(z=z.numpy().reshape(n_images, s, s, -1),
                     shifts=np.arange(-max_shift, max_shift + 1), images=images.numpy())
