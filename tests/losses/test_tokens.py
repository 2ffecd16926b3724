"""Token-level and multi-scale forms of the factorization losses."""
import pytest
import torch
import torch.nn.functional as F

from softfact.losses import (factorization_loss, multiscale_factorization_loss,
                             pairwise_factorization_loss)


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _triplet(shape, seed=0):
    g = _g(seed)
    return [torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(3)]


def _targets(B, seed=0):
    return torch.tensor([1.0, -1.0, 0.0, 0.6])[torch.randint(0, 4, (B,), generator=_g(seed))].double()


def _loop_reference(za, z1, z2, t, mask, cross_weight=1.0):
    """Plain loop: every valid token one term, cross (target 0) terms weighted."""
    num = den = 0.0
    for b in range(za.shape[0]):
        for n in range(za.shape[1]):
            if mask is not None and not mask[b, n]:
                continue
            cos = F.cosine_similarity(z1[b, n] - za[b, n], z2[b, n] - za[b, n], dim=0)
            w = cross_weight if t[b] == 0 else 1.0
            num, den = num + w * (cos - t[b]) ** 2, den + w
    return num / den


def test_pooled_input_unchanged_bit_for_bit():
    za, z1, z2 = _triplet((8, 5))
    t = _targets(8)
    # the seed's form, written out
    cos = F.cosine_similarity(z1 - za, z2 - za, dim=1, eps=0)
    assert torch.equal(factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t),
                       factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t,
                                          mask=None))
    torch.testing.assert_close(factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t),
                               ((cos - t) ** 2).mean())


@pytest.mark.parametrize("cross_weight", [1.0, 2.5])
def test_tokens_with_mask_match_a_loop(cross_weight):
    za, z1, z2 = _triplet((6, 7, 4), seed=1)
    t = _targets(6, seed=1)
    mask = torch.rand(6, 7, generator=_g(2)) > 0.4
    got = factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t, mask=mask,
                             cross_weight=cross_weight)
    torch.testing.assert_close(got, _loop_reference(za, z1, z2, t, mask, cross_weight))
    torch.testing.assert_close(
        factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t, cross_weight=cross_weight),
        _loop_reference(za, z1, z2, t, None, cross_weight))


def test_one_token_or_replicated_tokens_equal_the_pooled_form():
    za, z1, z2 = _triplet((5, 3), seed=3)
    t = _targets(5, seed=3)
    pooled = factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=t)
    one = factorization_loss(z_anchor=za[:, None], z_crop1=z1[:, None], z_crop2=z2[:, None], targets=t)
    rep = [z[:, None].expand(5, 4, 3) for z in (za, z1, z2)]
    many = factorization_loss(z_anchor=rep[0], z_crop1=rep[1], z_crop2=rep[2], targets=t,
                              mask=torch.ones(5, 4, dtype=torch.bool))
    torch.testing.assert_close(one, pooled)
    torch.testing.assert_close(many, pooled)
    # a feature map (B, H, W, D) is the same as its tokens (B, H*W, D); per-token targets too
    fa, f1, f2 = _triplet((5, 2, 3, 4), seed=4)
    as_map = factorization_loss(z_anchor=fa, z_crop1=f1, z_crop2=f2, targets=t)
    as_tokens = factorization_loss(z_anchor=fa.flatten(1, 2), z_crop1=f1.flatten(1, 2),
                                   z_crop2=f2.flatten(1, 2), targets=t[:, None].expand(5, 6))
    torch.testing.assert_close(as_map, as_tokens)


def test_masked_tokens_get_no_gradient():
    za, z1, z2 = [z.requires_grad_() for z in _triplet((4, 6, 3), seed=5)]
    mask = torch.zeros(4, 6, dtype=torch.bool)
    mask[:, :3] = True
    factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=_targets(4, 5), mask=mask).backward()
    for z in (za, z1, z2):
        assert torch.all(z.grad[~mask] == 0)
        assert torch.all(z.grad[mask].abs().sum(-1) > 0)
    # nothing valid: 0, and a finite zero gradient
    zc = torch.randn(2, 3, 4, requires_grad=True)
    loss = factorization_loss(z_anchor=zc, z_crop1=zc * 2, z_crop2=zc * 3, targets=torch.ones(2),
                              mask=torch.zeros(2, 3, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0 and torch.all(zc.grad == 0)


def test_bad_mask_or_targets_name_the_shape():
    za, z1, z2 = _triplet((2, 3, 4))
    with pytest.raises(ValueError, match=r"mask .*\(2, 3\).*\(2, 4\)"):
        factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=torch.ones(2),
                           mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"targets .*\(2,\).*\(5,\)"):
        factorization_loss(z_anchor=za, z_crop1=z1, z_crop2=z2, targets=torch.ones(5))


def test_multiscale_is_the_weighted_sum_of_levels():
    levels = [_triplet((4, 16, 8), seed=6), _triplet((4, 2, 2, 16), seed=7), _triplet((4, 12), seed=8)]
    t = _targets(4, seed=6)
    masks = [torch.rand(4, 16, generator=_g(9)) > 0.5, None, None]
    w = [0.5, 1.0, 2.0]
    got = multiscale_factorization_loss(z_anchor=[l[0] for l in levels], z_crop1=[l[1] for l in levels],
                                        z_crop2=[l[2] for l in levels], targets=t, weights=w, masks=masks)
    want = sum(wi * factorization_loss(z_anchor=a, z_crop1=b, z_crop2=c, targets=t, mask=m)
               for wi, (a, b, c), m in zip(w, levels, masks))
    torch.testing.assert_close(got, want)
    one = levels[2]
    same = multiscale_factorization_loss(z_anchor=[one[0]] * 3, z_crop1=[one[1]] * 3,
                                         z_crop2=[one[2]] * 3, targets=t)
    torch.testing.assert_close(same, factorization_loss(z_anchor=one[0], z_crop1=one[1],
                                                        z_crop2=one[2], targets=t))
    with pytest.raises(ValueError, match="one entry per level"):
        multiscale_factorization_loss(z_anchor=[one[0]], z_crop1=[one[1]], z_crop2=[one[2]],
                                      targets=t, weights=[1.0, 2.0])


def _pairwise_batch(B, K, seed):
    g = _g(seed)
    deltas = torch.zeros(B, K, 2, dtype=torch.long)
    half = K // 2
    deltas[:, :half, 0] = torch.randint(1, 4, (B, half), generator=g) * (torch.randint(0, 2, (B, half), generator=g) * 2 - 1)
    deltas[:, half:, 1] = torch.randint(1, 4, (B, K - half), generator=g) * (torch.randint(0, 2, (B, K - half), generator=g) * 2 - 1)
    return deltas


@pytest.mark.parametrize("balance", [True, False])
def test_pairwise_tokens_match_tokens_folded_into_the_batch(balance):
    B, K, N, D = 3, 4, 5, 6
    g = _g(10)
    za = torch.randn(B, N, D, generator=g, dtype=torch.float64)
    zc = torch.randn(B, K, N, D, generator=g, dtype=torch.float64)
    deltas = _pairwise_batch(B, K, 11)
    # one token: the pooled form, exactly
    pooled = pairwise_factorization_loss(z_anchor=za[:, 0], z_crops=zc[:, :, 0], deltas=deltas, balance=balance)
    torch.testing.assert_close(pairwise_factorization_loss(z_anchor=za[:, :1], z_crops=zc[:, :, :1],
                                                           deltas=deltas, balance=balance), pooled)
    # N tokens: a loop that stacks every (b, n) as its own anchor
    loop_a = torch.stack([za[b, n] for b in range(B) for n in range(N)])
    loop_c = torch.stack([zc[b, :, n] for b in range(B) for n in range(N)])
    loop_d = torch.stack([deltas[b] for b in range(B) for n in range(N)])
    want = pairwise_factorization_loss(z_anchor=loop_a, z_crops=loop_c, deltas=loop_d, balance=balance)
    torch.testing.assert_close(pairwise_factorization_loss(z_anchor=za, z_crops=zc, deltas=deltas,
                                                           balance=balance), want)


def test_pairwise_mask_drops_tokens_and_their_gradient():
    B, K, N, D = 2, 4, 6, 5
    g = _g(12)
    za = torch.randn(B, N, D, generator=g, dtype=torch.float64, requires_grad=True)
    zc = torch.randn(B, K, N, D, generator=g, dtype=torch.float64, requires_grad=True)
    deltas = _pairwise_batch(B, K, 13)
    mask = torch.rand(B, K, N, generator=g) > 0.3
    mask[:, :, 0] = False                          # token 0 empty in every crop
    loss = pairwise_factorization_loss(z_anchor=za, z_crops=zc, deltas=deltas, mask=mask, balance=False)
    loss.backward()
    assert torch.all(zc.grad[~mask] == 0) and torch.all(za.grad[:, 0] == 0)
    # the same as a loop over valid pairs
    num, cnt = 0.0, 0
    for b in range(B):
        for n in range(N):
            for i in range(K):
                for j in range(i + 1, K):
                    if not (mask[b, i, n] and mask[b, j, n]) or torch.equal(deltas[b, i], deltas[b, j]):
                        continue  # an empty token, or equal shifts (skipped, as the seed redraws)
                    di, dj = zc[b, i, n] - za[b, n], zc[b, j, n] - za[b, n]
                    si, sj = deltas[b, i].double(), deltas[b, j].double()
                    t = F.cosine_similarity(si, sj, dim=0)
                    num, cnt = num + (F.cosine_similarity(di, dj, dim=0) - t) ** 2, cnt + 1
    torch.testing.assert_close(loss, num / cnt, rtol=1e-6, atol=1e-6)  # targets in float32
