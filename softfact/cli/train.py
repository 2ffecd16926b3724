"""``softfact train``: train an encoder (presets, config file, --key=value overrides)."""
from __future__ import annotations

from softfact.cli.common import is_main_process, resolve_train
from softfact.utils.runfiles import RunFiles


def main(argv: list[str]) -> int:
    from softfact.training import train
    cfg, resume, ns = resolve_train(argv, "softfact train")
    out = train(cfg, resume=resume, progress=not ns.quiet)
    if is_main_process():
        print(f"checkpoint: {RunFiles(out).checkpoint}")
    return 0
