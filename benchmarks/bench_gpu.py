"""GPU: sampler throughput, training-step time and time to the seed's quality on one CUDA
device, the seed's design beside softfact's path in the same process.

* sampler: ``sample_triplets`` on a CUDA generator (data made where the model runs);
* step: softfact's loop body (one forward pass over the three views, data included) in
  float32 and in bf16 autocast, beside the seed's model step (three encoder calls) on a batch
  already on the GPU, and the seed's end-to-end step (DataLoader, 2 workers, copy to GPU);
* the same step with ``compile: true`` (the whole step through torch.compile,
  mode "reduce-overhead"), and the time-to-quality runs with and without it;
* time to quality: ``softfact.training.train`` on CUDA with the seed's own settings
  (``--preset seed``: batch 1024, Adam 4e-3 constant, 5,000 steps) and with the CPU preset,
  evaluated every N steps (clock paused), stopped at the bar. The seed's design is not run to
  the bar here: on the CPU its whole 5,000-step recipe never reached it
  (results/time_to_quality.md), so its GPU figure is the time of that whole recipe at its
  measured end-to-end step rate.

Needs CUDA; writes results/gpu.md. Run: ``python benchmarks/bench_gpu.py``.
"""
from __future__ import annotations

import argparse
import time

from common import append_result, interleaved, machine_header, median, snapshot, spread, table

import torch
from softfact import seed_reference as seed
from bench_step import SoftfactStep, _seed_batch
from bench_ttq import KEYS, _outcome, softfact_recipe, trace_rows
from softfact.data.blobs import BlobSource
from softfact.data.triplets import sample_triplets
from softfact.training.compiled import compiled_step
from softfact.training.loop import train_step


def synced(fn, reps: int):
    """fn repeated ``reps`` times, then one device sync: the mean of many steps, not launches."""
    def run():
        for _ in range(reps):
            fn()
        torch.cuda.synchronize()
    return run


class CudaStep(SoftfactStep):
    def __init__(self, batch: int, amp: bool):
        super().__init__(batch)
        dev = torch.device("cuda")
        self.cfg.amp, self.cfg.device, self.cfg.chunk = amp, "cuda", 0
        # no chunking on a GPU; .to() moves the parameters in place, so the optimizer still holds them
        self.model = self.model.encoder.to(dev, memory_format=torch.channels_last)
        self.gen = torch.Generator(device=dev).manual_seed(0)


class CompiledCudaStep(CudaStep):
    """The whole step (sampler included) as ``compile: true`` runs it: torch.compile,
    mode "reduce-overhead" (CUDA graphs); the first calls (compilation) are warm-up."""

    def __init__(self, batch: int):
        super().__init__(batch, amp=False)
        self.cfg.compile = True
        self.fn = compiled_step(train_step, enabled=True, device=torch.device("cuda"),
                                generator=self.gen, optimizer=self.opt)
        for _ in range(3):
            self()

    def __call__(self):
        self.fn(self.model, self.opt, self.source, self.cfg.batch_size, self.cfg, self.gen,
                self.step, self.cfg.lr)
        self.step += 1


def sampler_rows(batches, reps: int) -> list[list]:
    src, g = BlobSource(16), torch.Generator(device="cuda").manual_seed(0)
    rows = []
    for b in batches:
        fn = synced(lambda: sample_triplets(src, b, max_shift=4, generator=g), reps)
        ts = interleaved({"s": fn}, repeats=5)["s"]
        rows.append([b, median(ts) / reps * 1e3, b * reps / median(ts) / 1e6])
    return rows


def step_rows(batches, reps: int) -> list[list]:
    seed.device = "cuda"
    ds = seed.BlobShiftDataset()
    rows = []
    for b in batches:
        torch.manual_seed(0)
        enc = seed.ToyEncoder().cuda()
        opt = torch.optim.Adam(enc.parameters(), lr=4e-3)
        sb = [x.cuda() for x in _seed_batch(ds, b)]
        f32, bf16 = CudaStep(b, amp=False), CudaStep(b, amp=True)
        compiled = CompiledCudaStep(b)
        times = interleaved({
            "seed model step (3 calls, batch on GPU)": synced(lambda: seed.model_step(enc, opt, *sb), reps),
            "softfact step fp32 (data included)": synced(f32, reps),
            "softfact step bf16 autocast (data included)": synced(bf16, reps),
            "softfact step fp32 compiled (compile: true, data included)": synced(compiled, reps),
        }, repeats=5)
        ref = median(times["seed model step (3 calls, batch on GPU)"])
        for name, ts in times.items():
            rows.append([b, name, median(ts) / reps * 1e3, spread([t / reps * 1e3 for t in ts]),
                         ref / median(ts)])
    return rows


def seed_end_to_end_ms(batch: int = 1024, steps: int = 30) -> float:
    """The notebook's loop on the GPU: DataLoader (2 workers, pinned) + three-call step."""
    seed.device = "cuda"
    torch.manual_seed(0)
    enc = seed.ToyEncoder().cuda()
    opt = torch.optim.Adam(enc.parameters(), lr=4e-3)
    it = iter(seed.make_loader(batch_size=batch, n_steps=steps + 3, num_workers=2))
    for _ in range(3):
        a, c1, c2, t, *_ = next(it)
        seed.model_step(enc, opt, a, c1, c2, t)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        a, c1, c2, t, *_ = next(it)
        seed.model_step(enc, opt, a, c1, c2, t)
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps * 1e3


def ttq_text(runs: list[dict], budget_s: float) -> str:
    lines = []
    for r in runs:
        outcome, t = _outcome(r, budget_s)
        lines.append(f"- {r['name']}: {outcome}" + (f" after **{t:.1f} s**" if t else "") +
                     f" (evaluation excluded: {r['eval_s']:.0f} s)")
    return (table(["run", "step", "train time (s)", "bar met", *KEYS], trace_rows(runs)) + "\n"
            + "\n".join(lines) + "\n")


def run(quick: bool = False, budget_s: float = 150.0, eval_every: int = 250) -> str:
    if not torch.cuda.is_available():
        raise SystemExit("bench_gpu needs a CUDA device")
    start = snapshot()
    reps = 5 if quick else 20
    text = ""
    srows = sampler_rows((1024, 16384, 131072), reps)
    text += "\n### sampler on the GPU\n\n" + table(["batch", "ms/batch", "M triplets/s"], srows)
    text += ("\nseed per-sample `__getitem__` for scale: ~3,900 triplets/s per process "
             "(results/sampler.md)\n")
    rows = step_rows((256, 1024, 4096), reps)
    text += "\n### training step on the GPU\n\n" + table(
        ["batch", "what", "ms/step (median)", "range (ms)", "speed-up vs seed model step"], rows)
    e2e = seed_end_to_end_ms()
    sf1024 = [r for r in rows if r[0] == 1024 and r[1].startswith("softfact step fp32")][0][2]
    text += (f"\n- seed end to end at batch 1024 (DataLoader, 2 workers, pinned, copy to GPU): "
             f"**{e2e:.1f} ms/step**, so its 5,000-step recipe takes {e2e * 5:.0f} s here; "
             f"softfact's fp32 step with data: {sf1024:.2f} ms (**{e2e / sf1024:.0f}x**)\n")
    runs = []
    for preset, compile_ in (("seed", False), ("cpu", False), ("seed", True), ("cpu", True)):
        runs.append(softfact_recipe(eval_every, 0, 500, budget_s, preset=preset,
                                    overrides={"device": "cuda", "log_every": 250,
                                               "compile": compile_}))
        runs[-1]["name"] += ", compile: true" if compile_ else ""
    text += "\n### time to the seed's quality on the GPU\n\n" + ttq_text(runs, budget_s)
    reached = [t for t in (_outcome(r, budget_s)[1] for r in runs) if t]
    if reached:
        text += (f"- the seed design's whole 5,000-step recipe at its end-to-end rate: "
                 f"{e2e * 5:.0f} s (it did not reach the bar in 5,000 steps on the CPU); "
                 f"softfact's fastest time to the bar is **{e2e * 5 / min(reached):.0f}x** shorter\n")
    header = machine_header("GPU: sampler, step, time to quality", {
        "device": torch.cuda.get_device_name(0), "cuda": torch.version.cuda,
        "mode": "quick" if quick else "full", "steps per timed repeat": reps,
        "time to quality": f"evaluated every {eval_every} steps (n=500), clock paused, "
                           f"budget {budget_s:.0f} s per run"}, start=start)
    return header + text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--budget-s", type=float, default=150.0)
    p.add_argument("--eval-every", type=int, default=250)
    ns = p.parse_args(argv)
    text = run(quick=ns.quick, budget_s=ns.budget_s, eval_every=ns.eval_every)
    print(text)
    print("appended to", append_result("gpu", text))


if __name__ == "__main__":
    main()
