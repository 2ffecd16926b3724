"""The training loop: reads top to bottom, like nanoGPT's train.py.

Data are generated where the model runs (no DataLoader, no workers), the three views go
through the encoder in one forward pass, and checkpoints hold everything needed to resume
bit-for-bit on the same device (on a GPU with ``deterministic``): weights, optimizer, step,
RNG states and the config.
"""
from __future__ import annotations

import contextlib
import functools
import os
import time
import warnings
from pathlib import Path
from typing import Callable

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from softfact.config import ConfigError, TrainConfig
from softfact.data.sources import build_image_source
from softfact.data.multicrop import sample_multicrop
from softfact.data.triplets import sample_triplets
from softfact.models import (ChunkedEncoder, bf16_autocast, build_decoder, build_encoder,
                             decoder_input, float32_embedding)
from softfact.losses import (ArithmeticLoss, factorization_loss, lejepa_loss, operation_queries,
                             pairwise_factorization_loss, crop_major_position_loss)
from softfact.training import distributed
from softfact.training.checkpoint import (CheckpointError, load_checkpoint, load_model_weights,
                                          save_checkpoint)
from softfact.training.compiled import compiled_step
from softfact.training.graphed import GraphedStep, match_optimizer
from softfact.training.runlog import RunLog
from softfact.training.schedule import cosine_lr
from softfact.utils import lock
from softfact.utils.io import StorageError, clear_stale_temps, write_json
from softfact.utils.runfiles import RunFiles


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        device = torch.device(name)
        count = {"cuda": torch.cuda.device_count() if torch.cuda.is_available() else 0,
                 "mps": int(bool(getattr(torch.backends, "mps", None)
                                 and torch.backends.mps.is_available()))}.get(device.type)
        if count is not None and (device.index or 0) >= count:
            raise ConfigError(f"config key 'device': {name!r} is not available here "
                              f"({count} {device.type} device(s)); use --device auto or cpu")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Constant (the seed), or linear warmup then cosine decay to min_lr_ratio * lr."""
    if cfg.schedule == "constant":
        return cfg.lr
    return cosine_lr(step, lr=cfg.lr, steps=cfg.steps, warmup=cfg.warmup_steps,
                     floor_ratio=cfg.min_lr_ratio)


def make_optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return cls(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def compute_losses(model, batch, step: int, cfg: TrainConfig, decoder=None) -> dict:
    """Encode the anchors and their K crops in one pass and combine the configured losses.

    ``batch`` is a CropBatch: the seed's triplets (K = 2, with its schemes) get the seed's
    loss exactly; K crops from the multi-crop sampler use every pair of crops. With a
    ``decoder`` (``recon_weight`` > 0) every view's embedding (every ``recon_stride``-th) is
    decoded and ``recon_weight`` x its BCE against the view's image is added.
    """
    n, k = len(batch), batch.k
    # crop-major: the anchors, then crop 1 of every anchor, crop 2, ... (the seed's order)
    crops = batch.crops.transpose(0, 1).flatten(0, 1)
    # channels_last: measured ~15-30% faster for these small convolutions on CPU (oneDNN)
    x = torch.cat([batch.anchor, crops]).contiguous(memory_format=torch.channels_last)
    # bf16 autocast (CUDA, or CPUs with bf16 units); the losses run in float32
    # (a captured CUDA graph casts the weights at every replay: no autocast cache)
    autocast = functools.partial(bf16_autocast, x.device.type, cfg.amp, cache=not cfg.cuda_graph)
    with autocast():
        z_read = model(x).float()  # what the decoder reads (with latent_map: embedding + map)
    z = z_read[:, :cfg.latent_dim] if cfg.latent_map else z_read  # the losses see the embedding
    def split(t):  # crop-major rows -> anchors (B, D), crops (B, K, D)
        return t[:n], t[n:].view(k, n, -1).transpose(0, 1)

    za, zc = split(z)
    if batch.scheme is not None:  # the seed's triplets
        # (the sync-free sampler marks the rare rejected triplets it had to keep: distinct)
        keep = None if batch.distinct is None else batch.distinct[:, 0, 1]
        fact = factorization_loss(z_anchor=za, z_crop1=zc[:, 0], z_crop2=zc[:, 1],
                                  targets=batch.target, mask=keep, cross_weight=cfg.cross_weight)
    else:
        fact = pairwise_factorization_loss(z_anchor=za, z_crops=zc, deltas=batch.deltas,
                                           valid=batch.distinct, cross_weight=cfg.cross_weight,
                                           sync_free=cfg.cuda_graph)
    views, deltas = list(zc.unbind(1)), list(batch.deltas.unbind(1))
    out = {"fact": fact, "loss": cfg.fact_weight * fact}
    # latent arithmetic (off by default): tie difference vectors across the anchors of the batch
    if cfg.shared_weight > 0 or cfg.magnitude_weight > 0 or cfg.linear_weight > 0 or cfg.consistency_weight > 0:
        arith = ArithmeticLoss(cfg.shared_weight, cfg.magnitude_weight, cfg.linear_weight,
                               consistency_weight=cfg.consistency_weight)(
            z_anchor=za, z_crops=zc, deltas=batch.deltas)
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
    if decoder is not None:  # joint decoder: the anchor and every crop decode to their images
        # with op_weight, also z(anchor) + v(s) (v: the batch's mean d per shift) to the shifted
        # crop (losses.operation), decoded in the same call: one decoder forward per step
        queries = None
        if cfg.op_weight > 0 and cfg.latent_map and cfg.op_moves == "embedding":
            # v moves the embedding (za, zc), the anchor's map stays
            queries = torch.cat([operation_queries(z_anchor=za, z_crops=zc, deltas=batch.deltas),
                                 z_read[:n, cfg.latent_dim:].repeat_interleave(k, 0)], dim=1)
        elif cfg.op_weight > 0:
            zr_a, zr_c = split(z_read)
            queries = operation_queries(z_anchor=zr_a, z_crops=zr_c, deltas=batch.deltas)
        # recon_stride k: every k-th view (anchors and crops alike, crop-major rows) is decoded
        z_rec, x_rec = z_read[::cfg.recon_stride], x[::cfg.recon_stride]
        # the decoder draws under the same autocast (measured, 2 threads, batch 896, margin 2:
        # fwd + bwd 78 ms float32, 35 ms bf16); its position head stays float32
        with autocast():
            logits = decoder(z_rec if queries is None else torch.cat([z_rec, queries])).float()
        out["recon"] = F.binary_cross_entropy_with_logits(logits[:len(z_rec)], x_rec.float())
        out["loss"] = out["loss"] + cfg.recon_weight * out["recon"]
        if queries is not None:
            target = batch.crops.flatten(0, 1).float()                 # anchor-major, as the queries
            out["op"] = F.binary_cross_entropy_with_logits(logits[len(z_rec):], target)
            out["loss"] = out["loss"] + cfg.op_weight * out["op"]
        if cfg.position_weight > 0:  # the decoder's position heads read the crops' known shifts
            heads = getattr(decoder, "module", decoder).positions(z_read)  # (p, q); DDP unwrapped
            out["position"] = crop_major_position_loss(positions=heads, deltas=batch.deltas,
                                                       scale=cfg.max_shift)
            out["loss"] = out["loss"] + cfg.position_weight * out["position"]
    return out


def sample_batch(source, n: int, cfg: TrainConfig, gen: torch.Generator):
    if cfg.crops > 2:
        return sample_multicrop(source, n, crops=cfg.crops, max_shift=cfg.max_shift,
                                generator=gen, wrap=cfg.wrap, antithetic=cfg.antithetic)
    return sample_triplets(source, n, max_shift=cfg.max_shift, generator=gen, wrap=cfg.wrap,
                           schemes=cfg.scheme_list(), sync_free=cfg.cuda_graph)


def _hold_run_folder(out: Path, info: distributed.DistInfo, cleanup: contextlib.ExitStack) -> None:
    """One writer per run folder: rank 0 locks it (``softfact.utils.lock``) until training
    ends and clears temporary files an interrupted write left; every rank learns if it is busy."""
    error = None
    if info.is_main:
        try:
            lock.acquire(out)
            cleanup.callback(lock.release, out)
        except (lock.RunFolderBusy, StorageError) as e:
            error = e
    error = distributed.gather_objects(error, info)[0]
    if error is not None:
        raise distributed.every_rank(error)
    if info.is_main:
        stale = clear_stale_temps(out)
        if stale:
            warnings.warn(f"removed {len(stale)} temporary file(s) an interrupted write left in "
                          f"{out} ({', '.join(p.name for p in stale[:3])})")


def train_step(net, optimizer, source, n: int, cfg: TrainConfig, gen: torch.Generator,
               step: int, lr: float, decoder=None) -> dict:
    """One update: sample, encode, losses, backward, optimizer step (what ``compile`` captures)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    return update_step(net, optimizer, source, n, cfg, gen, step, decoder)


def update_step(net, optimizer, source, n: int, cfg: TrainConfig, gen: torch.Generator,
                step: int, decoder=None) -> dict:
    """``train_step`` at the optimizer's current learning rate: what ``cuda_graph`` captures
    (recorded once, so ``step`` is the capture's; nothing it captures reads it)."""
    batch = sample_batch(source, n, cfg, gen)
    losses = compute_losses(net, batch, step, cfg, **({} if decoder is None else {"decoder": decoder}))
    optimizer.zero_grad(set_to_none=True)
    losses["loss"].backward()
    optimizer.step()
    return losses


def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True,
          on_checkpoint: Callable[[int, torch.nn.Module], bool | None] | None = None) -> Path:
    """Train an encoder as ``cfg`` says; returns the run folder holding checkpoint.pt.

    ``on_checkpoint(step, model)`` runs after every checkpoint (e.g. to evaluate mid-run);
    returning True stops training there. The run folder is locked while training runs: a
    second process writing into it stops at once with ``RunFolderBusy``.
    """
    with contextlib.ExitStack() as cleanup:  # unlocks the run folder however training ends
        return _train(cfg, resume=resume, progress=progress, on_checkpoint=on_checkpoint,
                      cleanup=cleanup)


def _train(cfg: TrainConfig, *, resume: bool, progress: bool, on_checkpoint,
           cleanup: contextlib.ExitStack) -> Path:
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
        raise distributed.every_rank(ConfigError(
            f"config key 'batch_size' ({cfg.batch_size}) must be divisible by the number of "
            f"processes ({info.world_size})"))
    local_batch = cfg.batch_size // info.world_size
    out = Path(cfg.out_dir)
    _hold_run_folder(out, info, cleanup)
    ckpt_path = RunFiles(out).checkpoint

    # -- model, optimizer, data stream ------------------------------------------------------
    torch.manual_seed(cfg.seed)
    model = build_encoder(cfg).to(device, memory_format=torch.channels_last)
    if cfg.amp:  # the precision rule: the embedding layer stays float32 under autocast
        float32_embedding(model)
    decoder = None
    if cfg.recon_weight > 0:  # joint decoder, optimised with the encoder
        decoder = build_decoder(cfg).to(device)
    optimizer = make_optimizer(cfg, model if decoder is None else torch.nn.ModuleList([model, decoder]))
    gen = torch.Generator(device=device).manual_seed(cfg.seed * 1_000_003 + info.rank)
    step = 0
    if resume:
        state = load_checkpoint(ckpt_path, expect=cfg)
        load_model_weights(model, state, ckpt_path)
        if ("decoder" in state) != (decoder is not None):  # joint runs resume as joint runs
            raise CheckpointError(f"{ckpt_path} holds {'a' if 'decoder' in state else 'no'} decoder; "
                                  f"resume with recon_weight {'> 0' if 'decoder' in state else '0'}")
        if decoder is not None:
            load_model_weights(decoder, {"model": state["decoder"]}, f"{ckpt_path} (decoder)")
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
    corpus = getattr(source, "split", None)  # MIDI: the corpus, split by tune
    if corpus is not None and info.is_main:
        write_json(RunFiles(out).split, corpus.record())
        if progress:
            print(corpus.summary(), flush=True)
    # with a spatial latent the step's forward returns the embedding and the map (decoder_input)
    chunked = ChunkedEncoder(decoder_input(model), cfg.chunk if device.type == "cpu" else 0)
    net = distributed.wrap(chunked, device, info)
    joint = {"decoder": distributed.wrap(decoder, device, info)} if decoder is not None else {}
    log = RunLog(out, cfg, enabled=info.is_main, resume_step=step if resume else None)
    # a captured step (cuda_graph) needs Adam capturable with a device-tensor learning rate;
    # a checkpoint of either kind resumes under the other
    match_optimizer(optimizer, graphed=cfg.cuda_graph and device.type == "cuda", device=device)
    if cfg.cuda_graph:
        if info.world_size > 1:
            raise distributed.every_rank(ConfigError(
                "config key 'cuda_graph' captures one process's step; run it without torchrun"))
        graphed = GraphedStep(update_step, optimizer=optimizer, generator=gen, device=device)

        def update(net, optimizer, source, n, cfg, gen, step, lr, **joint):
            return graphed(net, optimizer, source, n, cfg, gen, step, lr=lr, **joint)
    else:
        update = compiled_step(train_step, enabled=cfg.compile, device=device, generator=gen,
                               optimizer=optimizer)

    def checkpoint(at_step: int) -> None:
        rng = {"data": distributed.gather_objects(gen.get_state(), info),
               "torch": torch.get_rng_state()}
        if info.is_main:
            save_checkpoint(ckpt_path, model=model, optimizer=optimizer, step=at_step, cfg=cfg, rng=rng,
                            decoder=decoder)
        distributed.barrier(info)

    # -- the loop ------------------------------------------------------------------------
    bar = tqdm(total=cfg.steps, initial=step, disable=not (progress and info.is_main),
               desc=f"train {out.name}", dynamic_ncols=True)
    t0 = time.perf_counter()
    unread = []  # losses the NaN check has not read: one (eager), up to log_every (cuda_graph)
    while step < cfg.steps:
        lr = lr_at(step, cfg)
        losses = update(net, optimizer, source, local_batch, cfg, gen, step, lr, **joint)
        unread.append(losses["loss"])
        # reading a loss waits for the device: a captured step reads them every log_every
        # steps and before every checkpoint, so no non-finite step is ever checkpointed
        if not cfg.cuda_graph or (step + 1) % cfg.log_every == 0 or (step + 1) % cfg.ckpt_every == 0 \
                or step + 1 == cfg.steps:
            finite = torch.isfinite(torch.stack(unread))
            if not finite.all():  # the update is done, the checkpoint is not
                first = int((~finite).int().argmax())
                log.close()
                kept = f"last good checkpoint kept at {ckpt_path}" if ckpt_path.exists() else "no checkpoint written yet"
                raise TrainingDiverged(f"loss became {unread[first].item()} at step "
                                       f"{step - len(unread) + 1 + first}; training stopped, {kept}")
            unread.clear()
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
    # DDP's reducer holds the process group: free it while the group is alive. Freed after
    # teardown, gloo's destructor joined a thread waiting on the rank that had already left,
    # and the process hung at exit (seen twice in the two-process tests).
    del net, joint
    distributed.teardown(info)
    return out
