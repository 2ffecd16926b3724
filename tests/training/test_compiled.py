"""compile: true -- the captured step gives the eager step's losses; CPU and failures fall back."""
import pytest
import torch

from softfact.config import resolve
from softfact.data.sources import build_image_source
from softfact.models import build_encoder
from softfact.training import load_checkpoint, train
from softfact.training.compiled import CompileFallbackWarning, compiled_step
from softfact.training.loop import lr_at, make_optimizer, train_step


def _cfg(tmp_path, name="run", **kw):
    base = dict(steps=6, batch_size=16, log_every=2, ckpt_every=6, device="cpu",
                schedule="cosine", warmup_steps=2, out_dir=str(tmp_path / name))
    base.update(kw)
    return resolve("seed", None, {k: str(v) for k, v in base.items()})


def _steps(cfg, fn, n):
    """n updates of ``fn`` (train_step or its compiled form) -> (losses, final parameters)."""
    torch.manual_seed(0)
    model = build_encoder(cfg)
    opt = make_optimizer(cfg, model)
    gen = torch.Generator().manual_seed(0)
    source = build_image_source(cfg, "train")
    losses = [float(fn(model, opt, source, cfg.batch_size, cfg, gen, s, lr_at(s, cfg))["loss"])
              for s in range(n)]
    return losses, [p.detach().clone() for p in model.parameters()]


def test_cpu_run_falls_back_to_the_eager_step_with_a_warning(tmp_path):
    with pytest.warns(CompileFallbackWarning, match="needs a CUDA device.*eager step"):
        a = train(_cfg(tmp_path, "a", compile=True), progress=False)
    b = train(_cfg(tmp_path, "b"), progress=False)
    sa, sb = load_checkpoint(a), load_checkpoint(b)
    assert sa["config"]["compile"] is True
    for k in sa["model"]:
        assert torch.equal(sa["model"][k], sb["model"][k]), k


@pytest.mark.slow  # tracing the whole step: 170 s on 2 busy cores (load 15); `make test-all`
def test_captured_step_gives_the_eager_losses(tmp_path):
    """The whole step (sampler, forward, losses, backward, Adam) through TorchDynamo and
    AOTAutograd on the CPU; Inductor's kernels and CUDA graphs need a GPU run."""
    torch._dynamo.reset()
    cfg = _cfg(tmp_path, schedule="constant")
    eager_losses, eager_params = _steps(cfg, train_step, 3)
    fn = compiled_step(train_step, enabled=True, device=torch.device("cpu"), backend="aot_eager",
                       mode=None, force=True)
    with torch._dynamo.config.patch(error_on_recompile=False):
        losses, params = _steps(cfg, fn, 3)
    assert losses == pytest.approx(eager_losses, rel=1e-5, abs=1e-6)
    for p, q in zip(params, eager_params):  # Adam's decomposed ops round differently; a
        torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-4)  # tiny gradient moves up to lr
    torch._dynamo.reset()


def test_failed_compilation_falls_back_and_replays_the_same_batch(tmp_path):
    torch._dynamo.reset()

    def broken_backend(gm, example_inputs):
        raise RuntimeError("no compiler here\nsecond line")

    cfg = _cfg(tmp_path)
    eager_losses, eager_params = _steps(cfg, train_step, 3)
    fn = None  # built at the first call, when the generator and optimizer exist

    def lazily_compiled(model, opt, source, n, cfg, gen, s, lr):
        nonlocal fn
        if fn is None:
            fn = compiled_step(train_step, enabled=True, device=torch.device("cpu"), generator=gen,
                               optimizer=opt, backend=broken_backend, mode=None, force=True)
        return fn(model, opt, source, n, cfg, gen, s, lr)

    with pytest.warns(CompileFallbackWarning, match=r"failed at the first step "
                      r"\(BackendCompilerFailed: RuntimeError: no compiler here\)"):
        losses, params = _steps(cfg, lazily_compiled, 3)
    assert losses == eager_losses
    for p, q in zip(params, eager_params):
        assert torch.equal(p, q)
    torch._dynamo.reset()


def test_disabled_is_the_step_itself():
    assert compiled_step(train_step, enabled=False, device=torch.device("cuda")) is train_step
    assert resolve("seed", None, {}).compile is False
