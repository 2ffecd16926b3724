"""``softfact report RUN``: every analysis of a run as one HTML page."""
from __future__ import annotations

import argparse

from softfact.cli.common import add_run_settings, run_settings


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="softfact report",
                                description="Every analysis of a run as one HTML page.")
    p.add_argument("run", help="run folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--no-umap", action="store_true", help="skip the UMAP figures (slowest part)")
    p.add_argument("--soundfont", metavar="PATH",
                   help="a .sf2/.sf3 file: render the report's MIDI files as .wav too")
    add_run_settings(p)
    ns = p.parse_args(argv)
    from softfact.report import build_report
    from softfact.run import Run
    from softfact.utils.io import clear_stale_temps
    from softfact.utils.lock import run_lock
    if ns.soundfont:  # a bad SoundFont fails first, before any work
        from softfact.data.midi_write import WavRenderer
        ns.soundfont = WavRenderer(ns.soundfont)
    run = Run.load(ns.run, **run_settings(ns))  # names ns.run if it is no run; never falls back to another folder
    run.metrics()  # a damaged metrics.json stops here, before minutes of analysis
    with run_lock(run.root):
        clear_stale_temps(run.root)  # left by a report or training killed mid-write
        page = build_report(run, seed=ns.seed, umap=not ns.no_umap, soundfont=ns.soundfont,
                            progress=not ns.quiet)
    print(f"report: {page}")
    return 0
