"""Run-level steps shared by the CLI: load a trained run, evaluate it, write metrics.json."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from softfact.analysis.grids import ShiftGrid, encode_shift_grid
from softfact.config import TrainConfig
from softfact.data.sources import build_image_source
from softfact.encoders import build_encoder
from softfact.evaluation import DiffVectors, evaluate_encoder
from softfact.metrics import metrics_from_grid
from softfact.training.checkpoint import (atomic_write, load_checkpoint, load_model_weights,
                                          resolve_checkpoint_path)


def load_run(path: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, TrainConfig, dict]:
    """A run folder or checkpoint -> (encoder in eval mode, its config, the raw state)."""
    ckpt = resolve_checkpoint_path(path)
    state = load_checkpoint(ckpt)
    cfg = state["config_obj"]
    model = build_encoder(cfg)
    load_model_weights(model, state, ckpt)
    return model.to(device).eval(), cfg, state


def run_dir_of(path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_dir() else path.parent


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2) + "\n"))


def evaluate_run(path: str | Path, *, n: int | None = None, seed: int = 0,
                 device: str = "cpu") -> tuple[dict, DiffVectors, ShiftGrid]:
    """Evaluate a run with the seed's protocol and the shift-grid metrics, write metrics.json.

    On MIDI data only validation songs are used. Returns (metrics, the probe's difference
    vectors, the encoded shift grid of ``metric_images`` images), so that the report can
    draw from the same encodings instead of encoding them again.
    """
    model, cfg, state = load_run(path, device)
    source = build_image_source(cfg, "val")
    metrics, dv = evaluate_encoder(model, source, n=n or cfg.eval_blobs, max_shift=cfg.max_shift,
                                   seed=seed, wrap=cfg.wrap)
    grid = encode_shift_grid(model, source, n_images=cfg.metric_images, max_shift=cfg.max_shift,
                             generator=torch.Generator().manual_seed(seed + 1), wrap=cfg.wrap)
    metrics.update(metrics_from_grid(grid.z, seed=seed))  # R^2, analogies, MIG, DCI, ...
    metrics = {"step": state["step"], **metrics}
    out = run_dir_of(path) / "metrics.json"
    old = json.loads(out.read_text()) if out.exists() else {}
    write_json(out, {**old, **metrics})
    return metrics, dv, grid
