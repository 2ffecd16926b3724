import pytest
import torch
import torch.nn.functional as F

from softfact.losses import FactorizationLoss, difference_cosine, factorization_loss


def seed_loss(za, z1, z2, t):
    """The seed notebook's factorization_loss, verbatim."""
    d1, d2 = z1 - za, z2 - za
    cos = F.cosine_similarity(d1, d2, dim=-1)
    return ((cos - t) ** 2).mean()


def loss(za, z1, z2, t):
    return factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t)


def test_equals_seed_on_random_vectors(gen):
    za, z1, z2 = (torch.randn(64, 16, generator=gen) for _ in range(3))
    t = torch.randint(-1, 2, (64,), generator=gen).float()
    assert torch.allclose(loss(za, z1, z2, t), seed_loss(za, z1, z2, t), atol=1e-6)


@pytest.mark.parametrize("d2, target, expected", [
    ([2.0, 0.0], 1.0, 0.0),    # parallel, wanted parallel
    ([-3.0, 0.0], -1.0, 0.0),  # anti-parallel, wanted anti-parallel
    ([0.0, 5.0], 0.0, 0.0),    # orthogonal, wanted orthogonal
    ([-1.0, 0.0], 1.0, 4.0),   # anti-parallel, wanted parallel: (−1 − 1)^2
    ([0.0, 1.0], -1.0, 1.0),   # orthogonal, wanted anti-parallel
])
def test_hand_built_vectors(d2, target, expected):
    za = torch.tensor([[1.0, 1.0]])
    z1 = za + torch.tensor([[1.0, 0.0]])
    z2 = za + torch.tensor([d2])
    assert loss(za, z1, z2, torch.tensor([target])).item() == pytest.approx(expected, abs=1e-6)


def test_zero_difference_is_finite_with_finite_gradient():
    za = torch.zeros(2, 4, requires_grad=True)
    z1 = torch.zeros(2, 4, requires_grad=True)  # crop1 encodes exactly like the anchor
    z2 = torch.randn(2, 4, requires_grad=True)
    out = loss(za, z1, z2, torch.tensor([1.0, 0.0]))
    out.backward()
    assert out.item() == pytest.approx(0.5)  # cos = 0 for the zero difference
    for t in (za, z1, z2):
        assert torch.isfinite(t.grad).all()


def test_difference_cosine_matches_torch(gen):
    a, b = torch.randn(100, 8, generator=gen), torch.randn(100, 8, generator=gen)
    assert torch.allclose(difference_cosine(a, b), F.cosine_similarity(a, b, dim=-1), atol=1e-6)


def test_module_weight_zero_and_scaling(gen):
    za, z1, z2 = (torch.randn(8, 4, generator=gen) for _ in range(3))
    t = torch.zeros(8)
    base = loss(za, z1, z2, t)
    assert FactorizationLoss(0.0)(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t).item() == 0.0
    assert torch.allclose(FactorizationLoss(3.0)(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t), 3 * base)
    with pytest.raises(ValueError, match="weight"):
        FactorizationLoss(-1.0)


def test_bad_shapes_raise_with_the_shape():
    z = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        loss(z, torch.zeros(4, 2), z, torch.zeros(4))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        loss(z, z, z, torch.zeros(3))
    with pytest.raises(ValueError, match=r"\(B, D\)"):
        loss(torch.zeros(4), torch.zeros(4), torch.zeros(4), torch.zeros(4))
    with pytest.raises(TypeError):
        factorization_loss(z, z, z, torch.zeros(4))  # keyword-only: anchor and crops can't swap


@pytest.mark.parametrize("cross_weight", [1.0, 3.0])
def test_optimiser_steps_lower_it(gen, cross_weight):
    za = torch.randn(32, 6, generator=gen, requires_grad=True)
    z1 = torch.randn(32, 6, generator=gen, requires_grad=True)
    z2 = torch.randn(32, 6, generator=gen, requires_grad=True)
    t = torch.randint(-1, 2, (32,), generator=gen).float()
    opt = torch.optim.Adam([za, z1, z2], lr=0.05)
    kw = dict(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t, cross_weight=cross_weight)
    first = factorization_loss(**kw).item()
    for _ in range(50):
        opt.zero_grad()
        factorization_loss(**kw).backward()
        opt.step()
    assert factorization_loss(**kw).item() < 0.2 * first


def weighted_seed_loss(za, z1, z2, t, cross_weight):
    """The seed's loss with each target-0 pair counted ``cross_weight`` times."""
    err = (F.cosine_similarity(z1 - za, z2 - za, dim=-1) - t) ** 2
    w = torch.tensor([cross_weight if v == 0 else 1.0 for v in t.tolist()])
    return (w * err).sum() / w.sum()


@pytest.mark.parametrize("cross_weight", [0.0, 0.5, 1.0, 2.5])
def test_cross_weight_equals_weighted_reference(gen, cross_weight):
    za, z1, z2 = (torch.randn(64, 16, generator=gen) for _ in range(3))
    t = torch.randint(-1, 2, (64,), generator=gen).float()
    got = factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t, cross_weight=cross_weight)
    assert torch.allclose(got, weighted_seed_loss(za, z1, z2, t, cross_weight), atol=1e-6)
    module = FactorizationLoss(2.0, cross_weight=cross_weight)
    assert torch.allclose(module(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t), 2 * got)


def test_cross_weight_zero_ignores_cross_pairs(gen):
    za, z1 = torch.randn(8, 4, generator=gen), torch.randn(8, 4, generator=gen)
    z2 = torch.randn(8, 4, generator=gen, requires_grad=True)
    t = torch.tensor([1.0, -1.0, 0.0, 0.0, 1.0, 0.0, -1.0, 0.0])
    out = factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t, cross_weight=0.0)
    out.backward()
    assert (z2.grad[t == 0] == 0).all() and (z2.grad[t != 0] != 0).any()
    same = t != 0
    assert torch.allclose(out, seed_loss(za[same], z1[same], z2[same], t[same]), atol=1e-6)


def test_bad_cross_weight_raises():
    z = torch.zeros(4, 3)
    with pytest.raises(ValueError, match="cross_weight must be >= 0, got -1"):
        factorization_loss(z_anchor=z, z_crop1=z, z_crop2=z, targets=torch.zeros(4), cross_weight=-1.0)
    with pytest.raises(ValueError, match="cross_weight"):
        FactorizationLoss(cross_weight=float("nan"))


def test_pairwise_loss_with_two_crops_is_the_seed_loss(gen):
    from softfact.losses import pairwise_factorization_loss, shift_cosine_targets
    za, z1, z2 = (torch.randn(32, 8, generator=gen) for _ in range(3))
    d1 = torch.tensor([[2, 0]] * 32)
    d2 = torch.tensor([[-1, 0]] * 16 + [[0, 3]] * 16)
    got = pairwise_factorization_loss(z_anchor=za, z_crops=torch.stack([z1, z2], 1),
                                      deltas=torch.stack([d1, d2], 1), balance=False)
    ref = seed_loss(za, z1, z2, shift_cosine_targets(d1, d2))
    assert torch.allclose(got, ref, atol=1e-6)


@pytest.mark.parametrize("sync_free", [False, True])
def test_pairwise_loss_equals_mean_over_explicit_pairs(gen, sync_free):
    from functools import partial
    from softfact.losses import pairwise_factorization_loss as loss_fn, shift_cosine_targets
    pairwise_factorization_loss = partial(loss_fn, sync_free=sync_free)
    B, K = 10, 4
    za, zc = torch.randn(B, 6, generator=gen), torch.randn(B, K, 6, generator=gen)
    deltas = torch.tensor([[3, 0], [-2, 0], [0, 1], [0, -4]]).expand(B, K, 2).clone()
    deltas[0, 1] = deltas[0, 0]  # equal shifts: skipped, as the seed redraws identical crops
    terms, types = [], []
    for b in range(B):
        for i in range(K):
            for j in range(i + 1, K):
                if torch.equal(deltas[b, i], deltas[b, j]):
                    continue
                t = shift_cosine_targets(deltas[b, i:i + 1], deltas[b, j:j + 1])
                terms.append(seed_loss(za[b:b + 1], zc[b, i:i + 1], zc[b, j:j + 1], t))
                types.append(0 if i < 2 and j < 2 else 1 if i >= 2 else 2)
    terms, types = torch.stack(terms), torch.tensor(types)
    plain = pairwise_factorization_loss(z_anchor=za, z_crops=zc, deltas=deltas, balance=False)
    assert torch.allclose(plain, terms.mean(), atol=1e-6)
    balanced = pairwise_factorization_loss(z_anchor=za, z_crops=zc, deltas=deltas)
    per_type = torch.stack([terms[types == t].mean() for t in range(3)])
    assert torch.allclose(balanced, per_type.mean(), atol=1e-6)
    # cross_weight: the cross type (2) counts that many times, in either weighting
    got = pairwise_factorization_loss(z_anchor=za, z_crops=zc, deltas=deltas, cross_weight=3.0)
    assert torch.allclose(got, (per_type[0] + per_type[1] + 3 * per_type[2]) / 5, atol=1e-6)
    w = 1.0 + 2.0 * (types == 2).float()
    got = pairwise_factorization_loss(z_anchor=za, z_crops=zc, deltas=deltas, balance=False,
                                      cross_weight=3.0)
    assert torch.allclose(got, (w * terms).sum() / w.sum(), atol=1e-6)


@pytest.mark.parametrize("balance", [True, False])
@pytest.mark.parametrize("cross_weight", [1.0, 1.5])
def test_sync_free_pairwise_loss_equals_the_default(gen, balance, cross_weight):
    """The masked-sum form (what a CUDA graph captures) against the indexed one: pooled and
    token embeddings, random valid masks, a type missing from the batch, nothing valid."""
    from softfact.losses import pairwise_factorization_loss as f
    B, K = 12, 6
    za, zc = torch.randn(B, 8, generator=gen), torch.randn(B, K, 8, generator=gen)
    deltas = torch.randint(-3, 4, (B, K, 2), generator=gen)
    deltas[:, :3, 1] = 0
    deltas[:, 3:, 0] = 0
    valid = torch.rand(B, K, K, generator=gen) > 0.3
    kw = dict(balance=balance, cross_weight=cross_weight)
    for case in (dict(valid=valid), dict(valid=None),
                 dict(valid=valid & False), dict(deltas=deltas * torch.tensor([1, 0]))):  # no time pairs
        args = dict(z_anchor=za, z_crops=zc, deltas=deltas, **kw)
        args.update(case)
        want, got = f(**args), f(**args, sync_free=True)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    tokens_a, tokens_c = torch.randn(B, 5, 8, generator=gen), torch.randn(B, K, 5, 8, generator=gen)
    mask = torch.rand(B, 5, generator=gen) > 0.4
    for m in (mask, mask & False):
        args = dict(z_anchor=tokens_a, z_crops=tokens_c, deltas=deltas, mask=m, **kw)
        zc_req = tokens_c.clone().requires_grad_()
        args["z_crops"] = zc_req
        got = f(**args, sync_free=True)
        got.backward()
        torch.testing.assert_close(got, f(**args), rtol=1e-5, atol=1e-7)
        assert torch.isfinite(zc_req.grad).all()
        if not m.any():
            assert got == 0 and not zc_req.grad.any()


def test_masked_triplet_loss_leaves_masked_rows_out(gen):
    za, z1, z2 = (torch.randn(16, 8, generator=gen) for _ in range(3))
    z1[3] = float("nan")  # a masked-out row cannot reach the loss, not even as 0 * NaN
    t = torch.randint(-1, 2, (16,), generator=gen).float()
    keep = torch.ones(16, dtype=torch.bool)
    keep[[3, 7]] = False
    for cw in (1.0, 2.0):
        got = factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t, mask=keep, cross_weight=cw)
        want = factorization_loss(z_anchor=za[keep], z_crop1=z1[keep], z_crop2=z2[keep], targets=t[keep],
                                  cross_weight=cw)
        torch.testing.assert_close(got, want)
    z = za.clone().requires_grad_()
    none = factorization_loss(z_anchor=z, z_crop1=z1.nan_to_num(), z_crop2=z2, targets=t, mask=keep & False)
    none.backward()
    assert none == 0 and not z.grad.any()


def test_pairwise_loss_bad_shapes():
    from softfact.losses import pairwise_factorization_loss
    with pytest.raises(ValueError, match=r"\(4, 3, 2\)"):
        pairwise_factorization_loss(z_anchor=torch.zeros(4, 5), z_crops=torch.zeros(4, 3, 5),
                                    deltas=torch.zeros(4, 2, 2))
    with pytest.raises(ValueError, match="cross_weight"):
        pairwise_factorization_loss(z_anchor=torch.zeros(4, 5), z_crops=torch.zeros(4, 3, 5),
                                    deltas=torch.zeros(4, 3, 2, dtype=torch.long), cross_weight=-2.0)
