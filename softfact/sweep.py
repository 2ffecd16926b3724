"""``softfact sweep``: configs x seeds, each trained then evaluated, summarised in a table and plots.

Default grid: the factorization weight in {0, 0.1, 0.3, 1, 3} with the LeJEPA loss on (weight 0
is "LeJEPA only"), plus "fact-only" (use_jepa false, weight 1) and "untrained" (the freshly
initialised encoder of each seed, evaluated without a step). Run k of config C goes to
``OUT/C-s<seed>/``; a run whose metrics.json is complete is skipped, one with a checkpoint is
resumed, so an interrupted sweep continues where it stopped. Outputs (written atomically):
``OUT/sweep.csv`` (one row per run), ``OUT/sweep.md`` (mean ± std per config) and
``OUT/sweep.png`` (every metric against the weight, error bars = std over seeds).

``--vary KEY=v1,v2,...`` sweeps any one TrainConfig key instead (configs ``KEY=v``, nothing
else changed from the preset): the table, and the plot against that key, plus
``OUT/tradeoff.png``, the seed's figures against the arithmetic metrics (one point per value).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from softfact.config import PRESETS, ConfigError, TrainConfig, parse_overrides, resolve
from softfact.run import Run
from softfact.utils.io import atomic_write
from softfact.utils.runfiles import RunFiles

DEFAULT_WEIGHTS = (0.0, 0.1, 0.3, 1.0, 3.0)
ABLATIONS = ("fact-only", "untrained")
# CPU-scale defaults (over the preset, under --key=value): the 14 runs of the default grid take
# about 25 minutes on one heavily shared core, a few minutes on an idle laptop.
SWEEP_DEFAULTS = {"steps": 500, "batch_size": 64, "warmup_steps": 50, "threads": 1,
                  "log_every": 100, "ckpt_every": 200, "eval_blobs": 500}
# Keys a run folder must agree on with the request to be reused.
_IGNORED = ("out_dir", "threads", "device", "log_every", "ckpt_every", "wandb", "wandb_project")


def grid(weights, seeds: int, names: list[str] | None = None) -> list[tuple[str, dict, int]]:
    """[(config name, its config keys, seed)] for every config and seed, in run order."""
    configs = {f"w{w:g}": {"use_jepa": True, "fact_weight": float(w)} for w in weights}
    configs["fact-only"] = {"use_jepa": False, "fact_weight": 1.0}
    configs["untrained"] = {}
    if names:
        bad = [n for n in names if n not in configs]
        if bad:
            raise ConfigError(f"unknown sweep config(s) {bad}; choose from {list(configs)}")
        configs = {n: configs[n] for n in configs if n in names}
    return [(name, keys, s) for s in range(seeds) for name, keys in configs.items()]


def vary_grid(key: str, values: list[str], seeds: int) -> list[tuple[str, dict, int]]:
    """[(f"{key}={v}", {key: v}, seed)] for every value and seed: a one-key sweep."""
    return [(f"{key}={v}", {key: v}, s) for s in range(seeds) for v in values]


def parse_vary(text: str) -> tuple[str, list[str]]:
    """``'shared_weight=0,0.3,1'`` -> ('shared_weight', ['0', '0.3', '1']), the key checked."""
    from softfact.config import TrainConfig, apply
    key, sep, vals = text.partition("=")
    key = key.strip().lstrip("-").replace("-", "_")
    values = [v.strip() for v in vals.split(",") if v.strip()]
    if not sep or not key or not values:
        raise ConfigError(f"--vary must be KEY=v1,v2,... (e.g. shared_weight=0,0.3,1), got {text!r}")
    if key in ("out_dir", "seed"):
        raise ConfigError(f"--vary {key} is set by the sweep; use --out or --seeds")
    for v in values:
        apply(TrainConfig(), {key: v})  # unknown key or wrong type: one line naming it
    return key, values


def run_config(name: str, keys: dict, seed: int, out: Path, *, preset: str,
               config_file: str | None, overrides: dict) -> TrainConfig:
    base = {**SWEEP_DEFAULTS, **overrides, **keys, "seed": seed, "out_dir": str(out / f"{name}-s{seed}")}
    return resolve(preset, config_file, base)


def _is_finished(run: Path, expect_step: int) -> bool:
    if not RunFiles(run).metrics.exists():
        return False
    m = Run.load(run).metrics()
    return m.get("step") == expect_step and "r2" in m


def _check_same(run: Path, cfg: TrainConfig) -> None:
    from softfact.training.checkpoint import load_checkpoint
    saved = load_checkpoint(run)["config"]
    want = cfg.to_dict()
    diff = [f"{k}: {saved[k]!r} vs {v!r}" for k, v in want.items()
            if k not in _IGNORED and k in saved and saved[k] != v]
    if diff:
        raise ConfigError(f"{run} holds a run with other settings ({'; '.join(diff[:3])}); "
                          f"use another --out")


def _untrained(cfg: TrainConfig) -> None:
    """The encoder as train() initialises it for this seed, saved as a step-0 checkpoint."""
    from softfact.models import build_encoder
    from softfact.training.checkpoint import save_checkpoint
    torch.manual_seed(cfg.seed)
    model = build_encoder(cfg)
    save_checkpoint(RunFiles(cfg.out_dir).checkpoint, model=model, optimizer=None, step=0,
                    cfg=cfg, rng={})


def execute(name: str, cfg: TrainConfig) -> dict:
    """Train (or resume) and evaluate one run unless it is finished; -> its metrics.json."""
    from softfact.training import train
    from softfact.utils.lock import run_lock
    run, files = Path(cfg.out_dir), RunFiles(cfg.out_dir)
    expect = 0 if name == "untrained" else cfg.steps
    if files.checkpoint.exists():
        _check_same(run, cfg)
    if not _is_finished(run, expect):
        with run_lock(run):  # one writer per run folder, as for softfact train
            if cfg.threads > 0:
                torch.set_num_threads(cfg.threads)
            if name == "untrained":
                _untrained(cfg)
            else:
                ckpt = files.checkpoint
                done = ckpt.exists() and torch.load(ckpt, map_location="cpu", weights_only=True)["step"] >= cfg.steps
                if not done:
                    train(cfg, resume=ckpt.exists(), progress=False)
            Run.load(run).evaluate()
    return Run.load(run).metrics()


def collect(plan, out: Path, cfgs: dict, vary: str | None = None) -> list[dict]:
    from softfact.training.runlog import read_metrics
    rows = []
    for name, _, seed in plan:
        run = out / f"{name}-s{seed}"
        if not RunFiles(run).metrics.exists():
            continue
        cfg = cfgs[(name, seed)]
        m = Run.load(run).metrics()
        log = read_metrics(run)
        row = {"config": name, "seed": seed, "fact_weight": cfg.fact_weight if name != "untrained" else None,
               "use_jepa": cfg.use_jepa if name != "untrained" else None, **m}
        row["train_s"] = log[-1]["time"] if log else 0.0
        if vary and isinstance(getattr(cfg, vary), (int, float)) and not isinstance(getattr(cfg, vary), bool):
            row[vary] = getattr(cfg, vary)  # the swept value, as a column of the table and x of the plots
        rows.append(row)
    return rows


def write_outputs(rows: list[dict], out: Path, names: list[str], *, plot: bool = True,
                  vary: str | None = None) -> None:
    from softfact.metrics.summary import aggregate, markdown_table, metric_names, runs_csv
    agg = aggregate(rows, order=names)
    atomic_write(out / "sweep.csv", lambda tmp: Path(tmp).write_text(runs_csv(rows)))
    atomic_write(out / "sweep.md", lambda tmp: Path(tmp).write_text(markdown_table(agg)))
    metrics = [k for k in metric_names(rows) if k != "train_s"]
    if not plot or not agg or not metrics:
        return
    from softfact.plotting.sweep import plot_sweep, plot_tradeoff
    import matplotlib.pyplot as plt
    if vary:
        metrics = [k for k in metrics if k != vary]
        fig = plot_sweep(agg, metrics, weighted=names, ablations=[], x_key=vary)
    else:
        fig = plot_sweep(agg, metrics, weighted=[n for n in names if n.startswith("w")],
                         ablations=[n for n in names if not n.startswith("w")])
    atomic_write(out / "sweep.png", lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    plt.close(fig)
    if vary and all(k in metrics for k in ("analogy_top1", "additivity_err")):
        from softfact.evaluation.protocol import QUALITY_BAR
        fig = plot_tradeoff(agg, label_key=vary, bars=QUALITY_BAR)
        atomic_write(out / "tradeoff.png", lambda tmp: fig.savefig(tmp, format="png", dpi=90))
        plt.close(fig)


def parse(argv: list[str]):
    p = argparse.ArgumentParser(prog="softfact sweep", description=__doc__.split("\n")[0] +
                                " Other --key=value options override the training config of every run.")
    p.add_argument("--out", default="runs/sweep", help="folder of the runs and the summary")
    p.add_argument("--seeds", type=int, default=2, help="seeds per config (0..N-1)")
    p.add_argument("--weights", default=",".join(f"{w:g}" for w in DEFAULT_WEIGHTS),
                   help="factorization weights of the LeJEPA grid, comma-separated")
    p.add_argument("--configs", default="", help="run only these configs (e.g. w1,fact-only)")
    p.add_argument("--vary", default=None, metavar="KEY=V1,V2,...",
                   help="sweep this one config key instead of the LeJEPA grid (e.g. shared_weight=0,0.3,1)")
    p.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    p.add_argument("--config", default=None, help="YAML file of config keys for every run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    ns, rest = p.parse_known_args(argv)
    if ns.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {ns.seeds}")
    try:
        weights = [float(w) for w in ns.weights.split(",") if w.strip()]
    except ValueError:
        raise ConfigError(f"--weights must be comma-separated numbers, got {ns.weights!r}") from None
    if any(w < 0 for w in weights):
        raise ConfigError(f"--weights must be >= 0, got {ns.weights!r}")
    overrides = parse_overrides(rest)
    ns.vary = parse_vary(ns.vary) if ns.vary else None
    if ns.vary and ns.configs:
        raise ConfigError("--configs picks configs of the LeJEPA grid; with --vary list the values instead")
    if ns.vary and ns.vary[0] in overrides:
        raise ConfigError(f"--{ns.vary[0].replace('_', '-')} is set by --vary")
    for k in ("out_dir", "seed") if ns.vary else ("out_dir", "seed", "fact_weight", "use_jepa"):
        if k in overrides:
            raise ConfigError(f"--{k.replace('_', '-')} is set by the sweep; use --out, --seeds, "
                              f"--weights or --configs")
    names = [n.strip() for n in ns.configs.split(",") if n.strip()]
    return ns, weights, overrides, names


def main(argv: list[str]) -> int:
    ns, weights, overrides, names = parse(argv)
    out = Path(ns.out)
    vary = ns.vary[0] if ns.vary else None
    plan = vary_grid(*ns.vary, ns.seeds) if vary else grid(weights, ns.seeds, names or None)
    cfgs = {(n, s): run_config(n, k, s, out, preset=ns.preset, config_file=ns.config,
                               overrides=overrides) for n, k, s in plan}  # validate all first
    order = list(dict.fromkeys(n for n, _, _ in plan))
    t0 = time.perf_counter()
    bar = tqdm(plan, desc="sweep", unit="run", disable=ns.quiet, dynamic_ncols=True)
    for name, _, seed in bar:
        bar.set_postfix_str(f"{name}-s{seed}")
        execute(name, cfgs[(name, seed)])
        write_outputs(collect(plan, out, cfgs, vary), out, order, plot=False, vary=vary)  # partial table per run
    bar.close()
    write_outputs(collect(plan, out, cfgs, vary), out, order, vary=vary)
    print(f"sweep: {len(plan)} runs in {time.perf_counter() - t0:.0f} s; "
          f"table {out / 'sweep.md'}, plot {out / 'sweep.png'}")
    return 0
