"""The batched sampler draws from the seed's BlobShiftDataset distribution."""
import numpy as np
import pytest
import torch

from softfact.data.blobs import BlobSource, make_blobs, translate
from softfact.data.triplets import sample_shifts, sample_triplets, shift_cosine
from softfact.seed_reference import seed_triplet

N_REF = 3000


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(0)
    rows = [seed_triplet() for _ in range(N_REF)]
    return {
        "scheme": np.array([r[4] for r in rows]),
        "target": np.array([r[3] for r in rows]),
        "d1": np.array([r[5] for r in rows]), "d2": np.array([r[6] for r in rows]),
        "density": float(np.mean([r[0].mean().item() for r in rows])),
        "crop_density": float(np.mean([r[1].mean().item() for r in rows])),
        "redraw_share": sum(r[7] for r in rows) / (N_REF + sum(r[7] for r in rows)),
    }


@pytest.fixture(scope="module")
def ours():
    g = torch.Generator().manual_seed(1)
    return sample_triplets(BlobSource(), 30000, max_shift=4, generator=g)


def _freq(values, keys):
    return np.array([(values == k).mean() for k in keys])


def test_scheme_and_target_frequencies(reference, ours):
    # tolerances ~4 standard errors of the reference sample
    for key, keys in (("scheme", [0, 1, 2]), ("target", [-1.0, 0.0, 1.0])):
        ref = _freq(reference[key], keys)
        got = _freq(getattr(ours, key).numpy(), keys)
        assert np.abs(ref - got).max() < 0.035, (key, ref, got)
    # the seed's structure: cross-type triplets are exactly the target-0 ones
    assert torch.equal(ours.scheme == 2, ours.target == 0)


def test_shift_distribution(reference, ours):
    vals = list(range(-4, 5))
    for col in range(2):
        ref = _freq(np.concatenate([reference["d1"][:, col], reference["d2"][:, col]]), vals)
        got = _freq(torch.cat([ours.delta1[:, col], ours.delta2[:, col]]).numpy(), vals)
        assert np.abs(ref - got).max() < 0.03, (col, ref, got)


def test_pixel_density_and_redraw_share(reference, ours):
    assert abs(reference["density"] - ours.anchor.mean().item()) < 0.004
    assert abs(reference["crop_density"] - ours.crop1.mean().item()) < 0.004
    share = ours.redraws / (len(ours) + ours.redraws)
    assert 0.05 < reference["redraw_share"] < 0.15  # s1 == s2 with equal signs: ~1/12
    assert abs(reference["redraw_share"] - share) < 0.025


def test_crops_are_the_stated_shifts_and_never_identical(ours):
    b = ours
    assert torch.equal(b.crop1, translate(b.anchor, b.delta1[:, 0], b.delta1[:, 1]))
    assert torch.equal(b.crop2, translate(b.anchor, b.delta2[:, 0], b.delta2[:, 1]))
    assert (b.crop1 != b.crop2).flatten(1).any(1).all()


def test_continuous_target_equals_seed_targets():
    d1 = torch.tensor([[2, 0], [3, 0], [0, -1], [0, 2], [1, 0]])
    d2 = torch.tensor([[4, 0], [-1, 0], [0, -4], [0, -2], [0, 3]])
    assert shift_cosine(d1, d2).tolist() == [1.0, -1.0, 1.0, -1.0, 0.0]


def test_mixed_scheme_targets(gen):
    scheme, d1, d2 = sample_shifts(2000, max_shift=3, generator=gen, schemes=("mixed",))
    assert (scheme == 3).all()
    assert (d1.abs().sum(1) > 0).all() and (d2.abs().sum(1) > 0).all()
    cos = shift_cosine(d1, d2)
    ref = torch.nn.functional.cosine_similarity(d1.float(), d2.float(), dim=1)
    assert torch.allclose(cos, ref, atol=1e-6)
    assert cos.unique().numel() > 10  # genuinely continuous targets


def test_bad_arguments(gen):
    with pytest.raises(ValueError, match="max_shift"):
        sample_shifts(4, max_shift=0, generator=gen)
    with pytest.raises(ValueError, match="schemes"):
        sample_shifts(4, max_shift=2, generator=gen, schemes=("diagonal",))


@pytest.mark.parametrize("seed", range(4))
def test_sync_free_sampler_gives_the_default_batch(seed):
    """What a CUDA graph captures (one round, accepted triplets picked on the device) is the
    default sampler's batch, field for field, and its stream stays in step."""
    ga, gb = (torch.Generator().manual_seed(seed) for _ in range(2))
    for _ in range(3):
        a = sample_triplets(BlobSource(), 128, max_shift=4, generator=ga)
        b = sample_triplets(BlobSource(), 128, max_shift=4, generator=gb, sync_free=True)
        for name in ("anchor", "crops", "deltas", "scheme"):
            assert torch.equal(getattr(a, name), getattr(b, name)), name
        assert b.distinct[:, 0, 1].all() and b.distinct[:, 1, 0].all() and not b.distinct[:, 0, 0].any()
    assert torch.equal(ga.get_state(), gb.get_state())


def test_sync_free_sampler_marks_the_rejected_triplets_it_keeps():
    """A source of mostly blank images: one round accepts fewer than the batch; the accepted
    come first (the default's first round, in order), the rest are marked not distinct."""
    def sparse(n, g):
        return (torch.rand(n, 1, 8, 8, generator=g) > 0.985).float()

    a = sample_triplets(sparse, 32, max_shift=2, generator=torch.Generator().manual_seed(3))
    b = sample_triplets(sparse, 32, max_shift=2, generator=torch.Generator().manual_seed(3), sync_free=True)
    ok = b.distinct[:, 0, 1]
    differ = (b.crop1 != b.crop2).flatten(1).any(1)
    assert torch.equal(ok, differ) and 0 < int(ok.sum()) < 32
    n = int(ok.sum())
    assert ok[:n].all() and not ok[n:].any()
    assert torch.equal(a.anchor[:n], b.anchor[:n]) and torch.equal(a.deltas[:n], b.deltas[:n])


def test_sync_free_mixed_scheme_shifts(gen):
    scheme, d1, d2 = sample_shifts(2000, max_shift=3, generator=gen, schemes=("pitch", "mixed"),
                                   sync_free=True)
    mixed = scheme == 3
    assert 0.4 < mixed.float().mean() < 0.6
    assert (d1.abs().sum(1) > 0).all() and (d2.abs().sum(1) > 0).all()
    assert (d1[mixed] != 0).all(1).float().mean() > 0.5        # both axes at once, often
    assert (d1[~mixed][:, 1] == 0).all() and (d2[~mixed][:, 1] == 0).all()  # pitch rows: dy only
