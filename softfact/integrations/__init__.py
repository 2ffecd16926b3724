"""Hooks into other frameworks' training loops; each optional extra is imported only where used.

* ``factorization_metrics(encoder, image_fn, ...)``: softfact's metrics of any encoder on a
  held-out shift grid, as a flat dict of floats ready for any logger (plain PyTorch).
* ``softfact.integrations.lightning.FactorizationMetrics``: a Lightning callback computing them
  every N steps and logging them to the Trainer's loggers (needs ``softfact[lightning]``).
* Hydra: the loss modules (``softfact.losses.FactorizationLoss``, ``LeJEPALoss``,
  ``MultiScaleFactorizationLoss``) take plain keyword hyperparameters, so a ``_target_`` config
  instantiates them (``configs/hydra/loss.yaml``; needs ``softfact[hydra]``).
"""
from __future__ import annotations

from softfact.metrics import evaluate

__all__ = ["factorization_metrics"]


def factorization_metrics(encoder, image_fn, *, max_shift: int = 4, wrap: bool = False,
                          seed: int = 0, n_probe: int = 200, n_grid: int = 100,
                          prefix: str = "softfact/") -> dict[str, float]:
    """softfact's metrics of ``encoder`` on images of ``image_fn(n, generator)``, shifted.

    ``encoder``: any callable (B, 1, H, W) -> (B, D), e.g. your model's backbone; it is run in
    eval mode and put back in the mode it was in. The seed's probe uses ``n_probe`` images, the
    shift grid (every (dy, dx) in -max_shift..max_shift) ``n_grid``; both are drawn from
    ``seed`` alone, so calls at different steps see the same held-out images. Returns
    {prefix + name: float} (``softfact.metrics.evaluate`` documents the names).

    >>> from softfact.data.blobs import BlobSource
    >>> from softfact.models import ToyEncoder
    >>> m = factorization_metrics(ToyEncoder(8), BlobSource(16), n_probe=16, n_grid=8)
    >>> 0 <= m["softfact/cross_abs_cos"] <= 1
    True
    """
    ev = evaluate(encoder, image_fn, max_shift=max_shift, wrap=wrap, seed=seed,
                  n_probe=n_probe, n_grid=n_grid)
    return {prefix + k: float(v) for k, v in ev.metrics.items() if isinstance(v, (int, float))}
