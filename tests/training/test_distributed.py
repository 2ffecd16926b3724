"""Multi-process training on CPU with gloo: two ranks behave as one process on the union batch.

Each worker is started the way torchrun starts it (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT in the environment) and goes through softfact's own glue
(``softfact.training.distributed``, ``softfact.training.train``), so the test covers what
``torchrun -m softfact train`` runs. Starting processes is the slow part (importing torch), so
one pair of workers does every multi-process job in turn and writes its results to files; the
tests below compare them with single-process values computed here.
"""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from softfact.config import TrainConfig, apply, from_dict
from softfact.data.blobs import make_blobs
from softfact.data.crops import CropBatch
from softfact.data.triplets import sample_triplets
from softfact.models import build_encoder
from softfact.losses import sigreg
from softfact.training import distributed
from softfact.training.checkpoint import CheckpointError, load_checkpoint
from softfact.training.loop import compute_losses, train
from softfact.training.runlog import read_metrics

WORLD = 2
STEP = 7          # any step: SIGReg's directions are seeded by it, identically on every rank
GLOBAL_BATCH = 64
TENSOR_FIELDS = ("anchor", "crop1", "crop2", "scheme", "delta1", "delta2")
N_GROUPS = 4      # process groups the workers open in turn: one per job below


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_torchrun(rank: int, world: int, port: int) -> None:
    """The environment torchrun gives a worker on one machine; one thread per process."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
                      OMP_NUM_THREADS="1")
    if sys.platform.startswith("linux"):  # containers whose hostname resolves oddly: loopback
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.set_num_threads(1)


def _shard(t: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    return t.chunk(world)[rank]


def _blobs(n: int, gen: torch.Generator) -> torch.Tensor:
    return make_blobs(n, generator=gen)


def _e2e_config(out_dir: Path, steps: int) -> TrainConfig:
    return TrainConfig(use_jepa=True, num_slices=32, batch_size=32, steps=steps, log_every=1,
                       ckpt_every=100, threads=1, device="cpu", seed=3,
                       out_dir=str(out_dir)).validate()


# -- the workers -----------------------------------------------------------------------------

def _equivalence_job(rank: int, world: int, folder: Path) -> None:
    """SIGReg and the full training loss through DDP on this rank's share of the batch."""
    case = torch.load(folder / "case.pt", weights_only=True)
    cfg = from_dict(case["config"])
    info = distributed.setup("cpu")
    assert info.enabled and (info.rank, info.world_size) == (rank, world)

    x = _shard(case["x"], rank, world).clone().requires_grad_()
    value = sigreg(x, step=STEP, num_slices=cfg.num_slices)
    value.backward()

    model = build_encoder(cfg)
    model.load_state_dict(case["model"])
    net = distributed.wrap(model, torch.device("cpu"), info)
    batch = CropBatch.triplet(*(_shard(case["batch"][k], rank, world) for k in TENSOR_FIELDS))
    out = compute_losses(net, batch, STEP, cfg)
    out["loss"].backward()

    torch.save({"sigreg": value.detach(), "x_grad": x.grad,
                "losses": {k: v.detach() for k, v in out.items()},
                "grads": {n: p.grad for n, p in model.named_parameters()}},
               folder / f"rank{rank}.pt")
    distributed.teardown(info)


def _worker(rank: int, world: int, ports: list[int], folder: str) -> None:
    folder = Path(folder)
    jobs = [lambda: _equivalence_job(rank, world, folder),
            # softfact.training.train: 4 steps straight, and 2 steps then resumed to 4
            lambda: train(_e2e_config(folder / "whole", 4), progress=False),
            lambda: train(_e2e_config(folder / "split", 2), progress=False),
            lambda: train(_e2e_config(folder / "split", 4), resume=True, progress=False)]
    for port, job in zip(ports, jobs, strict=True):
        _as_torchrun(rank, world, port)  # a fresh rendezvous port for each process group
        job()


# -- single-process reference and the one spawn --------------------------------------------

def _warmed_up(cfg: TrainConfig, g: torch.Generator, steps: int = 30) -> torch.nn.Module:
    """A briefly trained encoder. At initialisation the three views embed almost identically,
    SIGReg sees a collapsed cloud and its gradient terms cancel so strongly that merely
    reordering the batch moves some bias gradients by 1e-3 relative; after a few steps that
    float32 noise floor is about 1e-6, so a 1e-5 comparison means something."""
    model = build_encoder(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    for step in range(steps):
        batch = sample_triplets(_blobs, GLOBAL_BATCH, max_shift=cfg.max_shift, generator=g)
        opt.zero_grad()
        compute_losses(model, batch, step, cfg)["loss"].backward()
        opt.step()
    opt.zero_grad(set_to_none=True)
    return model


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Single-process reference values, then two torchrun-style workers doing every job."""
    folder = tmp_path_factory.mktemp("ddp")
    cfg = TrainConfig(use_jepa=True, tau=50.0, num_slices=64, batch_size=GLOBAL_BATCH).validate()
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = _warmed_up(cfg, g)
    batch = sample_triplets(_blobs, GLOBAL_BATCH, max_shift=cfg.max_shift, generator=g)
    # far from N(0, I) (scaled, shifted): a large statistic whose shards disagree with the whole
    x = 1.7 * torch.randn(GLOBAL_BATCH, 16, generator=g) + 0.4
    torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "x": x,
                "batch": {k: getattr(batch, k) for k in TENSOR_FIELDS}}, folder / "case.pt")

    xr = x.clone().requires_grad_()
    ref_sigreg = sigreg(xr, step=STEP, num_slices=cfg.num_slices)
    ref_sigreg.backward()
    ref = compute_losses(model, batch, STEP, cfg)
    ref["loss"].backward()
    ref_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    # what the ranks would hold if SIGReg were NOT all-reduced: the mean of per-shard gradients
    local = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for rank in range(WORLD):
        model.zero_grad()
        part = CropBatch.triplet(*(_shard(getattr(batch, k), rank, WORLD) for k in TENSOR_FIELDS))
        compute_losses(model, part, STEP, cfg)["loss"].backward()
        for n, p in model.named_parameters():
            local[n] += p.grad / WORLD

    ports = [_free_port() for _ in range(N_GROUPS)]
    mp.spawn(_worker, args=(WORLD, ports, str(folder)), nprocs=WORLD, join=True)
    ranks = [torch.load(folder / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    return dict(cfg=cfg, x=x, sigreg=ref_sigreg.detach(), x_grad=xr.grad,
                losses={k: v.detach() for k, v in ref.items()}, grads=ref_grads,
                shard_local_grads=local, ranks=ranks, folder=folder)


# -- (a) SIGReg ----------------------------------------------------------------------------

def test_sigreg_on_each_rank_equals_the_union_batch(runs):
    ref = runs["sigreg"]
    for r in runs["ranks"]:
        torch.testing.assert_close(r["sigreg"], ref, rtol=1e-5, atol=1e-5)
    # not vacuous: one shard on its own gives another value
    alone = sigreg(_shard(runs["x"], 0, WORLD), step=STEP, num_slices=runs["cfg"].num_slices)
    assert abs(float(alone) - float(ref)) > 0.05 * float(ref)


def test_sigreg_input_gradient_is_world_times_the_union_gradient(runs):
    """Every rank holds a copy of the global statistic, so its local input gradient is W times
    the true one; DDP's averaging over W ranks then gives the exact parameter gradient."""
    for rank, r in enumerate(runs["ranks"]):
        expected = WORLD * _shard(runs["x_grad"], rank, WORLD)
        torch.testing.assert_close(r["x_grad"], expected, rtol=1e-4, atol=1e-6)


# -- (b) the full training loss through DDP ------------------------------------------------

def test_ddp_loss_averaged_over_ranks_equals_single_process(runs):
    ref = runs["losses"]
    ranks = [r["losses"] for r in runs["ranks"]]
    for key in ("loss", "fact", "sim", "jepa"):
        mean = torch.stack([r[key] for r in ranks]).mean()
        torch.testing.assert_close(mean, ref[key], rtol=1e-5, atol=1e-6, msg=key)
    for r in ranks:  # the SIGReg term is global: the same on each rank
        torch.testing.assert_close(r["sigreg"], ref["sigreg"], rtol=1e-5, atol=1e-5)


def test_ddp_gradients_equal_single_process(runs):
    """Per parameter tensor, |g_ddp - g_single| / |g_single| <= 1e-5 (float32 noise ~1e-6)."""
    ref = runs["grads"]
    for r in runs["ranks"]:
        assert r["grads"].keys() == ref.keys()
        for name, grad in r["grads"].items():
            assert _rel_err(grad, ref[name]) <= 1e-5, (name, _rel_err(grad, ref[name]))
    # the two ranks saw different halves of the batch, yet hold identical gradients after DDP
    a, b = (r["grads"] for r in runs["ranks"])
    assert all(torch.equal(a[n], b[n]) for n in a)
    # not vacuous: without the all-reduce inside SIGReg the gradients would be far off
    assert max(_rel_err(runs["shard_local_grads"][n], ref[n]) for n in ref) > 1e-2


# -- (c) softfact.training.train under two processes ---------------------------------------

def test_train_writes_from_rank_zero_only(runs):
    whole = runs["folder"] / "whole"
    assert sorted(p.name for p in whole.iterdir()) == ["checkpoint.pt", "config.yaml", "metrics.jsonl"]
    assert [r["step"] for r in read_metrics(whole)] == [1, 2, 3, 4]  # one row per step
    state = load_checkpoint(whole)
    assert state["step"] == 4
    streams = state["rng"]["data"]  # one data stream per rank, and they differ
    assert len(streams) == WORLD and not torch.equal(streams[0], streams[1])


def test_resume_under_two_processes_continues_the_run_exactly(runs):
    whole, split = runs["folder"] / "whole", runs["folder"] / "split"
    a, b = load_checkpoint(whole), load_checkpoint(split)
    assert b["step"] == 4
    for name, w in a["model"].items():
        torch.testing.assert_close(b["model"][name], w, rtol=0, atol=1e-6, msg=name)
    rows_a, rows_b = read_metrics(whole), read_metrics(split)
    assert [r["step"] for r in rows_b] == [1, 2, 3, 4]
    for ra, rb in zip(rows_a, rows_b):
        assert rb["loss"] == pytest.approx(ra["loss"], rel=1e-5)


def test_resume_with_another_world_size_is_refused(runs, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    ckpt = (runs["folder"] / "whole" / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(ckpt)
    assert "RANK" not in os.environ  # this test process is a single, plain process
    cfg = apply(_e2e_config(run, 6), {"threads": 0})
    with pytest.raises(CheckpointError, match=r"written by 2 processes.*has 1"):
        train(cfg, resume=True, progress=False)
    assert (run / "checkpoint.pt").read_bytes() == ckpt
