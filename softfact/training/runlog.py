"""Per-step metrics to ``metrics.jsonl`` (and optionally Weights & Biases), rank 0 only."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import yaml

from softfact.utils.io import atomic_write, storage_error
from softfact.utils.runfiles import RunFiles


class RunLog:
    """Buffers per-step scalars on device and flushes them as JSON lines every log interval."""

    def __init__(self, out: Path, cfg, *, enabled: bool = True, resume_step: int | None = None):
        files = RunFiles(out)
        self.enabled, self.path, self.last = enabled, files.log, {}
        self._rows, self._wandb = [], None
        if not enabled:
            return
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(files.config, lambda tmp: Path(tmp).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False)))
        if resume_step is not None and self.path.exists():
            # drop lines logged after the checkpoint we resume from, and a torn last line
            rows, torn = _parse_log(self.path)
            if torn:
                warnings.warn(f"{self.path}: dropped a torn last line (a write was interrupted)")
            kept = [json.dumps(r) for r in rows if r["step"] <= resume_step]
            atomic_write(self.path, lambda tmp: Path(tmp).write_text("".join(k + "\n" for k in kept)))
        elif resume_step is None:
            self.path.write_text("")
        if cfg.wandb:
            try:
                import wandb
            except ImportError:
                raise RuntimeError("--wandb needs the wandb package: pip install 'softfact[wandb]'") from None
            self._wandb = wandb.init(project=cfg.wandb_project, config=cfg.to_dict(), dir=str(out),
                                     name=out.name, resume="allow")

    def record(self, step: int, losses: dict, *, lr: float, elapsed: float, flush: bool) -> None:
        if not self.enabled:
            return
        self._rows.append((step, {k: v.detach() for k, v in losses.items()}, lr, elapsed))
        if flush:
            self.flush()

    def flush(self) -> None:
        if not self._rows:
            return
        lines = []
        for step, losses, lr, elapsed in self._rows:
            row = {"step": step, **{k: float(v) for k, v in losses.items()},
                   "lr": lr, "time": round(elapsed, 3)}
            lines.append(json.dumps(row))
            if self._wandb is not None:
                self._wandb.log(row, step=step)
        self.last = row
        self._rows = []
        try:
            with open(self.path, "a") as f:
                f.write("\n".join(lines) + "\n")
        except OSError as e:  # a torn line may stay: resume drops it, readers skip it
            raise storage_error(e, self.path, note="the last checkpoint is intact; free space "
                                "and continue with --resume") from None

    def close(self) -> None:
        if self.enabled:
            self.flush()
            if self._wandb is not None:
                self._wandb.finish()
                self._wandb = None


class RunLogError(ValueError):
    """A metrics.jsonl damaged other than by an interrupted append; one line naming it."""


def _parse_log(path: Path) -> tuple[list[dict], bool]:
    """The rows of ``path`` and whether its last line was torn (an interrupted append, or one
    still being written): it is skipped. A bad line elsewhere is a RunLogError."""
    text = path.read_text(errors="replace")
    lines = text.split("\n")
    rows, torn = [], False
    for i, ln in enumerate(lines):
        if not ln.strip():
            continue
        last = i == len(lines) - 1  # no newline after it: the append did not finish
        try:
            row = json.loads(ln)
            if not isinstance(row, dict) or "step" not in row:
                raise ValueError("not a row")
        except ValueError:
            if last or all(not rest.strip() for rest in lines[i + 1:]):
                torn = True
                continue
            raise RunLogError(f"{path} line {i + 1} is not a JSON row; the file was edited "
                              f"or damaged") from None
        rows.append(row)  # (complete JSON without its newline is kept)
    return rows, torn


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The per-step rows of a run's metrics.jsonl (a torn last line is skipped)."""
    path = RunFiles(run_dir).log
    if not path.exists():
        return []
    return _parse_log(path)[0]
