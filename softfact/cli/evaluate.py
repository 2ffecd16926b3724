"""``softfact evaluate RUN``: the seed's protocol and the grid metrics, beside the seed."""
from __future__ import annotations

import argparse

from softfact.cli.common import add_run_settings, run_settings


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="softfact evaluate",
                                description="Seed protocol metrics of a run, beside the seed's figures.")
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("--n", type=int, default=None, help="images per probe (default: the run's eval_blobs)")
    p.add_argument("--seed", type=int, default=0)
    add_run_settings(p)
    ns = p.parse_args(argv)
    from softfact.evaluation import format_table
    from softfact.run import Run
    run = Run.load(ns.run, **run_settings(ns))
    ev = run.evaluate(n=ns.n, seed=ns.seed)
    print(format_table(ev.metrics, data=run.config.data))
    print(f"written: {run.files.metrics}")
    return 0
