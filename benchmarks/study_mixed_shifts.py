"""Study: do mixed (diagonal) shifts with continuous targets help additivity and analogies?

The continuous target cos((dy1, dx1), (dy2, dx2)) equals the seed's +1 / -1 / 0 on its three
schemes and also covers crops shifted along both axes (scheme ``mixed``). Train the seed's
triplets with the seed's schemes and with ``mixed`` added, same recipe and seeds, and compare
the shift-grid metrics (``softfact.metrics``) and the seed's protocol.

    python benchmarks/study_mixed_shifts.py              # 2 seeds x 2 variants
    python benchmarks/study_mixed_shifts.py --steps 1000 --seeds 1

Results are appended to benchmarks/results/mixed_shifts.md.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import append_result, machine_header, snapshot, table

import numpy as np

from softfact.config import resolve
from softfact.run import Run
from softfact.training import train

VARIANTS = {"seed schemes": "pitch,time,cross", "+ mixed": "pitch,time,cross,mixed"}
# the CPU preset's schedule with the seed's triplets (crops: 2, which the schemes apply to)
TRIPLETS = {"crops": 2, "antithetic": False, "batch_size": 256}
KEYS = ["additivity_err", "analogy_top1", "analogy_mrr", "r2", "factor_acc", "mig",
        "dci_disentanglement", "cross_abs_cos", "same_sign_cos", "opposite_sign_cos",
        "angle_pitch_deg", "angle_time_deg"]


def run(steps: int, seeds: int, threads: int) -> str:
    start = snapshot()
    per = {name: [] for name in VARIANTS}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in range(seeds):
            for name, schemes in VARIANTS.items():
                cfg = resolve("cpu", overrides={**TRIPLETS, "steps": steps, "seed": s,
                                                "schemes": schemes, "threads": threads,
                                                "device": "cpu",
                                                "out_dir": str(Path(tmp) / f"{len(per[name])}-{name}")})
                t = time.perf_counter()
                train(cfg, progress=False)
                train_s = time.perf_counter() - t
                m = Run.load(cfg.out_dir).evaluate().metrics
                per[name].append([m[k] for k in KEYS])
                rows.append([name, s, f"{train_s:.0f}"] + [f"{m[k]:.3f}" for k in KEYS])
                print(" | ".join(str(x) for x in rows[-1]), flush=True)
    summary = []
    for name, vals in per.items():
        v = np.array(vals)
        summary.append([name, len(vals)] + [f"{a:.3f} ± {b:.3f}" for a, b in zip(v.mean(0), v.std(0))])
    text = machine_header("mixed shifts: seed schemes vs + mixed", {
        "recipe": f"--preset cpu --crops 2 --batch-size 256 --steps {steps}, "
                  f"{threads} torch thread(s), seeds 0..{seeds - 1}",
        "metrics": "softfact evaluate (200 validation images x 81 shifts; seed protocol 500 images)"},
        start=start)
    text += "\n" + table(["variant", "seed", "train (s)"] + KEYS, rows)
    text += "\nMean ± std over seeds:\n\n" + table(["variant", "runs"] + KEYS, summary)
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ns = p.parse_args(argv)
    text = run(ns.steps, ns.seeds, ns.threads)
    print(text)
    print("appended to", append_result("mixed_shifts", text))


if __name__ == "__main__":
    main()
