"""``FactorizationMetrics``: a Lightning callback logging softfact's metrics every N steps.

    from softfact.integrations.lightning import FactorizationMetrics
    trainer = L.Trainer(callbacks=[FactorizationMetrics(val_images, every_n_steps=500,
                                                        max_shift=12, encoder="backbone")])

Every ``every_n_steps`` optimizer steps (and once at the end of training) the global-zero
process encodes the same held-out shift grid (``softfact.integrations.factorization_metrics``)
and sends the metrics to every logger the Trainer has (wandb, TensorBoard, CSV, ...) at the
current step; they also land in ``trainer.callback_metrics``, so ``ModelCheckpoint`` can
monitor e.g. ``softfact/cross_abs_cos``. Needs ``pip install 'softfact[lightning]'``.
"""
from __future__ import annotations

import torch

from softfact.integrations import factorization_metrics
from softfact.utils.vision import ensure_torchvision_imports

ensure_torchvision_imports()  # Lightning's torchmetrics imports torchvision
try:
    from lightning.pytorch import Callback
except ImportError:  # the standalone package of older releases
    try:
        from pytorch_lightning import Callback
    except ImportError:
        raise ImportError("softfact.integrations.lightning needs Lightning: "
                          "pip install 'softfact[lightning]'") from None


class FactorizationMetrics(Callback):
    """Compute softfact's metrics on a held-out shift grid every ``every_n_steps`` and log them.

    ``image_fn(n, generator)``: held-out images (B, 1, H, W), e.g. ``softfact.Run.source("val")``
    or any function of yours. ``encoder``: the attribute of the LightningModule that maps images
    to (B, D) embeddings (None: the module itself). Sizes and ``seed`` as in
    ``factorization_metrics``; ``last_metrics`` holds the latest values.
    """

    def __init__(self, image_fn, *, every_n_steps: int = 500, max_shift: int = 4,
                 wrap: bool = False, seed: int = 0, n_probe: int = 200, n_grid: int = 100,
                 encoder: str | None = None, prefix: str = "softfact/", at_end: bool = True):
        super().__init__()
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.image_fn, self.every_n_steps, self.encoder, self.at_end = image_fn, every_n_steps, encoder, at_end
        self.settings = dict(max_shift=max_shift, wrap=wrap, seed=seed, n_probe=n_probe,
                             n_grid=n_grid, prefix=prefix)
        self.last_metrics: dict[str, float] = {}
        self._last_step = -1

    def _measure(self, trainer, pl_module) -> None:
        step = trainer.global_step
        if step == self._last_step or not trainer.is_global_zero:
            return
        self._last_step = step
        model = pl_module if self.encoder is None else getattr(pl_module, self.encoder)
        self.last_metrics = factorization_metrics(model, self.image_fn, **self.settings)
        for logger in trainer.loggers:
            logger.log_metrics(self.last_metrics, step=step)
        trainer.callback_metrics.update({k: torch.tensor(v) for k, v in self.last_metrics.items()})

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step % self.every_n_steps == 0 and trainer.global_step > 0:
            self._measure(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.at_end:
            self._measure(trainer, pl_module)
            for logger in trainer.loggers:
                logger.save()
