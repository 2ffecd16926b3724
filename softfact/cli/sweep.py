"""``softfact sweep``: grids of configs x seeds, with a table and plots."""
from __future__ import annotations


def main(argv: list[str]) -> int:
    from softfact.sweep import main as sweep_main
    return sweep_main(argv)
