"""``softfact embed RUN --midi-dir PATH --out FILE``: a folder of MIDI files -> embeddings."""
from __future__ import annotations

import argparse


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="softfact embed",
        description="Embed every crop window of every song in a MIDI folder with a run's encoder: "
                    "one row per window with its song, start step and lowest pitch (.npz).")
    p.add_argument("run", help="run folder or checkpoint file (trained on piano rolls)")
    p.add_argument("--midi-dir", help="folder of .mid files (default: the run's own)")
    p.add_argument("--out", required=True, help="output file (.npz)")
    p.add_argument("--hop", type=int, default=None,
                   help="grid steps between windows (default: half the window)")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | mps")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    ns = p.parse_args(argv)
    from softfact.data.midi_files import MidiDataError
    from softfact.embed import embed_folder
    from softfact.run import Run
    if not ns.out.endswith(".npz"):  # checked before any work
        raise MidiDataError(f"embeddings are written as .npz, got {ns.out}")
    run = Run.load(ns.run, device=ns.device)
    emb = embed_folder(run, ns.midi_dir, hop=ns.hop, batch_size=ns.batch_size,
                       progress=not ns.quiet)
    path = emb.save(ns.out)
    print(f"embeddings: {len(emb):,} windows x {emb.z.shape[1]} from {len(emb.songs):,} songs "
          f"-> {path}")
    return 0
