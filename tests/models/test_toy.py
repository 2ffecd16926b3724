import torch

from softfact.models import ToyEncoder


def test_toy_encoder_parameter_count_is_the_seeds():
    assert sum(p.numel() for p in ToyEncoder().parameters()) == 61_264
    # the head is the only part that depends on latent_dim: 64 * D + D
    assert sum(p.numel() for p in ToyEncoder(8).parameters()) == 61_264 - 8 * 65


def test_toy_encoder_shapes():
    z = ToyEncoder(16)(torch.zeros(5, 1, 16, 16))
    assert z.shape == (5, 16)


def test_chunked_encoder_is_the_same_function_and_gradient():
    from softfact.models import ChunkedEncoder
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
    from softfact.models import float32_embedding
    enc = ToyEncoder()
    x = torch.rand(4, 1, 16, 16)
    ref = enc(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert enc(x).dtype == torch.bfloat16  # the seed's model as it is: a bf16 embedding
        float32_embedding(enc)
        z = enc(x)
    assert z.dtype == torch.float32
    assert torch.allclose(z, ref, atol=0.05)  # trunk in bf16, close to float32
    assert torch.equal(enc(x), ref)  # without autocast the rule changes nothing


def test_precision_rule_applies_to_any_encoder_and_survives_copies():
    import copy
    from softfact.models import ConvEncoder, embedding_layer, float32_embedding
    conv = float32_embedding(ConvEncoder(latent_dim=8, width=8, depth=2))
    assert embedding_layer(conv) is conv.head[-1]
    user = float32_embedding(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 32),
                                                 torch.nn.GELU(), torch.nn.Linear(32, 4)))
    x = torch.rand(3, 1, 16, 16)
    for m in (conv, user, copy.deepcopy(user)):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert m(x).dtype == torch.float32
    assert set(user.state_dict()) == {"1.weight", "1.bias", "3.weight", "3.bias"}


def test_encoders_name_their_embedding_layer_by_attribute():
    from softfact.models import embedding_layer

    class Named(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj, self.out = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)
            self.embedding_layer = self.proj
    m = Named()
    assert embedding_layer(m) is m.proj
