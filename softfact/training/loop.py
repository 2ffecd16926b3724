"""The training loop: reads top to bottom, like nanoGPT's train.py.

Data are generated where the model runs (no DataLoader, no workers), the three views go
through the encoder in one forward pass, and checkpoints hold everything needed to resume
bit-for-bit on the same device (on a GPU with ``deterministic``): weights, optimizer, step,
RNG states and the config.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from softfact.config import TrainConfig
from softfact.data.sources import build_image_source
from softfact.data.multicrop import MultiCropBatch, sample_multicrop
from softfact.data.triplets import sample_triplets
from softfact.models import ChunkedEncoder, build_encoder, float32_embedding
from softfact.losses import ArithmeticLoss, factorization_loss, lejepa_loss, pairwise_factorization_loss
from softfact.training import distributed
from softfact.training.checkpoint import (CheckpointError, load_checkpoint, load_model_weights,
                                          save_checkpoint)
from softfact.training.runlog import RunLog
from softfact.utils.runfiles import RunFiles


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Constant (the seed), or linear warmup then cosine decay to min_lr_ratio * lr."""
    if cfg.schedule == "constant":
        return cfg.lr
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return cls(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def compute_losses(model, batch, step: int, cfg: TrainConfig) -> dict:
    """Encode the anchor and its crops in one pass and combine the configured losses.

    ``batch`` is a TripletBatch (the seed's two crops) or a MultiCropBatch (K crops, every
    pair of crops used).
    """
    n = len(batch)
    multi = isinstance(batch, MultiCropBatch)
    crops = batch.crops.flatten(0, 1) if multi else torch.cat([batch.crop1, batch.crop2])
    # channels_last: measured ~15-30% faster for these small convolutions on CPU (oneDNN)
    x = torch.cat([batch.anchor, crops]).contiguous(memory_format=torch.channels_last)
    # bf16 autocast (CUDA, or CPUs with bf16 units); the losses run in float32
    with torch.autocast(x.device.type, dtype=torch.bfloat16,
                        enabled=cfg.amp and x.device.type in ("cuda", "cpu")):
        z = model(x)
    z = z.float()
    za = z[:n]
    if multi:
        zc = z[n:].view(n, -1, z.shape[-1])
        fact = pairwise_factorization_loss(z_anchor=za, z_crops=zc, deltas=batch.deltas,
                                           valid=batch.distinct, cross_weight=cfg.cross_weight)
        views, deltas = list(zc.unbind(1)), list(batch.deltas.unbind(1))
    else:
        z1, z2 = z[n:].split(n)
        fact = factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=batch.target,
                                  cross_weight=cfg.cross_weight)
        views, deltas = [z1, z2], [batch.delta1, batch.delta2]
    out = {"fact": fact, "loss": cfg.fact_weight * fact}
    # latent arithmetic (off by default): tie difference vectors across the anchors of the batch
    if cfg.shared_weight > 0 or cfg.magnitude_weight > 0 or cfg.linear_weight > 0:
        arith = ArithmeticLoss(cfg.shared_weight, cfg.magnitude_weight, cfg.linear_weight)(
            z_anchor=za, z_crops=torch.stack(views, 1), deltas=torch.stack(deltas, 1))
        out["loss"] = out["loss"] + arith.pop("loss")
        out.update(arith)
    if cfg.use_jepa:
        kw = dict(step=step, lambd=cfg.lambd, variant=cfg.sigreg, num_slices=cfg.num_slices)
        if cfg.tau > 0:
            kw.update(tau=cfg.tau)
        parts = [lejepa_loss(za, zv, deltas=dv if cfg.tau > 0 else None, **kw)
                 for zv, dv in zip(views, deltas)]
        scale = 2.0 / len(parts)  # the seed sums two (anchor, crop) terms; keep that scale
        for key, name in (("loss", "jepa"), ("sim", "sim"), ("sigreg", "sigreg")):
            out[name] = scale * sum(p[key] for p in parts)
        out["loss"] = out["loss"] + cfg.jepa_weight * out["jepa"]
    return out


def sample_batch(source, n: int, cfg: TrainConfig, gen: torch.Generator):
    if cfg.crops > 2:
        return sample_multicrop(source, n, crops=cfg.crops, max_shift=cfg.max_shift,
                                generator=gen, wrap=cfg.wrap, antithetic=cfg.antithetic)
    return sample_triplets(source, n, max_shift=cfg.max_shift, generator=gen, wrap=cfg.wrap,
                           schemes=cfg.scheme_list())


def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True,
          on_checkpoint: Callable[[int, torch.nn.Module], bool | None] | None = None) -> Path:
    """Train an encoder as ``cfg`` says; returns the run folder holding checkpoint.pt.

    ``on_checkpoint(step, model)`` runs after every checkpoint (e.g. to evaluate mid-run);
    returning True stops training there.
    """
    # -- where and with what ------------------------------------------------------------
    device = pick_device(cfg.device)
    info = distributed.setup(device.type)
    device = distributed.local_device(device, info)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if cfg.deterministic:  # cuDNN/cuBLAS's fastest kernels sum in a varying order
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    if cfg.batch_size % info.world_size:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by world size {info.world_size}")
    local_batch = cfg.batch_size // info.world_size
    out = Path(cfg.out_dir)
    ckpt_path = RunFiles(out).checkpoint

    # -- model, optimizer, data stream ------------------------------------------------------
    torch.manual_seed(cfg.seed)
    model = build_encoder(cfg).to(device, memory_format=torch.channels_last)
    if cfg.amp:  # the precision rule: the embedding layer stays float32 under autocast
        float32_embedding(model)
    optimizer = make_optimizer(cfg, model)
    gen = torch.Generator(device=device).manual_seed(cfg.seed * 1_000_003 + info.rank)
    step = 0
    if resume:
        state = load_checkpoint(ckpt_path, expect=cfg)
        load_model_weights(model, state, ckpt_path)
        optimizer.load_state_dict(state["optimizer"])
        rng = state["rng"]
        if len(rng["data"]) != info.world_size:
            raise CheckpointError(f"{ckpt_path} was written by {len(rng['data'])} processes, "
                                  f"this run has {info.world_size}: resume with "
                                  f"{len(rng['data'])} processes in all (one data stream each)")
        gen.set_state(rng["data"][info.rank])
        torch.set_rng_state(rng["torch"])
        step = state["step"]
    elif ckpt_path.exists():
        raise CheckpointError(f"{out} already holds a run; pass --resume to continue it "
                              f"or choose another --out-dir")
    source = build_image_source(cfg, "train")
    chunked = ChunkedEncoder(model, cfg.chunk if device.type == "cpu" else 0)
    net = distributed.wrap(chunked, device, info)
    log = RunLog(out, cfg, enabled=info.is_main, resume_step=step if resume else None)

    def checkpoint(at_step: int) -> None:
        rng = {"data": distributed.gather_objects(gen.get_state(), info),
               "torch": torch.get_rng_state()}
        if info.is_main:
            save_checkpoint(ckpt_path, model=model, optimizer=optimizer, step=at_step, cfg=cfg, rng=rng)
        distributed.barrier(info)

    # -- the loop ------------------------------------------------------------------------
    bar = tqdm(total=cfg.steps, initial=step, disable=not (progress and info.is_main),
               desc=f"train {out.name}", dynamic_ncols=True)
    t0 = time.perf_counter()
    while step < cfg.steps:
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = sample_batch(source, local_batch, cfg, gen)
        losses = compute_losses(net, batch, step, cfg)
        if not torch.isfinite(losses["loss"]):
            log.close()
            kept = f"last good checkpoint kept at {ckpt_path}" if ckpt_path.exists() else "no checkpoint written yet"
            raise TrainingDiverged(f"loss became {losses['loss'].item()} at step {step}; "
                                   f"training stopped, {kept}")
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizer.step()
        step += 1
        log.record(step, losses, lr=lr, elapsed=time.perf_counter() - t0,
                   flush=step % cfg.log_every == 0 or step == cfg.steps)
        bar.update(1)
        if info.is_main and step % cfg.log_every == 0:  # other ranks keep no log rows
            bar.set_postfix(loss=f"{log.last['loss']:.4f}", lr=f"{lr:.2e}")
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            checkpoint(step)
            if on_checkpoint is not None and on_checkpoint(step, model):
                break
    bar.close()
    log.close()
    distributed.teardown(info)
    return out
