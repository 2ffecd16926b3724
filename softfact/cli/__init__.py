"""The ``softfact`` command: one module per subcommand, registered in ``COMMANDS``."""
from __future__ import annotations

import os
import sys
import warnings
from importlib import import_module

# name -> (module under softfact.cli, one line of help); the module has main(argv) -> int
COMMANDS = {
    "run": ("run", "train, evaluate and write the HTML report (the main job)"),
    "train": ("train", "train an encoder (config file, presets, --key=value overrides)"),
    "evaluate": ("evaluate", "the seed's metrics of a run, beside the published figures"),
    "report": ("report", "every figure of the seed for a run, in one HTML page"),
    "sweep": ("sweep", "grids of configs x seeds, with a table and plots"),
    "embed": ("embed", "a MIDI folder -> one embedding per crop window (.npz)"),
    "export": ("export", "portable weights: model.safetensors, config.json and a model card"),
    "decoder": ("decoder", "train a decoder (latent -> image) on a run's frozen encoder"),
}


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"softfact: warning: {message}\n"


def usage() -> str:
    width = max(map(len, COMMANDS))
    return ("usage: softfact {" + ",".join(COMMANDS) + "} [options]\n"
            + "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    warnings.formatwarning = _one_line_warning  # skipped MIDI files: one line each
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(usage())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command = import_module(f"softfact.cli.{COMMANDS[argv[0]][0]}")
    try:
        return command.main(argv[1:])
    except Exception as e:
        # softfact's own errors (bad config, checkpoint, MIDI folder, diverged loss) are
        # one-line messages for the user; anything else is a bug and keeps its traceback
        if isinstance(e, OSError) and not type(e).__module__.startswith("softfact"):
            from softfact.utils.io import storage_error  # full disk, read-only: name the path
            e = storage_error(e)
        if not (type(e).__module__.startswith("softfact") or isinstance(e, FileNotFoundError)):
            raise
        from softfact.config import ConfigError  # the same command line on every rank
        if (getattr(e, "every_rank", False) or isinstance(e, ConfigError)) \
                and os.environ.get("RANK", "0") != "0":
            return 2  # every rank hit it (torchrun): rank 0 says it once
        print(f"softfact: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("softfact: interrupted; the last checkpoint is intact", file=sys.stderr)
        return 130
