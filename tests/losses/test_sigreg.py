import math

import pytest
import torch

from softfact.losses import sigreg, sigreg_seed

FLOOR = math.sqrt(2 * math.pi) * (1 - 1 / math.sqrt(3))  # N * E|ecf - phi|^2 integrated


def seed_sigreg(x, global_step, num_slices=256):
    """The seed notebook's SIGReg, verbatim."""
    g = torch.Generator(device=x.device).manual_seed(global_step)
    A = torch.randn((x.size(1), num_slices), generator=g, device=x.device)
    A = A / (A.norm(dim=0, keepdim=True) + 1e-10)
    t = torch.linspace(-5, 5, 17, device=x.device)
    exp_f = torch.exp(-0.5 * t**2)
    x_t = (x @ A).unsqueeze(2) * t
    ecf = (torch.exp(1j * x_t).mean(dim=0)).abs()
    diff = (ecf - exp_f).abs().square().mul(exp_f)
    return torch.trapz(diff, t, dim=1).sum()


def reference_official(x, step, num_slices=256, t_max=3.0, knots=17):
    """Direct transcription: sliced Epps-Pulley with complex ECF, trapezoid over [-t_max, t_max]."""
    g = torch.Generator().manual_seed(step)
    A = torch.randn(x.shape[1], num_slices, generator=g)
    A = A / (A.norm(dim=0, keepdim=True) + 1e-10)
    t = torch.linspace(-t_max, t_max, 2 * knots - 1)
    ecf = torch.exp(1j * (x @ A).unsqueeze(-1) * t).mean(0)              # (M, T) complex
    phi = torch.exp(-0.5 * t**2)
    integrand = (ecf - phi).abs().square() * phi
    return (torch.trapz(integrand, t, dim=1) * x.shape[0]).mean()


def test_seed_variant_equals_the_seed(gen):
    x = torch.randn(300, 16, generator=gen)
    assert torch.allclose(sigreg_seed(x, step=7), seed_sigreg(x, 7), rtol=1e-5)


def test_official_equals_direct_transcription(gen):
    x = torch.randn(500, 8, generator=gen) * 1.3 + 0.2
    assert torch.allclose(sigreg(x, step=3), reference_official(x, 3), rtol=1e-4)


@pytest.mark.parametrize("n", [256, 2048])
def test_near_floor_on_gaussian_any_batch_size(n, gen):
    vals = [sigreg(torch.randn(n, 16, generator=gen), step=s).item() for s in range(4)]
    assert abs(sum(vals) / len(vals) - FLOOR) < 0.25


def test_large_on_collapsed_and_shifted(gen):
    x = torch.randn(1024, 16, generator=gen)
    floor = sigreg(x, step=0).item()
    assert sigreg(x * 0.01, step=0).item() > 100 * floor   # collapse
    assert sigreg(x + 2.0, step=0).item() > 100 * floor    # mean offset
    assert sigreg(x * 3.0, step=0).item() > 10 * floor     # too wide


def test_seed_form_cannot_see_a_mean_offset(gen):
    """The seed takes |ECF| first, which discards the phase that a shift adds."""
    x = torch.randn(1024, 16, generator=gen)
    assert sigreg_seed(x + 2.0, step=0).item() == pytest.approx(sigreg_seed(x, step=0).item(), rel=1e-4)
    assert sigreg(x + 2.0, step=0).item() > 100 * sigreg(x, step=0).item()


def test_bad_input_raises():
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        sigreg(torch.zeros(10), step=0)
    with pytest.raises(ValueError, match=r"\(1, 4\)"):
        sigreg_seed(torch.zeros(1, 4), step=0)


def test_optimiser_steps_lower_it(gen):
    x = (torch.randn(512, 4, generator=gen) * 0.2 + 1.0).requires_grad_()
    opt = torch.optim.Adam([x], lr=0.05)
    first = sigreg(x, step=0).item()
    for s in range(60):
        opt.zero_grad()
        sigreg(x, step=s).backward()
        opt.step()
    assert sigreg(x, step=0).item() < 0.1 * first
