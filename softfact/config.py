"""Typed run settings: a dataclass, YAML files, presets and ``--key=value`` overrides.

Every checkpoint stores the resolved config, so a run can be resumed or evaluated from it.
An unknown key or a value of the wrong type is a one-line ``ConfigError`` naming the key.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml

from softfact.utils.geometry import SCHEMES


class ConfigError(ValueError):
    """A bad config key or value; its message is one line naming the problem."""


@dataclass
class TrainConfig:
    # data
    data: str = "blobs"              # blobs | midi | bach
    image_size: int = 16             # blob side, or crop side for piano rolls
    blob_margin: int = 0             # blobs drawn this far from every border (0: the seed's);
                                     # >= max_shift: no shift pushes content off the image
    max_shift: int = 4               # shifts are 1..max_shift pixels (semitones / grid steps)
    wrap: bool = False               # torch.roll instead of the seed's zero-filled shift
    schemes: str = "pitch,time,cross"  # add ",mixed" for diagonal shifts with cosine targets
    crops: int = 2                   # crops per anchor; > 2: half pitch, half time, all pairs used
    antithetic: bool = False         # crops > 2: each factor's crops in +s/-s pairs (see data.multicrop)
    midi_dir: str = ""               # folder of .mid files when data == midi
    steps_per_quarter: int = 4       # piano-roll grid (4 = 16th notes)
    val_fraction: float = 0.1        # share of songs held out for evaluation
    cache_dir: str = ""              # parsed-roll cache; "" = $SOFTFACT_CACHE or ~/.cache/softfact
    # MIDI corpora (split by tune, length cap, tracks, extra channels; see softfact.data.midi_*)
    split_by: str = "stem"           # stem | folder | file: versions of one tune stay on one side
    max_song_steps: int = 100_000    # longer songs are skipped with a warning (memory guard)
    tracks: str = ""                 # "" = all non-drum tracks; else names/programs ("MELODY", "0")
    velocity: bool = False           # roll values = velocity / 127 instead of 1
    onset: bool = False              # a second input channel of note starts (conv encoder only)
    pitch_window: str = "note"       # note: around a random note | centre: on the notes sounding
                                     # in the crop (a transposition then rarely pushes notes off)
    # model
    encoder: str = "toy"             # toy | conv | timm:NAME (any timm model, optional extra)
    latent_dim: int = 16
    width: int = 32                  # conv encoder: channels of the first stage
    depth: int = 4                   # conv encoder: number of stride-2 stages
    conv_coords: bool = True         # conv encoder: row/column coordinate input channels
    latent_map: int = 0              # conv encoder: channels of a spatial latent the decoder reads
                                     # beside the pooled embedding (0 = the embedding alone)
    # losses
    fact_weight: float = 1.0         # weight of the factorization loss
    cross_weight: float = 1.0        # weight of cross-factor (target 0) pairs; 1 = the seed's mix
    use_jepa: bool = False
    jepa_weight: float = 0.2
    lambd: float = 0.5
    sigreg: str = "official"         # official | seed
    num_slices: int = 256
    tau: float = 0.0                 # > 0: attraction weighted by exp(-|delta|^2 / tau)
    # joint decoder (latent operations): recon_weight x BCE of decoding every view; 0 = off
    recon_weight: float = 0.0
    decoder_width: int = 32          # ConvDecoder channels of its last stage
    recon_stride: int = 1            # decode every k-th view of the step for recon (1 = all): the
                                     # decoder, not the encoder, is most of a joint step's time
    decoder_margin: int = 0          # > 0: translating decoder, content drawn on a canvas this many
                                     # pixels wider per side, moved by a position read from z
                                     # (with latent_map: drawn from the map, moved by p - q)
    op_weight: float = 0.0           # joint decoder: BCE of decode(z(x) + v(s)) vs the shifted crop
    position_weight: float = 0.0     # translating decoder: (p(crop) - p(anchor) - shift)^2 in
                                     # units of max_shift (and q's of the map), so the encoder's
                                     # own differences move the decoder (losses/position.py)
    op_moves: str = "latent"         # with latent_map: what v(s) moves, the whole latent the
                                     # decoder reads, or the pooled "embedding" alone (map kept)
    # latent arithmetic (losses/arithmetic.py; 0 = off, the seed's objective)
    shared_weight: float = 0.0       # seed's cosine loss on crops of different anchors
    magnitude_weight: float = 0.0    # |d| proportional to |shift| within each factor
    linear_weight: float = 0.0       # 1 - R^2 of one linear map d ~ shift W for the whole batch
    consistency_weight: float = 0.0  # share of d not explained by its shift's mean over the batch
    # optimisation
    optimizer: str = "adam"          # adam | adamw
    lr: float = 4e-3
    weight_decay: float = 0.0
    schedule: str = "constant"       # constant | cosine (with linear warmup)
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1
    batch_size: int = 1024
    steps: int = 5000
    # run
    seed: int = 0
    device: str = "auto"             # auto | cpu | cuda | cuda:N | mps
    threads: int = 0                 # CPU threads for torch; 0 keeps torch's default
    chunk: int = 256                 # CPU: encode in slices of this many images (0 = one call)
    amp: bool = False                # bf16 autocast for the encoder and the joint decoder's
                                     # drawing (losses stay float32)
    deterministic: bool = False      # deterministic GPU kernels (CPU runs are already)
    compile: bool = False            # CUDA: the whole step compiled (training.compiled); else eager
    cuda_graph: bool = False         # CUDA: the whole step captured once as one CUDA graph and
                                     # replayed (training.graphed); elsewhere its sync-free step, eager
    log_every: int = 50
    ckpt_every: int = 500
    eval_blobs: int = 500            # images per probe of the seed's protocol
    metric_images: int = 200         # images (x every shift) for the grid metrics
    out_dir: str = "runs/toy"
    wandb: bool = False
    wandb_project: str = "softfact"

    def validate(self) -> "TrainConfig":
        choices = {"data": ("blobs", "midi", "bach"), "encoder": ("toy", "conv"),
                   "split_by": ("stem", "folder", "file"),
                   "sigreg": ("official", "seed"), "optimizer": ("adam", "adamw"),
                   "schedule": ("constant", "cosine")}
        for key, allowed in choices.items():
            if key == "encoder" and self.encoder.startswith("timm:"):  # timm backbones
                if not self.encoder[len("timm:"):].strip():
                    raise ConfigError("config key 'encoder' 'timm:NAME' needs a model name, "
                                      "e.g. timm:vit_tiny_patch16_224")
                continue
            if getattr(self, key) not in allowed:
                raise ConfigError(f"config key '{key}' must be one of {allowed}, got {getattr(self, key)!r}")
        bad = [s for s in self.scheme_list() if s not in SCHEMES]
        if bad or not self.scheme_list():
            raise ConfigError(f"config key 'schemes' must list names from {SCHEMES}, got {self.schemes!r}")
        if self.crops < 2:
            raise ConfigError(f"config key 'crops' must be >= 2, got {self.crops}")
        if self.antithetic and self.crops < 4:
            raise ConfigError(f"config key 'antithetic' needs crops >= 4 (a +s/-s pair per "
                              f"factor), got crops: {self.crops}")
        if self.crops > 2 and self.scheme_list() != SCHEMES[:3]:
            raise ConfigError(f"config key 'schemes' ({self.schemes!r}) needs crops: 2; with "
                              f"crops: {self.crops} half the crops move in pitch, half in time")
        for key in ("image_size", "max_shift", "latent_dim", "batch_size", "steps", "log_every",
                    "ckpt_every", "num_slices", "width", "depth", "eval_blobs", "metric_images",
                    "max_song_steps"):
            if getattr(self, key) < 1:
                raise ConfigError(f"config key '{key}' must be >= 1, got {getattr(self, key)}")
        if not 0.0 <= self.lambd <= 1.0:
            raise ConfigError(f"config key 'lambd' must be in [0, 1], got {self.lambd}")
        if not self.cross_weight >= 0:
            raise ConfigError(f"config key 'cross_weight' must be >= 0, got {self.cross_weight}")
        if not self.recon_weight >= 0 or self.decoder_width < 1:
            raise ConfigError(f"config keys 'recon_weight' >= 0 and 'decoder_width' >= 1 needed, "
                              f"got {self.recon_weight}, {self.decoder_width}")
        if self.recon_stride < 1:
            raise ConfigError(f"config key 'recon_stride' must be >= 1, got {self.recon_stride}")
        if self.op_weight > 0 and not self.recon_weight > 0:
            raise ConfigError(f"config key 'op_weight' ({self.op_weight}) trains the joint decoder: "
                              f"it needs recon_weight > 0")
        if self.position_weight > 0 and not (self.recon_weight > 0 and self.decoder_margin > 0):
            raise ConfigError(f"config key 'position_weight' ({self.position_weight}) trains a joint "
                              f"translating decoder's position: it needs recon_weight > 0 and "
                              f"decoder_margin > 0, got {self.recon_weight} and {self.decoder_margin}")
        for key in ("shared_weight", "magnitude_weight", "linear_weight", "consistency_weight",
                    "op_weight", "position_weight"):
            if not getattr(self, key) >= 0:
                raise ConfigError(f"config key '{key}' must be >= 0, got {getattr(self, key)}")
        if self.lr <= 0:
            raise ConfigError(f"config key 'lr' must be > 0, got {self.lr}")
        if self.data == "midi" and not self.midi_dir:
            raise ConfigError("data 'midi' needs config key 'midi_dir' (--midi-dir PATH)")
        if self.latent_map < 0 or (self.latent_map and (self.encoder != "conv" or not self.recon_weight > 0)):
            raise ConfigError(f"config key 'latent_map' ({self.latent_map}) must be >= 0; a spatial "
                              f"latent is read by the joint decoder: it needs encoder: conv (got "
                              f"{self.encoder!r}) and recon_weight > 0 (got {self.recon_weight})")
        if self.decoder_margin < 0:
            raise ConfigError(f"config key 'decoder_margin' must be >= 0, got {self.decoder_margin}")
        if self.op_moves not in ("latent", "embedding"):
            raise ConfigError(f"config key 'op_moves' must be latent or embedding, got {self.op_moves!r}")
        if self.pitch_window not in ("note", "centre"):
            raise ConfigError(f"config key 'pitch_window' must be note or centre, got "
                              f"{self.pitch_window!r}")
        if self.onset and self.encoder == "toy":
            raise ConfigError("config key 'onset' adds an input channel; the toy encoder takes "
                              "one: use --encoder conv")
        if any(t.strip().isdigit() and int(t) > 127 for t in self.tracks.split(",")):
            raise ConfigError(f"config key 'tracks' programs must lie in 0..127, got {self.tracks!r}")
        if self.cuda_graph and self.compile:
            raise ConfigError("config keys 'cuda_graph' and 'compile' both capture the step: "
                              "choose one")
        if self.cuda_graph and self.use_jepa:
            raise ConfigError("config key 'cuda_graph' cannot hold LeJEPA: SIGReg draws its "
                              "slices on the host, seeded by the step; use cuda_graph: false")
        # reliability: values that would only fail later (NaN at step 1, a traceback)
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(f"config key '{f.name}' must be a finite number, got {v}")
        if self.weight_decay < 0:
            raise ConfigError(f"config key 'weight_decay' must be >= 0, got {self.weight_decay}")
        if self.data == "blobs" and self.image_size < 4:
            raise ConfigError(f"config key 'image_size' must be >= 4 for blobs, got {self.image_size}")
        if self.blob_margin < 0 or (self.data == "blobs" and self.image_size - 2 * self.blob_margin < 4):
            raise ConfigError(f"config key 'blob_margin' must be >= 0 and leave image_size - 2 x "
                              f"blob_margin >= 4, got {self.blob_margin} with image_size {self.image_size}")
        if self.blob_margin and self.data != "blobs":
            raise ConfigError(f"config key 'blob_margin' places toy blobs; data {self.data!r} has none")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device):
            raise ConfigError(f"config key 'device' must be auto, cpu, cuda, cuda:N or mps, "
                              f"got {self.device!r}")
        return self

    def scheme_list(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in self.schemes.split(",") if s.strip())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Settings that define the model's shape: a checkpoint must agree on these to be loaded.
MODEL_KEYS = ("encoder", "latent_dim", "width", "depth", "conv_coords", "image_size", "latent_map")

# Settings a finished run may be pointed at anew (``Run.load(path, midi_dir=...)``,
# ``softfact evaluate RUN --midi-dir PATH``): where the data are and how much to evaluate.
# They change neither the model nor the meaning of its metrics.
RUN_KEYS = ("midi_dir", "cache_dir", "eval_blobs", "metric_images", "device", "threads")

# Folders stored as absolute paths (a run evaluated from another directory still finds them).
PATH_KEYS = ("midi_dir", "cache_dir")

PRESETS: dict[str, dict] = {
    # The seed notebook's training run, unchanged.
    "seed": {},
    # The laptop-CPU recipe used by `make demo`: see the README for why it differs.
    "cpu": {"crops": 6, "antithetic": True, "cross_weight": 1.5, "batch_size": 128, "steps": 3500,
            "lr": 1.2e-2, "schedule": "cosine", "warmup_steps": 100, "min_lr_ratio": 0.05,
            "ckpt_every": 500},
    # Latent operations: the cpu recipe with a translating decoder trained jointly (recon_weight
    # x BCE of every third view; decoder_margin 2: a latent move along the decoder's position
    # directions decodes as a zero-filled shift), a 64-d latent and a light latent-arithmetic
    # term. Measured on the toy, 3 seeds (benchmarks/results/decoder.md): recon F1 0.966, latent
    # shifts at 1.00 of the ceiling at every size, cross / same / opposite 0.117 / 0.946 /
    # -0.882, angles 169.9 / 169.7: every bar on every seed.
    # 8,000 steps because recon F1 still rises (0.923 at 3,500, 0.941-0.957 at 6,000);
    # recon_stride 3 nearly halves the step (134 -> 69 ms, 2 quiet threads). linear_weight 0.1
    # (1 - R^2 of d ~ s W over the batch) asks d(-s) = -d(+s), which takes out the component a
    # shift either way shares (content lost at the zero-filled border, kept by a latent that must
    # reconstruct): sign-probe angles 159.6 / 159.7 -> 169.9 / 169.7 (seed 0), for +0.007 cross
    # |cos| (cross_weight 1.5 leaves 0.116). op_weight 1 (decode z + the batch's mean d) makes the
    # encoder's own differences operational too (0.97 / 0.95 / 0.92 / 0.83 of the ceiling at
    # 3,500 steps) for ~0.025 of recon F1; it is off here.
    "rae": {"crops": 6, "antithetic": True, "cross_weight": 1.5, "batch_size": 128, "steps": 8000,
            "lr": 1.2e-2, "schedule": "cosine", "warmup_steps": 100, "min_lr_ratio": 0.05,
            "ckpt_every": 500, "latent_dim": 64, "recon_weight": 1.0, "decoder_width": 32,
            "decoder_margin": 2, "recon_stride": 3, "linear_weight": 0.1},
    # The cpu recipe plus latent arithmetic: one linear map of the shifts for every input.
    # Measured at 1,500 steps (3 seeds): consistency 0.51 -> 0.85, analogy top-1 0.12 -> 0.33,
    # additivity 0.23 -> 0.12, at the cost of the seed's cross |cos| (0.14 -> 0.26); at its
    # 3,500 steps (3 seeds): analogy 0.358, R^2 0.77, cross |cos| 0.245. The targets
    # are not reached: half the toy's cases lose a fifth of a blob off the zero-filled border
    # (benchmarks/results/arithmetic.md). --cross-weight 6 slides along that front (3 seeds:
    # analogy 0.412, cross |cos| 0.192, opposite-sign -0.797 against -0.845 here). With the
    # same blobs drawn 4 pixels from every border (configs/toy_margin.yaml) it meets them all
    # (3 seeds: analogy 0.876, R^2 0.993, cross |cos| 0.020, opposite-sign -0.999).
    "ops": {"crops": 6, "antithetic": True, "cross_weight": 1.5, "batch_size": 128, "steps": 3500,
            "lr": 1.2e-2, "schedule": "cosine", "warmup_steps": 100, "min_lr_ratio": 0.05,
            "ckpt_every": 500, "linear_weight": 1.0},
}


def _field_types() -> dict[str, type]:
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainConfig)}


def coerce(key: str, value, typ: type):
    """Convert a YAML or command-line value to ``typ``; a mismatch is a ConfigError."""
    if isinstance(typ, types.UnionType):  # pragma: no cover - no unions today
        typ = typing.get_args(typ)[0]
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif typ is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise ConfigError(f"config key '{key}' expects {typ.__name__}, got {value!r}")


def _unknown(key: str) -> ConfigError:
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    hint = difflib.get_close_matches(key, names, n=1)
    return ConfigError(f"unknown config key '{key}'" + (f" (did you mean '{hint[0]}'?)" if hint else ""))


def apply(cfg: TrainConfig, updates: dict) -> TrainConfig:
    """Return a copy of ``cfg`` with ``updates`` applied and type-checked."""
    types_ = _field_types()
    out = dataclasses.replace(cfg)
    for key, value in updates.items():
        key = key.replace("-", "_")
        if key not in types_:
            raise _unknown(key)
        value = coerce(key, value, types_[key])
        if key in PATH_KEYS and value:  # stored absolute: the run works from any directory
            value = str(Path(value).expanduser().absolute())
        setattr(out, key, value)
    return out


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value")
    return data


def parse_overrides(args: list[str]) -> dict:
    """``['--lr=1e-3', '--use-jepa', '--steps', '10']`` -> {'lr': '1e-3', 'use_jepa': 'true', 'steps': '10'}."""
    out, i = {}, 0
    while i < len(args):
        a = args[i]
        if not a.startswith("--") or a == "--":
            raise ConfigError(f"expected --key=value, got {a!r}")
        key = a[2:]
        if "=" in key:
            key, value = key.split("=", 1)
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            value, i = args[i + 1], i + 1
        else:
            value = "true"  # a bare flag such as --wandb
        if key.startswith("no-") and value == "true":
            key, value = key[3:], "false"
        out[key.replace("-", "_")] = value
        i += 1
    return out


def resolve(preset: str = "seed", config_file: str | None = None,
            overrides: dict | None = None) -> TrainConfig:
    """Defaults <- preset <- YAML file <- command-line overrides, then validated."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset '{preset}', choose from {sorted(PRESETS)}")
    cfg = apply(TrainConfig(), PRESETS[preset])
    if config_file:
        cfg = apply(cfg, load_yaml(config_file))
    return apply(cfg, overrides or {}).validate()


def from_dict(d: dict) -> TrainConfig:
    """Rebuild a config saved in a checkpoint (unknown keys from newer versions are an error)."""
    if "split_by" not in d:  # saved before split_by existed: those runs split by file
        d = {**d, "split_by": "file"}
    return apply(TrainConfig(), d).validate()
