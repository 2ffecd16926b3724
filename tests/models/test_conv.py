"""ConvEncoder: shapes, parameter counts, per-sample independence, the config hook."""
import pytest
import torch
from torch import nn

from softfact.config import apply, resolve
from softfact.models import build_encoder
from softfact.models import ConvEncoder


def expected_params(latent_dim, width, depth, coords=True):
    """Count by hand: per stage a 3x3 conv with bias and a GroupNorm (weight, bias); the head."""
    total, c_in, c = 0, 1 + 2 * coords, width
    for _ in range(depth):
        total += 9 * c_in * c + c + 2 * c
        c_in, c = c, 2 * c
    return total + c_in * latent_dim + latent_dim


@pytest.mark.parametrize("latent_dim, width, depth, size", [
    (16, 32, 4, 64), (32, 16, 4, 64), (8, 8, 3, 128), (32, 16, 5, 128), (4, 4, 1, 16)])
def test_shapes_and_parameter_counts(latent_dim, width, depth, size):
    enc = ConvEncoder(latent_dim=latent_dim, width=width, depth=depth)
    z = enc(torch.zeros(3, 1, size, size))
    assert z.shape == (3, latent_dim)
    assert sum(p.numel() for p in enc.parameters()) == expected_params(latent_dim, width, depth)


def test_default_size_and_no_coords_variant():
    assert sum(p.numel() for p in ConvEncoder().parameters()) == 393_488
    plain = ConvEncoder(coords=False)
    assert sum(p.numel() for p in plain.parameters()) == 393_488 - 2 * 9 * 32
    assert plain(torch.zeros(2, 1, 64, 64)).shape == (2, 16)


def test_no_batch_statistics_samples_are_independent():
    torch.manual_seed(0)
    enc = ConvEncoder(latent_dim=8, width=8, depth=3)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in enc.modules())
    x = (torch.rand(6, 1, 32, 32) > 0.9).float()
    together = enc(x)
    alone = torch.cat([enc(x[i:i + 1]) for i in range(6)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)


def test_coordinates_make_shifts_visible_to_an_untrained_encoder():
    # a single note moved within the crop must move the embedding
    torch.manual_seed(0)
    enc = ConvEncoder(latent_dim=8, width=8, depth=3)
    x = torch.zeros(2, 1, 32, 32)
    x[0, 0, 10, 10:14] = 1
    x[1, 0, 14, 10:14] = 1
    z = enc(x)
    assert (z[0] - z[1]).abs().max() > 1e-4


def test_bad_arguments_and_build_encoder():
    with pytest.raises(ValueError):
        ConvEncoder(depth=0)
    cfg = resolve("seed", None, {"encoder": "conv", "latent_dim": "12", "width": "8", "depth": "3"})
    enc = build_encoder(cfg)
    assert isinstance(enc, ConvEncoder) and enc(torch.zeros(1, 1, 64, 64)).shape == (1, 12)
    plain = build_encoder(apply(cfg, {"conv_coords": "false"}))
    assert sum(p.numel() for p in plain.parameters()) < sum(p.numel() for p in enc.parameters())
