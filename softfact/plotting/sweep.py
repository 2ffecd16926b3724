"""Draw every sweep metric against the swept value (error bars = std over seeds), and the trade-off."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _x(a: dict, x_key: str, i: int) -> float:
    """The swept value of an aggregate row (a config column or a (mean, std) metric); else i."""
    v = a.get(x_key)
    v = v[0] if isinstance(v, tuple) else v
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float(i)


def plot_sweep(agg: list[dict], metrics: list[str], *, weighted: list[str], ablations: list[str],
               x_key: str = "fact_weight"):
    """One panel per metric: the swept grid as a line, ablation configs as separate points.

    ``agg`` rows come from ``summary.aggregate``; ``weighted`` names the configs of the grid
    (x = their ``x_key`` value, the factorization weight by default, on a symlog axis so 0
    fits; their order for a value that is not a number), ``ablations`` the others.
    Returns the figure.
    """
    by = {a["config"]: a for a in agg}
    grid = sorted((by[c] for c in weighted if c in by), key=lambda a: _x(a, x_key, weighted.index(a["config"])))
    xs = [_x(a, x_key, weighted.index(a["config"])) for a in grid]
    extra = [by[c] for c in ablations if c in by]
    cols = min(4, max(1, len(metrics)))
    rows = max(1, math.ceil(len(metrics) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    top = max(xs + [1.0])
    label = "LeJEPA + fact" if x_key == "fact_weight" else x_key
    for ax, k in zip(axes.flat, metrics):
        if grid:
            ax.errorbar(xs, [a[k][0] for a in grid],
                        yerr=[a[k][1] for a in grid], marker="o", capsize=3, label=label)
        for i, a in enumerate(extra):
            x = top * 3 ** (i + 1)
            ax.errorbar([x], [a[k][0]], yerr=[a[k][1]], marker="s", capsize=3, linestyle="none",
                        label=a["config"])
        ax.set_xscale("symlog", linthresh=0.1)
        ticks = xs + [top * 3 ** (i + 1) for i in range(len(extra))]
        ax.set_xticks(ticks, [f"{x:g}" for x in xs] + [a["config"] for a in extra],
                      fontsize=7, rotation=45)
        ax.minorticks_off()
        ax.set_title(k, fontsize=10)
        ax.set_xlabel("factorization weight" if x_key == "fact_weight" else x_key)
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


# the seed's figures (y) and the arithmetic metrics (x) of the trade-off figure, with their targets
TRADEOFF_Y = ("cross_abs_cos", "same_sign_cos", "opposite_sign_cos", "angle_pitch_deg", "angle_time_deg")
TRADEOFF_X = {"analogy_top1": 0.5, "additivity_err": 0.08}


def plot_tradeoff(agg: list[dict], *, label_key: str, bars: dict | None = None):
    """The seed's cosine figures against analogy top-1 and additivity error, one point per config.

    One row per seed figure (``TRADEOFF_Y``), one column per arithmetic metric
    (``TRADEOFF_X``); each point is a config of ``agg`` (mean over seeds, error bars = std),
    labelled with its ``label_key`` value. ``bars`` ({metric: (op, value)}, e.g. the seed's
    QUALITY_BAR) draws each seed figure's bar as a dashed line; the arithmetic targets are
    dotted. Returns the figure.
    """
    ys = [k for k in TRADEOFF_Y if all(k in a for a in agg)]
    fig, axes = plt.subplots(len(ys), 2, figsize=(8.4, 2.3 * len(ys)), squeeze=False)
    for r, yk in enumerate(ys):
        for c, (xk, target) in enumerate(TRADEOFF_X.items()):
            ax = axes[r, c]
            for i, a in enumerate(agg):
                ax.errorbar([a[xk][0]], [a[yk][0]], xerr=[a[xk][1]], yerr=[a[yk][1]], marker="o",
                            capsize=2, color=f"C{i % 10}")
                v = a.get(label_key)
                ax.annotate(f"{v[0]:g}" if isinstance(v, tuple) else a["config"], (a[xk][0], a[yk][0]),
                            fontsize=7, xytext=(3, 3), textcoords="offset points")
            if bars and yk in bars:
                ax.axhline(bars[yk][1], ls="--", color="grey", lw=1)
            ax.axvline(target, ls=":", color="grey", lw=1)
            ax.set_xlabel(xk, fontsize=8)
            ax.set_ylabel(yk, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    fig.suptitle(f"trade-off over {label_key} (dashed: seed bar, dotted: arithmetic target)", fontsize=9)
    h = 2.3 * len(ys)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.5 / h, top=1 - 0.45 / h, hspace=0.55, wspace=0.3)
    return fig
