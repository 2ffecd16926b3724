"""Study: does zero fill cause the sign gap?

The seed measures the mean +s and -s difference vectors 162.8 / 163.2 degrees apart (180 would
be perfect anti-parallelism) and blames ``shift_no_wrap``'s zero fill: a shift loses the
pixels it pushes out, so +s and -s lose different content. Test it by training the same recipe
twice per seed, once with the seed's zero-filled shifts and once with wrap-around shifts
(``torch.roll``, ``--wrap``: nothing is lost), and measuring the gap three ways:

* the seed's sign probe and opposite-sign cosine, each model under its own shift rule;
* the same probe on blank-border images (content at least max_shift pixels from every edge),
  where zero fill and wrap-around are the same image: a gap that remains there is the
  encoder's, not the padding's;
* per magnitude s = 1..max_shift, the angle between mean d(+s) and mean d(-s) on a shift grid.

    python benchmarks/study_sign_gap.py                  # 2 seeds x 2 variants, --preset cpu
    python benchmarks/study_sign_gap.py --steps 1500 --seeds 1

Results are appended to benchmarks/results/sign_gap.md.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import append_result, machine_header, snapshot, table

import numpy as np
import torch

from softfact.evaluation.grid import encode_shift_grid
from softfact.config import resolve
from softfact.data.blobs import BlobSource
from softfact.evaluation import evaluate_encoder
from softfact.metrics import differences, empty_border_source, sign_angles
from softfact.run import Run
from softfact.training import train

VARIANTS = {"zero fill (seed)": False, "wrap-around": True}


def measure(model, *, wrap: bool, max_shift: int, seed: int = 0) -> dict:
    src = BlobSource()
    full, _ = evaluate_encoder(model, src, n=500, max_shift=max_shift, seed=seed, wrap=wrap)
    blank, _ = evaluate_encoder(model, empty_border_source(src, max_shift), n=500,
                                max_shift=max_shift, seed=seed, wrap=wrap)
    grid = encode_shift_grid(model, src, n_images=200, max_shift=max_shift, wrap=wrap,
                             generator=torch.Generator().manual_seed(seed + 1))
    per_s = sign_angles(differences(grid.z.astype(np.float64)))
    return {"full": full, "blank": blank, "per_s": per_s}


def run(steps: int, seeds: int, preset: str, threads: int) -> str:
    start = snapshot()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in range(seeds):
            for name, wrap in VARIANTS.items():
                cfg = resolve(preset, overrides={"steps": steps, "seed": s, "wrap": wrap,
                                                 "threads": threads, "device": "cpu",
                                                 "out_dir": str(Path(tmp) / f"{int(wrap)}-{s}")})
                t = time.perf_counter()
                train(cfg, progress=False)
                train_s = time.perf_counter() - t
                model = Run.load(cfg.out_dir).encoder
                r = measure(model, wrap=wrap, max_shift=cfg.max_shift)
                f, b, p = r["full"], r["blank"], r["per_s"]
                rows.append([name, s, f"{train_s:.0f}",
                             f"{f['angle_pitch_deg']:.1f} / {f['angle_time_deg']:.1f}",
                             f"{f['opposite_sign_cos']:.3f}", f"{f['same_sign_cos']:.3f}",
                             f"{f['cross_abs_cos']:.3f}",
                             f"{b['angle_pitch_deg']:.1f} / {b['angle_time_deg']:.1f}",
                             f"{b['opposite_sign_cos']:.3f}",
                             " ".join(f"{a:.0f}" for a in p["pitch_angle_deg"]) + " / "
                             + " ".join(f"{a:.0f}" for a in p["time_angle_deg"])])
                print(" | ".join(str(x) for x in rows[-1]), flush=True)
    text = machine_header("sign gap: zero fill vs wrap-around", {
        "recipe": f"--preset {preset} --steps {steps}, {threads} torch thread(s), seeds 0..{seeds - 1}",
        "probe": "the seed's protocol (500 images), each model under its own shift rule"}, start=start)
    text += "\n" + table(["variant", "seed", "train (s)", "angles pitch / time (deg)",
                          "opposite-sign cos", "same-sign cos", "cross abs cos",
                          "blank-border angles (deg)", "blank-border opposite cos",
                          "angle per s = 1..m, pitch / time (deg)"], rows)
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ns = p.parse_args(argv)
    text = run(ns.steps, ns.seeds, ns.preset, ns.threads)
    print(text)
    print("appended to", append_result("sign_gap", text))


if __name__ == "__main__":
    main()
