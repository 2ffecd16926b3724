"""Training a decoder on a frozen encoder (RAE-style): latent -> image, BCE on binary images.

Reads top to bottom like ``loop.py``. Each step draws anchors and their shifted crops from the
run's training data (the seed's triplets), encodes them with the frozen encoder, decodes the
embeddings and minimises the BCE-with-logits against the images: shifted crops are decoded
too, so that shifted latents decode. Its checkpoint (``RUN/decoder.pt``) is data: format tag,
step, the decoder's settings, weights, optimizer and RNG states, read weights-only; resuming
continues bit for bit on the same CPU.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from softfact.data.triplets import sample_triplets
from softfact.losses.position import crop_major_position_loss
from softfact.models.decoder import ConvDecoder
from softfact.models.precision import bf16_autocast, float32_embedding
from softfact.training.schedule import cosine_lr
from softfact.training.checkpoint import CheckpointError, load_model_weights, read_state, write_state

FORMAT = "softfact-decoder-v1"
SHAPE_KEYS = ("latent_dim", "image_size", "width", "map_channels", "map_size", "margin")  # must agree


class DecoderDiverged(RuntimeError):
    """The decoder's loss became NaN or infinite; the last checkpoint is kept."""


@dataclass
class DecoderConfig:
    latent_dim: int = 16
    image_size: int = 16
    width: int = 32            # channels of the decoder's last stage
    map_channels: int = 0      # a spatial latent's map (the run's latent_map), map_size x map_size
    map_size: int = 4
    margin: int = 0            # > 0: a translating decoder (ConvDecoder's margin)
    position_weight: float = 0.0  # translating decoder: its position head(s) read the crops'
                               # known shifts from the frozen encoder (losses.position), so its
                               # moves are the size of the encoder's own differences (measured:
                               # make demo encoder, op_latent_err 25.3 -> 1.8); 0 = recon alone
    max_shift: int = 4         # crops shifted by 1..max_shift, as in training
    wrap: bool = False
    steps: int = 3000
    batch_size: int = 128      # anchors per step; with two crops each, 3x as many images
    lr: float = 2e-3           # Adam, cosine decay to 5% after 50 warmup steps
    seed: int = 0
    encoder_step: int = 0      # the encoder checkpoint's step this decoder was trained on
    amp: bool = False          # bf16 autocast for the frozen encoder and the decoder's drawing
                               # (CUDA, or CPUs with bf16 units); the loss stays float32

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def decoder_lr(step: int, cfg: DecoderConfig, warmup: int = 50) -> float:
    return cosine_lr(step, lr=cfg.lr, steps=cfg.steps, warmup=warmup, floor_ratio=0.05)


def save_decoder_checkpoint(path: str | Path, *, decoder: ConvDecoder, optimizer, step: int,
                            cfg: DecoderConfig, rng: dict) -> None:
    state = {"format": FORMAT, "step": int(step), "config": cfg.to_dict(),
             "decoder": {k: v.detach().cpu() for k, v in decoder.state_dict().items()},
             "optimizer": optimizer.state_dict(), "rng": rng}
    write_state(path, state, step=step, what="decoder checkpoint")


def load_decoder_checkpoint(path: str | Path, *, expect: dict | None = None) -> dict:
    """Read a decoder checkpoint weights-only; refuse one whose shape differs from ``expect``.

    ``expect``: any of latent_dim, image_size, width (e.g. the run's latent_dim and image_size).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no decoder checkpoint at {path}")
    state = read_state(path, "decoder checkpoint")  # empty, damaged, code-carrying: one line
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a softfact decoder checkpoint ({FORMAT} expected)")
    saved = {**DecoderConfig().to_dict(), **state["config"]}  # keys it predates: defaults
    diff = [f"{k}: checkpoint {saved.get(k)!r} vs requested {v!r}"
            for k, v in (expect or {}).items() if k in SHAPE_KEYS and saved.get(k) != v]
    if diff:
        raise CheckpointError(f"decoder checkpoint {path} is of another model ({'; '.join(diff)})")
    return state


def decoder_from_state(state: dict, path="decoder checkpoint") -> ConvDecoder:
    """Rebuild the decoder a checkpoint holds (shape from its config, then its weights)."""
    c = state["config"]
    decoder = ConvDecoder(latent_dim=c["latent_dim"], image_size=c["image_size"], width=c["width"],
                          map_channels=c.get("map_channels", 0), map_size=c.get("map_size", 4),
                          margin=c.get("margin", 0))
    load_model_weights(decoder, {"model": state["decoder"]}, path)
    return decoder


def train_decoder(encoder: torch.nn.Module, source, cfg: DecoderConfig, path: str | Path, *,
                  resume: bool = False, progress: bool = True, device="cpu") -> Path:
    """Train a ConvDecoder on ``encoder`` (frozen) with images of ``source``; returns ``path``.

    ``source`` is an ``image_fn(n, generator)`` (``Run.source("train")``); ``encoder`` gives
    what the decoder reads (``Run.latent_encoder``: the embedding, and a spatial latent's map). Without ``resume``
    an existing checkpoint at ``path`` is never overwritten.
    """
    # -- model, optimizer, data stream ---------------------------------------------------
    path, device = Path(path), torch.device(device)
    encoder = encoder.to(device).eval().requires_grad_(False)
    if cfg.amp:  # the precision rule of training: under autocast the embedding stays float32
        float32_embedding(encoder)
    torch.manual_seed(cfg.seed)
    decoder = ConvDecoder(latent_dim=cfg.latent_dim, image_size=cfg.image_size, width=cfg.width,
                          map_channels=cfg.map_channels, map_size=cfg.map_size,
                          margin=cfg.margin).to(device)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=cfg.lr)
    gen = torch.Generator(device=device).manual_seed(cfg.seed * 1_000_003 + 7)
    step = 0
    if resume:
        state = load_decoder_checkpoint(path, expect={k: getattr(cfg, k) for k in SHAPE_KEYS})
        if state["config"].get("encoder_step") != cfg.encoder_step:
            raise CheckpointError(f"decoder checkpoint {path} was trained on the encoder of step "
                                  f"{state['config'].get('encoder_step')}, the run is now at step "
                                  f"{cfg.encoder_step}; train a new decoder")
        load_model_weights(decoder, {"model": state["decoder"]}, path)
        optimizer.load_state_dict(state["optimizer"])
        gen.set_state(state["rng"]["data"])
        torch.set_rng_state(state["rng"]["torch"])
        step = state["step"]
    elif path.exists():
        raise CheckpointError(f"{path} already exists; pass --resume to continue it or delete it")

    def checkpoint(at_step: int) -> None:
        save_decoder_checkpoint(path, decoder=decoder, optimizer=optimizer, step=at_step, cfg=cfg,
                                rng={"data": gen.get_state(), "torch": torch.get_rng_state()})

    # -- the loop ------------------------------------------------------------------------
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc=f"decoder {path.parent.name}",
               dynamic_ncols=True)
    decoder.train()
    every = max(1, min(500, cfg.steps // 4))  # checkpoint interval
    autocast = functools.partial(bf16_autocast, device.type, cfg.amp)
    while step < cfg.steps:
        lr = decoder_lr(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        b = sample_triplets(source, cfg.batch_size, max_shift=cfg.max_shift, generator=gen,
                            wrap=cfg.wrap)
        x = torch.cat([b.anchor, b.crop1, b.crop2]).to(device).float()
        with torch.no_grad(), autocast():
            z = encoder(x).float()
        with autocast():  # a translating decoder keeps its position and move in float32
            logits = decoder(z)
        loss = bce = F.binary_cross_entropy_with_logits(logits.float(), x)
        if cfg.position_weight > 0:  # p(crop) - p(anchor) = the crop's shift (q of a map too)
            position = crop_major_position_loss(positions=decoder.positions(z),  # rows: x's
                                                deltas=b.deltas.to(device), scale=cfg.max_shift)
            loss = bce + cfg.position_weight * position
        if not torch.isfinite(loss):
            raise DecoderDiverged(f"decoder loss became {loss.item()} at step {step}; stopped, "
                                  f"the last checkpoint at {path} is kept")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(bce=f"{bce.item():.4f}", lr=f"{lr:.1e}",
                            **({"position": f"{position.item():.4f}"} if cfg.position_weight > 0 else {}))
        if step % every == 0 or step == cfg.steps:
            checkpoint(step)
    bar.close()
    return path
