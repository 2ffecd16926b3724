"""``softfact export RUN``: portable weights (safetensors), config.json and a model card."""
from __future__ import annotations

import argparse


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="softfact export",
        description="Write model.safetensors, config.json and a model card (README.md) of a run "
                    "into RUN/export/ (or --out DIR); softfact.Run.load opens that folder too.")
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("--out", default=None, help="folder to write (default: RUN/export)")
    ns = p.parse_args(argv)
    from softfact.run import Run
    from softfact.training.export import write_export
    run = Run.load(ns.run)
    out = write_export(ns.out or run.files.export_dir, state=run.state, metrics=run.metrics())
    print(f"exported: {out}")
    return 0
