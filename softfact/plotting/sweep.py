"""Draw every sweep metric against the factorization weight, with error bars (std over seeds)."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_sweep(agg: list[dict], metrics: list[str], *, weighted: list[str], ablations: list[str]):
    """One panel per metric: the weight grid as a line, ablation configs as separate points.

    ``agg`` rows come from ``summary.aggregate``; ``weighted`` names the configs of the weight
    grid (x = their fact_weight, on a symlog axis so 0 fits), ``ablations`` the others.
    Returns the figure.
    """
    by = {a["config"]: a for a in agg}
    grid = sorted((by[c] for c in weighted if c in by), key=lambda a: a["fact_weight"])
    extra = [by[c] for c in ablations if c in by]
    cols = min(4, max(1, len(metrics)))
    rows = max(1, math.ceil(len(metrics) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    top = max([a["fact_weight"] for a in grid] + [1.0])
    for ax, k in zip(axes.flat, metrics):
        if grid:
            ax.errorbar([a["fact_weight"] for a in grid], [a[k][0] for a in grid],
                        yerr=[a[k][1] for a in grid], marker="o", capsize=3, label="LeJEPA + fact")
        for i, a in enumerate(extra):
            x = top * 3 ** (i + 1)
            ax.errorbar([x], [a[k][0]], yerr=[a[k][1]], marker="s", capsize=3, linestyle="none",
                        label=a["config"])
        ax.set_xscale("symlog", linthresh=0.1)
        ticks = [a["fact_weight"] for a in grid] + [top * 3 ** (i + 1) for i in range(len(extra))]
        ax.set_xticks(ticks, [f"{a['fact_weight']:g}" for a in grid] + [a["config"] for a in extra],
                      fontsize=7, rotation=45)
        ax.minorticks_off()
        ax.set_title(k, fontsize=10)
        ax.set_xlabel("factorization weight")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=len(handles), frameon=False)
    h = 3.2 * rows  # inches; fixed margins, as tight_layout costs seconds per figure
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.8 / h, top=1 - 0.75 / h, hspace=0.6,
                        wspace=0.3)
    return fig
