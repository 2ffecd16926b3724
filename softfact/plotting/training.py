"""Training-side figures: the triplet visualisation and the loss curve."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from softfact.data.triplets import SCHEMES, TripletBatch  # noqa: E402

# The seed's colours: blue = pitch/pitch, green = time/time, red = pitch + time.
SCHEME_COLORS = {"pitch": "#4488ff", "time": "#33bb55", "cross": "#dd3333", "mixed": "#9955cc"}
SCHEME_LABELS = {"pitch": "Pitch only", "time": "Time only", "cross": "Pitch + Time",
                 "mixed": "Mixed (diagonal)"}


def plot_triplets(batch: TripletBatch, *, n_rows: int = 8, origin: str = "upper"):
    """Rows of (anchor, crop 1, crop 2) with scheme-coloured borders and Δ(dy,dx) labels.

    ``origin="lower"`` draws row 0 at the bottom: piano rolls, whose rows are rising pitch.
    """
    n_rows = min(n_rows, len(batch))
    if n_rows < 1:
        raise ValueError("plot_triplets needs at least one triplet")
    fig, axes = plt.subplots(n_rows, 3, figsize=(6, n_rows * 1.7 + 0.6), squeeze=False)
    for i in range(n_rows):
        name = SCHEMES[int(batch.scheme[i])]
        color = SCHEME_COLORS[name]
        images = (batch.anchor[i], batch.crop1[i], batch.crop2[i])
        for j, (img, title) in enumerate(zip(images, ("Anchor", "Crop 1", "Crop 2"))):
            ax = axes[i, j]
            ax.imshow(img[0].detach().cpu().numpy(), cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest", origin=origin)
            if i == 0:
                ax.set_title(title, fontsize=14)
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(color), spine.set_linewidth(2.5)
        for j, delta in ((1, batch.delta1[i]), (2, batch.delta2[i])):
            dy, dx = int(delta[0]), int(delta[1])
            axes[i, j].set_ylabel(f"Δ({dy:+d},{dx:+d})", fontsize=11, color=color,
                                  fontweight="bold")
    present = [s for s in SCHEMES if s != "mixed" or (batch.scheme == SCHEMES.index("mixed")).any()]
    handles = [Patch(facecolor="white", edgecolor=SCHEME_COLORS[s], linewidth=3,
                     label=SCHEME_LABELS[s]) for s in present]
    fig.tight_layout(rect=(0, 0.5 / (n_rows * 1.7 + 0.6), 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=10, frameon=False)
    return fig


def moving_average(x: np.ndarray, window: int = 50) -> np.ndarray:
    """The seed's smoothing: np.convolve(x, ones(w)/w, 'valid'); (len - w + 1,)."""
    window = max(1, min(window, len(x)))
    return np.convolve(x, np.ones(window) / window, mode="valid")


# optional loss terms the loop logs as their own columns (0-weight terms are not logged)
OPTIONAL_TERMS = ("recon", "op", "consistency", "linear", "shared", "magnitude")


def plot_loss_curve(rows: list[dict], *, key: str = "loss", window: int = 50):
    """Raw and ``window``-step moving average of ``key`` from metrics.jsonl rows, log-log.

    Steps are drawn at step + 1 so step 0 fits on a log axis; the average sits at the last
    step of its window. When the run logged ``fact`` separately (LeJEPA on), its average is
    drawn too, and so is each optional term it logged (the joint decoder's ``recon`` and ``op``,
    the arithmetic terms ``consistency``, ``linear``, ``shared``, ``magnitude``), unweighted.
    """
    rows = [r for r in rows if key in r and np.isfinite(r[key])]
    if not rows:
        raise ValueError(f"no '{key}' values to plot (is metrics.jsonl empty?)")
    steps = np.array([r["step"] for r in rows], dtype=np.float64) + 1
    loss = np.array([r[key] for r in rows], dtype=np.float64)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot(steps, loss, alpha=0.3, label="raw")
    ma = moving_average(loss, window)
    ax.plot(steps[len(steps) - len(ma):], ma, label=f"smoothed ({min(window, len(loss))} steps)")
    if key != "fact" and all("fact" in r for r in rows) and any(r["fact"] != r[key] for r in rows):
        fact = moving_average(np.array([r["fact"] for r in rows], dtype=np.float64), window)
        ax.plot(steps[len(steps) - len(fact):], fact, label="factorization term (smoothed)")
    extra = [k for k in OPTIONAL_TERMS if key != k and all(k in r for r in rows)]
    for k in extra:
        term = moving_average(np.array([r[k] for r in rows], dtype=np.float64), window)
        ax.plot(steps[len(steps) - len(term):], term, label=f"{k} term (smoothed, unweighted)")
    ax.set_xscale("log")
    if (loss > 0).all():
        ax.set_yscale("log")
    ax.set_xlabel("step"), ax.set_ylabel(key), ax.legend()
    seed_look = key == "loss" and "jepa" not in rows[0] and not extra   # the seed's title
    ax.set_title("Factorization Loss" if seed_look else "Training loss")
    fig.tight_layout()
    return fig
