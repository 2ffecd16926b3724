"""``softfact report RUN``: every analysis of a run as one HTML page."""
from __future__ import annotations

import argparse


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="softfact report",
                                description="Every analysis of a run as one HTML page.")
    p.add_argument("run", help="run folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-umap", action="store_true", help="skip the UMAP figures (slowest part)")
    p.add_argument("--soundfont", metavar="PATH",
                   help="a .sf2/.sf3 file: render the report's MIDI files as .wav too")
    ns = p.parse_args(argv)
    from softfact.report import build_report
    page = build_report(ns.run, seed=ns.seed, umap=not ns.no_umap, soundfont=ns.soundfont)
    print(f"report: {page}")
    return 0
