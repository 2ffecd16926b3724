"""One GPU session, two phases: time to the seed's quality (quiet GPU), then a sweep of runs
that share the GPU (train + evaluate each, several processes at once).

Phase 1, alone on the GPU: ``--preset seed`` eager and with ``compile: true`` (the whole step
through ``torch.compile(mode="reduce-overhead")``), evaluated every 250 steps with the clock
paused, stopped at the bar; the compile time (first step) is counted in the training time and
also given apart. The seed design's end-to-end step (DataLoader, 2 workers, copy to GPU) for
scale, and the MIDI-size conv encoder's step (64 x 64, batch 1024) eager in fp32 and bf16.

Phase 2: the jobs of a JSON file ([{"name", "args": [...]}, ...]: ``softfact train`` arguments),
``--workers`` at a time, each ``softfact train`` then ``softfact evaluate``; a job still
training at its share of the deadline is stopped (its last checkpoint is intact) and evaluated
as it is. One JSON line per job: its arguments, the step reached, wall times, metrics.json.

    python benchmarks/gpu_sweep.py --jobs benchmarks/gpu_jobs.json --out OUTDIR --deadline-s 520
    python benchmarks/gpu_sweep.py --jobs ... --out /tmp/x --dry     # CPU smoke test, tiny runs
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", flush=True)


# -- phase 1 ------------------------------------------------------------------------------
def phase_timing(out: Path, dry: bool) -> None:
    sys.path.insert(0, str(HERE))
    import torch
    from bench_ttq import softfact_recipe, _outcome
    from softfact.training import loop

    dev = "cuda" if torch.cuda.is_available() and not dry else "cpu"
    result = {"device": torch.cuda.get_device_name(0) if dev == "cuda" else "cpu",
              "torch": torch.__version__, "runs": []}
    first_call = {}
    real = loop.compiled_step

    def timed_compiled_step(fn, **kw):  # time the first (compiling) call of the compiled step
        step = real(fn, **kw)

        def wrapped(*a, **k):
            if "s" in first_call:
                return step(*a, **k)
            t = time.perf_counter()
            r = step(*a, **k)
            if dev == "cuda":
                torch.cuda.synchronize()
            first_call["s"] = time.perf_counter() - t
            return r
        return wrapped

    loop.compiled_step = timed_compiled_step
    plans = [("seed", True, 110.0)] if not dry else [("seed", False, 1.0), ("seed", True, 1.0)]
    for preset, comp, budget in plans:
        first_call.clear()
        over = {"device": dev, "log_every": 250, "compile": comp}
        if dry:
            over.update(steps=4, batch_size=8, compile=False)
        t = time.perf_counter()
        try:
            r = softfact_recipe(2 if dry else 250, 0, 50 if dry else 500, budget, preset=preset,
                                overrides=over)
            outcome, reached = _outcome(r, budget)
            result["runs"].append({"preset": preset, "compile": comp, "outcome": outcome,
                                   "train_s": reached, "first_step_s": first_call.get("s"),
                                   "trace": r["trace"], "eval_s": r["eval_s"],
                                   "wall_s": time.perf_counter() - t})
            log(f"ttq {preset} compile={comp}: {outcome} {reached} (first step {first_call.get('s')})")
        except Exception as e:  # noqa: BLE001 - record and go on
            result["runs"].append({"preset": preset, "compile": comp, "error": repr(e)[:500]})
            log(f"ttq {preset} compile={comp} failed: {e!r}"[:300])
        (out / "timing.json").write_text(json.dumps(result, indent=1, default=float))
    loop.compiled_step = real
    if dev == "cuda":
        try:
            from bench_gpu import seed_end_to_end_ms
            result["seed_end_to_end_ms_b1024"] = seed_end_to_end_ms()
            log(f"seed e2e {result['seed_end_to_end_ms_b1024']:.2f} ms")
        except Exception as e:  # noqa: BLE001
            result["seed_end_to_end_error"] = repr(e)[:300]
        try:
            result["conv_step"] = conv_steps(dev)
            log(f"conv steps {result['conv_step']}")
        except Exception as e:  # noqa: BLE001
            result["conv_step_error"] = repr(e)[:300]
    (out / "timing.json").write_text(json.dumps(result, indent=1, default=float))


def conv_steps(dev: str) -> dict:
    """configs/pop909.yaml's conv encoder on 64 x 64 images, batch 1024 anchors (3 views each)."""
    import torch
    from softfact.config import resolve
    from softfact.data.sources import build_image_source
    from softfact.models import build_encoder
    from softfact.training.loop import make_optimizer, train_step

    res = {}
    for amp in (False, True):
        cfg = resolve("seed", config_file=HERE.parent / "configs" / "pop909.yaml",
                      overrides={"data": "blobs", "device": dev, "batch_size": 1024, "amp": amp,
                                 "threads": 0, "chunk": 0})
        torch.manual_seed(0)
        model = build_encoder(cfg).to(dev, memory_format=torch.channels_last)
        opt = make_optimizer(cfg, model)
        src = build_image_source(cfg, "train")
        gen = torch.Generator(device=dev).manual_seed(0)
        for i in range(5):
            train_step(model, opt, src, cfg.batch_size, cfg, gen, i, cfg.lr)
        torch.cuda.synchronize()
        reps, times = 20, []
        for _ in range(3):
            t = time.perf_counter()
            for i in range(reps):
                train_step(model, opt, src, cfg.batch_size, cfg, gen, i, cfg.lr)
            torch.cuda.synchronize()
            times.append((time.perf_counter() - t) / reps * 1e3)
        res["bf16" if amp else "fp32"] = {"ms_per_step": sorted(times)[1], "all_ms": times}
    return res


# -- phase 2 ------------------------------------------------------------------------------
def phase_sweep(jobs: list[dict], out: Path, workers: int, deadline: float, dry: bool) -> None:
    runs = out / "runs"
    runs.mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    pending, active = list(jobs), []
    results = out / "sweep.jsonl"

    def start(job):
        d = runs / job["name"]
        args = [sys.executable, "-m", "softfact", "train", *job["args"], "--out-dir", str(d), "--quiet"]
        if dry:
            args += ["--steps", "6", "--device", "cpu", "--metric-images", "8", "--eval-blobs", "40"]
        f = open(out / f"{job['name']}.log", "w")
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, env=env)
        log(f"start {job['name']}")
        return {"job": job, "dir": d, "proc": p, "t": time.perf_counter(), "log": f, "phase": "train"}

    def finish(a, stopped: bool):
        rec = {"name": a["job"]["name"], "args": a["job"]["args"], "train_rc": a.get("train_rc"),
               "stopped": stopped, "train_wall_s": a.get("train_wall_s"),
               "eval_rc": a["proc"].returncode, "eval_wall_s": time.perf_counter() - a["t"]}
        try:
            rec["metrics"] = json.loads((a["dir"] / "metrics.json").read_text())
        except Exception as e:  # noqa: BLE001
            rec["metrics_error"] = repr(e)[:200]
        try:
            rows = [json.loads(x) for x in (a["dir"] / "metrics.jsonl").read_text().splitlines() if x.strip()]
            rec["last_log"] = rows[-1] if rows else None
        except Exception:  # noqa: BLE001
            pass
        with open(results, "a") as f:
            f.write(json.dumps(rec, default=float) + "\n")
        a["log"].close()
        log(f"done {rec['name']} train_rc={rec['train_rc']} eval_rc={rec['eval_rc']}")

    while pending or active:
        now = time.perf_counter() - T0
        while pending and len(active) < workers and now < deadline - 60:
            active.append(start(pending.pop(0)))
        for a in list(active):
            rc = a["proc"].poll()
            stop_at = a["job"].get("train_deadline_s", deadline - 45)
            if a["phase"] == "train" and rc is None and time.perf_counter() - T0 > stop_at:
                a["proc"].terminate()
                try:
                    a["proc"].wait(10)
                except subprocess.TimeoutExpired:
                    a["proc"].kill()
                    a["proc"].wait()
                a["stopped"] = True
                rc = a["proc"].returncode
            if rc is None:
                continue
            if a["phase"] == "train":
                a["train_rc"], a["train_wall_s"] = rc, time.perf_counter() - a["t"]
                a["phase"], a["t"] = "eval", time.perf_counter()
                if (a["dir"] / "checkpoint.pt").exists():
                    a["proc"] = subprocess.Popen([sys.executable, "-m", "softfact", "evaluate", str(a["dir"]),
                                                  "--quiet"], stdout=a["log"], stderr=subprocess.STDOUT, env=env)
                    continue
            finish(a, a.get("stopped", False))
            active.remove(a)
        if time.perf_counter() - T0 > deadline:
            for a in active:
                a["proc"].kill()
                finish(a, True)
            log(f"deadline: {len(pending)} job(s) never started: {[j['name'] for j in pending]}")
            return
        time.sleep(1.0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--jobs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--deadline-s", type=float, default=520.0)
    p.add_argument("--skip-timing", action="store_true")
    p.add_argument("--dry", action="store_true")
    ns = p.parse_args(argv)
    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    if not ns.skip_timing:
        phase_timing(out, ns.dry)
    jobs = json.loads(Path(ns.jobs).read_text())
    phase_sweep(jobs, out, ns.workers, ns.deadline_s, ns.dry)
    log("all done")


if __name__ == "__main__":
    main()
