"""The spatial latent (``latent_map``): a conv encoder's map beside its embedding, read by the decoder."""
import pytest
import torch

from softfact.models import ConvDecoder, ConvEncoder, SpatialLatent, decoder_input
from softfact.models.conv import map_side


def test_the_embedding_is_unchanged_and_the_latent_appends_the_map():
    torch.manual_seed(0)
    enc = ConvEncoder(latent_dim=8, width=4, depth=2, latent_map=3)
    plain = ConvEncoder(latent_dim=8, width=4, depth=2)
    plain.load_state_dict({k: v for k, v in enc.state_dict().items() if not k.startswith("to_map")})
    x = torch.rand(5, 1, 16, 16)
    assert torch.equal(enc(x), plain(x))                      # what every loss and analysis sees
    z = enc.latent(x)
    assert z.shape == (5, 8 + 3 * 4 * 4)
    assert torch.equal(z[:, :8], enc(x))
    assert torch.allclose(z[:, 8:], enc.to_map(enc.features(
        torch.cat([x, torch.stack(torch.meshgrid(torch.linspace(-1, 1, 16), torch.linspace(-1, 1, 16),
                                                 indexing="ij")).expand(5, 2, 16, 16)], 1))).flatten(1))
    assert torch.equal(SpatialLatent(enc)(x), z)
    assert decoder_input(plain) is plain and isinstance(decoder_input(enc), SpatialLatent)
    assert torch.equal(plain.latent(x), plain(x))


def test_the_map_is_spatial_a_pixel_moves_the_cell_under_it_most():
    # GroupNorm spreads a little of any change over the whole map; the cell under the pixel
    # moves most (untrained encoder: strides and receptive fields alone)
    torch.manual_seed(0)
    enc = ConvEncoder(latent_dim=8, width=4, depth=2, latent_map=3)
    x = torch.zeros(1, 1, 16, 16)
    for (i, j) in ((0, 0), (12, 12), (8, 4), (4, 12)):  # cell k is centred on pixel 4k
        y = x.clone()
        y[0, 0, i, j] = 1.0
        m0, m1 = (enc.latent(v)[0, 8:].view(3, 4, 4) for v in (x, y))
        moved = (m0 - m1).abs().amax(0)
        assert divmod(int(moved.argmax()), 4) == (i // 4, j // 4), (i, j, moved)


def test_map_side_matches_the_encoder_and_the_decoder_reads_the_map():
    for size, depth in ((16, 2), (64, 4), (64, 3), (24, 3), (20, 2)):
        enc = ConvEncoder(latent_dim=4, width=2, depth=depth, latent_map=2)
        side = map_side(size, depth)
        assert enc.latent(torch.zeros(1, 1, size, size)).shape[1] == 4 + 2 * side * side
    dec = ConvDecoder(latent_dim=8, image_size=64, width=8, map_channels=3, map_size=4)
    assert dec.in_dim == 8 + 48
    z = torch.zeros(2, 56)
    assert dec(z).shape == (2, 1, 64, 64)
    z2 = z.clone()
    z2[:, 8:] = torch.randn(2, 48)
    assert not torch.allclose(dec(z), dec(z2))                 # the map part reaches the output
    with pytest.raises(ValueError, match=r"expects \(B, 56\) embeddings, got shape \(2, 8\)"):
        dec(torch.zeros(2, 8))
    with pytest.raises(ValueError, match="latent_map >= 0"):
        ConvEncoder(latent_dim=4, latent_map=-1)


def test_without_a_map_the_decoder_keeps_its_shape():
    # the decoders of earlier joint runs and decoder.pt files load unchanged
    dec = ConvDecoder(latent_dim=64, image_size=16, width=32)
    assert dec.in_dim == 64 and sum(p.numel() for p in dec.parameters()) == 43_713
    assert dec.config() == {"latent_dim": 64, "image_size": 16, "width": 32, "map_channels": 0,
                            "map_size": 4, "margin": 0}
