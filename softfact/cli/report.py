"""``softfact report RUN``: every analysis of a run as one HTML page."""
from __future__ import annotations

import argparse


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="softfact report",
                                description="Every analysis of a run as one HTML page.")
    p.add_argument("run", help="run folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-umap", action="store_true", help="skip the UMAP figures (slowest part)")
    ns = p.parse_args(argv)
    from softfact.report import build_report
    page = build_report(ns.run, seed=ns.seed, umap=not ns.no_umap, progress=True)
    print(f"report: {page}")
    return 0
