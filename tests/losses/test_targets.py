"""The continuous loss target cos((dy1, dx1), (dy2, dx2)) of the sampler."""
import math

import torch

from softfact.data.blobs import make_blobs
from softfact.data.triplets import SCHEMES, sample_shifts, sample_triplets
from softfact.losses import factorization_loss


def _seed_target(scheme, d1, d2):
    """The seed's rule: +1 / -1 by sign agreement for same-type pairs, 0 for cross."""
    if scheme == 2:
        return 0.0
    axis = 0 if scheme == 0 else 1
    return float(math.copysign(1, d1[axis] * d2[axis]))


def test_continuous_target_equals_seed_rule_on_seed_schemes(gen):
    b = sample_triplets(lambda n, g: make_blobs(n, generator=g), 512, max_shift=4, generator=gen)
    assert set(b.scheme.tolist()) == {0, 1, 2}
    want = [_seed_target(s, d1.tolist(), d2.tolist())
            for s, d1, d2 in zip(b.scheme.tolist(), b.delta1, b.delta2)]
    assert b.target.tolist() == want


def test_mixed_targets_are_shift_cosines(gen):
    scheme, d1, d2 = sample_shifts(2000, max_shift=4, generator=gen, schemes=SCHEMES)
    b = sample_triplets(lambda n, g: make_blobs(n, generator=g), 512, max_shift=4, generator=gen,
                        schemes=("mixed",))
    assert (b.scheme == 3).all()
    for d in (b.delta1, b.delta2):
        assert (d != 0).any(1).all() and d.abs().max() <= 4
    for t, (a, c), (e, f) in zip(b.target.tolist(), b.delta1.tolist(), b.delta2.tolist()):
        assert abs(t - (a * e + c * f) / math.hypot(a, c) / math.hypot(e, f)) < 1e-6
    diag = (b.delta1 != 0).all(1)
    assert diag.float().mean() > 0.5  # most mixed crops move along both axes
    assert ((b.target.abs() > 0.05) & (b.target.abs() < 0.95)).float().mean() > 0.5


def test_linear_embedding_of_shifts_has_zero_loss_on_mixed_triplets(gen):
    """The target is consistent: z = A (dy, dx) with orthonormal A satisfies every triplet."""
    _, d1, d2 = sample_shifts(1000, max_shift=4, generator=gen, schemes=SCHEMES)
    A = torch.linalg.qr(torch.randn(16, 2, generator=gen))[0].T  # (2, 16)
    za = torch.randn(1000, 16, generator=gen)
    from softfact.data.triplets import shift_cosine
    loss = factorization_loss(z_anchor=za, z_crop1=za + d1.float() @ A, z_crop2=za + d2.float() @ A,
                              targets=shift_cosine(d1, d2))
    assert loss.item() < 1e-10
