"""``softfact.Run``: a run folder as one object (its files, config, encoder, data, metrics).

Usage (``runs/demo`` from ``make demo``)::

    from softfact import Run
    run = Run.load("runs/demo")          # a run folder or its checkpoint file
    run.config.max_shift, run.step       # the resolved TrainConfig, the trained steps
    z = run.encoder(images)              # (B, 1, H, W) -> (B, D), eval mode
    val = run.source("val")              # image_fn(n, generator) of validation data
    ev = run.evaluate()                  # with the run's own data, max_shift and wrap
    ev.metrics["analogy_top1"]           # also merged into metrics.json

The CLI, the sweep and the report all go through this object; nothing else spells out a run
folder's file names (they live in ``softfact.utils.runfiles``) and nothing else writes
``metrics.json``.
"""
from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import torch

from softfact.config import RUN_KEYS, ConfigError, TrainConfig, apply
from softfact.data.sources import build_image_source
from softfact.metrics import Evaluation, evaluate
from softfact.models import build_encoder, decoder_input
from softfact.ops import auto_images, default_method, evaluate_operations
from softfact.training.checkpoint import load_checkpoint, load_model_weights
from softfact.training.export import is_export, load_export
from softfact.training.runlog import read_metrics
from softfact.utils.io import write_json
from softfact.utils.runfiles import CHECKPOINT, RunFiles


class RunError(ValueError):
    """A run folder that cannot be used as asked; the message is one line naming the path."""


class Run:
    """A trained run: ``Run.load(path)``; see the module docstring for a tour."""

    def __init__(self, root: str | Path, state: dict, *, device: str = "cpu"):
        self.files = RunFiles(Path(root))
        self.state = state
        self.config: TrainConfig = state["config_obj"]
        self.device = torch.device(device)
        self._sources: dict = {}

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu", **settings) -> "Run":
        """Load the run in folder ``path`` (or the checkpoint file ``path``, or a folder
        written by ``softfact export``).

        ``settings``: keys of ``softfact.config.RUN_KEYS`` (where the data are, how much to
        evaluate) to use instead of the stored ones, e.g. ``midi_dir=`` for a moved corpus.
        """
        if not str(path).strip():  # Path("") is the current folder: never fall back to it
            raise RunError("no run folder given (an empty path)")
        path = Path(path)
        if is_export(path):  # a `softfact export` folder: weights, config, model card
            from softfact.utils.runfiles import EXPORT_WEIGHTS
            root, ckpt = path, path / EXPORT_WEIGHTS
        elif path.is_dir():
            root, ckpt = path, RunFiles(path).checkpoint
            if not ckpt.is_file():
                raise RunError(f"{path} is not a run folder: it holds no {CHECKPOINT}")
        elif path.is_file():
            root, ckpt = path.parent, path
        else:
            raise RunError(f"no run at {path}: no such folder or checkpoint file")
        state = load_export(root) if ckpt.suffix == ".safetensors" else load_checkpoint(ckpt)
        bad = sorted(set(settings) - set(RUN_KEYS))
        if bad:
            raise ConfigError(f"a finished run's {bad[0]!r} cannot be changed; only "
                              f"{', '.join(RUN_KEYS)} can")
        given = {k: v for k, v in settings.items() if v is not None}
        if given:
            state["config_obj"] = apply(state["config_obj"], given).validate()
        run = cls(root, state, device=device)
        run._checkpoint = ckpt
        return run

    @property
    def root(self) -> Path:
        return self.files.root

    @property
    def step(self) -> int:
        return int(self.state["step"])

    @cached_property
    def encoder(self) -> torch.nn.Module:
        """The trained encoder, in eval mode on the run's device."""
        model = build_encoder(self.config)
        load_model_weights(model, self.state, getattr(self, "_checkpoint", self.files.checkpoint))
        return model.to(self.device).eval()

    @cached_property
    def latent_encoder(self) -> torch.nn.Module:
        """What the run's decoder reads: the encoder's embedding, followed by its spatial latent
        map when the run has one (``latent_map`` > 0). Latent operations act on this."""
        return decoder_input(self.encoder)

    @property
    def op_moves(self) -> int | None:
        """How many leading features of ``latent_encoder``'s latent a latent operation moves:
        None (all), or ``latent_dim`` for a spatial latent trained with ``op_moves: embedding``."""
        cfg = self.config
        return cfg.latent_dim if cfg.latent_map and cfg.op_moves == "embedding" else None

    @cached_property
    def decoder(self) -> torch.nn.Module | None:
        """The run's decoder (latent -> image logits), eval mode on the run's device, or None.

        ``RUN/decoder.pt`` (``softfact decoder RUN``, trained on the frozen encoder) if
        present, else the decoder of a joint run (``recon_weight`` > 0) in its checkpoint.
        """
        model = _load_decoder(self)
        return None if model is None else model.to(self.device).eval()

    def source(self, split: str = "val"):
        """The run's images of ``split`` ("train" or "val") as ``image_fn(n, generator)``.

        Blobs have no split; MIDI data use the run's song split (validation songs for "val").
        """
        if split not in self._sources:
            self._sources[split] = build_image_source(self.config, split)
        return self._sources[split]

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, *, n: int | None = None, seed: int = 0, write: bool = True,
                 progress: bool = False) -> Evaluation:
        """The seed's protocol and the grid metrics with the run's own settings; with a
        decoder, also the latent-operation metrics (``softfact.ops``, on min(64,
        ``metric_images``) images per split; the fitted result is kept as
        ``self.latent_operations``). ``progress``: a bar per phase.

        Data: validation images of the run's source; ``max_shift`` and ``wrap`` as trained;
        probe size ``n`` (default the run's ``eval_blobs``), grid ``metric_images``. With
        ``write`` the metrics are merged into ``metrics.json``; ``progress``: a bar per phase.
        """
        cfg = self.config
        ev = evaluate(self.encoder, self.source("val"), max_shift=cfg.max_shift, wrap=cfg.wrap,
                      seed=seed, n_probe=n or cfg.eval_blobs, n_grid=cfg.metric_images,
                      progress=progress)
        ev.metrics = {"step": self.step, **ev.metrics}
        decoder = getattr(self, "decoder", None)
        if decoder is not None:  # latent operations: decoded z + v against true shifts
            # a translating decoder's own moves are the operation, the encoder's mean
            # differences scored beside them (op_f1_fitted*); else the mean differences
            self.latent_operations = evaluate_operations(
                self.latent_encoder, decoder, self.source("train"), self.source("val"),
                max_shift=cfg.max_shift, wrap=cfg.wrap, seed=seed,
                n_images=min(auto_images(cfg.max_shift), cfg.metric_images), moves=self.op_moves,
                method=default_method(decoder))
            ev.metrics.update(self.latent_operations.metrics)
        if write:
            self.write_metrics(ev.metrics)
        return ev

    def metrics(self) -> dict:
        """The contents of ``metrics.json`` ({} before the first evaluation; an exported
        folder's own metrics until it is evaluated)."""
        path = self.files.metrics
        if not path.exists():
            return dict(self.state.get("metrics", {}))
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RunError(f"{path} is not valid JSON ({e.__class__.__name__}: {e}); "
                           f"delete it and evaluate again") from None
        if not isinstance(data, dict):
            raise RunError(f"{path} does not hold a JSON object; delete it and evaluate again")
        return data

    def write_metrics(self, updates: dict) -> dict:
        """Merge ``updates`` into ``metrics.json`` (atomically); returns the merged dict."""
        merged = {**self.metrics(), **updates}
        write_json(self.files.metrics, merged)
        return merged

    def log(self) -> list[dict]:
        """The per-step training rows of ``metrics.jsonl``."""
        return read_metrics(self.root)

    def __repr__(self) -> str:
        return (f"Run({str(self.root)!r}, step={self.step}, encoder={self.config.encoder!r}, "
                f"data={self.config.data!r})")


def _load_decoder(run: Run) -> torch.nn.Module | None:
    """Run.decoder's weights: RUN/decoder.pt, else the checkpoint's "decoder" entry."""
    from softfact.models import build_decoder
    from softfact.training.decoder import decoder_from_state, load_decoder_checkpoint
    path = run.files.decoder
    if path.is_file():
        cfg = run.config
        state = load_decoder_checkpoint(path, expect={"latent_dim": cfg.latent_dim,
                                                      "image_size": cfg.image_size,
                                                      "map_channels": cfg.latent_map})
        return decoder_from_state(state, path)
    if "decoder" not in run.state:
        return None
    model = build_decoder(run.config)
    load_model_weights(model, {"model": run.state["decoder"]},
                       f"{getattr(run, '_checkpoint', run.files.checkpoint)} (decoder)")
    return model
