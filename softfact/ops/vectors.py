"""Operation vectors: v(dy, dx) such that z(x) + v(dy, dx) approximates z(shift(x, dy, dx)).

Fitted from a shift grid (``softfact.evaluation.grid``): every image at every (dy, dx) in
-m..m, encoded once, gives the differences d = z(shifted) - z(anchor) (n, S, S, D).

- ``method="mean"``: v(dy, dx) = the mean of d over the images, one vector per shift of the
  grid (OpLaS-style; exact for an encoder whose differences do not depend on the image).
- ``method="linear"``: v(dy, dx) = dy * a + dx * b, (a, b) fitted by least squares on every d
  (no intercept, so v(0, 0) = 0); two vectors, and shifts beyond the grid extrapolate.
- ``method="auto"``: whichever of the two has the lower ``latent_error`` on half of the images
  when fitted on the other half, then refitted on all of them.
- ``OperationVectors.from_decoder(decoder)`` (``method_ = "decoder"``): not fitted to the
  encoder but read from a translating decoder (``ConvDecoder(margin > 0)``): v(dy, dx) moves z
  by (dy, dx) pixels along the decoder's position directions, which it decodes as the
  zero-filled shift of what it decoded before, whatever the encoder does.

Works with any encoder callable (B, C, H, W) -> (B, D).
"""
from __future__ import annotations

import numpy as np
import torch

from softfact.evaluation.grid import differences, encode_shift_grid, flat_samples, split_images
from softfact.models import position_moves
from softfact.ops.apply import OpsError

METHODS = ("mean", "linear", "auto")


class OperationVectors:
    """Estimate v(dy, dx) from an encoder and images; ``apply`` moves embeddings by it.

    Parameters: ``method`` ("mean", "linear" or "auto"), ``max_shift`` (the grid's m), ``wrap``
    (torch.roll shifts instead of zero fill), ``n_images`` (images drawn when ``fit`` gets an
    ``image_fn``), ``random_state`` (seed of that draw), ``moves`` (None: v moves every feature;
    k: only the first k, e.g. a spatial latent's embedding, the map features staying put).

    Learned attributes: ``method_`` the method used ("auto": the one chosen, with the held-out
    latent errors of both in ``scores_``); ``shifts_`` (S,) the shift values -m..m;
    ``vectors_`` (S, S, D) float64, v at [dy + m, dx + m] (for "linear" the fitted plane at the
    grid's shifts); ``coef_`` (2, D), the per-unit pitch and time vectors (least squares; also
    set for "mean", for reference); ``n_features_in_`` = D; ``n_images_`` images fitted on.

    >>> code = torch.stack([torch.arange(36.) // 6, torch.arange(36.) % 6], 1)  # (row, col)
    >>> enc = lambda x: x.flatten(1) @ code
    >>> img = torch.zeros(3, 1, 6, 6); img[:, 0, 2, 3] = 1          # one pixel at (2, 3)
    >>> ops = OperationVectors(max_shift=2).fit(enc, img)
    >>> ops.vector(1, -2).tolist(), ops.apply(torch.zeros(2), -1, 1).tolist()
    ([1.0, -2.0], [-1.0, 1.0])
    """

    def __init__(self, method: str = "mean", *, max_shift: int = 4, wrap: bool = False,
                 n_images: int = 200, random_state: int = 0, moves: int | None = None):
        self.method = method
        self.moves = moves
        self.max_shift = max_shift
        self.wrap = wrap
        self.n_images = n_images
        self.random_state = random_state

    def fit(self, encoder, images, *, batch_size: int = 4096) -> "OperationVectors":
        """Fit on ``images``: a tensor (n, C, H, W), or ``image_fn(n, generator)`` from which
        ``n_images`` are drawn with ``Generator(random_state)``. Encodes each image's shift grid
        once, in batches. Returns self."""
        if callable(images) and not isinstance(images, torch.Tensor):
            fn, n = images, self.n_images
        else:
            images = torch.as_tensor(images)
            if images.dim() != 4:
                raise OpsError(f"images must be (n, C, H, W), got shape {tuple(images.shape)}")
            fn, n = (lambda k, g: images), len(images)
        grid = encode_shift_grid(encoder, fn, n_images=n, max_shift=self.max_shift,
                                 generator=torch.Generator().manual_seed(self.random_state),
                                 wrap=self.wrap, batch_size=batch_size)
        return self.fit_grid(grid.z)

    @classmethod
    def from_decoder(cls, decoder, *, max_shift: int = 4) -> "OperationVectors":
        """v(dy, dx) = dy a + dx b with (a, b) the rows of (W W^T)^-1 W, W (2, D) the position
        head of a translating decoder (anything with a ``position`` linear layer reading the
        latent): the move that changes the decoder's position by exactly (dy, dx) pixels and
        leaves what it draws (z with W's directions projected out) as it was.

        >>> from softfact.models import ConvDecoder
        >>> dec = ConvDecoder(latent_dim=8, image_size=16, width=8, margin=4)
        >>> ops = OperationVectors.from_decoder(dec)
        >>> z = torch.randn(3, 8)
        >>> torch.allclose(dec.position(ops.apply(z, 2, -1)) - dec.position(z), torch.tensor([2., -1.]), atol=1e-4)
        True
        """
        head = getattr(decoder, "position", None)
        if not isinstance(head, torch.nn.Linear) or head.out_features != 2:
            raise OpsError(f"from_decoder needs a translating decoder (a 2-output `position` "
                           f"linear head, ConvDecoder(margin > 0)); {type(decoder).__name__} has none")
        W = head.weight.detach().double().cpu()
        # a spatial latent (the embedding, then a map the decoder reads): the map does not move
        n_features = getattr(decoder, "in_dim", W.shape[1])
        ops = cls("decoder", max_shift=max_shift, moves=W.shape[1] if n_features > W.shape[1] else None)
        ops.method_ = "decoder"
        ops.coef_ = np.zeros((2, n_features))
        ops.coef_[:, :W.shape[1]] = position_moves(W).numpy()                 # (2, D)
        ops.shifts_ = np.arange(-max_shift, max_shift + 1)
        s = ops.shifts_.astype(np.float64)
        ops.vectors_ = s[:, None, None] * ops.coef_[0] + s[None, :, None] * ops.coef_[1]
        ops.n_features_in_ = n_features
        ops.n_images_ = 0
        return ops

    def fit_grid(self, Z: np.ndarray) -> "OperationVectors":
        """Fit on an encoded shift grid Z (n, S, S, D), S = 2 max_shift + 1. Returns self."""
        if self.method == "decoder":
            raise OpsError("method 'decoder' is read from a decoder, not fitted: use "
                           "OperationVectors.from_decoder(decoder)")
        if self.method not in METHODS:
            raise OpsError(f"method must be one of {METHODS}, got {self.method!r}")
        Z = np.asarray(Z, dtype=np.float64)
        d = differences(Z)
        m = Z.shape[1] // 2
        if m != self.max_shift:
            raise OpsError(f"grid of max_shift {m} given to OperationVectors(max_shift="
                             f"{self.max_shift}); Z has shape {Z.shape}")
        method = self.method
        if method == "auto":
            if Z.shape[0] < 2:
                raise OpsError(f"method 'auto' needs at least 2 images, got {Z.shape[0]}")
            fit, held = split_images(Z.shape[0], seed=self.random_state)
            self.scores_ = {
                k: latent_error(Z[held], OperationVectors(k, max_shift=m, moves=self.moves).fit_grid(Z[fit]))
                for k in ("mean", "linear")}
            method = min(self.scores_, key=self.scores_.get)
        self.method_ = method
        x, f = flat_samples(d)
        coef, *_ = np.linalg.lstsq(f.astype(np.float64), x, rcond=None)   # (2, D)
        self.coef_ = coef
        self.shifts_ = np.arange(-m, m + 1)
        if method == "mean":
            self.vectors_ = d.mean(axis=0)                                 # (S, S, D)
        else:
            s = self.shifts_.astype(np.float64)
            self.vectors_ = s[:, None, None] * coef[0] + s[None, :, None] * coef[1]
        if self.moves is not None:  # only the first ``moves`` features move (a spatial latent's
            self.vectors_[..., self.moves:] = 0          # embedding; its map stays)
            self.coef_[:, self.moves:] = 0
        self.n_features_in_ = Z.shape[-1]
        self.n_images_ = Z.shape[0]
        return self

    def _check_fitted(self):
        if not hasattr(self, "vectors_"):
            raise OpsError("this OperationVectors is not fitted yet; call fit first")

    def vector(self, dy, dx) -> torch.Tensor:
        """v(dy, dx): ints -> (D,), or (B,) integer tensors/arrays -> (B, D); float32.

        "mean" knows the grid's shifts only (|dy|, |dx| <= max_shift); "linear" any shift.
        """
        self._check_fitted()
        dy = np.asarray(torch.as_tensor(dy).cpu())
        dx = np.asarray(torch.as_tensor(dx).cpu())
        dy, dx = np.broadcast_arrays(dy, dx)
        if self.method_ in ("linear", "decoder"):
            v = dy[..., None] * self.coef_[0] + dx[..., None] * self.coef_[1]
        else:
            m = len(self.shifts_) // 2
            if np.abs(dy).max(initial=0) > m or np.abs(dx).max(initial=0) > m:
                raise OpsError(f"method 'mean' knows shifts up to {m} only; got dy {dy.tolist()}, "
                                 f"dx {dx.tolist()} (use method='linear' to extrapolate)")
            v = self.vectors_[dy.astype(np.int64) + m, dx.astype(np.int64) + m]
        return torch.as_tensor(v, dtype=torch.float32)

    def apply(self, z: torch.Tensor, dy, dx) -> torch.Tensor:
        """z' = z + v(dy, dx): z (D,) or (B, D); dy, dx ints or (B,) per row."""
        self._check_fitted()
        z = torch.as_tensor(z)
        if z.shape[-1] != self.n_features_in_:
            raise OpsError(f"z must end in {self.n_features_in_} features, got shape "
                           f"{tuple(z.shape)}")
        return z + self.vector(dy, dx).to(device=z.device, dtype=z.dtype)

    def __repr__(self) -> str:
        return (f"OperationVectors(method={self.method!r}, max_shift={self.max_shift}, "
                f"wrap={self.wrap}, n_images={self.n_images}, random_state={self.random_state}"
                f"{'' if self.moves is None else f', moves={self.moves}'})")


def latent_error(Z: np.ndarray, operations, *, size: int | None = None) -> float:
    """mean ||z(x) + v(s) - z(shift(x, s))|| / mean ||z(shift(x, s)) - z(x)|| over the grid
    Z (n, S, S, D) without its centre (or over the shifts with max(|dy|, |dx|) = ``size``):
    0 for exact operations, 1 for v = 0. ``operations``: anything with ``apply(z, dy, dx)``."""
    Z = np.asarray(Z, dtype=np.float64)
    n, S, _, D = Z.shape
    m = S // 2
    s = np.arange(-m, m + 1)
    dy, dx = np.repeat(s, S), np.tile(s, S)
    z0 = np.repeat(Z[:, m, m], S * S, axis=0)
    moved = operations.apply(torch.as_tensor(z0), np.tile(dy, n), np.tile(dx, n)).numpy()
    true = Z.reshape(n * S * S, D)
    ring = np.maximum(np.abs(dy), np.abs(dx))
    keep = np.tile(ring > 0 if size is None else ring == size, n)
    err = np.linalg.norm(moved - true, axis=1)[keep].mean()
    base = np.linalg.norm(true - z0, axis=1)[keep].mean()
    return float(err / base) if base > 0 else float("nan")
