"""Study: which operation vectors v(dy, dx) move embeddings best, per shift size?

For a trained run, fit v on training images with ``OperationVectors("mean")`` (the mean
difference per shift) and ``OperationVectors("linear")`` (v = dy a + dx b), then measure on
validation images the decoder-free latent error

    ||z(x) + v(s) - z(shift(x, s))|| / ||z(shift(x, s)) - z(x)||   (0 exact, 1 = v of zero)

overall and per shift size k = max(|dy|, |dx|). Each image's shift grid is encoded once.

    python benchmarks/study_op_vectors.py runs/demo               # 64 + 64 images
    python benchmarks/study_op_vectors.py runs/demo --images 200

Results are appended to benchmarks/results/op_vectors.md.
"""
from __future__ import annotations

import argparse
import time

from common import append_result, machine_header, snapshot, table

import torch

from softfact.evaluation.grid import encode_shift_grid
from softfact.ops import OperationVectors, latent_error
from softfact.run import Run


def study(path: str, n: int, seed: int) -> str:
    start = snapshot()
    run = Run.load(path)
    cfg, m = run.config, run.config.max_shift
    t = time.perf_counter()
    train = encode_shift_grid(run.encoder, run.source("train"), n_images=n, max_shift=m,
                              wrap=cfg.wrap, generator=torch.Generator().manual_seed(seed))
    val = encode_shift_grid(run.encoder, run.source("val"), n_images=n, max_shift=m,
                            wrap=cfg.wrap, generator=torch.Generator().manual_seed(seed + 1))
    encode_s = time.perf_counter() - t
    rows = []
    for method in ("mean", "linear"):
        ops = OperationVectors(method, max_shift=m, wrap=cfg.wrap).fit_grid(train.z)
        on_train = latent_error(train.z, ops)
        rows.append([method, f"{on_train:.3f}", f"{latent_error(val.z, ops):.3f}"]
                    + [f"{latent_error(val.z, ops, size=k):.3f}" for k in range(1, m + 1)])
        print(" | ".join(rows[-1]), flush=True)
    text = machine_header(f"operation vectors: {run.root.name} ({cfg.encoder} on {cfg.data}, "
                          f"step {run.step:,})", {
        "run": f"{cfg.data}, encoder {cfg.encoder}, latent_dim {cfg.latent_dim}, max_shift {m}, "
               f"wrap {cfg.wrap}",
        "images": f"{n} training images (fit) and {n} validation images (score), "
                  f"x {(2 * m + 1) ** 2} shifts each; encoding both grids took {encode_s:.1f} s"},
        start=start)
    text += ("\nLatent error ||z + v - z(shift)|| / ||z(shift) - z|| (0 = exact operation, 1 = no "
             "better than v = 0), on the fitting images and on held-out validation images, "
             "overall and per shift size k = max(|dy|, |dx|):\n\n")
    text += table(["v", "train", "val"] + [f"val k={k}" for k in range(1, m + 1)], rows)
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a trained run folder")
    p.add_argument("--images", type=int, default=64, help="images per split")
    p.add_argument("--seed", type=int, default=0)
    ns = p.parse_args(argv)
    text = study(ns.run, ns.images, ns.seed)
    print(text)
    print("appended to", append_result("op_vectors", text))


if __name__ == "__main__":
    main()
