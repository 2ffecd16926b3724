"""The captured step (``cuda_graph: true``) against the eager step, side by side in one process.

* step: ms per training step, eager and as one replayed CUDA graph, for the toy's seed preset
  (batch 1024 triplets), its CPU preset (batch 128 x 7 views) and the MIDI conv encoder
  (``configs/pop909.yaml``'s model at 64 x 64, batch 1024 x 3 views, on synthetic rolls: no
  corpus needed), each the loop's ``update_step`` with its sampler; medians of interleaved
  repeats, one device sync per repeat;
* time to quality: ``softfact.training.train`` with ``cuda_graph: true`` (seed preset, CPU preset,
  CPU preset with bf16 autocast), evaluated every ``--eval-every`` steps with the clock paused,
  stopped at the seed's bar; the seed design's end-to-end step (DataLoader, 2 workers, copy to
  the GPU) for the ratio.

Needs CUDA for the figures it exists for; ``--device cpu --quick`` runs every path on tiny
sizes (the graph falls back to the eager sync-free step there) to check the script itself.
Writes results/graph.md. Run: ``python benchmarks/bench_graph.py [--quick]``.
"""
from __future__ import annotations

import argparse
import warnings

from common import ROOT, append_result, interleaved, machine_header, median, snapshot, spread, table

import numpy as np
import torch
from bench_gpu import seed_end_to_end_ms, ttq_text
from bench_ttq import _outcome, softfact_recipe
from softfact.config import load_yaml, resolve
from softfact.data.midi_crops import RollCrops
from softfact.data.midi_files import SongNotes
from softfact.data.sources import build_image_source
from softfact.models import build_encoder, float32_embedding
from softfact.training.graphed import GraphedStep, GraphFallbackWarning, match_optimizer
from softfact.training.loop import lr_at, make_optimizer, train_step, update_step


def synthetic_rolls(size: int, seed: int = 0) -> RollCrops:
    """Piano-roll crops from random notes (about a POP909 song's density, 8 songs)."""
    rng = np.random.default_rng(seed)
    n = 8 * 2000
    start = np.concatenate([np.sort(rng.integers(0, 3000, 2000)) for _ in range(8)])
    notes = np.stack([rng.integers(36, 90, n), start, start + rng.integers(1, 8, n)], 1)
    return RollCrops(SongNotes([f"s{i}" for i in range(8)], notes, np.arange(0, n + 1, 2000), 4), size=size)


class Step:
    """One training step of ``cfg`` as the loop runs it: eager (``train_step``) or captured."""

    def __init__(self, cfg, device: torch.device, graphed: bool, source=None):
        torch.manual_seed(0)
        self.model = build_encoder(cfg).to(device, memory_format=torch.channels_last)
        if cfg.amp:
            float32_embedding(self.model)
        self.opt = make_optimizer(cfg, self.model)
        match_optimizer(self.opt, graphed=graphed and device.type == "cuda", device=device)
        self.source = source if source is not None else build_image_source(cfg, "train")
        self.gen = torch.Generator(device=device).manual_seed(0)
        self.cfg, self.step = cfg, 0
        self.graph = GraphedStep(update_step, optimizer=self.opt, generator=self.gen,
                                 device=device) if graphed else None

    def __call__(self):
        args = (self.model, self.opt, self.source, self.cfg.batch_size, self.cfg, self.gen, self.step)
        lr = lr_at(self.step, self.cfg)
        if self.graph is None:
            train_step(*args, lr)
        else:
            self.graph(*args, lr=lr)
        self.step += 1


def step_rows(device: torch.device, quick: bool, reps: int) -> list[list]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    midi = {k: v for k, v in load_yaml(ROOT / "configs" / "pop909.yaml").items()
            if k in ("encoder", "width", "depth", "latent_dim", "image_size", "max_shift", "lr",
                     "schedule", "warmup_steps")}
    cases = [("toy, --preset seed", "seed", {}, None),
             ("toy, --preset cpu", "cpu", {}, None),
             ("toy, --preset cpu --amp", "cpu", {"amp": True}, None),
             ("MIDI conv 64 x 64 (pop909.yaml's model)", "seed", {**midi, "data": "blobs", "steps": 6500},
              synthetic_rolls(64))]
    rows = []
    for name, preset, over, source in cases:
        base = {"device": str(device), "chunk": 0, **over}
        if quick:
            base["batch_size"] = 16
        if name.startswith("MIDI") and not quick:
            base["batch_size"] = 1024
        cfg_e = resolve(preset, overrides=base)
        cfg_g = resolve(preset, overrides={**base, "cuda_graph": True})
        eager, graph = Step(cfg_e, device, False, source), Step(cfg_g, device, True, source)
        for _ in range(5):  # warm-up, capture
            eager(), graph()

        def many(fn):
            def run():
                for _ in range(reps):
                    fn()
                sync()
            return run

        times = interleaved({"eager": many(eager), "captured": many(graph)}, repeats=3 if quick else 7)
        e, g = median(times["eager"]) / reps * 1e3, median(times["captured"]) / reps * 1e3
        views = cfg_e.batch_size * (1 + cfg_e.crops)
        rows.append([name, views, e, spread([t / reps * 1e3 for t in times["eager"]]), g,
                     spread([t / reps * 1e3 for t in times["captured"]]), e / g,
                     "yes" if graph.graph.captured else "no (eager)"])
    return rows


def run(device: torch.device, quick: bool, budget_s: float, eval_every: int) -> str:
    start = snapshot()
    reps = 2 if quick else 50
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GraphFallbackWarning)  # the CPU check's fallback
        rows = step_rows(device, quick, reps)
        text = "\n### training step, eager vs one CUDA graph (`cuda_graph: true`)\n\n" + table(
            ["model", "views/step", "eager ms", "range", "captured ms", "range", "speed-up", "captured"], rows)
        runs = []
        for preset, over in (("seed", {}), ("cpu", {}), ("cpu", {"amp": True})):
            o = {"device": str(device), "log_every": eval_every, "cuda_graph": True, **over}
            if quick:
                o.update(steps=4, batch_size=8)
            runs.append(softfact_recipe(eval_every if not quick else 2, 0, 500 if not quick else 50,
                                        budget_s, preset=preset, overrides=o))
            runs[-1]["name"] += ", cuda_graph: true"
    text += "\n### time to the seed's bar, the step captured\n\n" + ttq_text(runs, budget_s)
    if device.type == "cuda":
        e2e = seed_end_to_end_ms(steps=10 if quick else 30)
        reached = [t for t in (_outcome(r, budget_s)[1] for r in runs) if t]
        text += (f"- the seed design's end-to-end step here: {e2e:.1f} ms, its 5,000-step recipe "
                 f"{e2e * 5:.0f} s" + (f"; the fastest captured run reached the bar "
                                       f"{e2e * 5 / min(reached):.0f}x sooner\n" if reached else "\n"))
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else f"{device} (script check only)"
    header = machine_header("The captured step: eager vs one CUDA graph, time to quality", {
        "device": name, "torch": torch.__version__, "mode": "quick" if quick else "full",
        "steps per timed repeat": reps,
        "time to quality": f"evaluated every {eval_every} steps, clock paused, budget {budget_s:.0f} s per run"},
        start=start)
    return header + text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--device", default="cuda")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--budget-s", type=float, default=60.0)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--out", default="graph", help="results file name (results/NAME.md)")
    ns = p.parse_args(argv)
    device = torch.device(ns.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_graph needs a CUDA device (or --device cpu --quick to check the script)")
    text = run(device, ns.quick, ns.budget_s, ns.eval_every)
    print(text)
    if device.type == "cuda":  # a CPU run checks the script; its figures are not results
        print("appended to", append_result(ns.out, text))


if __name__ == "__main__":
    main()
