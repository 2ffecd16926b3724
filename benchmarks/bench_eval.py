"""(d) Evaluation and analysis time: the seed's one-image-at-a-time protocol vs softfact's
batched ``evaluate_encoder``, the seed's per-image encoding of the analysis grids vs one
batched ``encode``, and softfact's whole report (``softfact.report.build_report``) when that
module is present.

The analyses' own fits (scikit-learn KernelPCA, UMAP) are library calls on both sides and are
not timed against each other here; ``build_report`` timing includes them.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import snapshot, Threads, append_result, interleaved, machine_header, median, spread, table

import torch
from softfact import seed_reference as seed
from softfact.models.encode import encode
from softfact.data.blobs import make_blobs, translate
from softfact.evaluation import evaluate_encoder


def _blobs(n, g):
    return make_blobs(n, generator=g)


def _shift_grid(n_blobs: int, max_shift: int = 4, seed_: int = 0) -> torch.Tensor:
    """(n_blobs * (2s+1)^2, 1, 16, 16): every (dy, dx) shift of each blob, as the seed's grids."""
    img = make_blobs(n_blobs, generator=torch.Generator().manual_seed(seed_))
    s = torch.arange(-max_shift, max_shift + 1)
    dy, dx = torch.meshgrid(s, s, indexing="ij")
    k = dy.numel()
    rep = img.repeat_interleave(k, 0)
    return translate(rep, dy.flatten().repeat(n_blobs), dx.flatten().repeat(n_blobs))


@torch.no_grad()
def _seed_grid_encode(enc, n_blobs: int) -> None:
    """The seed's analysis loops' encoding: one shifted image at a time (kPCA/UMAP input)."""
    shifts = range(-4, 5)
    for _ in range(n_blobs):
        img = seed.make_blob(16).unsqueeze(0)
        for dy in shifts:
            for dx in shifts:
                enc(seed.shift_no_wrap(seed.shift_no_wrap(img, shifts=dy, dims=2), shifts=dx, dims=3))


def _report_time(umap: bool) -> tuple[str, float | None]:
    try:
        from softfact.report import build_report
    except ImportError:
        return "softfact.report not importable in this checkout", None
    from softfact.config import TrainConfig
    from softfact.training.loop import train
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(steps=20, batch_size=64, out_dir=str(Path(tmp) / "run"), device="cpu",
                          threads=torch.get_num_threads()).validate()
        run_dir = train(cfg, progress=False)
        t = time.perf_counter()
        page = build_report(run_dir, seed=0, umap=umap)
        return f"build_report(umap={umap}) -> {Path(page).name}", time.perf_counter() - t


def run(quick: bool = False, threads: int = 1, n: int = 500) -> str:
    start = snapshot()
    repeats = 1 if quick else 3
    import sklearn.decomposition  # noqa: F401  (import once, outside the timings)
    grid_blobs = 50 if quick else 200   # the seed's SVD grid uses 50 blobs, kPCA/UMAP 200
    torch.manual_seed(0)
    enc = seed.ToyEncoder().eval()
    grid = _shift_grid(grid_blobs)
    rows = []
    with Threads(threads):
        times = interleaved({
            "seed protocol (one image at a time)": lambda: seed.seed_metrics(enc, n=n),
            "softfact evaluate_encoder (batched)": lambda: evaluate_encoder(enc, _blobs, n=n, max_shift=4),
        }, repeats=repeats, warmup=0)
        ref = median(times["seed protocol (one image at a time)"])
        for k, ts in times.items():
            rows.append([f"evaluation, n={n}", k, median(ts), spread(ts), ref / median(ts)])
        times = interleaved({
            "seed loops (one image at a time)": lambda: _seed_grid_encode(enc, grid_blobs),
            "softfact encode (batched)": lambda: encode(enc, grid),
        }, repeats=repeats, warmup=0)
        ref = median(times["seed loops (one image at a time)"])
        for k, ts in times.items():
            rows.append([f"encode shift grids, {grid_blobs} blobs x 81 shifts", k, median(ts),
                         spread(ts), ref / median(ts)])
        for umap in (False, True):
            what, t = _report_time(umap)
            rows.append(["whole report (all analyses + figures)", what,
                         "" if t is None else t, "one run", ""])
            if t is None:
                break
    text = machine_header("(d) evaluation and analysis time", {
        "mode": "quick" if quick else "full", "torch threads": threads,
        "repeats (median)": repeats,
        "note": "the seed encodes its 200-blob grid three times (kPCA, UMAP 2D, UMAP 3D)"}, start=start)
    text += "\n" + table(["task", "path", "seconds (median)", "range (s)", "x faster than seed"], rows)
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    ns = p.parse_args(argv)
    text = run(quick=ns.quick, threads=ns.threads)
    print(text)
    print("appended to", append_result("evaluation", text))


if __name__ == "__main__":
    main()
