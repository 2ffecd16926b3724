import torch

from softfact.data import BlobSource, make_blobs, translate
from softfact.data.multicrop import sample_crop_shifts, sample_multicrop


def test_shifts_half_pitch_half_time(gen):
    d = sample_crop_shifts(500, 6, max_shift=4, generator=gen)
    assert d.shape == (500, 6, 2)
    assert (d[:, :3, 1] == 0).all() and (d[:, :3, 0] != 0).all()
    assert (d[:, 3:, 0] == 0).all() and (d[:, 3:, 1] != 0).all()
    assert set(d[:, :3, 0].unique().tolist()) == {-4, -3, -2, -1, 1, 2, 3, 4}


def test_crops_are_the_stated_shifts_for_both_sources(gen):
    for source in (BlobSource(), lambda n, g: make_blobs(n, generator=g)):
        b = sample_multicrop(source, 64, crops=4, max_shift=3, generator=gen)
        assert b.crops.shape == (64, 4, 1, 16, 16)
        for k in range(4):
            want = translate(b.anchor, b.deltas[:, k, 0], b.deltas[:, k, 1])
            assert torch.equal(b.crops[:, k], want)
        flat = b.crops.flatten(2)
        same = (flat[:, :, None] == flat[:, None, :]).all(-1)
        assert torch.equal(b.distinct, ~same)


def test_antithetic_crops_mirror_in_pairs_and_keep_the_marginals(gen):
    d = sample_crop_shifts(40000, 6, max_shift=4, generator=gen, antithetic=True)
    assert torch.equal(d[:, 1, 0], -d[:, 0, 0]) and torch.equal(d[:, 4, 1], -d[:, 3, 1])
    assert (d[:, :3, 1] == 0).all() and (d[:, 3:, 0] == 0).all()
    # every crop alone is still uniform over +-1..4: 8 values at 1/8 each
    for k, axis in ((0, 0), (1, 0), (2, 0), (3, 1), (4, 1), (5, 1)):
        freq = torch.bincount(d[:, k, axis] + 4, minlength=9).float() / len(d)
        assert freq[4] == 0 and (freq[torch.arange(9) != 4] - 1 / 8).abs().max() < 0.01
    # the free third crop of a factor is independent of the mirrored pair
    assert (d[:, 2, 0] == d[:, 0, 0]).float().mean().sub(1 / 8).abs() < 0.01
