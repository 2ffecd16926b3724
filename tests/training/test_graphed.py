"""cuda_graph: the step a CUDA graph captures holds no host sync, trains as the eager step does,
falls back on the CPU and when capture fails, and reads the loss every log_every steps."""
import pytest
import torch

import softfact.training.loop as loop_mod
from softfact.config import ConfigError, resolve
from softfact.data.sources import build_image_source
from softfact.models import build_decoder, build_encoder
from softfact.training import TrainingDiverged, load_checkpoint, train
from softfact.training.graphed import GraphFallbackWarning, GraphedStep, match_optimizer, set_lr
from softfact.training.loop import lr_at, make_optimizer, train_step, update_step
from softfact.training.runlog import read_metrics
from softfact.utils.sync import HostSyncError, forbid_host_sync


def _cfg(preset="seed", **kw):
    base = dict(batch_size=16, device="cpu", cuda_graph="true")
    base.update(kw)
    return resolve(preset, None, {k: str(v) for k, v in base.items()})


def _parts(cfg, seed=0):
    torch.manual_seed(seed)
    model = build_encoder(cfg)
    decoder = build_decoder(cfg) if cfg.recon_weight > 0 else None
    params = list(model.parameters()) + ([] if decoder is None else list(decoder.parameters()))
    return model, decoder, params, torch.Generator().manual_seed(seed), build_image_source(cfg, "train")


@pytest.mark.parametrize("preset, extra", [
    ("seed", {}), ("seed", {"schemes": "pitch,time,cross,mixed", "cross_weight": 1.5}),
    ("cpu", {}), ("cpu", {"amp": "true"}), ("ops", {"consistency_weight": 1, "shared_weight": 1,
                                                    "magnitude_weight": 1}),
    ("rae", {"op_weight": 1, "position_weight": 1}),
])
def test_the_captured_step_holds_no_host_sync(preset, extra):
    """Sampler, forward, losses, backward and an optimizer step, every ATen call watched (SGD
    stands in for Adam: capturable Adam needs a CUDA device)."""
    cfg = _cfg(preset, **extra)
    model, decoder, params, gen, source = _parts(cfg)
    opt = torch.optim.SGD(params, lr=0.01)
    joint = {} if decoder is None else {"decoder": decoder}
    update_step(model, opt, source, 16, cfg, gen, 0, **joint)  # warm-up (cached tables), as capture's
    with forbid_host_sync("update_step"):
        losses = update_step(model, opt, source, 16, cfg, gen, 1, **joint)
    assert torch.isfinite(losses["loss"])


@pytest.mark.parametrize("pitch_window", ["note", "centre"])
def test_the_midi_step_holds_no_host_sync(pitch_window):
    """Piano-roll crops (a gather from the packed rolls; centred pitch windows too) and the
    conv encoder."""
    import numpy as np
    from softfact.data.midi_crops import RollCrops
    from softfact.data.midi_files import SongNotes
    rng = np.random.default_rng(0)
    start = np.sort(rng.integers(0, 400, 300))
    notes = np.stack([rng.integers(40, 80, 300), start, start + rng.integers(1, 6, 300)], 1)
    source = RollCrops(SongNotes(["a", "b"], notes, np.array([0, 150, 300]), 4), size=16, onset=True,
                       pitch_window=pitch_window)
    cfg = _cfg("cpu", encoder="conv", onset="true", depth=2, width=8, max_shift=6)
    model, _, params, gen, _ = _parts(cfg)
    opt = torch.optim.SGD(params, lr=0.01)
    update_step(model, opt, source, 16, cfg, gen, 0)
    with forbid_host_sync("update_step"):
        losses = update_step(model, opt, source, 16, cfg, gen, 1)
    assert torch.isfinite(losses["loss"])


def test_the_eager_step_is_not_graph_safe():
    """The guard sees what the default step does (so the test above would fail for it)."""
    cfg = _cfg("cpu", cuda_graph="false")
    model, _, params, gen, source = _parts(cfg)
    opt = torch.optim.SGD(params, lr=0.01)
    update_step(model, opt, source, 16, cfg, gen, 0)
    with pytest.raises(HostSyncError, match="_local_scalar_dense"):
        with forbid_host_sync():
            update_step(model, opt, source, 16, cfg, gen, 1)


def _run(cfg, step_fn, n=5):
    model, decoder, params, gen, source = _parts(cfg)
    opt = make_optimizer(cfg, model if decoder is None else torch.nn.ModuleList([model, decoder]))
    joint = {} if decoder is None else {"decoder": decoder}
    losses = [float(step_fn(model, opt, source, 16, cfg, gen, s, lr_at(s, cfg), **joint)["loss"].detach())
              for s in range(n)]
    return losses, [p.detach().clone() for p in params], gen.get_state()


@pytest.mark.parametrize("preset", ["seed", "cpu"])
def test_the_sync_free_step_trains_as_the_eager_step(preset):
    eager = _run(_cfg(preset, cuda_graph="false"), train_step)
    free = _run(_cfg(preset), train_step)
    assert free[0] == pytest.approx(eager[0], rel=1e-5)
    for p, q in zip(free[1], eager[1]):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    assert torch.equal(free[2], eager[2])  # the data stream in step


class _NoCudaGraph:
    """A graph object as far as registration; capture then needs CUDA, which this CPU lacks."""
    registered = []

    def register_generator_state(self, generator):
        self.registered.append(generator)


def test_a_failed_capture_falls_back_to_the_same_updates():
    cfg = _cfg("seed", schedule="cosine", warmup_steps=2)
    want = _run(cfg, train_step, n=6)
    calls = []

    def counting(*args, **kw):
        calls.append(args[6])
        return update_step(*args, **kw)

    def graphed_run(model, opt, source, n, cfg, gen, s, lr, **joint):
        if not hasattr(graphed_run, "step"):
            graphed_run.step = GraphedStep(counting, optimizer=opt, generator=gen,
                                           device=torch.device("cpu"), warmup=2,
                                           graph_factory=_NoCudaGraph)
        return graphed_run.step(model, opt, source, n, cfg, gen, s, lr=lr, **joint)

    with pytest.warns(GraphFallbackWarning, match=r"could not capture the step \(.*\); running its sync-free step eagerly"):
        got = _run(cfg, graphed_run, n=6)
    assert calls == [0, 1, 2, 3, 4, 5]          # two warm-up steps, then eager: one update a call
    assert len(_NoCudaGraph.registered) == 1    # the run's generator was handed to the graph
    assert not graphed_run.step.captured and graphed_run.step.eager
    assert got[0] == want[0]
    for p, q in zip(got[1], want[1]):
        assert torch.equal(p, q)
    assert torch.equal(got[2], want[2])


def test_set_lr_and_match_optimizer():
    p = torch.nn.Parameter(torch.randn(3))
    opt = torch.optim.Adam([p], lr=0.1)
    set_lr(opt, 0.5)
    assert opt.param_groups[0]["lr"] == 0.5
    # a checkpoint of a captured run (device-tensor lr, capturable) resumed on the CPU
    opt.param_groups[0]["lr"] = torch.tensor(0.25)
    opt.param_groups[0]["capturable"] = True
    p.grad = torch.ones(3)
    match_optimizer(opt, graphed=False, device=torch.device("cpu"))
    assert opt.param_groups[0]["lr"] == 0.25 and not opt.param_groups[0]["capturable"]
    opt.step()  # a capturable group would refuse CPU parameters
    set_lr(opt, 0.125)
    assert opt.param_groups[0]["lr"] == 0.125
    t = torch.tensor(1.0)
    opt.param_groups[0]["lr"] = t
    set_lr(opt, 0.5)
    assert opt.param_groups[0]["lr"] is t and float(t) == 0.5  # in place: a graph reads it


def test_cpu_run_warns_and_trains_the_sync_free_step(tmp_path):
    cfg = _cfg("cpu", steps=12, log_every=4, ckpt_every=6, out_dir=str(tmp_path / "run"))
    with pytest.warns(GraphFallbackWarning, match="needs a CUDA device, this run is on cpu"):
        run = train(cfg, progress=False)
    state = load_checkpoint(run)
    assert state["step"] == 12 and state["config"]["cuda_graph"] is True
    assert [r["step"] for r in read_metrics(run)] == list(range(1, 13))
    with pytest.warns(GraphFallbackWarning):  # resumes
        train(resolve("cpu", None, {**{k: str(v) for k, v in cfg.to_dict().items()
                                        if k in ("batch_size", "device", "cuda_graph", "log_every",
                                                 "ckpt_every", "out_dir")}, "steps": "18"}),
              resume=True, progress=False)
    assert load_checkpoint(run)["step"] == 18


def test_nan_is_found_at_its_step_and_never_checkpointed(tmp_path, monkeypatch):
    """The loss is read every log_every steps and before each checkpoint, not every step."""
    cfg = _cfg("seed", steps=30, log_every=4, ckpt_every=10, out_dir=str(tmp_path / "run"))
    real = loop_mod.compute_losses

    def poisoned(model, batch, step, cfg):
        out = real(model, batch, step, cfg)
        if step >= 13:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(loop_mod, "compute_losses", poisoned)
    with pytest.warns(GraphFallbackWarning), \
            pytest.raises(TrainingDiverged, match="loss became nan at step 13.*last good checkpoint kept"):
        train(cfg, progress=False)
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == 10
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert max(r["step"] for r in read_metrics(tmp_path / "run")) == 15  # read at step 16


@pytest.mark.parametrize("extra, words", [
    ({"compile": "true"}, "'cuda_graph' and 'compile' both capture the step"),
    ({"use_jepa": "true"}, "cannot hold LeJEPA"),
])
def test_config_refuses_what_a_graph_cannot_hold(extra, words):
    with pytest.raises(ConfigError, match=words):
        _cfg("seed", **extra).validate()
