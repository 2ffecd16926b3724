"""The ``softfact`` command: train, evaluate, report, run (all three), sweep."""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from softfact.config import PRESETS, apply, from_dict, parse_overrides, resolve
from softfact.training.checkpoint import load_checkpoint


def _train_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description="Train an encoder. Any config key can be set as --key=value "
        "(e.g. --lr=1e-3 --steps 2000 --use-jepa --data midi --midi-dir PATH).")
    p.add_argument("--config", help="YAML file of config keys")
    p.add_argument("--preset", default="seed", choices=sorted(PRESETS),
                   help="seed: the notebook's settings (default); cpu: the fast laptop recipe")
    p.add_argument("--resume", nargs="?", const=True, default=False, metavar="RUN_DIR",
                   help="continue the run in --out-dir (or RUN_DIR) from its checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _resolve_train(argv: list[str], prog: str):
    p = _train_parser(prog)
    ns, rest = p.parse_known_args(argv)
    overrides = parse_overrides(rest)
    if ns.resume:
        run = Path(ns.resume) if isinstance(ns.resume, str) else None
        if run is None:
            run = Path(resolve(ns.preset, ns.config, overrides).out_dir)
        state = load_checkpoint(run)
        cfg = apply(from_dict(state["config"]), {**overrides, "out_dir": str(run)}).validate()
        return cfg, True, ns
    return resolve(ns.preset, ns.config, overrides), False, ns


def _is_main_process() -> bool:
    """Under torchrun only rank 0 prints, evaluates and reports."""
    return os.environ.get("RANK", "0") == "0"


def cmd_train(argv: list[str]) -> int:
    from softfact.training import train
    cfg, resume, ns = _resolve_train(argv, "softfact train")
    out = train(cfg, resume=resume, progress=not ns.quiet)
    if _is_main_process():
        print(f"checkpoint: {out / 'checkpoint.pt'}")
    return 0


def cmd_evaluate(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="softfact evaluate",
                                description="Seed protocol metrics of a run, beside the seed's figures.")
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("--n", type=int, default=None, help="images per probe (default: the run's eval_blobs)")
    p.add_argument("--seed", type=int, default=0)
    ns = p.parse_args(argv)
    from softfact.evaluation import format_table
    from softfact.pipeline import evaluate_run, run_dir_of
    metrics = evaluate_run(ns.run, n=ns.n, seed=ns.seed)[0]
    print(format_table(metrics))
    print(f"written: {run_dir_of(ns.run) / 'metrics.json'}")
    return 0


def cmd_report(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="softfact report",
                                description="Every analysis of a run as one HTML page.")
    p.add_argument("run", help="run folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-umap", action="store_true", help="skip the UMAP figures (slowest part)")
    ns = p.parse_args(argv)
    from softfact.report import build_report
    page = build_report(ns.run, seed=ns.seed, umap=not ns.no_umap)
    print(f"report: {page}")
    return 0


def cmd_run(argv: list[str]) -> int:
    """Train, evaluate and write the report: the main job."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--no-report", action="store_true")
    p.add_argument("--no-umap", action="store_true")
    ns, rest = p.parse_known_args(argv)
    from softfact.training import train
    cfg, resume, tns = _resolve_train(rest, "softfact run")
    out = train(cfg, resume=resume, progress=not tns.quiet)
    if not _is_main_process():
        return 0
    if ns.no_report:
        return cmd_evaluate([str(out)])
    import json
    from softfact.evaluation import format_table
    from softfact.report import build_report
    page = build_report(out, umap=not ns.no_umap)  # evaluates once, for the table and the page
    print(format_table(json.loads((out / "metrics.json").read_text())))
    print(f"written: {out / 'metrics.json'}\nreport: {page}")
    return 0


def cmd_sweep(argv: list[str]) -> int:
    from softfact.sweep import main as sweep_main
    return sweep_main(argv)


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "report": cmd_report,
            "run": cmd_run, "sweep": cmd_sweep}


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"softfact: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    warnings.formatwarning = _one_line_warning  # skipped MIDI files: one line each
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: softfact {train,evaluate,report,run,sweep} [options]\n"
              "  run       train, evaluate and write the HTML report (the main job)\n"
              "  train     train an encoder (config file, presets, --key=value overrides)\n"
              "  evaluate  the seed's metrics of a run, beside the published figures\n"
              "  report    every figure of the seed for a run, in one HTML page\n"
              "  sweep     grids of configs x seeds, with a table and plots")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    try:
        return COMMANDS[argv[0]](argv[1:])
    except Exception as e:
        # softfact's own errors (bad config, checkpoint, MIDI folder, diverged loss) are
        # one-line messages for the user; anything else is a bug and keeps its traceback
        if not (type(e).__module__.startswith("softfact") or isinstance(e, FileNotFoundError)):
            raise
        print(f"softfact: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("softfact: interrupted; the last checkpoint is intact", file=sys.stderr)
        return 130
