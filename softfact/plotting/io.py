"""Writing figures: PNG files written atomically, figures closed after use."""
from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from softfact.utils.io import atomic_write  # noqa: E402

DPI = 110


def figure_png_bytes(fig, *, dpi: int = DPI, close: bool = True) -> bytes:
    """Render a figure to PNG bytes (closing it unless ``close`` is False)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    if close:
        plt.close(fig)
    return buf.getvalue()


def write_file(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` atomically, readable by all (a report is for people)."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data

    def write(tmp):
        Path(tmp).write_bytes(raw)
        os.chmod(tmp, 0o644)
    atomic_write(path, write)
    return path


def save_figure(fig, path: str | Path, *, dpi: int = DPI) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically and close it; returns the path."""
    return write_file(path, figure_png_bytes(fig, dpi=dpi))
