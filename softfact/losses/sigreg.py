"""SIGReg: push embeddings towards an isotropic Gaussian via sliced Epps-Pulley statistics.

Two variants:

* ``sigreg`` (default): the LeJEPA library's form. Per random unit direction, the weighted
  squared distance between the empirical characteristic function (from the means of
  cos(t x) and sin(t x), so a shifted mean is seen) and exp(-t^2/2), integrated over
  t in [0, t_max] with trapezoid weights doubled for symmetry, multiplied by the number of
  samples N and averaged over directions. Under a perfect Gaussian its expectation is about
  sqrt(2 pi) (1 - 1/sqrt 3) ~= 1.06 whatever N. Under torch.distributed the cos/sin means
  are all-reduced (differentiably) before the statistic, and N is the global batch.
* ``sigreg_seed``: the seed notebook's form, kept for reproduction. It takes the modulus of
  the ECF before subtracting (blind to a mean offset), integrates over t in [-5, 5] and sums
  over directions without N scaling, so its lambda does not carry over to the official one.
"""
from __future__ import annotations

import torch
import torch.distributed as dist

SIGREG_VARIANTS = ("official", "seed")


def _directions(dim: int, num_slices: int, step: int, device) -> torch.Tensor:
    """(dim, num_slices) unit columns seeded by the step, so every rank draws the same ones."""
    g = torch.Generator(device=device).manual_seed(int(step))
    a = torch.randn(dim, num_slices, generator=g, device=device)
    return a / (a.norm(dim=0, keepdim=True) + 1e-10)


def _check_2d(x: torch.Tensor) -> None:
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be (N, D) with N >= 2, got shape {tuple(x.shape)}")


def _all_reduce_mean(t: torch.Tensor, enabled: bool = True) -> tuple[torch.Tensor, int]:
    if not (enabled and dist.is_available() and dist.is_initialized()):
        return t, 1
    from torch.distributed.nn.functional import all_reduce  # differentiable; result is used
    world = dist.get_world_size()
    return all_reduce(t, op=dist.ReduceOp.SUM) / world, world  # SUM: AVG is NCCL-only


def sigreg(x: torch.Tensor, *, step: int, num_slices: int = 256, t_max: float = 3.0,
           knots: int = 17, distributed: bool = True) -> torch.Tensor:
    """Official LeJEPA SIGReg of embeddings x (N, D) -> scalar (computed in float32).

    ``distributed`` all-reduces the statistics when a process group is initialised, so that
    every rank's value equals the single-process value on the union batch.

    >>> g = torch.Generator().manual_seed(0)
    >>> float(sigreg(torch.randn(4096, 8, generator=g), step=0)) < 2
    True
    """
    _check_2d(x)
    x = x.float()
    t = torch.linspace(0, t_max, knots, device=x.device)
    phi = torch.exp(-0.5 * t.square())
    dt = t_max / (knots - 1)
    w = torch.full_like(t, 2 * dt)
    w[0] = w[-1] = dt
    proj = x @ _directions(x.shape[1], num_slices, step, x.device)  # (N, M)
    xt = proj.unsqueeze(-1) * t                                      # (N, M, T)
    cos_mean, world = _all_reduce_mean(torch.cos(xt).mean(0), distributed)
    sin_mean, _ = _all_reduce_mean(torch.sin(xt).mean(0), distributed)
    err = (cos_mean - phi).square() + sin_mean.square()              # (M, T)
    return (err @ (w * phi)).mul(x.shape[0] * world).mean()


def sigreg_seed(x: torch.Tensor, *, step: int, num_slices: int = 256) -> torch.Tensor:
    """The seed notebook's SIGReg of x (N, D) -> scalar: |ECF| vs exp(-t^2/2), t in [-5, 5]."""
    _check_2d(x)
    x = x.float()
    t = torch.linspace(-5, 5, 17, device=x.device)
    exp_f = torch.exp(-0.5 * t**2)
    x_t = (x @ _directions(x.shape[1], num_slices, step, x.device)).unsqueeze(2) * t
    ecf = torch.exp(1j * x_t).mean(dim=0).abs()
    diff = (ecf - exp_f).abs().square().mul(exp_f)
    return torch.trapz(diff, t, dim=1).sum()
