"""Checkpoints are data: tensors and plain dicts, written atomically, read weights-only."""
from __future__ import annotations

import errno
import pickle
import re
from pathlib import Path

import torch

from softfact.config import MODEL_KEYS, ConfigError, TrainConfig, from_dict
from softfact.utils.io import STORAGE_ERRNOS, StorageError, atomic_write
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

    write_state(path, state, step=step)


def write_state(path: str | Path, state: dict, *, step: int, what: str = "checkpoint") -> None:
    """Save ``state`` atomically; a full or read-only disk is one CheckpointError line naming
    the file and saying whether an earlier checkpoint at ``path`` is intact."""
    def write(tmp):
        # through a Python file: a full disk is then OSError(ENOSPC), not torch's
        # "basic_ios::clear: iostream error" / "unexpected pos" from its C++ writer (which
        # torch may still raise while closing the archive: the OSError is its context)
        try:
            with open(tmp, "wb") as f:
                torch.save(state, f)
        except RuntimeError as e:
            cause = e.__context__
            while cause is not None and not isinstance(cause, OSError):
                cause = cause.__context__
            if cause is None:
                raise
            raise cause from None
    try:
        atomic_write(Path(path), write)
    except StorageError as e:
        prev = _previous_step(Path(path))
        kept = (f"the previous {what} (step {prev}) is intact" if prev is not None
                else f"no earlier {what} exists")
        reason = "disk full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else "cannot write"
        raise CheckpointError(f"{reason} while writing {what} {path} at step {step} "
                              f"({STORAGE_ERRNOS[e.errno]}); {kept}") from None


def _previous_step(path: Path) -> int | None:
    """The step of the checkpoint already at ``path``, or None if there is none usable."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["step"])
    except Exception:
        return None


def resolve_checkpoint_path(path: str | Path) -> Path:
    """A run folder or a checkpoint file -> the checkpoint file (never the current folder
    in place of a path that does not exist)."""
    if not str(path).strip():  # Path("") would be the current folder
        raise CheckpointError("no checkpoint given (an empty path)")
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}: no such folder or file")
    if path.is_dir():
        path = RunFiles(path).checkpoint
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    return path


def load_checkpoint(path: str | Path, *, expect: TrainConfig | None = None) -> dict:
    """Load a checkpoint weights-only; with ``expect``, refuse one of another model."""
    path = resolve_checkpoint_path(path)
    state = read_state(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a softfact checkpoint (format {FORMAT} expected)")
    try:
        state["config_obj"] = from_dict(state["config"])
    except ConfigError as e:
        raise CheckpointError(f"checkpoint {path} holds an unusable config: {e}") from None
    if expect is not None:
        saved = state["config_obj"]  # keys a checkpoint predates take their defaults
        diff = [f"{k}: checkpoint {getattr(saved, k)!r} vs requested {getattr(expect, k)!r}"
                for k in MODEL_KEYS if getattr(saved, k) != getattr(expect, k)]
        if diff:
            raise CheckpointError(f"checkpoint {path} is of another model ({'; '.join(diff)})")
    return state


def read_state(path: Path, what: str = "checkpoint"):
    """``torch.load`` weights-only, with one-line errors for an empty, damaged or
    code-carrying file (whose objects are never run)."""
    if path.stat().st_size == 0:
        raise CheckpointError(f"{what} {path} is empty (0 bytes): it was never written "
                              f"completely; delete it (or the run folder) and train again")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # objects that are code: refused, never run
        raise CheckpointError(_refusal(path, str(e), what)) from None
    except Exception as e:  # truncated or corrupt
        first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
        raise CheckpointError(f"cannot read {what} {path}: {first.split('. ')[0][:200]} "
                              f"(the file is truncated or damaged)") from None


def _refusal(path: Path, message: str, what: str = "checkpoint") -> str:
    """One line for a file the weights-only unpickler stopped: code-carrying pickle data
    (naming the global it wanted), or bytes that are no pickle at all. Never torch's hint to
    retry unsafely."""
    found = re.search(r"\bGLOBAL ([\w.]+)", message)  # "Unsupported global: GLOBAL x.y ..."
    detail = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", message)
    detail = detail.group(1).split(". ")[0].strip().rstrip(".") if detail else ""
    if found or re.search(r"global|reduce|build|class", detail, re.IGNORECASE):
        found = f"the global {found.group(1)}" if found else detail
        return (f"refused {what} {path}: it holds code-carrying pickle data ({found}); "
                f"softfact loads only tensors and plain data, so nothing in it was run")
    return (f"cannot read {what} {path}: not a PyTorch checkpoint, or a damaged one"
            + (f" ({detail.lower()})" if detail else ""))


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
