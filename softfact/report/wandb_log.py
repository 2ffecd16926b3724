"""``--wandb``: the report's figures and metrics logged to Weights & Biases as well.

The training loop logs the per-step losses; the report adds, as one more step of a wandb run
named after the run folder (``job_type`` "report"), every figure as a ``wandb.Image`` under
``report/NAME`` and every number of ``metrics.json`` (the seed's probe, R^2, the arithmetic
metrics additivity_err / analogy_top1 / analogy_mrr, MIG, DCI, SVD shares) under
``metrics/NAME``, also set in the run summary. ``WANDB_MODE=offline`` keeps it on disk.
"""
from __future__ import annotations

from pathlib import Path


def log_report(cfg, out: Path, figures: dict[str, Path], metrics: dict) -> None:
    """Log PNG files ``figures`` {name: path} and numeric ``metrics`` to a wandb run in ``out``."""
    try:
        import wandb
    except ImportError:
        raise RuntimeError("--wandb needs the wandb package: pip install 'softfact[wandb]'") from None
    step = int(metrics.get("step", 0))
    numbers = {f"metrics/{k}": float(v) for k, v in metrics.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step"}
    run = wandb.init(project=cfg.wandb_project, config=cfg.to_dict(), dir=str(out),
                     name=out.name, job_type="report", reinit="finish_previous")
    try:
        run.log({**{f"report/{k}": wandb.Image(str(p)) for k, p in figures.items()}, **numbers},
                step=step)
        run.summary.update(numbers)
    finally:
        run.finish()
