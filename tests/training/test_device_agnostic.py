"""The training step and the sampler never bring tensors back to the host.

CI has no GPU, and on the CPU ``.cpu()`` or ``.to("cpu")`` are silent no-ops, so a stray
transfer would only show (as a slow or failing step) on a GPU. Recording every torch call
made by the step catches it here: the loss math must make no host transfer and no host sync
at all; the sampler may read counts (it sizes its redraw rounds) but must not copy data out.
"""
from __future__ import annotations

import pytest
import torch
from torch.overrides import TorchFunctionMode

from softfact.config import TrainConfig
from softfact.data.blobs import BlobSource, make_blobs
from softfact.data.multicrop import sample_multicrop
from softfact.data.triplets import sample_triplets
from softfact.models import build_encoder
from softfact.training.loop import compute_losses

TRANSFERS = {"cpu", "numpy", "tolist", "pin_memory"}
SYNCS = {"item", "__bool__", "__float__", "__int__"}


class HostCalls(TorchFunctionMode):
    """Records torch calls that copy data to the host or wait for the device."""

    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        if name in TRANSFERS | SYNCS:
            self.calls.append(name)
        elif name == "to":
            dev = kwargs.get("device", args[1] if len(args) > 1 else None)
            if isinstance(dev, (str, torch.device)) and torch.device(dev).type == "cpu":
                self.calls.append("to(cpu)")
        return func(*args, **kwargs)


def _blobs(n, g):
    return make_blobs(n, generator=g)


@pytest.mark.parametrize("overrides", [{}, {"use_jepa": True}, {"use_jepa": True, "tau": 50.0},
                                       {"use_jepa": True, "sigreg": "seed"}, {"amp": True}],
                         ids=["fact", "jepa", "jepa-tau", "jepa-seed-sigreg", "amp-flag"])
def test_loss_and_backward_make_no_host_transfer_or_sync(gen, overrides):
    cfg = TrainConfig(num_slices=16, **overrides).validate()
    model = build_encoder(cfg)
    batch = sample_triplets(_blobs, 32, max_shift=4, generator=gen)
    with HostCalls() as rec:
        out = compute_losses(model, batch, 5, cfg)
        out["loss"].backward()
    assert rec.calls == []
    assert all(p.grad is not None for p in model.parameters())


def test_recorder_sees_a_transfer(gen):
    """The check above is not vacuous: a .cpu() or .item() inside the step is seen."""
    x = torch.ones(3)
    with HostCalls() as rec:
        x.cpu()
        x.sum().item()
        x.to("cpu")
    assert rec.calls == ["cpu", "item", "to(cpu)"]


@pytest.mark.parametrize("source", ["blob-source", "image-fn"])
@pytest.mark.parametrize("schemes", [("pitch", "time", "cross"), ("pitch", "time", "cross", "mixed")])
def test_sampler_copies_nothing_to_the_host(gen, schemes, source):
    src = BlobSource() if source == "blob-source" else _blobs
    with HostCalls() as rec:
        batch = sample_triplets(src, 64, max_shift=4, generator=gen, schemes=schemes)
        multi = sample_multicrop(src, 16, crops=6, max_shift=4, generator=gen)
    assert not TRANSFERS.intersection(rec.calls) and "to(cpu)" not in rec.calls
    assert {t.device for t in (batch.anchor, batch.target, batch.delta1)} == {gen.device}
    assert {t.device for t in (multi.crops, multi.distinct)} == {gen.device}
