import pytest
import torch

from softfact.losses import LeJEPALoss, attraction_loss, lejepa_loss, sigreg, sigreg_seed


def test_attraction_plain_and_with_delta_falloff(gen):
    z1, z2 = torch.randn(16, 4, generator=gen), torch.randn(16, 4, generator=gen)
    assert torch.allclose(attraction_loss(z1, z2), ((z1 - z2) ** 2).mean())
    deltas = torch.randint(-4, 5, (16, 2), generator=gen)
    w = torch.exp(-(deltas.float() ** 2).sum(1) / 10.0)
    ref = (((z1 - z2) ** 2) * w[:, None]).mean()
    assert torch.allclose(attraction_loss(z1, z2, deltas=deltas, tau=10.0), ref)
    # far-apart views are pulled less: a huge delta makes the term vanish
    assert attraction_loss(z1, z2, deltas=torch.full((16, 2), 100), tau=1.0).item() < 1e-12


def test_attraction_empty_batch_is_zero():
    assert attraction_loss(torch.zeros(0, 4), torch.zeros(0, 4)).item() == 0.0


def test_lejepa_combines_with_lambd(gen):
    z1, z2 = torch.randn(64, 8, generator=gen), torch.randn(64, 8, generator=gen)
    out = lejepa_loss(z1, z2, step=5, lambd=0.3)
    sim, reg = attraction_loss(z1, z2), sigreg(torch.cat([z1, z2]), step=5)
    assert torch.allclose(out["sim"], sim) and torch.allclose(out["sigreg"], reg)
    assert torch.allclose(out["loss"], 0.7 * sim + 0.3 * reg)
    seed = lejepa_loss(z1, z2, step=5, lambd=0.5, variant="seed")
    assert torch.allclose(seed["sigreg"], sigreg_seed(torch.cat([z1, z2]), step=5))
    # wiring: lambd 0 is attraction only, lambd 1 SIGReg only
    assert torch.allclose(lejepa_loss(z1, z2, step=0, lambd=0.0)["loss"], sim)
    assert torch.allclose(lejepa_loss(z1, z2, step=5, lambd=1.0)["loss"], reg)


def test_module_holds_hyperparameters(gen):
    z1, z2 = torch.randn(32, 4, generator=gen), torch.randn(32, 4, generator=gen)
    m = LeJEPALoss(0.25, variant="seed", num_slices=64)
    ref = lejepa_loss(z1, z2, step=2, lambd=0.25, variant="seed", num_slices=64)
    assert torch.allclose(m(z1, z2, step=2)["loss"], ref["loss"])


def test_bad_arguments(gen):
    z = torch.randn(8, 4, generator=gen)
    with pytest.raises(ValueError, match="lambd"):
        lejepa_loss(z, z, step=0, lambd=1.5)
    with pytest.raises(ValueError, match="variant"):
        LeJEPALoss(variant="paper")
    with pytest.raises(ValueError, match=r"\(8, 4\) and \(8, 3\)"):
        attraction_loss(z, z[:, :3])


def test_optimiser_steps_lower_it(gen):
    z1 = (torch.randn(256, 4, generator=gen) * 0.1).requires_grad_()
    z2 = (torch.randn(256, 4, generator=gen) * 3).requires_grad_()
    opt = torch.optim.Adam([z1, z2], lr=0.05)
    first = lejepa_loss(z1, z2, step=0)["loss"].item()
    for s in range(50):
        opt.zero_grad()
        lejepa_loss(z1, z2, step=s)["loss"].backward()
        opt.step()
    assert lejepa_loss(z1, z2, step=0)["loss"].item() < 0.5 * first
