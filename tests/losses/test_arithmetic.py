import pytest
import torch
import torch.nn.functional as F

from softfact.losses import (ArithmeticLoss, LinearShiftLoss, MagnitudeLoss, SharedDirectionLoss,
                             ShiftConsistencyLoss, linear_shift_loss, magnitude_loss, shared_direction_loss,
                             shift_consistency_loss, shift_means)
from softfact.utils.geometry import shift_cosine

FNS = (shared_direction_loss, magnitude_loss, linear_shift_loss, shift_consistency_loss)


def batch(gen, B=5, K=4, D=6):
    """Random embeddings and axis shifts (half pitch, half time, as the multi-crop sampler)."""
    za, zc = torch.randn(B, D, generator=gen), torch.randn(B, K, D, generator=gen)
    mag = torch.randint(1, 5, (B, K), generator=gen) * torch.where(torch.rand(B, K, generator=gen) > 0.5, 1, -1)
    pitch = torch.arange(K) < K // 2
    s = torch.stack([torch.where(pitch, mag, 0), torch.where(pitch, 0, mag)], -1)
    return za, zc, s


def ref_shared(za, zc, s):
    B, K, _ = zc.shape
    errs = []
    for a in range(B):
        for i in range(K):
            for b in range(B):
                for j in range(K):
                    if a == b:
                        continue
                    cos = F.cosine_similarity(zc[a, i] - za[a], zc[b, j] - za[b], dim=0)
                    errs.append((cos - shift_cosine(s[a, i], s[b, j])) ** 2)
    return torch.stack(errs).mean()


def ref_magnitude(za, zc, s):
    out = []
    for f in range(2):
        r = [float((zc[a, i] - za[a]).norm() / s[a, i].abs().sum())
             for a in range(zc.shape[0]) for i in range(zc.shape[1])
             if s[a, i, f] != 0 and s[a, i, 1 - f] == 0]
        r = torch.tensor(r, dtype=torch.float64)
        out.append(((r - r.mean()) ** 2).mean() / r.mean() ** 2)
    return sum(out) / len(out)


def ref_linear(za, zc, s):
    rows_d = [zc[a, i] - za[a] for a in range(zc.shape[0]) for i in range(zc.shape[1])]
    rows_s = [s[a, i].double() for a in range(zc.shape[0]) for i in range(zc.shape[1])]
    d, x = torch.stack(rows_d).double(), torch.stack(rows_s)
    W = torch.linalg.lstsq(x, d).solution
    return ((d - x @ W) ** 2).sum() / (d ** 2).sum()


def ref_consistency(za, zc, s):
    """Group the crops by their [dy, dx] in a dict, subtract each group's mean, share of energy."""
    groups = {}
    for a in range(zc.shape[0]):
        for i in range(zc.shape[1]):
            groups.setdefault(tuple(s[a, i].tolist()), []).append((zc[a, i] - za[a]).double())
    resid = sum(((torch.stack(g) - torch.stack(g).mean(0)) ** 2).sum() for g in groups.values())
    total = sum((torch.stack(g) ** 2).sum() for g in groups.values())
    return resid / total


@pytest.mark.parametrize("fn, ref", [(shared_direction_loss, ref_shared), (magnitude_loss, ref_magnitude),
                                     (linear_shift_loss, ref_linear), (shift_consistency_loss, ref_consistency)])
def test_equals_loop_reference(gen, fn, ref):
    za, zc, s = batch(gen)
    got = fn(z_anchor=za, z_crops=zc, deltas=s)
    assert got.item() == pytest.approx(float(ref(za, zc, s)), rel=1e-4, abs=1e-6)


def test_exact_linear_embedding_is_zero_for_every_term(gen):
    """z(shift x) = z(x) + s W with orthogonal W rows: all three terms vanish."""
    za, _, s = batch(gen, B=8, K=6)
    W = torch.tensor([[1.0, 0.0, 0.0, 2.0, 0.0, 0.0], [0.0, 3.0, 0.0, 0.0, 0.0, -1.0]])
    zc = za[:, None] + s.float() @ W
    for fn in FNS:
        assert fn(z_anchor=za, z_crops=zc, deltas=s).item() == pytest.approx(0.0, abs=1e-5), fn.__name__


def test_terms_see_what_the_seed_loss_cannot(gen):
    """Each anchor its own (orthogonal) pitch/time directions: the seed's per-anchor loss is 0,
    the shared and linear terms are not; magnitudes off by anchor: only the magnitude term sees it."""
    from softfact.losses import pairwise_factorization_loss
    za, _, s = batch(gen, B=8, K=6, D=16)
    W = torch.linalg.qr(torch.randn(16, 16, generator=gen)).Q[:, :16].T.reshape(8, 2, 16)
    zc = za[:, None] + torch.einsum("bkf,bfd->bkd", s.float(), W)
    assert pairwise_factorization_loss(z_anchor=za, z_crops=zc, deltas=s).item() < 1e-6
    assert shared_direction_loss(z_anchor=za, z_crops=zc, deltas=s).item() > 0.05
    assert linear_shift_loss(z_anchor=za, z_crops=zc, deltas=s).item() > 0.5
    assert shift_consistency_loss(z_anchor=za, z_crops=zc, deltas=s).item() > 0.5
    same = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    scale = torch.linspace(0.5, 2.0, 8)[:, None, None]
    za = za[:, :3]
    zc = za[:, None] + scale * (s.float() @ same)
    assert shared_direction_loss(z_anchor=za, z_crops=zc, deltas=s).item() < 1e-6
    assert magnitude_loss(z_anchor=za, z_crops=zc, deltas=s).item() > 0.1


@pytest.mark.parametrize("fn", FNS)
def test_bad_shapes_name_them(fn, gen):
    za, zc, s = batch(gen)
    with pytest.raises(ValueError, match=r"z_crops must be \(B, K, D\), got shape \(5, 24\)"):
        fn(z_anchor=za, z_crops=zc.flatten(1), deltas=s)
    with pytest.raises(ValueError, match=r"z_anchor must have shape \(5, 6\).*got \(4, 6\)"):
        fn(z_anchor=za[:4], z_crops=zc, deltas=s)
    with pytest.raises(ValueError, match=r"deltas must have shape \(5, 4, 2\).*got \(5, 4\)"):
        fn(z_anchor=za, z_crops=zc, deltas=s[..., 0])


@pytest.mark.parametrize("fn", FNS)
def test_a_few_adam_steps_lower_it(fn, gen):
    za, zc, s = batch(gen, B=8, K=6)
    za, zc = torch.nn.Parameter(za), torch.nn.Parameter(zc)
    opt = torch.optim.Adam([za, zc], lr=0.05)
    first = fn(z_anchor=za, z_crops=zc, deltas=s).item()
    for _ in range(20):
        opt.zero_grad()
        loss = fn(z_anchor=za, z_crops=zc, deltas=s)
        loss.backward()
        opt.step()
    assert fn(z_anchor=za, z_crops=zc, deltas=s).item() < 0.7 * first


def test_modules_scale_and_switch_off(gen):
    za, zc, s = batch(gen)
    kw = dict(z_anchor=za, z_crops=zc, deltas=s)
    for cls, fn in ((SharedDirectionLoss, shared_direction_loss), (MagnitudeLoss, magnitude_loss),
                    (LinearShiftLoss, linear_shift_loss)):
        assert torch.allclose(cls(2.5)(**kw), 2.5 * fn(**kw))
        assert cls(0.0)(**kw).item() == 0.0
    out = ArithmeticLoss(shared_weight=1.0, linear_weight=0.5)(**kw)
    assert set(out) == {"loss", "shared", "linear"}
    assert torch.allclose(out["loss"], out["shared"] + 0.5 * out["linear"])
    assert ArithmeticLoss()(**kw) == {"loss": torch.tensor(0.0)}
    with pytest.raises(ValueError, match="magnitude_weight must be >= 0, got -1"):
        ArithmeticLoss(magnitude_weight=-1)


def test_consistency_accepts_any_shared_function_of_the_shift(gen):
    """d = v(s) for an arbitrary (non-linear) table v: consistency 0, the linear term not."""
    za, _, s = batch(gen, B=16, K=6)
    table = {}
    keys = [tuple(x) for x in s.reshape(-1, 2).tolist()]
    for k in keys:
        table.setdefault(k, torch.randn(6, generator=gen))
    v = torch.stack([table[k] for k in keys]).reshape(16, 6, 6)
    zc = za[:, None] + v
    assert shift_consistency_loss(z_anchor=za, z_crops=zc, deltas=s).item() == pytest.approx(0.0, abs=1e-6)
    assert linear_shift_loss(z_anchor=za, z_crops=zc, deltas=s).item() > 0.3
    # an input-dependent part shows up in proportion to its energy
    noise = 0.5 * torch.randn(zc.shape, generator=gen)
    assert shift_consistency_loss(z_anchor=za, z_crops=zc + noise, deltas=s).item() > 0.05


def test_shift_means_average_each_group():
    d = torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0], [-1.0, 4.0]])
    s = torch.tensor([[1, 0], [1, 0], [0, 1], [1, 0]])
    want = torch.tensor([[1.0, 2.0], [1.0, 2.0], [5.0, 5.0], [1.0, 2.0]])
    assert torch.allclose(shift_means(d, s), want)
    with pytest.raises(ValueError, match=r"d must be \(N, D\) and shifts \(N, 2\), got \(4, 2\) and \(4,\)"):
        shift_means(d, s[:, 0])


def test_consistency_module_and_arithmetic_key(gen):
    za, zc, s = batch(gen)
    kw = dict(z_anchor=za, z_crops=zc, deltas=s)
    assert torch.allclose(ShiftConsistencyLoss(2.0)(**kw), 2.0 * shift_consistency_loss(**kw))
    out = ArithmeticLoss(consistency_weight=3.0)(**kw)
    assert set(out) == {"loss", "consistency"}
    assert torch.allclose(out["loss"], 3.0 * out["consistency"])
    with pytest.raises(ValueError, match="consistency_weight must be >= 0, got -2"):
        ArithmeticLoss(consistency_weight=-2)
