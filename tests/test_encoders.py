import torch

from softfact.encoders import ToyEncoder


def test_toy_encoder_parameter_count_is_the_seeds():
    assert sum(p.numel() for p in ToyEncoder().parameters()) == 61_264
    # the head is the only part that depends on latent_dim: 64 * D + D
    assert sum(p.numel() for p in ToyEncoder(8).parameters()) == 61_264 - 8 * 65


def test_toy_encoder_shapes():
    z = ToyEncoder(16)(torch.zeros(5, 1, 16, 16))
    assert z.shape == (5, 16)
