"""Time and peak memory of every analysis at the seed's sizes and at 10x the points.

Run on demand:  python benchmarks/bench_analysis.py --run RUN_DIR [--scales 1,10] [--skip CASES]
Each case runs in a fresh process (so peaks do not mix); results are appended to
benchmarks/results/analysis.md with the machine, date and git commit. Peak memory is the rise
of the process's maximum resident set size during the case (torch's allocations included) and
tracemalloc's peak (NumPy and Python allocations only).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "analysis.md"

# case -> (description, size at scale s); seed sizes: 500 probe images, 50 x 81 SVD grid
# points, 200 x 81 = 16,200 kernel-PCA / UMAP points
CASES = {
    "probes": ("evaluate_encoder (cosines, sign probe, PCA)", lambda s: f"{500 * s:,} images"),
    "encode_grid": ("shift grid, one batched encode", lambda s: f"{16200 * s:,} images"),
    "grid_svd": ("SVD spectra of shift grids", lambda s: f"{50 * s} grids x 81"),
    "kpca": ("RBF kernel PCA, auto (Nystroem 1,000 landmarks past 6,000)", lambda s: f"{16200 * s:,} points"),
    "kpca_exact_6000": ("kernel PCA exact (ARPACK)", lambda s: "6,000 points"),
    "kpca_randomized_6000": ("kernel PCA, sklearn randomized solver", lambda s: "6,000 points"),
    "kpca_nystroem_6000": ("kernel PCA, Nystroem 1,000 landmarks", lambda s: "6,000 points"),
    "kpca_exact_16200": ("kernel PCA exact (ARPACK), full kernel", lambda s: "16,200 points"),
    "kpca_randomized_16200": ("kernel PCA, sklearn randomized solver", lambda s: "16,200 points"),
    "umap": ("UMAP 2-D + 3-D (shared exact kNN)", lambda s: f"{16200 * s:,} points"),
    "figures": ("all figures drawn (PNG) + 3-D HTML", lambda s: f"{16200 * s:,} points"),
    "report": ("softfact report end to end (evaluate + all analyses + page)", lambda s: "run's sizes"),
    # a run's own sizes (--run): what `softfact evaluate` does, capped (now) and uncapped (before)
    "evaluate": ("Run.evaluate: protocol + grid (capped at 50,000 points) + metrics", lambda s: "run's sizes"),
    "evaluate_uncapped": ("Run.evaluate without the grid cap (the code before the caps)", lambda s: "run's sizes"),
    "umap_capped": ("UMAP 2-D + 3-D of the points capped at 16,200 by (dy, dx) cell", lambda s: f"{16200 * s:,} points"),
}
ONLY_SEED = {"kpca_exact_6000", "kpca_randomized_6000", "kpca_nystroem_6000",
             "kpca_exact_16200", "kpca_randomized_16200", "report", "evaluate",
             "evaluate_uncapped"}


def _status_mb(key: str) -> float | None:
    try:
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's high-water mark of resident memory (Linux: clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _prepare(case: str, scale: int, run: str | None):
    """Everything a case needs that is not part of what it measures -> a zero-arg callable."""
    import numpy as np
    import torch

    from softfact.analysis import RBFKernelPCA, encode_shift_grid, grid_svd, umap_embeddings
    from softfact.config import TrainConfig
    from softfact.data.sources import build_image_source
    from softfact.models import ToyEncoder
    from softfact.evaluation import evaluate_encoder

    if run:
        from softfact.run import Run
        loaded = Run.load(run)
        model, cfg = loaded.encoder, loaded.config
    else:
        torch.manual_seed(0)
        model, cfg = ToyEncoder().eval(), TrainConfig()
    source = build_image_source(cfg, "val")
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731

    def points(n_images):
        return encode_shift_grid(model, source, n_images=n_images, generator=g()).points()

    if case == "probes":
        return lambda: evaluate_encoder(model, source, n=500 * scale, max_shift=4)
    if case == "encode_grid":
        return lambda: encode_shift_grid(model, source, n_images=200 * scale, generator=g())
    if case == "grid_svd":
        grid = encode_shift_grid(model, source, n_images=50 * scale, generator=g())
        return lambda: grid_svd(grid)
    if case == "umap":
        X = points(200 * scale)[0]
        return lambda: umap_embeddings(X, dims=(2, 3))
    if case.startswith("kpca"):
        if case == "kpca":
            X = points(200 * scale)[0]
            return lambda: RBFKernelPCA(4).fit(X)
        X = points(200)[0]
        if case.endswith("_6000"):
            X = X[np.random.default_rng(0).choice(len(X), 6000, replace=False)]
        if case.startswith("kpca_exact"):
            return lambda: RBFKernelPCA(4, method="exact").fit(X)
        if case == "kpca_nystroem_6000":
            return lambda: RBFKernelPCA(4, method="nystroem").fit(X)
        from sklearn.decomposition import KernelPCA
        return lambda: KernelPCA(4, kernel="rbf", gamma=1.0, eigen_solver="randomized",
                                 random_state=0).fit(X)
    if case == "figures":
        return _prepare_figures(model, source, cfg, scale, run)
    if case in ("evaluate", "evaluate_uncapped"):
        if not run:
            raise SystemExit(f"case {case!r} needs --run RUN_DIR")
        from softfact.metrics import evaluate
        cap = {} if case == "evaluate" else {"max_grid_points": None}
        return lambda: evaluate(model, source, max_shift=cfg.max_shift, wrap=cfg.wrap,
                                n_probe=cfg.eval_blobs, n_grid=cfg.metric_images, **cap)
    if case == "umap_capped":
        from softfact.evaluation.sampling import stratified_points
        X, dy, dx = points(200 * scale)
        return lambda: umap_embeddings(X[stratified_points(dy, dx)], dims=(2, 3))
    if case == "report":
        if not run:
            raise SystemExit("case 'report' needs --run RUN_DIR")
        tmp = Path(tempfile.mkdtemp()) / "run"
        shutil.copytree(run, tmp)
        from softfact.report import build_report
        return lambda: build_report(tmp)
    raise SystemExit(f"unknown case {case}")


def _prepare_figures(model, source, cfg, scale, run):
    import numpy as np
    import torch

    from softfact.analysis import analyse
    from softfact.data.triplets import sample_triplets
    from softfact.plotting import (plot_cosine_cross, plot_kernel_pca, plot_loss_curve,
                                   plot_svd_spectra, plot_triplets, plot_umap2d, save_figure,
                                   write_umap3d_html)
    from softfact.training.runlog import read_metrics

    a = analyse(model, source, max_shift=4, n_points_images=200 * scale, umap=False)
    rng = np.random.default_rng(0)
    n = len(a.points_dy)
    u2, u3 = rng.normal(size=(n, 2)), rng.normal(size=(n, 3))
    rows = read_metrics(run) if run else [{"step": i, "loss": 1 / (i + 1)} for i in range(5000)]
    batch = sample_triplets(source, 8, max_shift=cfg.max_shift, generator=torch.Generator())
    out = Path(tempfile.mkdtemp())

    def draw():
        save_figure(plot_triplets(batch), out / "t.png")
        save_figure(plot_loss_curve(rows), out / "l.png")
        save_figure(plot_cosine_cross(a.cross, a.cosines), out / "c.png")
        save_figure(plot_svd_spectra(a.svd), out / "s.png")
        save_figure(plot_kernel_pca(a.kpca, dy=a.points_dy, dx=a.points_dx), out / "k.png")
        save_figure(plot_umap2d(u2, dy=a.points_dy, dx=a.points_dx), out / "u.png")
        write_umap3d_html(u3, dy=a.points_dy, dx=a.points_dx, out_dir=out)
    return draw


def run_case(case: str, scale: int, run: str | None) -> dict:
    fn = _prepare(case, scale, run)
    base = _status_mb("VmRSS")
    if not _reset_peak() or base is None:  # no per-case high-water mark: process-wide peak
        base = 0.0
    tracemalloc.start()
    t = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    peak = _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rss_rise_mb": max(0.0, peak - base), "peak_rss_mb": peak,
            "traced_mb": traced}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), Python {platform.python_version()}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="trained run folder (realistic embeddings; needed by 'report')")
    p.add_argument("--scales", default="1,10")
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--skip", default="", help="cases to leave out, e.g. umap@10")
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--scale", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--no-write", action="store_true", help="print only")
    ns = p.parse_args(argv)
    if ns.case:  # child process: one measurement, as JSON on the last line
        print(json.dumps(run_case(ns.case, ns.scale, ns.run)))
        return 0
    skip = set(filter(None, ns.skip.split(",")))
    load_start = os.getloadavg()[0]
    rows = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for scale in map(int, ns.scales.split(",")):
        for case in ns.cases.split(","):
            if (scale != 1 and case in ONLY_SEED) or case in skip or f"{case}@{scale}" in skip:
                continue
            cmd = [sys.executable, __file__, "--case", case, "--scale", str(scale)]
            cmd += ["--run", ns.run] if ns.run else []
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                print(f"{case}@{scale} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            desc, size = CASES[case]
            rows.append(f"| {case} | {desc} | {size(scale)} | {r['seconds']:.1f} | "
                        f"{r['rss_rise_mb']:.0f} | {r['traced_mb']:.0f} |")
            print(rows[-1], flush=True)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    head = (f"\n## {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}\n\n"
            f"Machine: {machine()}; load average (1 min) {load_start:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end; "
            f"embeddings from {'run ' + Path(ns.run).name if ns.run else 'an untrained ToyEncoder'}.\n\n"
            "| case | what | size | time (s) | peak RSS rise (MB) | tracemalloc peak (MB) |\n"
            "|---|---|---|---|---|---|\n")
    text = head + "\n".join(rows) + "\n"
    if not ns.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        if not RESULTS.exists():
            RESULTS.write_text("# Analysis benchmarks\n\nWritten by `benchmarks/bench_analysis.py`; "
                               "newest at the bottom.\n")
        with open(RESULTS, "a") as f:
            f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
