import argparse

import pytest
import torch

from softfact.config import resolve
from softfact.training import CheckpointError, TrainingDiverged, load_checkpoint, train
from softfact.training import loop as loop_mod
from softfact.training.runlog import read_metrics


def cfg_for(tmp_path, name="run", **kw):
    base = dict(steps=20, batch_size=32, log_every=5, ckpt_every=10, device="cpu",
                out_dir=str(tmp_path / name))
    base.update(kw)
    return resolve("seed", None, {k: str(v) for k, v in base.items()})


def test_a_few_hundred_steps_lower_the_loss(tmp_path):
    cfg = cfg_for(tmp_path, steps=300, batch_size=64, lr=4e-3, log_every=50, ckpt_every=300)
    run = train(cfg, progress=False)
    rows = read_metrics(run)
    assert [r["step"] for r in rows] == list(range(1, 301))
    first = sum(r["fact"] for r in rows[:20]) / 20
    last = sum(r["fact"] for r in rows[-20:]) / 20
    assert last < 0.5 * first, (first, last)


def test_resume_equals_uninterrupted_run(tmp_path):
    straight = train(cfg_for(tmp_path, "a", use_jepa=True, num_slices=32), progress=False)
    half = cfg_for(tmp_path, "b", use_jepa=True, num_slices=32, steps=10)
    train(half, progress=False)
    full = cfg_for(tmp_path, "b", use_jepa=True, num_slices=32, steps=20)
    train(full, resume=True, progress=False)
    sa, sb = load_checkpoint(straight), load_checkpoint(tmp_path / "b")
    assert sa["step"] == sb["step"] == 20
    for k in sa["model"]:
        assert torch.equal(sa["model"][k], sb["model"][k]), k
    la, lb = read_metrics(straight), read_metrics(tmp_path / "b")
    assert [r["loss"] for r in la] == [r["loss"] for r in lb]


def test_checkpoint_holds_config_optimizer_and_rng(tmp_path):
    run = train(cfg_for(tmp_path, steps=10), progress=False)
    state = load_checkpoint(run)
    assert state["config"]["batch_size"] == 32 and state["step"] == 10
    assert state["optimizer"]["state"] and len(state["rng"]["data"]) == 1
    assert (run / "config.yaml").exists()


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    cfg = cfg_for(tmp_path, steps=30, ckpt_every=10)
    real = loop_mod.compute_losses

    def poisoned(model, batch, step, cfg):
        out = real(model, batch, step, cfg)
        if step >= 15:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(loop_mod, "compute_losses", poisoned)
    with pytest.raises(TrainingDiverged, match="loss became nan at step 15.*last good checkpoint kept"):
        train(cfg, progress=False)
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == 10
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert max(r["step"] for r in read_metrics(tmp_path / "run")) == 15


def test_refuses_checkpoint_of_another_model(tmp_path):
    train(cfg_for(tmp_path, steps=5, latent_dim=8), progress=False)
    other = cfg_for(tmp_path, steps=10, latent_dim=16)
    with pytest.raises(CheckpointError, match="latent_dim: checkpoint 8 vs requested 16"):
        train(other, resume=True, progress=False)


def test_refuses_to_overwrite_a_run_without_resume(tmp_path):
    train(cfg_for(tmp_path, steps=5), progress=False)
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    with pytest.raises(CheckpointError, match="already holds a run"):
        train(cfg_for(tmp_path, steps=5), progress=False)
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before


def test_corrupt_and_code_carrying_checkpoints_are_refused(tmp_path):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(bad)
    torch.save({"format": "softfact-checkpoint-v1", "evil": argparse.Namespace(cmd="rm -rf")}, bad)
    with pytest.raises(CheckpointError, match="refused .* code-carrying pickle data "
                                              r"\(the global argparse.Namespace\)"):
        load_checkpoint(bad)  # weights-only: objects that are code are not unpickled
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nowhere")


def test_cosine_schedule_warms_up_and_decays():
    cfg = resolve("cpu", None, {"steps": "1000", "warmup_steps": "100"})
    lrs = [loop_mod.lr_at(s, cfg) for s in range(1000)]
    assert lrs[0] == pytest.approx(cfg.lr / 100) and lrs[99] == pytest.approx(cfg.lr)
    assert lrs[-1] == pytest.approx(cfg.lr * cfg.min_lr_ratio, rel=1e-3)
    assert all(a >= b for a, b in zip(lrs[100:], lrs[101:]))


def test_deterministic_flag_turns_on_deterministic_kernels(tmp_path):
    seen = []
    try:
        train(cfg_for(tmp_path, steps=10, deterministic=True), progress=False,
              on_checkpoint=lambda step, model: seen.append(torch.are_deterministic_algorithms_enabled()))
    finally:
        torch.use_deterministic_algorithms(False)
    assert seen == [True]


@pytest.mark.parametrize("crops", [2, 6])
def test_cross_weight_reaches_the_loss(tmp_path, crops):
    """The config's cross_weight is what the step's factorization loss uses, in both paths."""
    from softfact.data.sources import build_image_source
    from softfact.losses import factorization_loss, pairwise_factorization_loss
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 8))
    facts = {}
    for w in (1.0, 4.0):
        cfg = cfg_for(tmp_path, crops=crops, cross_weight=w, antithetic=crops > 2)
        gen = torch.Generator().manual_seed(0)
        batch = loop_mod.sample_batch(build_image_source(cfg, "train"), 16, cfg, gen)
        facts[w] = loop_mod.compute_losses(model, batch, 0, cfg)["fact"]
        with torch.no_grad():
            za = model(batch.anchor)
            if crops > 2:
                zc = model(batch.crops.flatten(0, 1)).view(16, crops, -1)
                ref = pairwise_factorization_loss(z_anchor=za, z_crops=zc, deltas=batch.deltas,
                                                  valid=batch.distinct, cross_weight=w)
            else:
                ref = factorization_loss(z_anchor=za, z_crop1=model(batch.crop1),
                                         z_crop2=model(batch.crop2), targets=batch.target,
                                         cross_weight=w)
        assert torch.allclose(facts[w], ref, atol=1e-5)
    assert not torch.allclose(facts[1.0], facts[4.0])


@pytest.mark.parametrize("encoder", ["toy", "conv"])
def test_amp_keeps_every_encoders_embedding_layer_float32(tmp_path, monkeypatch, encoder):
    """The precision rule is applied where autocast is, whatever the encoder."""
    seen = []
    real = loop_mod.compute_losses

    def spy(model, batch, step, cfg):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            seen.append(model(batch.anchor[:2]).dtype)
        return real(model, batch, step, cfg)
    monkeypatch.setattr(loop_mod, "compute_losses", spy)
    kw = dict(encoder="conv", width=4, depth=2) if encoder == "conv" else {}
    train(cfg_for(tmp_path, steps=1, batch_size=4, amp=True, **kw), progress=False)
    assert seen == [torch.float32]


def test_one_batch_type_keeps_the_seeds_loss_exactly(gen):
    """The seed's triplet is the K = 2 case of CropBatch; its loss is the seed's, bit for bit."""
    from softfact.data.blobs import BlobSource
    from softfact.data.crops import CropBatch
    from softfact.data.multicrop import sample_multicrop
    from softfact.data.triplets import sample_triplets
    from softfact.losses import factorization_loss, pairwise_factorization_loss
    from softfact.models import ToyEncoder
    torch.manual_seed(0)
    model, cfg = ToyEncoder(), resolve("seed", None, {})
    batch = sample_triplets(BlobSource(), 16, max_shift=4, generator=gen)
    assert isinstance(batch, CropBatch) and batch.k == 2 and batch.crops.shape[:2] == (16, 2)
    x = torch.cat([batch.anchor, batch.crop1, batch.crop2]).contiguous(memory_format=torch.channels_last)
    za, z1, z2 = model(x).split(16)
    seed = factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=batch.target)
    assert torch.equal(loop_mod.compute_losses(model, batch, 0, cfg)["fact"], seed)

    multi = sample_multicrop(BlobSource(), 8, crops=6, max_shift=4, generator=gen)
    assert multi.scheme is None and multi.k == 6
    zc = torch.stack([model(multi.crops[:, j]) for j in range(6)], 1)
    ref = pairwise_factorization_loss(z_anchor=model(multi.anchor), z_crops=zc,
                                      deltas=multi.deltas, valid=multi.distinct)
    got = loop_mod.compute_losses(model, multi, 0, resolve("cpu", None, {"cross_weight": "1"}))
    assert torch.allclose(got["fact"], ref, atol=1e-6)
