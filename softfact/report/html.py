"""The report page: one self-contained HTML file (PNG figures embedded as base64)."""
from __future__ import annotations

import base64
import html
import math
from datetime import datetime, timezone

from softfact.evaluation import SEED_FIGURES, meets_quality_bar, quality_bar

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1180px;
margin:24px auto;padding:0 20px;color:#222;line-height:1.45}
h1{margin-bottom:0} .sub{color:#666;margin-top:4px}
h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:36px}
table{border-collapse:collapse;font-size:14px} td,th{border:1px solid #ddd;padding:3px 10px}
th{background:#f4f4f4;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37;font-weight:600} .miss{color:#cf222e;font-weight:600}
figure{margin:12px 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:14px} .cols{display:flex;gap:32px;flex-wrap:wrap;align-items:flex-start}
nav a{margin-right:14px} code{background:#f4f4f4;padding:1px 4px;border-radius:3px}
"""


def esc(x) -> str:
    return html.escape(str(x))


def fmt(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return esc(v)
    if isinstance(v, int):
        return f"{v:,}"
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4f}" if abs(v) < 1e4 else f"{v:.4g}"


def numeric_items(d: dict, prefix: str = "") -> list[tuple[str, float]]:
    """Every numeric leaf of a (possibly nested) dict, nested keys joined with '.'."""
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out += numeric_items(v, key + ".")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append((key, v))
    return out


def metrics_table(metrics: dict, *, data: str = "blobs") -> str:
    """Every numeric metric beside the seed's figure and the quality bar for ``data`` (ok / miss):
    the toy's for blobs, the MIDI bar for piano rolls (where the seed column is the toy's)."""
    name, bars = quality_bar(data)
    passed = meets_quality_bar({k: v for k, v in metrics.items() if isinstance(v, (int, float))},
                               bars)
    seed_head = "seed" if name == "toy" else "toy seed (reference)"
    rows = [f"<tr><th>metric</th><th>this run</th><th>{seed_head}</th>"
            f"<th>{esc(name)} quality bar</th></tr>"]
    for key, value in numeric_items(metrics):
        seed = SEED_FIGURES.get(key)
        bar = bars.get(key)
        mark = ""
        if bar is not None and key in passed:
            cls = "ok" if passed[key] else "miss"
            mark = f'{esc(bar[0])} {bar[1]:g} <span class="{cls}">{"ok" if passed[key] else "miss"}</span>'
        rows.append(f"<tr><td><code>{esc(key)}</code></td><td class=num>{fmt(value)}</td>"
                    f"<td class=num>{'' if seed is None else fmt(seed)}</td><td>{mark}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def plain(v) -> str:
    """A setting as written (4e-3 stays 0.004, not rounded to 4 decimals)."""
    if isinstance(v, float):
        return f"{v:g}"
    return fmt(v) if isinstance(v, int) and not isinstance(v, bool) else esc(v)


def dict_table(d: dict, head: tuple[str, str] = ("key", "value"), per_row: int = 1) -> str:
    """Key/value pairs, ``per_row`` pairs side by side per table row."""
    items = [f"<td><code>{esc(k)}</code></td><td>{plain(v)}</td>" for k, v in d.items()]
    items += ["<td></td><td></td>"] * (-len(items) % per_row)
    rows = ["<tr>" + f"<th>{esc(head[0])}</th><th>{esc(head[1])}</th>" * per_row + "</tr>"]
    rows += ["<tr>" + "".join(items[i:i + per_row]) + "</tr>"
             for i in range(0, len(items), per_row)]
    return "<table>" + "".join(rows) + "</table>"


def figure(png: bytes, caption: str, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{caption}</figcaption></figure>")


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]]) -> str:
    """sections: (anchor, title, html body) in order; a navigation bar links them."""
    nav = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t, _ in sections)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = "".join(section(*s) for s in sections)
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{esc(title)}</h1>"
            f'<p class="sub">{subtitle} &middot; generated {stamp}</p><nav>{nav}</nav>{body}'
            "</body></html>\n")
