"""Lightning callback, plain-PyTorch metrics function, Hydra-instantiable losses."""
import csv
from pathlib import Path

import pytest
import torch

from softfact.data.blobs import BlobSource
from softfact.integrations import factorization_metrics
from softfact.losses import (FactorizationLoss, LeJEPALoss, MultiScaleFactorizationLoss,
                             factorization_loss, multiscale_factorization_loss,
                             pairwise_factorization_loss)
from softfact.models import ToyEncoder

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SMALL = dict(max_shift=2, n_probe=16, n_grid=8)


def test_plain_function_is_the_runs_evaluation():
    from softfact.metrics import evaluate
    torch.manual_seed(0)
    enc = ToyEncoder(8).train()
    got = factorization_metrics(enc, BlobSource(16), **SMALL)
    assert enc.training                                     # mode restored
    want = evaluate(enc, BlobSource(16), max_shift=2, n_probe=16, n_grid=8).metrics
    assert got == {f"softfact/{k}": float(v) for k, v in want.items()}
    assert {"softfact/cross_abs_cos", "softfact/r2", "softfact/analogy_top1"} <= set(got)


def test_lightning_callback_logs_to_the_trainers_logger(tmp_path):
    from softfact.integrations.lightning import FactorizationMetrics  # first: see utils.vision

    import lightning.pytorch as L
    from lightning.pytorch.loggers import CSVLogger

    from softfact.data.triplets import sample_triplets

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.backbone = ToyEncoder(8)

        def training_step(self, batch, idx):
            b = sample_triplets(BlobSource(16), 16, max_shift=2, generator=torch.Generator().manual_seed(idx))
            z = self.backbone(torch.cat([b.anchor, b.crop1, b.crop2]))
            za, z1, z2 = z.chunk(3)
            return factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=b.target)

        def train_dataloader(self):
            return torch.utils.data.DataLoader(range(8), batch_size=1)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    torch.manual_seed(0)
    cb = FactorizationMetrics(BlobSource(16), every_n_steps=2, encoder="backbone", **SMALL)
    module = Module()
    trainer = L.Trainer(max_steps=5, accelerator="cpu", logger=CSVLogger(tmp_path, name="csv"),
                        callbacks=[cb], enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, log_every_n_steps=1)
    trainer.fit(module)
    rows = list(csv.DictReader(open(next(tmp_path.rglob("metrics.csv")))))
    logged = {int(r["step"]): float(r["softfact/cross_abs_cos"]) for r in rows
              if r.get("softfact/cross_abs_cos")}
    assert sorted(logged) == [2, 4, 5]                      # every 2 steps, and at the end
    final = factorization_metrics(module.backbone, BlobSource(16), **SMALL)
    assert logged[5] == pytest.approx(final["softfact/cross_abs_cos"])
    assert cb.last_metrics == final
    assert float(trainer.callback_metrics["softfact/r2"]) == pytest.approx(final["softfact/r2"])


def test_losses_instantiate_from_the_hydra_config():
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(CONFIGS / "hydra" / "loss.yaml")
    fact, multi, jepa = (instantiate(cfg[k]) for k in ("factorization", "multiscale", "lejepa"))
    assert isinstance(fact, FactorizationLoss) and fact.cross_weight == 1.5
    assert isinstance(multi, MultiScaleFactorizationLoss) and multi.levels == [0.25, 0.5, 1.0]
    assert isinstance(jepa, LeJEPALoss) and jepa.lambd == 0.5 and jepa.variant == "official"
    g = torch.Generator().manual_seed(0)
    za, z1, z2 = (torch.randn(4, 5, 8, generator=g) for _ in range(3))
    t = torch.tensor([1.0, -1.0, 0.0, 0.0])
    assert torch.equal(fact(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t),
                       factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t, cross_weight=1.5))
    levels = [za, za[:, :2], za[:, :1]]
    got = multi(z_anchor=levels, z_crop1=[z1, z1[:, :2], z1[:, :1]], z_crop2=[z2, z2[:, :2], z2[:, :1]], targets=t)
    assert torch.equal(got, multiscale_factorization_loss(
        z_anchor=levels, z_crop1=[z1, z1[:, :2], z1[:, :1]], z_crop2=[z2, z2[:, :2], z2[:, :1]],
        targets=t, weights=[0.25, 0.5, 1.0]))
    pairwise = instantiate(cfg.pairwise)
    assert pairwise.func is pairwise_factorization_loss and pairwise.keywords["balance"] is True
