"""Build softfact's built-in corpus: the Bach chorales of music21's corpus as compressed notes.

music21 is needed to run this script only (``pip install music21``); softfact itself reads the
result, ``softfact/resources/bach_chorales.npz``, with NumPy. Each score is stripped of ties
and flattened; every pitched note (chord notes included, grace notes left out) becomes
(MIDI pitch, start tick, end tick) at TPQ ticks per quarter note, which ``softfact`` rounds to
its grid with the same rule as MIDI files. Where a chorale ships in two encodings the MusicXML one is
kept; scores that fail to parse or hold no notes are reported and left out.

    python scripts/build_bach_corpus.py [--out softfact/resources/bach_chorales.npz]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

TPQ = 24  # ticks per quarter: exact for 32nd notes and eighth-note triplets
SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn")


def score_notes(path: Path) -> np.ndarray:
    """(N, 3) int64 (pitch, start tick, end tick) of one score, sorted by start then pitch."""
    from music21 import converter
    score = converter.parse(str(path)).stripTies()
    rows = []
    for el in score.flatten().notes:
        ql = Fraction(el.duration.quarterLength)
        if ql <= 0:  # grace notes take no time
            continue
        start = Fraction(el.offset)
        for p in el.pitches:
            rows.append((p.midi, round(start * TPQ), round((start + ql) * TPQ)))
    notes = np.array(sorted(set(rows)), dtype=np.int64).reshape(-1, 3)
    if len(notes):
        notes[:, 1:] -= notes[:, 1].min()  # start at the first note (pickup bars)
        notes = notes[np.lexsort((notes[:, 0], notes[:, 1]))]
    return notes


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=here / "softfact" / "resources" / "bach_chorales.npz")
    args = ap.parse_args(argv)
    import music21
    from music21 import corpus

    # one encoding per chorale: a few ship both as MusicXML and as Humdrum; keep the MusicXML
    by_stem: dict[str, Path] = {}
    for p in sorted(map(Path, corpus.getComposer("bach")), key=lambda p: (p.suffix.lower() == ".krn", p.name)):
        if p.suffix.lower() in SUFFIXES:
            by_stem.setdefault(p.stem, p)
    paths = sorted(by_stem.values())
    names, parts, failed = [], [], []
    for i, path in enumerate(paths):
        path = Path(path)
        try:
            notes = score_notes(path)
        except Exception as e:  # a score music21 cannot read is left out, and reported
            failed.append(f"{path.name}: {str(e).splitlines()[0][:120] if str(e) else type(e).__name__}")
            continue
        if not len(notes):
            failed.append(f"{path.name}: no notes")
            continue
        names.append(path.stem)
        parts.append(notes)
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{len(paths)} scores", file=sys.stderr)
    notes = np.concatenate(parts)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        np.savez_compressed(f, names=np.array(names, dtype=str), pitch=notes[:, 0].astype(np.uint8),
                            start=notes[:, 1].astype(np.int32), end=notes[:, 2].astype(np.int32),
                            offsets=offsets, tpq=np.array(TPQ),
                            source=np.array(f"music21 {music21.__version__} corpus, composer 'bach'"))
    os.chmod(tmp, 0o644)
    os.replace(tmp, args.out)
    print(f"{len(names)} scores, {len(notes)} notes -> {args.out} ({args.out.stat().st_size / 1024:.0f} KB); "
          f"{len(failed)} left out", file=sys.stderr)
    for line in failed:
        print(f"  left out {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
