"""The seed's interactive UMAP 3-D views (plotly), written for offline viewing.

Pages reference ``plotly.min.js`` in their own folder (written beside them, shared by both),
never a CDN, so a report folder opens without a network.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from softfact.plotting.io import write_file


def umap3d_figures(coords: np.ndarray, *, dy: np.ndarray, dx: np.ndarray) -> dict:
    """(N, 3) coordinates -> {"pitch": figure coloured by dy, "time": figure coloured by dx}."""
    import plotly.graph_objects as go

    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise ValueError(f"UMAP 3-D needs (N, 3) coordinates, got shape {coords.shape}")
    hover = [f"dy={int(a)}, dx={int(b)}" for a, b in zip(dy, dx)]
    out = {}
    for name, values, scale, label in (("pitch", dy, "RdBu", "dy"), ("time", dx, "PiYG", "dx")):
        fig = go.Figure(data=[go.Scatter3d(
            x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], mode="markers",
            marker=dict(size=2, color=np.asarray(values), colorscale=scale, opacity=0.5,
                        colorbar=dict(title=label)),
            hovertext=hover, hoverinfo="x+y+z+text")])
        fig.update_layout(title=f"UMAP 3D — colored by {name} ({label})",
                          margin=dict(l=0, r=0, b=0, t=30))
        out[name] = fig
    return out


def write_umap3d_html(coords: np.ndarray, *, dy: np.ndarray, dx: np.ndarray,
                      out_dir: str | Path, prefix: str = "umap3d") -> dict[str, Path]:
    """Write ``{prefix}_pitch.html`` and ``{prefix}_time.html`` (+ plotly.min.js) atomically."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    out_dir = Path(out_dir)
    # rewritten every time: a bundle left by another plotly version could not draw these pages
    write_file(out_dir / "plotly.min.js", get_plotlyjs())
    paths = {}
    for name, fig in umap3d_figures(coords, dy=dy, dx=dx).items():
        html = pio.to_html(fig, include_plotlyjs="directory", full_html=True,
                           default_height="95vh")
        paths[name] = write_file(out_dir / f"{prefix}_{name}.html", html)
    return paths
