"""Time the MIDI data path: first parse + cache, cached restart, crop and triplet sampling;
the content hash, the corpus summary and split counts by each ``split_by``, and the issue's
over-long file (1 tick per quarter, one note at tick 10**8) skipped by the length cap.

    python benchmarks/midi_data.py --midi-dir PATH [--out benchmarks/results/midi_data.json]

Run on demand (not a test). The first parse uses a fresh, temporary cache folder.
"""
from __future__ import annotations

import argparse
import json
import os
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
    import resource
    import warnings

    from softfact.data.midi_crops import build_roll_source, corpus_split
    from softfact.data.midi_files import content_hash, find_midi_files, load_midi_folder
    from softfact.data.triplets import sample_triplets

    res = {"midi_dir": Path(args.midi_dir).name, "files": len(find_midi_files(Path(args.midi_dir))),
           "machine": platform.processor() or platform.machine(), "threads": args.threads,
           "date": time.strftime("%Y-%m-%d %H:%M"), "load_1min": round(os.getloadavg()[0], 1),
           "note": "2-core machine shared with other jobs: timings are noisy"}
    with tempfile.TemporaryDirectory() as cache:
        cfg = SimpleNamespace(data="midi", midi_dir=args.midi_dir, steps_per_quarter=4,
                              val_fraction=0.1, cache_dir=cache, image_size=64, split_by="stem")
        res["first_parse_and_cache_s"], songs = timed(
            lambda: load_midi_folder(args.midi_dir, cache_dir=cache))
        res["songs"], res["notes"] = len(songs), int(len(songs.notes))
        res["cache_bytes"] = sum(p.stat().st_size for p in Path(cache).iterdir())
        res["cached_load_s"], _ = timed(lambda: load_midi_folder(args.midi_dir, cache_dir=cache), 3)
        res["cached_train_source_s"], _ = timed(lambda: build_roll_source(cfg, "train"), 3)
        folder = Path(args.midi_dir)
        res["content_hash_s"], _ = timed(lambda: content_hash(folder, find_midi_files(folder)), 3)
        for split_by in ("stem", "folder", "file"):
            cfg.split_by = split_by
            corpus = corpus_split(cfg)
            c = corpus.counts()
            res[f"split_{split_by}"] = {k: c[k] for k in ("tunes", "train_songs", "val_songs")}
            if split_by == "stem":
                res["summary"] = corpus.summary()
        # the 549-byte file: 83 s and 6.7 GB before the cap
        from symusic import Note, Score, Track
        long_dir = Path(cache) / "long"
        long_dir.mkdir()
        score = Score(1)
        track = Track(name="t", program=0)
        track.notes.append(Note(10**8, 1, 60, 90))
        score.tracks.append(track)
        score.dump_midi(str(long_dir / "long.mid"))
        score.tracks[0].notes[0].time = 0
        score.dump_midi(str(long_dir / "ok.mid"))
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res["overlong_file_skipped_s"], _ = timed(
                lambda: load_midi_folder(long_dir, cache_dir=Path(cache) / "c2"))
        res["overlong_file_peak_rss_growth_mb"] = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
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
