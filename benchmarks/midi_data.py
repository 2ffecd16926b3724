"""Time the MIDI data path: first parse + cache, cached restart, crop and triplet sampling.

    python benchmarks/midi_data.py --midi-dir PATH [--out benchmarks/results/midi_data.json]

Run on demand (not a test). The first parse uses a fresh, temporary cache folder.
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch


def timed(fn, repeat=1):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--midi-dir", required=True)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/midi_data.json"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from softfact.data.midi_files import find_midi_files, load_midi_folder
    from softfact.data.midi_crops import build_roll_source
    from softfact.data.triplets import sample_triplets

    res = {"midi_dir": Path(args.midi_dir).name, "files": len(find_midi_files(Path(args.midi_dir))),
           "machine": platform.processor() or platform.machine(), "threads": args.threads}
    with tempfile.TemporaryDirectory() as cache:
        cfg = SimpleNamespace(data="midi", midi_dir=args.midi_dir, steps_per_quarter=4,
                              val_fraction=0.1, cache_dir=cache, image_size=64)
        res["first_parse_and_cache_s"], songs = timed(
            lambda: load_midi_folder(args.midi_dir, cache_dir=cache))
        res["songs"], res["notes"] = len(songs), int(len(songs.notes))
        res["cache_bytes"] = sum(p.stat().st_size for p in Path(cache).iterdir())
        res["cached_load_s"], _ = timed(lambda: load_midi_folder(args.midi_dir, cache_dir=cache), 3)
        res["cached_train_source_s"], _ = timed(lambda: build_roll_source(cfg, "train"), 3)
        g = torch.Generator().manual_seed(0)
        for size in (64, 128):
            cfg.image_size = size
            src = build_roll_source(cfg, "train")
            src(8, g)
            t, _ = timed(lambda: src(1024, g), 5)
            res[f"crops_1024_{size}_s"] = t
            t, _ = timed(lambda: sample_triplets(src, 1024, max_shift=12, generator=g), 3)
            res[f"triplets_1024_{size}_s"] = t
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
