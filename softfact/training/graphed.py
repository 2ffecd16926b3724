"""The whole training step as one CUDA graph (config key ``cuda_graph``).

On an H200 the toy's eager step takes about 6.5 ms at every batch size from 256 to 4096: it is
launch-bound, hundreds of small kernels (the sampler, three small convolutions, the losses,
their backward and Adam) each waiting for the Python that launches it. ``compile: true`` fused
some of them but the step stayed split in ~20 graphs (measured 5.2 ms, ~1.2x). Here the whole
step, sampler to ``optimizer.step()``, is recorded once with ``torch.cuda.graph`` and replayed:
one launch a step, the PyTorch "whole-network capture" recipe.

What makes the step capturable (tested on the CPU with ``softfact.utils.sync.forbid_host_sync``,
which fails on any operation a graph cannot hold):

* the sampler picks its accepted triplets on the device (``sample_triplets(sync_free=True)``)
  and draws from the run's ``torch.Generator``, registered with the graph so each replay
  advances it as an eager step would (its state is what checkpoints save);
* the losses use masked sums, never a boolean index or an ``if t.any()``
  (``pairwise_factorization_loss(sync_free=True)``);
* Adam runs ``capturable`` with the learning rate a device tensor, set before each replay;
* the loop reads the loss (its NaN check) every ``log_every`` steps and at checkpoints, not
  every step; the first bad step is still named exactly.

The first ``warmup`` calls run eagerly on a side stream (library handles, Adam's state, the
sampler's cached tables), the next captures and replays; every call is one real update.
Elsewhere than CUDA the same sync-free step runs eagerly after a one-line warning. If capture
fails, a warning names the error, the generator is restored and the eager sync-free step runs
from then on. Off by default: the seed's path is the eager step.
"""
from __future__ import annotations

import warnings
from typing import Callable

import torch


class GraphFallbackWarning(UserWarning):
    """``cuda_graph: true`` could not capture the step; it runs eagerly instead."""


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Every group's learning rate to ``lr``: in place when it is a tensor (a captured step
    reads that tensor), else as a float."""
    for group in optimizer.param_groups:
        if torch.is_tensor(group["lr"]):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def match_optimizer(optimizer: torch.optim.Optimizer, *, graphed: bool, device: torch.device) -> None:
    """Make a (possibly just loaded) optimizer fit the step that will run it: under a CUDA
    graph ``capturable`` with its learning rate and step counts device tensors, else plain
    floats and ``capturable`` off. A checkpoint of either kind resumes under the other."""
    for group in optimizer.param_groups:
        lr = float(group["lr"])
        group["lr"] = torch.tensor(lr, device=device) if graphed else lr
        if "capturable" in group:
            group["capturable"] = graphed
    for state in optimizer.state.values():
        step = state.get("step")
        if torch.is_tensor(step):
            state["step"] = step.to(device if graphed else "cpu", torch.float32)


class GraphedStep:
    """``step_fn(*args, **kwargs) -> dict of scalar tensors`` as one CUDA graph, replayed.

    Called as ``step(*args, lr=lr, **kwargs)``; the arguments must be the same objects at
    every call (the graph replays what it recorded: the same modules, data source and batch
    size), ``lr`` may change. ``enabled=False`` or a device other than CUDA runs ``step_fn``
    eagerly; ``graph_factory`` makes the graph object (``torch.cuda.CUDAGraph``).
    """

    def __init__(self, step_fn: Callable[..., dict], *, optimizer: torch.optim.Optimizer,
                 generator: torch.Generator, device: torch.device, warmup: int = 3,
                 enabled: bool = True, graph_factory: Callable[[], object] | None = None):
        self.step_fn, self.optimizer, self.generator = step_fn, optimizer, generator
        self.warmup, self.calls, self.graph, self.static = warmup, 0, None, None
        self.graph_factory = graph_factory or torch.cuda.CUDAGraph
        self.eager = not enabled
        if enabled and device.type != "cuda" and graph_factory is None:
            warnings.warn(f"cuda_graph: true needs a CUDA device, this run is on {device.type}; "
                          f"running its sync-free step eagerly", GraphFallbackWarning, stacklevel=2)
            self.eager = True

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def __call__(self, *args, lr: float, **kwargs) -> dict:
        set_lr(self.optimizer, lr)  # outside the graph: it reads the tensor at every replay
        if self.eager:
            return self.step_fn(*args, **kwargs)
        if self.graph is None and self.calls < self.warmup:
            self.calls += 1
            return self._side_stream(lambda: self.step_fn(*args, **kwargs))
        if self.graph is None:
            saved = self.generator.get_state()
            try:
                self._capture(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - any capture failure: fall back, say which
                first_line = (str(e).strip().splitlines() or [""])[0][:200]
                warnings.warn(f"cuda_graph: true could not capture the step ({type(e).__name__}: "
                              f"{first_line}); running its sync-free step eagerly",
                              GraphFallbackWarning, stacklevel=2)
                self.graph, self.static, self.eager = None, None, True
                self.generator.set_state(saved)  # capture drew nothing the eager step sees
                return self.step_fn(*args, **kwargs)
        # capture only records: this replay is this call's update
        self.graph.replay()
        # the next replay overwrites the graph's outputs: hand the loop copies (a few scalars)
        return {k: v.detach().clone() for k, v in self.static.items()}

    def _side_stream(self, fn):
        if not torch.cuda.is_available():
            return fn()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = fn()
        torch.cuda.current_stream().wait_stream(side)
        return out

    def _capture(self, *args, **kwargs) -> None:
        graph = self.graph_factory()
        graph.register_generator_state(self.generator)  # each replay advances the data stream
        self.optimizer.zero_grad(set_to_none=True)      # gradients come from the graph's pool
        torch.cuda.synchronize()
        with torch.cuda.graph(graph):
            static = self.step_fn(*args, **kwargs)
        self.graph, self.static = graph, static
