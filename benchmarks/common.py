"""Shared benchmark helpers: machine description, interleaved median timing, result files.

The machine these run on may be shared and noisy, so every comparison is measured side by
side in one process, interleaved repeat by repeat, and reported as medians and ratios.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmark this checkout, not an installed copy
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                             capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               text=True, capture_output=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def snapshot() -> dict:
    """When, what and how busy, taken as a measurement starts."""
    return {"date (UTC)": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "git commit": git_commit(), "load": load_average()}


def machine_header(title: str, extra: dict | None = None, start: dict | None = None) -> str:
    """A markdown block saying where and when a result was measured (``start``: snapshot())."""
    start = start or snapshot()
    info = {
        "date (UTC)": start["date (UTC)"],
        "git commit": start["git commit"],
        "machine": f"{cpu_model()}, {os.cpu_count()} logical cores",
        "torch": f"{torch.__version__}, default threads {torch.get_num_threads()}",
        "python": platform.python_version(),
        "load average (1/5/15 min) at start / end": f"{start['load']} / {load_average()}",
        **(extra or {}),
    }
    return f"\n## {title}\n\n" + "\n".join(f"- {k}: {v}" for k, v in info.items()) + "\n"


def table(header: list[str], rows: list[list]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def append_result(name: str, text: str) -> Path:
    """Append a markdown block to benchmarks/results/NAME.md (written whole, then renamed)."""
    from softfact.utils.io import atomic_write
    path = RESULTS / f"{name}.md"
    old = path.read_text() if path.exists() else f"# {name} benchmark results\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(old + text))
    return path


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def interleaved(fns: dict, *, repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Time each callable ``repeats`` times, alternating between them, after ``warmup`` calls.

    Alternating spreads a shared machine's load changes over all contestants alike.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    out = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            out[k].append(timed(fn))
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(xs: list[float]) -> str:
    """min-max of the repeats, for the table."""
    return f"{min(xs):.4g}-{max(xs):.4g}"


class Threads:
    """``with Threads(n):`` run torch ops on n intra-op threads, then restore."""

    def __init__(self, n: int):
        self.n, self.old = n, torch.get_num_threads()

    def __enter__(self):
        torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.old)


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Measured float32 matrix-product speed at the current thread count (median)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    times = [timed(lambda: torch.mm(a, b)) for _ in range(repeats)]
    return 2 * n**3 / median(times) / 1e9
