"""Checkpoints are data: tensors and plain dicts, written atomically, read weights-only."""
from __future__ import annotations

from pathlib import Path

import torch

from softfact.config import MODEL_KEYS, ConfigError, TrainConfig, from_dict
from softfact.utils.io import atomic_write
from softfact.utils.runfiles import RunFiles

FORMAT = "softfact-checkpoint-v1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line saying why."""


def save_checkpoint(path: str | Path, *, model, optimizer, step: int, cfg: TrainConfig,
                    rng: dict, decoder=None) -> None:
    """Write a checkpoint; a joint run's ``decoder`` weights go under "decoder"."""
    state = {"format": FORMAT, "step": int(step), "config": cfg.to_dict(),
             "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
             "optimizer": optimizer.state_dict() if optimizer is not None else None,
             "rng": rng}
    if decoder is not None:
        state["decoder"] = {k: v.detach().cpu() for k, v in decoder.state_dict().items()}
    atomic_write(Path(path), lambda tmp: torch.save(state, tmp))


def resolve_checkpoint_path(path: str | Path) -> Path:
    """A run folder or a checkpoint file -> the checkpoint file."""
    path = Path(path)
    if path.is_dir():
        path = RunFiles(path).checkpoint
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    return path


def load_checkpoint(path: str | Path, *, expect: TrainConfig | None = None) -> dict:
    """Load a checkpoint weights-only; with ``expect``, refuse one of another model."""
    path = resolve_checkpoint_path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, corrupt, or pickled code
        raise CheckpointError(f"cannot read checkpoint {path}: {str(e).splitlines()[0][:200]}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a softfact checkpoint (format {FORMAT} expected)")
    try:
        state["config_obj"] = from_dict(state["config"])
    except ConfigError as e:
        raise CheckpointError(f"checkpoint {path} holds an unusable config: {e}") from None
    if expect is not None:
        diff = [f"{k}: checkpoint {state['config'][k]!r} vs requested {getattr(expect, k)!r}"
                for k in MODEL_KEYS if state["config"].get(k) != getattr(expect, k)]
        if diff:
            raise CheckpointError(f"checkpoint {path} is of another model ({'; '.join(diff)})")
    return state


def load_model_weights(model: torch.nn.Module, state: dict, path="checkpoint") -> None:
    """Load weights, turning a shape or key mismatch into a one-line CheckpointError."""
    own = model.state_dict()
    theirs = state["model"]
    missing, extra = sorted(set(own) - set(theirs)), sorted(set(theirs) - set(own))
    shapes = [f"{k} {tuple(theirs[k].shape)} vs {tuple(own[k].shape)}"
              for k in own if k in theirs and theirs[k].shape != own[k].shape]
    if missing or extra or shapes:
        parts = ([f"missing {missing[:3]}"] if missing else []) + \
                ([f"unexpected {extra[:3]}"] if extra else []) + shapes[:3]
        raise CheckpointError(f"{path} does not fit this model: {'; '.join(parts)}")
    model.load_state_dict(theirs)
