"""``softfact evaluate RUN``: the seed's protocol and the grid metrics, beside the seed."""
from __future__ import annotations

import argparse


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="softfact evaluate",
                                description="Seed protocol metrics of a run, beside the seed's figures.")
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("--n", type=int, default=None, help="images per probe (default: the run's eval_blobs)")
    p.add_argument("--seed", type=int, default=0)
    ns = p.parse_args(argv)
    from softfact.evaluation import format_table
    from softfact.run import Run
    run = Run.load(ns.run)
    ev = run.evaluate(n=ns.n, seed=ns.seed, progress=True)
    print(format_table(ev.metrics))
    print(f"written: {run.files.metrics}")
    return 0
