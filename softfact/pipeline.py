"""Run-level steps shared by the CLI: load a trained run, evaluate it, write metrics.json."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from softfact.config import TrainConfig
from softfact.data.sources import build_image_source
from softfact.encoders import build_encoder
from softfact.evaluation import evaluate_encoder
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
                 device: str = "cpu") -> tuple[dict, object]:
    """Evaluate a run with the seed's protocol (validation songs for MIDI data)."""
    model, cfg, state = load_run(path, device)
    source = build_image_source(cfg, "val")
    metrics, dv = evaluate_encoder(model, source, n=n or cfg.eval_blobs, max_shift=cfg.max_shift,
                                   seed=seed, wrap=cfg.wrap)
    from softfact.metrics import compute_metrics  # shift-grid metrics: R^2, analogies, MIG, DCI
    metrics.update(compute_metrics(model, source, max_shift=cfg.max_shift, seed=seed, wrap=cfg.wrap,
                                   n_images=getattr(cfg, "metric_images", 200)))
    metrics = {"step": state["step"], **metrics}
    out = run_dir_of(path) / "metrics.json"
    old = json.loads(out.read_text()) if out.exists() else {}
    write_json(out, {**old, **metrics})
    return metrics, dv
