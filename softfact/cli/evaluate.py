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
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_run_settings(p)
    ns = p.parse_args(argv)
    from softfact.evaluation import format_table
    from softfact.run import Run
    from softfact.utils import lock
    from softfact.utils.io import StorageError
    run = Run.load(ns.run, **run_settings(ns))
    run.metrics()  # a damaged metrics.json stops here, before the evaluation
    try:
        lock.acquire(run.root)
        held = True
    except StorageError:  # a read-only run: evaluate and print anyway, then fail to write
        held = False
    try:
        ev = run.evaluate(n=ns.n, seed=ns.seed, write=False, progress=not ns.quiet)
        print(format_table(ev.metrics, data=run.config.data), flush=True)
        try:
            run.write_metrics(ev.metrics)
        except StorageError as e:
            raise StorageError(e.errno, f"{e.strerror}; the metrics printed above were not "
                                        f"saved") from None
    finally:
        if held:
            lock.release(run.root)
    print(f"written: {run.files.metrics}")
    return 0
