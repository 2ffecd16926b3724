"""How far zero-filled shifts let latent arithmetic go on the toy blobs: identical shifted images.

For every image of a shift grid (all (dy, dx) in -m..m, the grid the metrics use) count the
shifts T != 0 whose shifted image equals the image at another shift T' (content pushed off the
edge): no encoder can rank z(T B) strictly first among B's shifts there, so the share of such
(image, T) cells bounds analogy top-1 from above (ties count against, as ``analogy_ranks`` does).
Also the mean share of pixels lost per shift size. Usage:
    python benchmarks/arithmetic_ceiling.py [--n 200] [--max-shift 4] [--wrap]
"""
from __future__ import annotations

import argparse

import torch

from softfact.data.blobs import make_blobs, translate


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--max-shift", type=int, default=4)
    p.add_argument("--wrap", action="store_true")
    a = p.parse_args()
    x = make_blobs(a.n, generator=torch.Generator().manual_seed(0))
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
    print(f"images {n}, shifts -{m}..{m}, wrap={a.wrap}")
    print(f"analogy top-1 ceiling (share of (B, T) cells with a distinct shifted image): "
          f"{1 - tied[:, keep].float().mean():.3f}")
    mass = x.flatten(1).sum(-1)
    for k in range(1, m + 1):
        lost = 1 - torch.stack([translate(x, k, 0, wrap=a.wrap).flatten(1).sum(-1) / mass,
                                translate(x, 0, k, wrap=a.wrap).flatten(1).sum(-1) / mass]).mean()
        print(f"shift {k}: mean share of pixels pushed off the edge {lost:.3f}")


if __name__ == "__main__":
    main()
