"""Study: how much of the image does each encoder keep? Decoders, frozen and joint.

Cases (each trains with the ``softfact`` command in a subprocess, ``--threads 1``, at most
``--jobs`` at once, in ``--runs-dir``; a case whose run folder is complete is measured, not
retrained, so an interrupted study continues):

* ``frozen-cpu``: ``--preset cpu`` (the seed's loss alone), then ``softfact decoder RUN``;
* ``frozen-jepa``: the same with ``--use-jepa`` (LeJEPA's SIGReg on top);
* ``rae``: ``--preset rae``, encoder and decoder trained together;
* ``w<W>``: the rae recipe with ``recon_weight`` W (the trade-off; ``--weights``), and
  ``latent<D>``: the rae recipe at latent_dim D (``--latents``).

Each run is measured the same way: the seed's five cosine figures (its protocol, 500 blobs) and
``recon_f1`` by a local measurement until the shared metric lands: the decoder's probabilities
on 2,048 training anchors and their two shifted crops choose the threshold of best pixel F1
(pooled over all pixels), and F1 at that threshold is reported on 2,048 held-out anchors and
crops (other random draws; blobs have no split, MIDI runs use validation songs).

    python benchmarks/study_decoder.py --cases frozen-cpu,rae --steps 800
    python benchmarks/study_decoder.py --cases w0.3,w1,w3 --steps 800 --figure  # decoder_tradeoff.png
    python benchmarks/study_decoder.py --measure runs/a runs/b      # runs trained elsewhere

Results are appended to benchmarks/results/decoder.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import ROOT, RESULTS, append_result, machine_header, snapshot, table

import numpy as np
import torch

from softfact.data.triplets import sample_triplets
from softfact.evaluation import evaluate_encoder, meets_quality_bar
from softfact.run import Run

BAR_KEYS = ("cross_abs_cos", "same_sign_cos", "opposite_sign_cos", "angle_pitch_deg", "angle_time_deg")


def case_args(name: str, steps: int | None) -> tuple[list[str], bool]:
    """``softfact train`` arguments of a case, and whether it needs a frozen decoder after."""
    more = ["--steps", str(steps)] if steps else []
    if name == "frozen-cpu":
        return ["--preset", "cpu", *more], True
    if name == "frozen-jepa":
        return ["--preset", "cpu", "--use-jepa", *more], True
    if name == "rae":
        return ["--preset", "rae", *more], False
    if name.startswith("w"):
        return ["--preset", "rae", "--recon-weight", name[1:], *more], False
    if name.startswith("latent"):
        return ["--preset", "rae", "--latent-dim", name[6:], *more], False
    raise SystemExit(f"unknown case {name!r}")


def train_case(name: str, runs: Path, steps: int | None, decoder_steps: int | None) -> dict:
    """Train (or reuse) one case's run; returns its folder and timings."""
    out = runs / name
    args, frozen = case_args(name, steps)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "softfact"]
    timing_file = out / "study_timing.json"
    timing = json.loads(timing_file.read_text()) if timing_file.exists() else {}
    if "train_s" not in timing:
        t = time.perf_counter()
        resume = ["--resume"] if (out / "checkpoint.pt").exists() else []
        subprocess.run(cmd + ["train", *args, "--threads", "1", "--device", "cpu", "--quiet",
                              "--out-dir", str(out), *resume], check=True, env=env)
        timing["train_s"] = round(time.perf_counter() - t, 1)
        timing["train_cmd"] = "softfact train " + " ".join(args) + " --threads 1"
        timing_file.write_text(json.dumps(timing))
    if frozen and "decoder_s" not in timing:
        dargs = ["--steps", str(decoder_steps)] if decoder_steps else []
        resume = ["--resume"] if (out / "decoder.pt").exists() else []
        t = time.perf_counter()
        subprocess.run(cmd + ["decoder", str(out), *dargs, "--threads", "1", "--quiet", *resume],
                       check=True, env=env)
        timing["decoder_s"] = round(time.perf_counter() - t, 1)
        timing["decoder_cmd"] = "softfact decoder RUN " + " ".join(dargs) + " --threads 1"
        timing_file.write_text(json.dumps(timing))
    return {"name": name, "out": out, **timing}


@torch.no_grad()
def decoded_probabilities(run: Run, split: str, n: int, seed: int):
    """(probabilities, images) of n anchors and their two shifted crops of ``split``."""
    cfg, probs, images = run.config, [], []
    g = torch.Generator().manual_seed(seed)
    for lo in range(0, n, 512):
        b = sample_triplets(run.source(split), min(512, n - lo), max_shift=cfg.max_shift,
                            generator=g, wrap=cfg.wrap)
        x = torch.cat([b.anchor, b.crop1, b.crop2]).float()
        probs.append(torch.sigmoid(run.decoder(run.encoder(x))).flatten().numpy())
        images.append(x.flatten().numpy() > 0.5)
    return np.concatenate(probs), np.concatenate(images)


def f1_at(p: np.ndarray, y: np.ndarray, t: float) -> float:
    pred = p > t
    tp = float(np.sum(pred & y))
    return 2 * tp / max(1.0, float(pred.sum() + y.sum()))


def recon_f1(run: Run, n: int = 2048) -> tuple[float, float]:
    """(F1 on held-out images at the threshold best on training images, that threshold)."""
    p, y = decoded_probabilities(run, "train", n, seed=1)
    thresholds = np.linspace(0.05, 0.95, 19)
    best = max(thresholds, key=lambda t: f1_at(p, y, t))
    pv, yv = decoded_probabilities(run, "val", n, seed=2)
    return f1_at(pv, yv, best), float(best)


def measure(info: dict) -> dict:
    run = Run.load(info["out"])
    cfg = run.config
    m, _ = evaluate_encoder(run.encoder, run.source("val"), n=cfg.eval_blobs,
                            max_shift=cfg.max_shift, wrap=cfg.wrap)
    f1, thr = recon_f1(run)
    passed = meets_quality_bar(m)
    return {"case": info["name"], "steps": run.step, "latent_dim": cfg.latent_dim,
            "encoder": f"{cfg.encoder}" + (f" w{cfg.width} d{cfg.depth}" if cfg.encoder == "conv" else ""),
            "recon_weight": cfg.recon_weight, "recon_f1": f1, "threshold": thr,
            **{k: m[k] for k in BAR_KEYS}, "bars met": f"{sum(passed.values())}/5",
            "train_s": info.get("train_s", ""), "decoder_s": info.get("decoder_s", ""),
            "commands": "; ".join(v for k, v in info.items() if k.endswith("_cmd"))}


def tradeoff_figure(rows: list[dict], path: Path) -> Path:
    """recon F1 and the seed's cosine figures against recon_weight, one line per latent_dim."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    panels = [("recon_f1", "recon F1 (held out)", 0.95, 1), ("cross_abs_cos", "cross-type |cos|", 0.13, 1),
              ("opposite_sign_cos", "opposite-sign cos", -0.87, 1),
              ("angle_pitch_deg", "sign-probe angle, pitch (deg)", 160, 1)]
    for dim in sorted({r["latent_dim"] for r in rows}):
        sel = sorted((r for r in rows if r["latent_dim"] == dim), key=lambda r: r["recon_weight"])
        w = [max(r["recon_weight"], 0.1) for r in sel]
        for ax, (key, label, bar, _) in zip(axes, panels):
            ax.plot(w, [r[key] for r in sel], "o-", label=f"latent {dim}")
    for ax, (key, label, bar, _) in zip(axes, panels):
        ax.axhline(bar, ls=":", c="gray")
        ax.set(xscale="log", xlabel="recon_weight (0 = frozen decoder, drawn at 0.1)", ylabel=label)
        ax.legend(fontsize=7)
    fig.suptitle("Decoders on the toy (800 training steps; dotted: the target bars)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default="frozen-cpu,rae")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the preset's)")
    p.add_argument("--decoder-steps", type=int, default=None, help="frozen decoders' steps")
    p.add_argument("--runs-dir", default=str(ROOT / "runs" / "study_decoder"))
    p.add_argument("--jobs", type=int, default=2, help="runs at once (1 thread each)")
    p.add_argument("--figure", action="store_true",
                   help="draw the recon_weight trade-off of the measured cases")
    p.add_argument("--measure", nargs="*", default=None, metavar="RUN",
                   help="only measure these existing run folders (no training)")
    p.add_argument("--note", default="", help="a line stating the load and anything unusual")
    ns = p.parse_args()
    start = snapshot()
    runs = Path(ns.runs_dir)
    names = [c.strip() for c in ns.cases.split(",") if c.strip()]
    if ns.measure is not None:
        infos = [{"name": Path(r).name, "out": Path(r)} for r in ns.measure]
    else:
        with ThreadPoolExecutor(max_workers=ns.jobs) as pool:
            infos = list(pool.map(lambda c: train_case(c, runs, ns.steps, ns.decoder_steps), names))
    torch.set_num_threads(1)
    rows = [measure(i) for i in infos]
    header = list(rows[0])
    text = machine_header("Decoders: recon F1 against the seed's cosine figures",
                          {"cases": " ".join(ns.measure) if ns.measure is not None else ns.cases,
                           "note": ns.note or "-"}, start)
    text += "\n" + table(header, [[r[k] for k in header] for r in rows])
    if ns.figure:
        fig = tradeoff_figure(rows, RESULTS / "decoder_tradeoff.png")
        text += f"\n![trade-off]({fig.name})\n"
    print(text)
    print(append_result("decoder", text))


if __name__ == "__main__":
    main()
