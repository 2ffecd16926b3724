"""The names of a run folder's files: one place, so no layer spells them out.

``softfact.Run`` (``softfact/run.py``) owns a run folder; the training loop, the run log and
the checkpoint code only need these names.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CHECKPOINT = "checkpoint.pt"   # weights, optimizer, step, RNG states, resolved config
CONFIG = "config.yaml"         # the resolved config, readable
LOG = "metrics.jsonl"          # one JSON row per logged training step
METRICS = "metrics.json"       # evaluation results (written by Run.write_metrics only)
REPORT = "report.html"         # the browsable report
SPLIT = "split.json"           # MIDI runs: the corpus summary and its training/validation files
LOCK = ".softfact.lock"        # held (flock) by the process writing the run; see utils.lock
OPS = "ops"                    # latent-operation examples (.mid, .wav) and training triplets as .mid
# `softfact export RUN`: a portable folder (RUN/export/ by default) that softfact.Run loads too
EXPORT_DIR = "export"
EXPORT_WEIGHTS = "model.safetensors"  # the encoder's weights, nothing else
EXPORT_CONFIG = "config.json"         # format, step, the resolved config, the metrics
EXPORT_CARD = "README.md"             # the model card: data, recipe, metrics
DECODER = "decoder.pt"         # a decoder trained on the frozen encoder (softfact decoder RUN)


@dataclass(frozen=True)
class RunFiles:
    """Paths of the files in run folder ``root``."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def checkpoint(self) -> Path:
        return self.root / CHECKPOINT

    @property
    def config(self) -> Path:
        return self.root / CONFIG

    @property
    def log(self) -> Path:
        return self.root / LOG

    @property
    def metrics(self) -> Path:
        return self.root / METRICS

    @property
    def report(self) -> Path:
        return self.root / REPORT

    @property
    def split(self) -> Path:
        return self.root / SPLIT

    @property
    def lock(self) -> Path:
        return self.root / LOCK

    @property
    def ops(self) -> Path:
        return self.root / OPS

    @property
    def export_dir(self) -> Path:
        return self.root / EXPORT_DIR

    @property
    def decoder(self) -> Path:
        return self.root / DECODER
