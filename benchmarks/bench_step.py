"""(b) Training-step time at batch 256 and 1024: the seed's design vs softfact's step, next to
the FLOP floor measured on the same machine in the same run.

* seed model step: three encoder calls (anchor, crop1, crop2), loss, backward, Adam, on a
  batch already collated (the notebook's step without its data);
* seed end to end: the same step fed by the notebook's DataLoader (per-sample __getitem__,
  2 worker processes), steady state;
* softfact step: ``sample_triplets`` + ``softfact.training.loop.compute_losses`` + backward
  + Adam step (the body of ``softfact.training.train``: channels_last model, one forward pass
  over the three views in slices of ``chunk`` images), data included;
* floor: 3 views x batch x 3 (forward + backward) x ToyEncoder forward FLOPs (counted from
  the layers: 2.44 MFLOP per 16x16 image), divided by the float32 ``torch.mm`` speed
  measured at the same thread count.
"""
from __future__ import annotations

import argparse
import time

from common import snapshot, Threads, append_result, interleaved, machine_header, median, spread, table

import torch
from softfact import seed_reference as seed
from softfact.config import resolve
from softfact.data.blobs import make_blobs
from softfact.data.sources import build_image_source
from softfact.data.triplets import sample_triplets
from softfact.models import ChunkedEncoder, build_encoder
from softfact.training.loop import compute_losses, make_optimizer


def forward_flops(model: torch.nn.Module, image_size: int = 16) -> float:
    """Multiply-adds x 2 of convolutions and linear layers for one image."""
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, torch.nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            total += 2 * out[0].numel() * k
        elif isinstance(mod, torch.nn.Linear):
            total += 2 * mod.in_features * mod.out_features
    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 1, image_size, image_size))
    for h in handles:
        h.remove()
    return float(total)


def _seed_batch(ds, n):
    items = [ds[i] for i in range(n)]
    a, c1, c2, t = (torch.stack([it[j] for it in items]) for j in range(4))
    return a, c1, c2, t


class SoftfactStep:
    """The loop body of softfact.training.train for a given batch size."""

    def __init__(self, batch: int, seed_: int = 0):
        # the seed's triplets (3 views per anchor), through the CPU preset's step settings
        self.cfg = resolve("cpu", overrides={"batch_size": batch, "device": "cpu", "crops": 2,
                                             "antithetic": False})
        torch.manual_seed(seed_)
        model = build_encoder(self.cfg).to(memory_format=torch.channels_last)  # as train() does
        self.model = ChunkedEncoder(model, self.cfg.chunk)
        self.opt = make_optimizer(self.cfg, model)
        self.source = build_image_source(self.cfg, "train")
        self.gen = torch.Generator().manual_seed(seed_)
        self.step = 0

    def sample(self):
        return sample_triplets(self.source, self.cfg.batch_size, max_shift=self.cfg.max_shift,
                               generator=self.gen, wrap=self.cfg.wrap,
                               schemes=self.cfg.scheme_list())

    def model_step(self, batch):
        losses = compute_losses(self.model, batch, self.step, self.cfg)
        self.opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        self.opt.step()
        self.step += 1

    def __call__(self):
        self.model_step(self.sample())


def seed_end_to_end(batch: int, steps: int, threads: int) -> list[float]:
    """Per-step wall times of the seed's loop (DataLoader, 2 workers) in steady state."""
    torch.manual_seed(0)
    enc = seed.ToyEncoder()
    opt = torch.optim.Adam(enc.parameters(), lr=4e-3)
    dl = seed.make_loader(batch_size=batch, n_steps=steps + 2, num_workers=2)
    times = []
    with Threads(threads):
        it = iter(dl)
        a, c1, c2, t, *_ = next(it)
        seed.model_step(enc, opt, a, c1, c2, t)
        t0 = time.perf_counter()
        for _ in range(steps):
            a, c1, c2, t, *_ = next(it)
            seed.model_step(enc, opt, a, c1, c2, t)
            t1 = time.perf_counter()
            times.append(t1 - t0)
            t0 = t1
    del it
    return times


def run(quick: bool = False, threads: tuple[int, ...] = (1, 2), batches=(256, 1024)) -> str:
    start = snapshot()
    repeats = 3 if quick else 7
    mflop = forward_flops(seed.ToyEncoder()) / 1e6
    ds = seed.BlobShiftDataset()
    rows, summary = [], []
    n_mm = 1536
    mm_a, mm_b = torch.randn(n_mm, n_mm), torch.randn(n_mm, n_mm)
    for t in threads:
        with Threads(t):
            for b in batches:
                torch.manual_seed(0)
                enc = seed.ToyEncoder()
                opt = torch.optim.Adam(enc.parameters(), lr=4e-3)
                sb = _seed_batch(ds, b)
                sf = SoftfactStep(b)
                fixed = sf.sample()
                times = interleaved({
                    "seed model step": lambda: seed.model_step(enc, opt, *sb),
                    "softfact model step": lambda: sf.model_step(fixed),
                    "softfact step (data included)": sf,
                    "mm": lambda: torch.mm(mm_a, mm_b),  # the machine's speed, measured alongside
                }, repeats=repeats)
                gflops = 2 * n_mm**3 / median(times.pop("mm")) / 1e9
                floor = 3 * b * 3 * mflop * 1e6 / (gflops * 1e9)
                ref = median(times["seed model step"])
                for name, ts in times.items():
                    m = median(ts)
                    rows.append([t, b, name, m * 1e3, spread([x * 1e3 for x in ts]),
                                 m / floor, ref / m])
                m_sf = median(times["softfact step (data included)"])
                summary.append((t, b, floor, m_sf / floor, ref / m_sf))
                rows.append([t, b, f"FLOP floor ({gflops:.0f} GFLOP/s mm)", floor * 1e3, "", 1.0,
                             ref / floor])
    e2e_steps = 3 if quick else 6
    for b in batches:
        ts = seed_end_to_end(b, e2e_steps, threads=1)
        m = median(ts)
        ref = [r for r in rows if r[0] == 1 and r[1] == b and r[2] == "seed model step"][0][3]
        rows.append(["1 (+2 workers)", b, "seed end to end (DataLoader, 2 workers)", m * 1e3,
                     spread([x * 1e3 for x in ts]), "", ref / (m * 1e3)])
    text = machine_header("(b) training-step time", {
        "mode": "quick" if quick else "full", "repeats (median)": repeats,
        "ToyEncoder forward (counted)": f"{mflop:.3f} MFLOP per 16x16 image",
        "floor": "3 views x batch x 3 (fwd+bwd) x forward FLOPs / float32 torch.mm GFLOP/s "
                 f"({n_mm}x{n_mm}, timed interleaved with the steps)"}, start=start)
    text += "\n" + table(["torch threads", "batch", "what", "ms/step (median)", "range (ms)",
                          "x floor", "speed-up vs seed model step"], rows)
    text += "\n" + "\n".join(
        f"- {t} thread(s), batch {b}: softfact step with data = **{r:.2f}x the FLOP floor** "
        f"({f * 1e3:.0f} ms); speed-up over the seed's model step alone **{s:.2f}x** (< 1: slower)"
        for t, b, f, r, s in summary) + "\n"
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    ns = p.parse_args(argv)
    text = run(quick=ns.quick, threads=tuple(int(x) for x in ns.threads.split(",")))
    print(text)
    print("appended to", append_result("step", text))


if __name__ == "__main__":
    main()
