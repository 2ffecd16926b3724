"""(a) Triplet throughput: the seed's per-sample __getitem__ (alone and behind a DataLoader
with workers) vs softfact's batched ``sample_triplets``, in one process.

softfact's path is ``sample_triplets(BlobSource(), batch)`` (what training runs: row-mask
views, rejection on masks); ``make_blobs`` + ``translate`` (the path for any image function)
is shown beside it."""
from __future__ import annotations

import argparse
import time

from common import snapshot, Threads, append_result, interleaved, machine_header, median, spread, table

import torch
from softfact import seed_reference as seed
from softfact.data.blobs import BlobSource, make_blobs
from softfact.data.triplets import sample_triplets


def _blobs(n, g):
    return make_blobs(n, generator=g)


def seed_loader_rate(batch_size: int, num_workers: int, batches: int) -> float:
    """Triplets/s of the seed's DataLoader in steady state (worker start-up excluded)."""
    dl = seed.make_loader(batch_size=batch_size, n_steps=batches + 2, num_workers=num_workers)
    it = iter(dl)
    next(it)  # workers started and one batch delivered
    t = time.perf_counter()
    for _ in range(batches):
        next(it)
    rate = batches * batch_size / (time.perf_counter() - t)
    del it
    return rate


def run(quick: bool = False, threads: tuple[int, ...] = (1, 2), batches: tuple[int, ...] = (1024, 4096)) -> str:
    start = snapshot()
    n_seed = 500 if quick else 2000           # per-sample __getitem__ calls per repeat
    repeats = 3 if quick else 7
    ds = seed.BlobShiftDataset()
    g = torch.Generator().manual_seed(0)
    source = BlobSource()
    rows = []
    for t in threads:
        with Threads(t):
            fns = {"seed": lambda: [ds[i] for i in range(n_seed)]}
            for b in batches:
                fns[f"softfact {b}"] = lambda b=b: sample_triplets(source, b, max_shift=4, generator=g)
            fns["generic 1024"] = lambda: sample_triplets(_blobs, 1024, max_shift=4, generator=g)
            times = interleaved(fns, repeats=repeats)
        seed_rate = n_seed / median(times["seed"])
        rows.append([t, "seed __getitem__ (per sample)", f"{n_seed} samples", seed_rate,
                     1e6 / seed_rate, spread(times["seed"]), 1.0])
        for b in batches:
            rate = b / median(times[f"softfact {b}"])
            rows.append([t, f"softfact sample_triplets(BlobSource(), {b})", f"{b} triplets", rate,
                         1e6 / rate, spread(times[f"softfact {b}"]), rate / seed_rate])
        rate = 1024 / median(times["generic 1024"])
        rows.append([t, "sample_triplets(make_blobs fn, 1024): any image function", "1024 triplets",
                     rate, 1e6 / rate, spread(times["generic 1024"]), rate / seed_rate])
    # the seed's loader as it trains: DataLoader, 2 worker processes, batch 1024
    dl_batches = 3 if quick else 20
    batch = batches[0]
    dl_rate = seed_loader_rate(batch, 2, dl_batches)
    ref = [r for r in rows if r[1].startswith("seed")][0][3]
    rows.append(["workers: 1 each", f"seed DataLoader num_workers=2 (batch {batch})",
                 f"{dl_batches} batches", dl_rate, 1e6 / dl_rate, "one run", dl_rate / ref])
    at = {(r[0], r[1]): r for r in rows}

    def softfact_row(t, b):
        return at[(t, f"softfact sample_triplets(BlobSource(), {b})")]
    summary = "; ".join(f"{t} thread(s): batch {b} **{softfact_row(t, b)[6]:.0f}x**"
                        for t in threads for b in batches)
    text = machine_header("(a) triplet throughput", {"mode": "quick" if quick else "full",
                                                     "repeats (median)": repeats}, start=start)
    text += "\n" + table(["torch threads", "path", "per repeat", "triplets/s", "us/triplet",
                          "repeat times (s)", "x seed __getitem__"], rows)
    vs_loader = "; ".join(f"{t} thread(s): batch {b} **{softfact_row(t, b)[3] / dl_rate:.0f}x**"
                          for t in threads for b in batches)
    text += (f"\nsoftfact sample_triplets vs the seed's __getitem__ in the same thread setting "
             f"(target >= 100x): {summary}. vs the seed's 2-worker DataLoader (its two workers "
             f"use both cores): {vs_loader}.\n")
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    ns = p.parse_args(argv)
    text = run(quick=ns.quick)
    print(text)
    print("appended to", append_result("sampler", text))


if __name__ == "__main__":
    main()
