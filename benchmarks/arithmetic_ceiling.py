"""How far zero-filled shifts let latent arithmetic go on the toy blobs: identical shifted images.

For every image of a shift grid (all (dy, dx) in -m..m, the grid the metrics use) count the
shifts T != 0 whose shifted image equals the image at another shift T' (content pushed off the
edge): no encoder can rank z(T B) strictly first among B's shifts there, so the share of such
(image, T) cells bounds analogy top-1 from above (ties count against, as ``analogy_ranks`` does).
Also the mean share of pixels lost per shift size, the share of blob images that already touch
the border unshifted, and every figure of ``softfact evaluate`` (the seed's protocol and the grid
metrics) for a hand-built reference latent, the content's bounding box (top, bottom, left and
right rows / columns with content). A shift moves each edge on the side it moves away from by
exactly the shift, whatever it pushes off the other side, so this latent is blind to most lost
content: how far does a latent of that kind get on the issue's targets? With ``--mix RUN``, also
a trained toy run's latent with the bounding box appended, each part divided by its mean
per-dimension spread over 512 blobs and the box multiplied by each ``--alphas`` value: how the
figures move between a learned latent and one that is blind to lost content. Usage:
    python benchmarks/arithmetic_ceiling.py [--n 200] [--max-shift 4] [--wrap] [--no-reference]
        [--mix RUN --alphas 1,3] [--size 24 --margin 4]
``--size`` and ``--margin`` draw the blobs as ``blob_margin`` does (configs/toy_margin.yaml:
24 and 4, where no shift up to 4 pushes content off)
"""
from __future__ import annotations

import argparse

import torch
from torch import nn

from softfact import Run
from softfact.data.blobs import BlobSource, translate
from softfact.metrics.compute import evaluate

REFERENCE_KEYS = ("cross_abs_cos", "same_sign_cos", "opposite_sign_cos", "angle_pitch_deg",
                  "angle_time_deg", "pitch_consistency", "time_consistency", "r2",
                  "additivity_err", "analogy_top1", "analogy_mrr")


class BoundingBox(nn.Module):
    """(B, 1, H, W) binary images -> (B, 4) [top row, bottom row, left column, right column] of
    the content, in pixels (0 for a blank image): a reference latent, not a model."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        on = x[:, 0] > 0.5
        rows, cols = on.any(2), on.any(1)
        r = torch.arange(on.shape[1], dtype=torch.float32, device=x.device)
        c = torch.arange(on.shape[2], dtype=torch.float32, device=x.device)
        edges = torch.stack([torch.where(rows, r, torch.inf).amin(1), torch.where(rows, r, -torch.inf).amax(1),
                             torch.where(cols, c, torch.inf).amin(1), torch.where(cols, c, -torch.inf).amax(1)], 1)
        return torch.where(rows.any(1)[:, None], edges, torch.zeros_like(edges))


def figures(ev) -> str:
    return ", ".join(f"{k} {ev.metrics[k]:.3f}" for k in REFERENCE_KEYS)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--max-shift", type=int, default=4)
    p.add_argument("--wrap", action="store_true")
    p.add_argument("--size", type=int, default=16, help="image side (the seed's 16)")
    p.add_argument("--margin", type=int, default=0, help="blobs drawn this far from every border")
    p.add_argument("--no-reference", action="store_true", help="skip the bounding-box latent's evaluation")
    p.add_argument("--mix", metavar="RUN", help="a toy run folder: its latent with the box appended")
    p.add_argument("--alphas", default="1,3", help="weights of the appended box (comma-separated)")
    a = p.parse_args()
    blobs = BlobSource(a.size, margin=a.margin)  # the blobs, as a run's image source
    x = blobs(a.n, torch.Generator().manual_seed(0))
    m = a.max_shift
    s = torch.arange(-m, m + 1)
    grid = torch.stack([torch.stack([translate(x, int(dy), int(dx), wrap=a.wrap) for dx in s], 1) for dy in s], 1)
    n, S = grid.shape[0], grid.shape[1]
    flat = grid.reshape(n, S * S, -1)
    same = (flat[:, :, None] == flat[:, None, :]).all(-1)            # (n, S*S, S*S)
    tied = same.sum(-1) > 1
    centre = m * S + m
    keep = torch.ones(S * S, dtype=torch.bool)
    keep[centre] = False
    print(f"images {n} ({a.size} x {a.size}, margin {a.margin}), shifts -{m}..{m}, wrap={a.wrap}")
    print(f"analogy top-1 ceiling (share of (B, T) cells with a distinct shifted image): "
          f"{1 - tied[:, keep].float().mean():.3f}")
    mass = x.flatten(1).sum(-1)
    for k in range(1, m + 1):
        lost = 1 - torch.stack([translate(x, k, 0, wrap=a.wrap).flatten(1).sum(-1) / mass,
                                translate(x, 0, k, wrap=a.wrap).flatten(1).sum(-1) / mass]).mean()
        print(f"shift {k}: mean share of pixels pushed off the edge {lost:.3f}")
    top, bottom, left, right = BoundingBox()(x).T
    H, W = x.shape[-2:]
    touch = (((top == 0) | (bottom == H - 1) | (left == 0) | (right == W - 1)) & (mass > 0)).float().mean()
    print(f"images whose content already touches the border unshifted: {touch:.3f}")
    if not a.no_reference:
        ev = evaluate(BoundingBox(), blobs, max_shift=m, wrap=a.wrap, seed=0)
        print(f"bounding-box latent, softfact evaluate's figures (500 probe images, 200 x grid): {figures(ev)}")
    if a.mix:
        run = Run.load(a.mix)
        c = run.config
        if c.data != "blobs" or (c.max_shift, c.image_size, c.blob_margin) != (m, a.size, a.margin):
            raise SystemExit(f"--mix needs a toy run with max_shift {m}, image_size {a.size} and "
                             f"blob_margin {a.margin}; {a.mix} has data {c.data!r}, max_shift "
                             f"{c.max_shift}, image_size {c.image_size}, blob_margin {c.blob_margin}")
        enc, box = run.encoder.eval(), BoundingBox()
        with torch.no_grad():
            ref = blobs(512, torch.Generator().manual_seed(5))
            z_spread, box_spread = enc(ref).std(0).mean(), box(ref).std(0).mean()
            for alpha in (float(v) for v in a.alphas.split(",")):
                def mixed(x, alpha=alpha):
                    return torch.cat([enc(x) / z_spread, alpha * box(x) / box_spread], 1)
                ev = evaluate(mixed, blobs, max_shift=m, wrap=a.wrap, seed=0)
                print(f"{a.mix} latent + {alpha:g} x bounding box: {figures(ev)}")

if __name__ == "__main__":
    main()
