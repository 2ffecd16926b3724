"""Per-step metrics to ``metrics.jsonl`` (and optionally Weights & Biases), rank 0 only."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from softfact.utils.io import atomic_write
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
            # drop lines logged after the checkpoint we resume from
            kept = [ln for ln in self.path.read_text().splitlines()
                    if ln.strip() and json.loads(ln)["step"] <= resume_step]
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
        with open(self.path, "a") as f:
            f.write("\n".join(lines) + "\n")
        self._rows = []

    def close(self) -> None:
        if self.enabled:
            self.flush()
            if self._wandb is not None:
                self._wandb.finish()
                self._wandb = None


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The per-step rows of a run's metrics.jsonl."""
    path = RunFiles(run_dir).log
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
