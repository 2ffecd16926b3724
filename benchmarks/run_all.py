"""Run the benchmarks and append their results to benchmarks/results/*.md.

    python benchmarks/run_all.py                      # everything, full size
    python benchmarks/run_all.py --quick              # smaller repeats and budgets
    python benchmarks/run_all.py --only sampler,step  # some parts: sampler, step, ttq, eval
    make bench ARGS="--quick --only step"

Parts: sampler = (a) triplet throughput; step = (b) training-step time vs the FLOP floor;
ttq = (c) time to the seed's quality; eval = (d) evaluation and analysis time. Each part
compares softfact with the seed's design (softfact/seed_reference.py) in the same process.
The machine may be shared: read the ratios, and the load average each result records.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # thread counts are set per measurement

import common  # noqa: E402,F401  (puts this checkout first on sys.path)

PARTS = ("sampler", "step", "ttq", "eval")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of {PARTS}")
    p.add_argument("--quick", action="store_true", help="fewer repeats, shorter budgets")
    p.add_argument("--threads", default="1,2", help="torch thread counts for sampler/step (e.g. 1,2)")
    p.add_argument("--ttq-threads", type=int, default=1, help="torch threads for ttq and eval")
    p.add_argument("--seed-budget-s", type=float, default=None,
                   help="ttq: stop the seed design after this much training time")
    p.add_argument("--sf-budget-s", type=float, default=None, help="ttq: the same for softfact")
    p.add_argument("--eval-every", type=int, default=None, help="ttq: softfact steps between evaluations")
    ns = p.parse_args(argv)
    parts = [x.strip() for x in ns.only.split(",") if x.strip()]
    bad = [x for x in parts if x not in PARTS]
    if bad:
        print(f"run_all: unknown part(s) {bad}; choose from {PARTS}", file=sys.stderr)
        return 2
    threads = tuple(int(x) for x in ns.threads.split(","))
    for part in parts:
        t = time.perf_counter()
        if part == "sampler":
            import bench_sampler as m
            text, name = m.run(quick=ns.quick, threads=threads), "sampler"
        elif part == "step":
            import bench_step as m
            text, name = m.run(quick=ns.quick, threads=threads), "step"
        elif part == "ttq":
            import bench_ttq as m
            text, name = m.run(quick=ns.quick, threads=ns.ttq_threads, seed_budget_s=ns.seed_budget_s,
                               sf_budget_s=ns.sf_budget_s, eval_every=ns.eval_every), "time_to_quality"
        else:
            import bench_eval as m
            text, name = m.run(quick=ns.quick, threads=ns.ttq_threads), "evaluation"
        print(text)
        print(f"[{part}: {time.perf_counter() - t:.0f} s] appended to {common.append_result(name, text)}\n",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
