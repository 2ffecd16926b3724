"""Operation vectors, decoding and the operation metrics, on an exactly equivariant pair."""
import numpy as np
import pytest
import torch

from softfact.data.blobs import translate
from softfact.ops.apply import OpsError
from softfact.ops import (OperationVectors, best_threshold, binary_f1, decode,
                          evaluate_operations, latent_error, latent_shift, operation_examples,
                          operation_metrics)
from tests.ops import pixel_pair as pp


def test_mean_and_linear_vectors_are_the_shifts_for_an_equivariant_encoder():
    g = torch.Generator().manual_seed(0)
    x = pp.images(10, g)
    mean = OperationVectors("mean", max_shift=pp.M).fit(pp.encoder, x)
    lin = OperationVectors("linear", max_shift=pp.M).fit(pp.encoder, pp.images)
    assert mean.vectors_.shape == (7, 7, 3) and mean.n_features_in_ == 3 and mean.n_images_ == 10
    assert lin.n_images_ == 200
    for ops in (mean, lin):
        np.testing.assert_allclose(ops.coef_, [[1, 0, 0], [0, 1, 0]], atol=1e-9)
        assert ops.vector(2, -3).tolist() == [2.0, -3.0, 0.0]
        assert ops.vector(torch.tensor([1, -1]), 0).tolist() == [[1, 0, 0], [-1, 0, 0]]
        # z(x) + v(s) == z(shift(x, s)) exactly
        dy, dx = torch.tensor([1, -2, 3, 0]), torch.tensor([0, 3, -3, -1])
        moved = ops.apply(pp.encoder(x[:4]), dy, dx)
        assert torch.equal(moved, pp.encoder(translate(x[:4], dy, dx)))
    # only the linear map extrapolates beyond the fitted grid
    assert lin.vector(5, 0).tolist() == [5.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="shifts up to 3"):
        mean.vector(5, 0)


def test_mean_vectors_are_the_mean_differences_not_a_fit():
    # an encoder whose response to a shift depends on the image: the mean averages it
    x = pp.images(6, torch.Generator().manual_seed(1))
    enc = lambda t: torch.cat([pp.encoder(t), pp.encoder(t)[:, :1] ** 2], 1)  # noqa: E731
    ops = OperationVectors("mean", max_shift=2).fit(enc, x)
    r = pp.encoder(x)[:, 0].double()
    want = ((r + 1) ** 2 - r ** 2).mean()                    # E[(r+1)^2 - r^2] for dy = +1
    assert ops.vector(1, 0)[3].item() == pytest.approx(want.item(), rel=1e-6)


def test_moves_keeps_the_features_after_the_first_k_in_place():
    # a spatial latent: the embedding moves, the map features stay (OperationVectors(moves=k))
    x = pp.images(6, torch.Generator().manual_seed(1))
    enc = lambda t: torch.cat([pp.encoder(t), pp.encoder(t)[:, :1] ** 2], 1)  # noqa: E731
    for method in ("mean", "linear", "auto"):
        every = OperationVectors(method, max_shift=2).fit(enc, x)
        first = OperationVectors(method, max_shift=2, moves=2).fit(enc, x)
        assert first.method_ == every.method_ or method == "auto"
        if method != "auto":
            np.testing.assert_array_equal(first.vectors_[..., :2], every.vectors_[..., :2])
        assert not first.vectors_[..., 2:].any() and not first.coef_[:, 2:].any()
        assert first.vector(1, 0)[3].item() == 0 and every.vector(1, 0)[3].item() != 0
    assert "moves=2" in repr(first)


def test_unfitted_and_bad_input_are_clear_errors():
    with pytest.raises(ValueError, match="not fitted"):
        OperationVectors().vector(1, 0)
    with pytest.raises(ValueError, match="method must be one of"):
        OperationVectors("median", max_shift=1).fit(pp.encoder, pp.images(2, torch.Generator()))
    ops = OperationVectors(max_shift=1).fit(pp.encoder, pp.images(2, torch.Generator()))
    with pytest.raises(ValueError, match=r"end in 3 features, got shape \(2, 5\)"):
        ops.apply(torch.zeros(2, 5), 1, 0)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) images, got shape \(2, 144\)"):
        decode(lambda z: torch.zeros(len(z), 144), torch.zeros(2, 3))


def test_binary_f1_and_best_threshold_against_brute_force():
    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.3
    s = np.round(y * 0.8 + rng.normal(size=500), 1)          # ties on purpose
    t = best_threshold(s, y)
    best = max(binary_f1(s > u, y) for u in np.unique(s) - 1e-9)
    assert binary_f1(s > t, y) == pytest.approx(best)
    assert binary_f1(np.zeros(3), np.zeros(3)) == 1.0
    assert best_threshold(np.array([0.5, 0.2]), np.array([False, False])) > 0.5


@pytest.fixture(scope="module")
def exact():
    return evaluate_operations(pp.encoder, pp.decoder, pp.images, pp.images, max_shift=pp.M,
                               seed=3, n_images=40)


def test_op_f1_equals_the_ceiling_for_an_exactly_equivariant_pair(exact):
    m = exact.metrics
    assert m["recon_threshold"] == 0.0
    assert 0.6 < m["op_f1_ceiling"] < 0.95 and m["op_latent_err"] == 0.0
    keys = [k for k in m if k.startswith("op_f1_ceiling")]
    assert len(keys) == 1 + 2 + pp.M                       # all, pitch, time, s1..s3
    for key in keys:
        assert m[key.replace("_ceiling", "")] == m[key], key
    assert np.array_equal(exact.f1["op"], exact.f1["ceiling"]) and exact.f1["op"].shape == (7, 7)
    assert exact.f1["op"][pp.M, pp.M] == m["recon_f1"]        # the centre is the reconstruction
    # the baseline (doing nothing) is far below: the decoded pixel stays put
    assert m["op_f1_baseline"] < 0.2
    # odd dy flips the parity of the row, so pitch shifts of size 1 differ from size 2
    assert m["op_f1_ceiling_s1"] != m["op_f1_ceiling_s2"]


def test_recon_f1_counts_the_extra_pixels(exact):
    g = torch.Generator().manual_seed(3 + 1)                 # the validation draw
    rows = pp.images(40, g)[:, 0].nonzero()[:, 1]
    even = int((rows % 2 == 0).sum())
    assert exact.metrics["recon_f1"] == pytest.approx(2 * 40 / (2 * 40 + even))


def test_op_f1_equals_the_baseline_when_v_is_zero(exact):
    zero = OperationVectors(max_shift=pp.M).fit(pp.encoder, pp.images(4, torch.Generator()))
    zero.vectors_[:] = 0
    m = evaluate_operations(pp.encoder, pp.decoder, pp.images, pp.images, max_shift=pp.M,
                            seed=3, n_images=40, operations=zero).metrics
    for key in [k for k in m if k.startswith("op_f1_baseline")]:
        assert m[key.replace("_baseline", "")] == m[key], key
    assert m["op_f1_ceiling"] == exact.metrics["op_f1_ceiling"]
    assert m["op_latent_err"] == 1.0
    Z = np.stack([pp.encoder(pp.translate_grid(x)).numpy().reshape(7, 7, 3)
                  for x in pp.images(3, torch.Generator())])
    assert [latent_error(Z, zero, size=k) for k in (1, 3)] == [1.0, 1.0]
    assert latent_error(Z, exact.operations, size=2) == 0.0


def test_operation_metrics_and_latent_shift_on_modules():
    # torch modules on the pixel pair: eval mode, batches, the same numbers as the callables
    enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(pp.SIZE ** 2, 3, bias=False))
    enc[1].weight.data = pp._CODE.T.clone()
    m = operation_metrics(enc, pp.decoder, pp.images, pp.images, max_shift=pp.M, seed=3,
                          n_images=40, method="linear")
    assert m["op_f1"] == m["op_f1_ceiling"]
    x = pp.images(5, torch.Generator().manual_seed(9))
    ops = OperationVectors(max_shift=pp.M).fit(enc, x)
    out = latent_shift(enc, pp.decoder, ops, x, 2, -1)
    assert torch.equal(out, pp.decoder(pp.encoder(translate(x, 2, -1))))
    ex = operation_examples(enc, pp.decoder, ops, x[:2], shifts=[(1, 0), (0, -2)])
    assert ex.latent.shape == (2, 2, pp.SIZE, pp.SIZE) and ex.recon.shape == (2, pp.SIZE, pp.SIZE)
    assert (ex.true & ~ex.latent).sum() == 0                 # every true pixel is decoded
    # the border each shift empties: the top row for dy = +1, the last two columns for dx = -2
    assert ex.emptied.shape == (2, pp.SIZE, pp.SIZE)
    assert ex.emptied[0, 0].all() and ex.emptied[0].sum() == pp.SIZE
    assert ex.emptied[1, :, -2:].all() and ex.emptied[1].sum() == 2 * pp.SIZE
    assert not ex.true[:, :, ex.emptied[0]].any() and not ex.true[:, 1][:, ex.emptied[1]].any()
    rolled = operation_examples(enc, pp.decoder, ops, x[:2], shifts=[(1, 0)], wrap=True)
    assert not rolled.emptied.any()                          # a roll empties nothing


def test_a_decoder_of_the_wrong_size_is_a_one_line_error():
    from softfact.ops import OpsError
    small = lambda z: torch.zeros(len(z), 1, 4, 4)           # noqa: E731
    with pytest.raises(OpsError, match=r"images of shape \(1, 4, 4\), the data are \(1, 12, 12\)"):
        operation_metrics(pp.encoder, small, pp.images, pp.images, max_shift=1, n_images=4)


def test_auto_picks_the_method_with_the_lower_held_out_latent_error():
    x = pp.images(40, torch.Generator().manual_seed(5))
    # a response to dy that is not linear in dy: (r + dy - 6)^2 - (r - 6)^2 -> "mean" wins
    bent = lambda t: torch.cat([pp.encoder(t), 5 * (pp.encoder(t)[:, :1] - 6) ** 2], 1)  # noqa
    # image-dependent noise on a linear response: 2 pooled vectors beat 49 separate means
    proj = torch.randn(pp.SIZE ** 2, 6, generator=torch.Generator().manual_seed(0))
    noisy = lambda t: torch.cat([pp.encoder(t), t.flatten(1) @ proj], 1)  # noqa: E731
    picked = {}
    for name, enc in (("bent", bent), ("noisy", noisy)):
        ops = OperationVectors("auto", max_shift=pp.M).fit(enc, x)
        assert set(ops.scores_) == {"mean", "linear"}
        assert ops.method_ == min(ops.scores_, key=ops.scores_.get)
        picked[name] = ops.method_
        ref = OperationVectors(ops.method_, max_shift=pp.M).fit(enc, x)
        assert torch.equal(ops.vector(1, -2), ref.vector(1, -2))     # refitted on all images
    assert picked == {"bent": "mean", "noisy": "linear"}


def _pixel_code_pair(margin=4):
    """An encoder z = (0, 0, pixels) and a translating decoder drawing z's pixels in the middle of
    its canvas (nothing in the margin) at the position z[:, :2]: the decoder's moves are exact."""
    from softfact.models import ConvDecoder
    dec = ConvDecoder(latent_dim=2 + 256, image_size=16, width=4, margin=margin)
    with torch.no_grad():
        dec.position.weight.zero_()
        dec.position.weight[0, 0] = dec.position.weight[1, 1] = 1.0
        dec.position.bias.zero_()
    dec._draw = lambda z, size: torch.nn.functional.pad(
        z[:, 2:].reshape(-1, 1, 16, 16) * 20 - 10, (margin,) * 4, value=-10.0)
    enc = lambda x: torch.cat([torch.zeros(len(x), 2), x.flatten(1)], 1)  # noqa: E731
    return enc, dec


def test_decoder_moves_are_exact_for_a_translating_decoder_whatever_the_encoder():
    from softfact.data.blobs import make_blobs
    enc, dec = _pixel_code_pair()
    blobs = lambda n, g: make_blobs(n, generator=g)  # noqa: E731
    m = evaluate_operations(enc, dec, blobs, blobs, max_shift=4, n_images=16, method="decoder").metrics
    assert m["recon_f1"] == 1.0
    for key in [k for k in m if k.startswith("op_f1_ceiling")]:
        assert m[key] == 1.0 and m[key.replace("_ceiling", "")] == 1.0, key
    # the encoder's own differences (pixels) are no operation: the mean difference per shift
    fitted = evaluate_operations(enc, dec, blobs, blobs, max_shift=4, n_images=16).metrics
    assert fitted["op_f1"] < 0.7 and fitted["op_f1_ceiling"] == 1.0
    ops = OperationVectors.from_decoder(dec, max_shift=4)
    assert ops.method_ == "decoder" and ops.coef_.shape == (2, 258)
    assert torch.equal(ops.vector(3, -2), torch.as_tensor(ops.vectors_[7, 2], dtype=torch.float32))
    assert ops.vector(9, 0)[0] == 9.0                       # a linear map: any shift


def test_a_spatial_translating_decoder_moves_the_embedding_alone_for_both_kinds_of_vector():
    """z = (a 2-d embedding of zeros, then the pixels as a 4 x 8 x 8 map); the decoder draws the
    map and moves it by p(embedding) - q(map), q = 0: its moves are exact, and the encoder's own
    mean differences, moving the embedding alone as the decoder's moves do, are zero: no move."""
    from softfact.data.blobs import make_blobs
    from softfact.models import ConvDecoder
    dec = ConvDecoder(latent_dim=2, image_size=16, width=4, map_channels=4, map_size=8, margin=1)
    with torch.no_grad():
        dec.position.weight.copy_(torch.eye(2))
        dec.position.bias.zero_()
    dec._draw = lambda z, size: z[:, 2:].reshape(-1, 1, 16, 16) * 20 - 10
    enc = lambda x: torch.cat([torch.zeros(len(x), 2), x.flatten(1)], 1)  # noqa: E731
    blobs = lambda n, g: make_blobs(n, generator=g)  # noqa: E731
    m = evaluate_operations(enc, dec, blobs, blobs, max_shift=3, n_images=12, method="decoder").metrics
    assert m["recon_f1"] == 1.0
    for key in [k for k in m if k.startswith("op_f1_ceiling")]:
        assert m[key] == 1.0 and m[key.replace("_ceiling", "")] == 1.0, key
    assert m["op_f1_fitted"] == m["op_f1_baseline"] < 0.7      # v(s) = 0 on the embedding
    assert m["op_latent_err_fitted"] == pytest.approx(1.0)     # the map's mean moves are not used
    assert OperationVectors.from_decoder(dec, max_shift=3).moves == 2


def test_decoder_moves_need_a_translating_decoder():
    from softfact.models import ConvDecoder
    with pytest.raises(OpsError, match="needs a translating decoder .* ConvDecoder has none"):
        OperationVectors.from_decoder(ConvDecoder(latent_dim=4, image_size=16, width=4))
    with pytest.raises(OpsError, match="use OperationVectors.from_decoder"):
        OperationVectors("decoder", max_shift=1).fit_grid(np.zeros((2, 3, 3, 4)))
