"""``softfact decoder RUN``: train a decoder on the run's frozen encoder (RUN/decoder.pt)."""
from __future__ import annotations

import argparse

from softfact.config import ConfigError
from softfact.training.decoder import DecoderConfig

_D = DecoderConfig()
SETTINGS = ("steps", "batch_size", "lr", "width", "margin", "position_weight", "seed")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="softfact decoder",
        description="Train a decoder (latent -> image, BCE) on a run's training images and their "
                    "shifted crops, the encoder frozen; saved as RUN/decoder.pt.")
    p.add_argument("run", help="run folder")
    # defaults None: DecoderConfig's for a new decoder, the checkpoint's own with --resume
    p.add_argument("--steps", type=int, help=f"total steps (default {_D.steps})")
    p.add_argument("--batch-size", type=int,
                   help=f"anchors per step, each with two shifted crops (default {_D.batch_size})")
    p.add_argument("--lr", type=float, help=f"peak Adam learning rate, cosine decay (default {_D.lr})")
    p.add_argument("--width", type=int, help=f"channels of the decoder's last stage (default {_D.width})")
    p.add_argument("--margin", type=int,
                   help="> 0: a translating decoder, its canvas this many pixels wider per side")
    p.add_argument("--position-weight", type=float,
                   help="with --margin: weight of the position loss, the decoder's position head "
                        "reading the crops' known shifts from the encoder's embeddings, so that "
                        "its moves are the size of the encoder's own differences (0: "
                        "reconstruction alone)")
    p.add_argument("--seed", type=int, help=f"default {_D.seed}")
    p.add_argument("--amp", action="store_true",
                   help="bf16 autocast (CUDA, or a CPU with bf16 units; slower on one without)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--resume", action="store_true",
                   help="continue RUN/decoder.pt (e.g. to more --steps) with its own settings, "
                        "except those given here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def train_run_decoder(run, *, steps: int = _D.steps, batch_size: int = _D.batch_size,
                      lr: float = _D.lr, width: int = _D.width, margin: int = _D.margin,
                      position_weight: float = _D.position_weight, seed: int = _D.seed,
                      amp: bool = _D.amp,
                      resume: bool = False, progress: bool = True):
    """Train ``run``'s frozen-encoder decoder into ``run.files.decoder``."""
    from softfact.training.decoder import train_decoder
    c = run.config
    for name, v in (("steps", steps), ("batch-size", batch_size), ("width", width)):
        if v < 1:
            raise ConfigError(f"--{name} must be >= 1, got {v}")
    if margin < 0:
        raise ConfigError(f"--margin must be >= 0, got {margin}")
    if not lr > 0:
        raise ConfigError(f"--lr must be > 0, got {lr}")
    if not position_weight >= 0:
        raise ConfigError(f"--position-weight must be >= 0, got {position_weight}")
    if position_weight > 0 and margin == 0:
        raise ConfigError("--position-weight needs a translating decoder (--margin > 0)")
    from softfact.models.conv import map_side
    cfg = DecoderConfig(latent_dim=c.latent_dim, image_size=c.image_size, width=width,
                        map_channels=c.latent_map,
                        map_size=map_side(c.image_size, c.depth) if c.latent_map else 4, margin=margin,
                        position_weight=position_weight,
                        max_shift=c.max_shift, wrap=c.wrap, steps=steps, batch_size=batch_size,
                        lr=lr, seed=seed, encoder_step=run.step, amp=amp)
    return train_decoder(run.latent_encoder, run.source("train"), cfg, run.files.decoder, resume=resume,
                         progress=progress, device=run.device)


def main(argv: list[str]) -> int:
    ns = parser().parse_args(argv)
    import torch

    from softfact.run import Run
    if ns.threads > 0:
        torch.set_num_threads(ns.threads)
    run = Run.load(ns.run)
    settings = {k: getattr(ns, k) for k in SETTINGS if getattr(ns, k) is not None}
    if ns.amp:
        settings["amp"] = True
    if ns.resume and run.files.decoder.is_file():  # the checkpoint's settings, then the flags
        from softfact.training.decoder import load_decoder_checkpoint
        saved = load_decoder_checkpoint(run.files.decoder)["config"]
        settings = {**{k: saved[k] for k in (*SETTINGS, "amp") if k in saved}, **settings}
    path = train_run_decoder(run, **settings, resume=ns.resume, progress=not ns.quiet)
    print(f"decoder: {path}")
    return 0
