"""What every command shares: the training config from the command line, rank checks."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from softfact.config import PRESETS, RUN_KEYS, apply, from_dict, parse_overrides, resolve
from softfact.training.checkpoint import load_checkpoint


def train_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description="Train an encoder. Any config key can be set as --key=value "
        "(e.g. --lr=1e-3 --steps 2000 --use-jepa --data midi --midi-dir PATH).")
    p.add_argument("--config", help="YAML file of config keys")
    p.add_argument("--preset", default="seed", choices=sorted(PRESETS),
                   help="seed: the notebook's settings (default); cpu: the fast laptop recipe; "
                        "ops: cpu + the latent-arithmetic loss; rae: cpu + a jointly trained decoder")
    p.add_argument("--resume", nargs="?", const=True, default=False, metavar="RUN_DIR",
                   help="continue the run in --out-dir (or RUN_DIR) from its checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def resolve_train(argv: list[str], prog: str, parser: argparse.ArgumentParser | None = None):
    """Command line -> (TrainConfig, resume?, parsed namespace)."""
    p = parser or train_parser(prog)
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


def is_main_process() -> bool:
    """Under torchrun only rank 0 prints, evaluates and reports."""
    return os.environ.get("RANK", "0") == "0"


def add_run_settings(p: argparse.ArgumentParser) -> None:
    """``--midi-dir PATH`` etc.: the settings of ``RUN_KEYS`` a finished run may be pointed at
    anew (a moved corpus, another cache, more or fewer evaluation images, another device)."""
    for key in RUN_KEYS:
        p.add_argument("--" + key.replace("_", "-"), dest=key, default=None, metavar="VALUE",
                       help=f"use this {key} instead of the run's own")


def run_settings(ns: argparse.Namespace) -> dict:
    """The ``RUN_KEYS`` options given on the command line, for ``Run.load(path, **settings)``."""
    return {k: getattr(ns, k) for k in RUN_KEYS if getattr(ns, k, None) is not None}
