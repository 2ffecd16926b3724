"""The sign (anti-parallelism) gap: is d(-s) the mirror of d(+s)?

The seed finds the mean +s and -s differences 163 degrees apart, not 180, and blames the zero
fill of shifted-out pixels. Two tools test that:

* ``sign_angles(d)``: from a shift grid, per factor and per magnitude s, the angle between the
  mean d(+s) and the mean d(-s) over images, and the mean per-image cos(d(+s), d(-s)).
* ``empty_border_source(image_fn, margin)``: an image source keeping only images whose
  content lies at least ``margin`` pixels from every edge, so shifts up to ``margin`` lose
  nothing and zero fill equals wrap-around. A gap that remains on these images is not caused
  by padding.
"""
from __future__ import annotations

import numpy as np
import torch

from softfact.utils.geometry import angle_deg, cosine


def sign_angles(d: np.ndarray) -> dict[str, np.ndarray]:
    """d (n, S, S, D) -> {'<factor>_angle_deg': (m,), '<factor>_opp_cos': (m,)} for s = 1..m."""
    m = d.shape[1] // 2
    out = {}
    for name, pos, neg in (("pitch", lambda s: d[:, m + s, m], lambda s: d[:, m - s, m]),
                           ("time", lambda s: d[:, m, m + s], lambda s: d[:, m, m - s])):
        ang, opp = [], []
        for s in range(1, m + 1):
            p, q = pos(s), neg(s)
            ang.append(float(angle_deg(cosine(p.mean(0), q.mean(0)))))
            opp.append(float(cosine(p, q).mean()))
        out[f"{name}_angle_deg"], out[f"{name}_opp_cos"] = np.array(ang), np.array(opp)
    return out


def empty_border_source(image_fn, margin: int, *, max_rounds: int = 1000):
    """Wrap ``image_fn(n, generator)`` to return only images blank within ``margin`` of the edges."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")

    def source(n: int, generator: torch.Generator) -> torch.Tensor:
        kept, have = [], 0
        for _ in range(max_rounds):
            x = image_fn(max(n, 256), generator)
            H, W = x.shape[-2:]
            inner = torch.zeros(H, W, dtype=torch.bool, device=x.device)
            inner[margin:H - margin, margin:W - margin] = True
            ok = ~(x.ne(0) & ~inner).flatten(1).any(1) & x.ne(0).flatten(1).any(1)
            kept.append(x[ok])
            have += int(ok.sum())
            if have >= n:
                return torch.cat(kept)[:n]
        raise ValueError(f"fewer than {n} images with a blank border of {margin} px "
                         f"in {max_rounds} rounds; lower the margin")
    return source
