"""The translating decoder (ConvDecoder(margin > 0)): a canvas window moved by a position read from z."""
import pytest
import torch

from softfact.config import ConfigError, resolve
from softfact.models import ConvDecoder, build_decoder
from softfact.seed_reference import shift_no_wrap


def window(canvas, p, margin, size, off=30.0):
    """The reference: output pixel (i, j) = canvas[i + margin - p_r, j + margin - p_c], -off outside."""
    out = torch.full((canvas.shape[0], 1, size, size), -off)
    for b in range(canvas.shape[0]):
        r0, c0 = margin - int(p[b, 0]), margin - int(p[b, 1])
        for i in range(size):
            for j in range(size):
                if 0 <= i + r0 < canvas.shape[-2] and 0 <= j + c0 < canvas.shape[-1]:
                    out[b, 0, i, j] = canvas[b, 0, i + r0, j + c0]
    return out


def integer_position_decoder(latent_dim=6, margin=4, seed=0):
    """A translating decoder whose position head reads z[:, 0] and z[:, 1] as rows and columns."""
    torch.manual_seed(seed)
    dec = ConvDecoder(latent_dim=latent_dim, image_size=16, width=8, margin=margin)
    with torch.no_grad():
        dec.position.weight.zero_()
        dec.position.weight[0, 0] = dec.position.weight[1, 1] = 1.0
        dec.position.bias.zero_()
    return dec


def test_output_is_the_canvas_window_at_the_position():
    dec = integer_position_decoder()
    z = torch.randn(3, 6)
    z[:, :2] = torch.tensor([[0., 0.], [3., -2.], [-7., 9.]])  # the last reads mostly off the canvas
    canvas = dec._draw(z * torch.tensor([0., 0, 1, 1, 1, 1]), dec.canvas_size)
    assert canvas.shape[-1] == 24 == 16 + 2 * 4
    torch.testing.assert_close(dec(z), window(canvas, z[:, :2], 4, 16), atol=1e-4, rtol=0)


def test_moving_z_shifts_the_image_as_a_zero_filled_shift_and_keeps_the_content(monkeypatch):
    from softfact.data.blobs import make_blobs
    dec = integer_position_decoder()
    images = make_blobs(4, generator=torch.Generator().manual_seed(3))
    # a canvas drawing the images in its middle and nothing in its margin
    canvas = torch.nn.functional.pad(images * 20 - 10, (4, 4, 4, 4), value=-10.0)
    monkeypatch.setattr(dec, "_draw", lambda z, size: canvas)
    z = torch.randn(4, 6)
    z[:, :2] = 0
    with torch.no_grad():
        assert torch.equal((dec(z) > 0).float(), images)
        for s in [(2, 0), (0, -3), (4, 4), (-1, 2), (-4, 3)]:
            moved = dec.move(z, s)
            torch.testing.assert_close(moved[:, 2:], z[:, 2:])  # content untouched
            expect = shift_no_wrap(shift_no_wrap(images, s[0], 2), s[1], 3)
            assert torch.equal((dec(moved) > 0).float(), expect)


def test_the_position_directions_do_not_reach_the_content_for_any_learned_head():
    torch.manual_seed(1)
    dec = ConvDecoder(latent_dim=8, image_size=16, width=8, margin=3)  # a random position head
    z = torch.randn(5, 8)
    moved = dec.move(z, (2.0, -1.0))
    torch.testing.assert_close(dec.position(moved) - dec.position(z),
                               torch.tensor([[2.0, -1.0]]).expand(5, 2), atol=1e-4, rtol=0)
    w = dec.position.weight
    coef = lambda v: torch.linalg.solve(w @ w.T, (v @ w.T).T).T @ w  # noqa: E731
    torch.testing.assert_close(moved - coef(moved), z - coef(z), atol=1e-4, rtol=0)


def test_gradients_reach_the_position_head_and_the_canvas():
    dec = ConvDecoder(latent_dim=8, image_size=16, width=8, margin=4)
    z = torch.randn(3, 8, requires_grad=True)
    dec(z).sigmoid().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in dec.parameters())
    assert z.grad.abs().sum() > 0


def test_margin_zero_is_the_plain_decoder():
    torch.manual_seed(0)
    a = ConvDecoder(latent_dim=8, image_size=16, width=8)
    torch.manual_seed(0)
    b = ConvDecoder(latent_dim=8, image_size=16, width=8, margin=0)
    assert b.position is None and a.state_dict().keys() == b.state_dict().keys()
    z = torch.randn(2, 8)
    assert torch.equal(a(z), b(z))
    with pytest.raises(ValueError, match="translating decoder"):
        a.move(z, (1, 0))


def test_bad_margins_are_clear_errors():
    with pytest.raises(ValueError, match="got margin -1"):
        ConvDecoder(latent_dim=8, image_size=16, margin=-1)
    with pytest.raises(ConfigError, match="'decoder_margin' must be >= 0"):
        resolve("rae", None, {"decoder_margin": "-2"})


# -- a spatial latent (the embedding, then a map) with a translating decoder --

def spatial_translating_decoder(seed=0):
    """Embedding of 6 (p reads z[:, 0], z[:, 1]), then a 2 x 4 x 4 map; q starts at zero."""
    torch.manual_seed(seed)
    dec = ConvDecoder(latent_dim=6, image_size=16, width=8, map_channels=2, map_size=4, margin=4)
    with torch.no_grad():
        dec.position.weight.zero_()
        dec.position.weight[0, 0] = dec.position.weight[1, 1] = 1.0
        dec.position.bias.zero_()
    return dec


def test_a_spatial_translating_decoder_draws_at_the_image_size_and_moves_by_p_minus_q(monkeypatch):
    from softfact.data.blobs import make_blobs
    dec = spatial_translating_decoder()
    assert dec.canvas_size == 16 and dec.in_dim == 6 + 32 and dec.map_position is not None
    assert dec.map_position.weight.abs().sum() == 0 == dec.map_position.bias.abs().sum()
    images = make_blobs(4, generator=torch.Generator().manual_seed(3))
    drawn = {}
    monkeypatch.setattr(dec, "_draw", lambda z, size: drawn.setdefault("z", z) is not None and images * 20 - 10)
    z = torch.randn(4, 38)
    z[:, :2] = 0
    with torch.no_grad():
        assert torch.equal((dec(z) > 0).float(), images)          # p - q = 0: the drawing itself
        # the drawing reads the embedding without p's directions and the map as it is
        torch.testing.assert_close(drawn["z"][:, 2:], z[:, 2:])
        assert drawn["z"][:, :2].abs().max() < 1e-5
        for s in [(2, 0), (0, -3), (4, 4), (-1, 2)]:
            moved = dec.move(z, s)
            torch.testing.assert_close(moved[:, 2:], z[:, 2:])    # content and map untouched
            expect = shift_no_wrap(shift_no_wrap(images, s[0], 2), s[1], 3)
            assert torch.equal((dec(moved) > 0).float(), expect)
        # q reads the map: a map whose q says (1, 2) undoes an embedding at (1, 2)
        dec.map_position.weight[0, 0] = dec.map_position.weight[1, 1] = 1.0  # map values 0, 1
        z2 = z.clone()
        z2[:, [0, 1]] = z2[:, [6, 7]] = torch.tensor([1.0, 2.0])
        assert torch.equal((dec(z2) > 0).float(), images)
        z2[:, 7] = 0.0                                            # now p - q = (0, 2)
        assert torch.equal((dec(z2) > 0).float(), shift_no_wrap(images, 2, 3))


def test_a_spatial_translating_decoder_trains_both_heads_and_its_moves_are_ops():
    from softfact.ops import OperationVectors
    dec = ConvDecoder(latent_dim=6, image_size=16, width=8, map_channels=2, map_size=4, margin=2)
    z = torch.randn(3, 38, requires_grad=True)
    dec(z).sigmoid().sum().backward()
    assert dec.position.weight.grad.abs().sum() > 0 and dec.map_position.weight.grad.abs().sum() > 0
    ops = OperationVectors.from_decoder(dec, max_shift=3)
    assert ops.n_features_in_ == 38 and ops.coef_.shape == (2, 38) and (ops.coef_[:, 6:] == 0).all()
    with torch.no_grad():
        torch.testing.assert_close(ops.apply(z, 2, -1), dec.move(z, (2, -1)), atol=1e-5, rtol=0)
    spatial = {"encoder": "conv", "latent_map": "2", "width": "4", "depth": "2"}
    assert build_decoder(resolve("rae", None, spatial)).map_position is not None  # margin 2
    assert build_decoder(resolve("rae", None, {**spatial, "decoder_margin": "0"})).position is None


def test_build_decoder_reads_decoder_margin():
    cfg = resolve("rae", None, {"decoder_margin": "4"})
    dec = build_decoder(cfg)
    assert dec.margin == 4 and dec.canvas_size == 24 and dec(torch.zeros(2, 64)).shape == (2, 1, 16, 16)
    assert build_decoder(resolve("rae", None, {"decoder_margin": "0"})).position is None


def test_the_rae_preset_trains_a_translating_decoder_jointly_on_every_third_view():
    cfg = resolve("rae", None, {})
    assert (cfg.recon_weight, cfg.decoder_margin, cfg.recon_stride, cfg.op_weight) == (1.0, 2, 3, 0.0)
    assert (cfg.linear_weight, cfg.cross_weight, cfg.steps) == (0.1, 1.5, 8000)
    assert build_decoder(cfg).canvas_size == 20 and resolve("cpu", None, {}).recon_weight == 0
    assert resolve("cpu", None, {}).linear_weight == 0  # the seed's objective stays the cpu recipe's


def test_under_bf16_autocast_the_drawing_is_bf16_and_the_position_float32(monkeypatch):
    """--amp: the decoder's convolutions follow autocast, its position and move do not."""
    from softfact.data.blobs import make_blobs
    dec = integer_position_decoder()
    seen = {}
    dec.blocks.register_forward_hook(lambda m, i, o: seen.update(block=o.dtype))
    dec.position.register_forward_hook(lambda m, i, o: seen.update(position=o.dtype))
    z = torch.randn(4, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = dec(z)
    assert seen == {"block": torch.bfloat16, "position": torch.float32} and out.dtype == torch.float32
    torch.testing.assert_close(out, dec(z), atol=0.15, rtol=0.05)  # bf16 drawing, same image
    # a fractional position stays exact: a bf16 p of 3.3 would be 3.296875
    images = make_blobs(2, generator=torch.Generator().manual_seed(5))
    canvas = torch.nn.functional.pad(images * 20 - 10, (4, 4, 4, 4), value=-10.0)
    monkeypatch.setattr(dec, "_draw", lambda z, size: canvas.to(z.dtype))
    z = torch.zeros(2, 6)
    z[:, :2] = torch.tensor([3.3, -1.7])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        amp = dec(z)
    torch.testing.assert_close(amp, dec(z), atol=1e-4, rtol=0)
