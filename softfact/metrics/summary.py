"""Sweep tables: one row per run in, mean and std per config out (CSV and markdown)."""
from __future__ import annotations

import csv
import io
import math

import numpy as np

ID_COLUMNS = ("config", "seed", "fact_weight", "use_jepa", "step")


def metric_names(rows: list[dict]) -> list[str]:
    """Numeric keys of the runs' metrics, in first-seen order, without the id columns."""
    names: list[str] = []
    for r in rows:
        for k, v in r.items():
            if k not in ID_COLUMNS and k not in names and isinstance(v, (int, float)) \
                    and not isinstance(v, bool):
                names.append(k)
    return names


def aggregate(rows: list[dict], order: list[str] | None = None) -> list[dict]:
    """Group runs by config -> [{'config', 'n', 'fact_weight', 'use_jepa', 'step', metric: (mean, std)}].

    std is the sample standard deviation (ddof=1; 0 for a single seed); NaN values are skipped.
    """
    names = metric_names(rows)
    configs = order or list(dict.fromkeys(r["config"] for r in rows))
    out = []
    for c in configs:
        group = [r for r in rows if r["config"] == c]
        if not group:
            continue
        agg = {"config": c, "n": len(group), **{k: group[0].get(k) for k in ID_COLUMNS[2:]}}
        for k in names:
            v = np.array([float(r[k]) for r in group if k in r], dtype=float)
            v = v[~np.isnan(v)]
            agg[k] = (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0) if len(v) \
                else (math.nan, math.nan)
        out.append(agg)
    return out


def runs_csv(rows: list[dict]) -> str:
    """One line per run: id columns then every metric."""
    cols = list(ID_COLUMNS) + metric_names(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in cols})
    return buf.getvalue()


def markdown_table(agg: list[dict]) -> str:
    """Metrics as rows, configs as columns, cells 'mean ± std'."""
    if not agg:
        return "(no finished runs)\n"
    names = [k for k in agg[0] if k not in ("config", "n", *ID_COLUMNS)]
    head = "| metric | " + " | ".join(f"{a['config']} (n={a['n']})" for a in agg) + " |"
    lines = [head, "|---|" + "---|" * len(agg)]
    for k in names:
        cells = [f"{a[k][0]:.3f} ± {a[k][1]:.3f}" if k in a else "" for a in agg]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
