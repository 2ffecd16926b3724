import torch

from softfact.encoders import ToyEncoder


def test_toy_encoder_parameter_count_is_the_seeds():
    assert sum(p.numel() for p in ToyEncoder().parameters()) == 61_264
    # the head is the only part that depends on latent_dim: 64 * D + D
    assert sum(p.numel() for p in ToyEncoder(8).parameters()) == 61_264 - 8 * 65


def test_toy_encoder_shapes():
    z = ToyEncoder(16)(torch.zeros(5, 1, 16, 16))
    assert z.shape == (5, 16)


def test_chunked_encoder_is_the_same_function_and_gradient():
    from softfact.encoders import ChunkedEncoder
    torch.manual_seed(0)
    enc = ToyEncoder(8)
    x = torch.rand(70, 1, 16, 16)
    whole = enc(x)
    grads = torch.autograd.grad(whole.square().sum(), list(enc.parameters()))
    chunked = ChunkedEncoder(enc, 16)(x)
    grads_c = torch.autograd.grad(chunked.square().sum(), list(enc.parameters()))
    assert torch.allclose(whole, chunked, atol=1e-6)
    for a, b in zip(grads, grads_c):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_embedding_stays_float32_under_bf16_autocast():
    enc = ToyEncoder()
    x = torch.rand(4, 1, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z = enc(x)
    assert z.dtype == torch.float32
    assert torch.allclose(z, enc(x), atol=0.05)  # trunk in bf16, close to float32
