import torch

from softfact.data.blobs import make_blobs, shift_no_wrap, translate
from softfact.seed_reference import make_blob
from softfact.seed_reference import shift_no_wrap as seed_shift


def test_shapes_values_and_device(gen):
    x = make_blobs(64, generator=gen)
    assert x.shape == (64, 1, 16, 16) and x.dtype == torch.float32
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    assert (x.flatten(1).sum(1) > 0).all()  # three rectangles never vanish


def test_same_seed_same_images():
    a = make_blobs(8, generator=torch.Generator().manual_seed(3))
    b = make_blobs(8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_pixel_statistics_match_seed(gen):
    """Density per pixel position of the batched generator equals the seed's make_blob."""
    torch.manual_seed(0)
    ref = torch.stack([make_blob() for _ in range(4000)])
    ours = make_blobs(20000, generator=gen)
    # overall density and its spatial profile (flips make it symmetric)
    assert abs(ref.mean() - ours.mean()) < 0.004
    prof_ref, prof = ref.mean((0, 1, 3)), ours.mean((0, 1, 3))
    assert (prof_ref - prof).abs().max() < 0.02
    # number of lit pixels per image: same distribution (mean and spread)
    n_ref, n = ref.flatten(1).sum(1), ours.flatten(1).sum(1)
    assert abs(n_ref.mean() - n.mean()) < 0.4 and abs(n_ref.std() - n.std()) < 0.4


def test_translate_matches_seed_shift_no_wrap(gen):
    x = make_blobs(16, generator=gen)
    for dy in range(-5, 6):
        for dx in (-3, 0, 2):
            ref = torch.stack([seed_shift(seed_shift(img, dy, 1), dx, 2) for img in x])
            ours = translate(x, torch.full((16,), dy), torch.full((16,), dx))
            assert torch.equal(ref, ours), (dy, dx)


def test_translate_per_sample_and_wrap(gen):
    x = make_blobs(6, generator=gen)
    dy = torch.tensor([-3, -1, 0, 1, 2, 4])
    dx = torch.tensor([2, 0, -4, 1, 0, -1])
    out = translate(x, dy, dx)
    rolled = translate(x, dy, dx, wrap=True)
    for i in range(6):
        assert torch.equal(out[i], shift_no_wrap(shift_no_wrap(x[i], int(dy[i]), 1), int(dx[i]), 2))
        assert torch.equal(rolled[i], torch.roll(x[i], (int(dy[i]), int(dx[i])), (1, 2)))


def test_translate_rejects_bad_shape():
    import pytest
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        translate(torch.zeros(16, 16), 1, 1)


def test_rendered_views_equal_shifted_pixels(gen):
    """Moving the rectangles is the same as shifting the image, zero-filled or wrapped."""
    from softfact.data.blobs import draw_blob_params, render_blobs
    params = draw_blob_params(200, generator=gen)
    img = render_blobs(*params)
    dy = torch.randint(-6, 7, (200,), generator=gen)
    dx = torch.randint(-6, 7, (200,), generator=gen)
    for wrap in (False, True):
        assert torch.equal(render_blobs(*params, dy=dy, dx=dx, wrap=wrap),
                           translate(img, dy, dx, wrap=wrap))


def test_blob_source_views_and_generic_path_agree_in_distribution(gen):
    from softfact.data import BlobSource, sample_triplets
    fast = sample_triplets(BlobSource(), 20000, max_shift=4, generator=gen)
    slow = sample_triplets(lambda n, g: make_blobs(n, generator=g), 20000, max_shift=4, generator=gen)
    assert torch.equal(fast.crop1, translate(fast.anchor, fast.delta1[:, 0], fast.delta1[:, 1]))
    assert abs(fast.anchor.mean() - slow.anchor.mean()) < 0.003
    assert abs(fast.redraws - slow.redraws) / 20000 < 0.01


def test_row_masks_equal_rendered_pixels_at_any_size(gen):
    """Row masks, shifted by bits and gathers, draw exactly what moving the rectangles draws."""
    from softfact.data.blobs import (blob_masks, draw_blob_params, masks_to_images, render_blobs,
                                     shift_masks)
    for size in (4, 7, 16, 17, 33, 62):
        params = draw_blob_params(150, size=size, generator=gen)
        dy = torch.randint(-size - 2, size + 3, (150,), generator=gen)
        dx = torch.randint(-size - 2, size + 3, (150,), generator=gen)
        masks = blob_masks(*params, size=size)
        assert torch.equal(masks_to_images(masks, size=size), render_blobs(*params, size=size))
        for wrap in (False, True):
            got = masks_to_images(shift_masks(masks, dy, dx, size=size, wrap=wrap), size=size)
            assert torch.equal(got, render_blobs(*params, size=size, dy=dy, dx=dx, wrap=wrap)), (size, wrap)


def test_blob_source_packed_views_and_large_images(gen):
    from softfact.data import BlobSource
    d = [torch.tensor([[1, 0], [0, -2]]), torch.tensor([[0, 3], [-1, 0]])]
    src = BlobSource(16)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    packed = src.views(2, g1, d, packed=True)
    pixels = src.views(2, g2, d)
    assert packed[0].shape == (2, 16) and packed[0].dtype == torch.int64
    for p, x in zip(packed, pixels):
        assert torch.equal(src.unpack(p), x)
    big = BlobSource(70)  # wider than a row mask: drawn as pixels, same interface
    views = big.views(3, gen, [torch.tensor([[2, 1]] * 3)], packed=True)
    assert views[0].shape == (3, 1, 70, 70) and torch.equal(big.unpack(views[1]), views[1])
    assert torch.equal(views[1], translate(views[0], 2, 1))


def test_margin_places_the_seeds_blobs_inside_an_empty_border():
    """margin m on a (16 + 2m) canvas draws the seed's 16 x 16 blobs, bit for bit, in its
    centre; so no shift by up to m pixels pushes a pixel off."""
    from softfact.data import BlobSource
    wide = make_blobs(300, size=24, margin=4, generator=torch.Generator().manual_seed(1))
    seed = make_blobs(300, size=16, generator=torch.Generator().manual_seed(1))
    assert torch.equal(wide[:, :, 4:20, 4:20], seed)
    assert wide.sum() == seed.sum()                         # nothing outside the centre
    for dy, dx in [(4, 0), (-4, 0), (0, 4), (0, -4), (-4, 4), (3, -2)]:
        assert torch.equal(translate(wide, dy, dx).flatten(1).sum(1), wide.flatten(1).sum(1))
    # the seed's blobs lose pixels at the same shifts (what the margin is for)
    assert (translate(seed, 4, 0).flatten(1).sum(1) < seed.flatten(1).sum(1)).any()
    src = BlobSource(24, margin=4)
    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    views = src.views(50, g1, [torch.tensor([[-4, 4]] * 50)])
    assert torch.equal(views[0], src(50, g2))               # views' anchors = the source's draw
    assert torch.equal(views[1], translate(views[0], -4, 4))
    assert torch.equal(views[1].flatten(1).sum(1), views[0].flatten(1).sum(1))


def test_margin_must_leave_room_for_a_rectangle():
    import pytest
    from softfact.data import BlobSource
    for size, margin in [(16, 7), (16, -1), (11, 4)]:
        with pytest.raises(ValueError, match=f"got size {size}, margin {margin}"):
            BlobSource(size, margin=margin)
    assert make_blobs(2, size=12, margin=4).shape == (2, 1, 12, 12)   # 4 x 4 inside: the least
