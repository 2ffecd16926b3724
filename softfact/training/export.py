"""Portable weights: a folder of ``model.safetensors``, ``config.json`` and a model card.

``write_export`` writes it from a checkpoint's state (``softfact export RUN``); ``load_export``
reads it back into the same state dict a checkpoint gives (no optimizer, no RNG states), so
``softfact.Run.load`` opens either. safetensors holds tensors only (no pickled code), and any
framework reads it; it is an optional extra (``pip install 'softfact[safetensors]'``).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from softfact.config import ConfigError, from_dict
from softfact.training.checkpoint import CheckpointError
from softfact.utils.io import atomic_write, write_json, write_text
from softfact.utils.runfiles import EXPORT_CARD, EXPORT_CONFIG, EXPORT_WEIGHTS

FORMAT = "softfact-export-v1"

# the recipe keys the model card lists (every key is in config.json)
_RECIPE = ("encoder", "latent_dim", "image_size", "blob_margin", "max_shift", "wrap", "schemes",
           "crops", "antithetic", "fact_weight", "cross_weight", "use_jepa", "jepa_weight",
           "optimizer", "lr", "weight_decay", "schedule", "warmup_steps", "batch_size", "steps",
           "seed", "amp")
# the metrics the card shows first (all of metrics.json follows in config.json)
_HEADLINE = ("cross_abs_cos", "same_sign_cos", "opposite_sign_cos", "angle_pitch_deg",
             "angle_time_deg", "r2", "factor_acc", "additivity_err", "analogy_top1", "mig",
             "dci_disentanglement")


def _safetensors():
    try:
        import safetensors.torch as st
    except ImportError:
        raise ConfigError("softfact export needs safetensors: pip install 'softfact[safetensors]'") from None
    return st


def is_export(path: str | Path) -> bool:
    """Whether ``path`` is an exported folder (its config.json and weights are there)."""
    path = Path(path)
    return path.is_dir() and (path / EXPORT_CONFIG).is_file() and (path / EXPORT_WEIGHTS).is_file()


def _data_line(cfg: dict) -> str:
    if cfg["data"] == "midi":
        return (f"MIDI piano rolls from `{Path(cfg['midi_dir']).name or cfg['midi_dir']}` "
                f"({cfg['steps_per_quarter']} steps per quarter note, {cfg['val_fraction']:g} of the "
                f"songs held out), {cfg['image_size']} x {cfg['image_size']} crops (pitch x time)")
    if cfg["data"] == "bach":
        return f"the shipped Bach chorale piano rolls, {cfg['image_size']} x {cfg['image_size']} crops"
    inner = cfg["image_size"] - 2 * cfg.get("blob_margin", 0)
    where = (f", drawn in the central {inner} x {inner} (no shift up to {cfg['blob_margin']} "
             f"pushes content off)" if cfg.get("blob_margin") else " (the seed's toy data)")
    return (f"random binary blobs (three rectangles each), {cfg['image_size']} x "
            f"{cfg['image_size']}{where}")


def model_card(*, cfg: dict, step: int, n_params: int, metrics: dict, folder: str = "export") -> str:
    """The README.md of an exported folder: what the model is, how it was trained, how it scores."""
    recipe = "\n".join(f"| {k} | {cfg[k]} |" for k in _RECIPE if k in cfg)
    shown = [k for k in _HEADLINE if k in metrics] + \
        [k for k in metrics if k not in _HEADLINE and k != "step" and isinstance(metrics[k], (int, float))]
    table = "\n".join(f"| {k} | {metrics[k]:.4g} |" for k in shown)
    evaluated = (f"Evaluated at step {metrics.get('step', step):,} on held-out data "
                 "(`softfact evaluate`: the seed's protocol and the shift-grid metrics):\n\n"
                 f"| metric | value |\n|---|---|\n{table}\n") if shown else \
        "Not evaluated before export: run `softfact evaluate` on this folder.\n"
    return f"""# softfact encoder: {cfg['encoder']}, {cfg['latent_dim']}-d latent

An encoder trained with softfact's soft factorization loss: pitch transposition (dy, rows) and
time shift (dx, columns) of an image are separate, signed directions of its latent space.
{n_params:,} parameters, trained {step:,} steps.

## Data

{_data_line(cfg)}; shifts of 1..{cfg['max_shift']} pixels ({'wrapped' if cfg['wrap'] else 'zero-filled'}).

## Recipe

| key | value |
|---|---|
{recipe}

The full resolved config is in `config.json`.

## Metrics

{evaluated}
## Use

```python
from softfact import Run
run = Run.load("{folder}")      # this folder
z = run.encoder(images)               # (B, 1, {cfg['image_size']}, {cfg['image_size']}) -> (B, {cfg['latent_dim']})
```

Or without softfact's loader: `safetensors.torch.load_file("model.safetensors")` is the
state dict of the encoder that `softfact.models.build_encoder(config)` makes.
"""


def write_export(out: str | Path, *, state: dict, metrics: dict) -> Path:
    """Write ``state`` (a checkpoint's, from ``load_checkpoint``) as an exported folder ``out``.

    Each file is written atomically; the weights first, so a folder that has a config.json
    always has its weights. Returns ``out``.
    """
    st = _safetensors()
    out = Path(out)
    weights = {k: v.detach().cpu().contiguous() for k, v in state["model"].items()}
    meta = {"format": FORMAT, "step": str(int(state["step"]))}
    atomic_write(out / EXPORT_WEIGHTS, lambda tmp: st.save_file(weights, tmp, metadata=meta))
    cfg = dict(state["config"])
    write_json(out / EXPORT_CONFIG, {"format": FORMAT, "step": int(state["step"]), "config": cfg,
                                     "metrics": metrics})
    n_params = sum(v.numel() for v in weights.values() if v.is_floating_point())
    write_text(out / EXPORT_CARD, model_card(cfg=cfg, step=int(state["step"]), n_params=n_params,
                                             metrics=metrics, folder=str(out)))
    return out


def load_export(path: str | Path) -> dict:
    """An exported folder -> the state a checkpoint gives: format, step, config, config_obj,
    model (the weights); optimizer and RNG states are None."""
    path = Path(path)
    try:
        info = json.loads((path / EXPORT_CONFIG).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"cannot read {path / EXPORT_CONFIG}: {e.__class__.__name__}: {e}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT or "config" not in info:
        raise CheckpointError(f"{path / EXPORT_CONFIG} is not a softfact export (format {FORMAT} expected)")
    st = _safetensors()
    try:
        weights = st.load_file(str(path / EXPORT_WEIGHTS))
    except Exception as e:  # truncated or not safetensors
        raise CheckpointError(f"cannot read {path / EXPORT_WEIGHTS}: {str(e).splitlines()[0][:200]}") from None
    try:
        cfg = from_dict(info["config"])
    except ConfigError as e:
        raise CheckpointError(f"{path / EXPORT_CONFIG} holds an unusable config: {e}") from None
    return {"format": FORMAT, "step": int(info["step"]), "config": info["config"],
            "config_obj": cfg, "model": weights, "optimizer": None, "rng": None,
            "metrics": info.get("metrics", {})}

