"""GELU on channels_last memory: the NCHW kernel's exact values, forward and backward."""
import pytest
import torch
import torch.nn.functional as F

from softfact import seed_reference
from softfact.models import ToyEncoder
from softfact.models.activations import GELU, gelu


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_channels_last_gelu_equals_the_nchw_kernel(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 16, 6, 5, generator=g).to(dtype)
    grad = torch.randn(8, 16, 6, 5, generator=g).to(dtype)
    ref_in = x.clone().requires_grad_(True)
    ref = F.gelu(ref_in)  # contiguous NCHW, the seed's layout
    ref.backward(grad)
    cl_in = x.to(memory_format=torch.channels_last).requires_grad_(True)
    out = gelu(cl_in)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out, ref)
    out.backward(grad.to(memory_format=torch.channels_last))
    assert torch.equal(cl_in.grad, ref_in.grad)


def test_other_layouts_are_plain_gelu():
    x = torch.randn(3, 7)
    assert torch.equal(gelu(x), F.gelu(x))
    y = torch.randn(2, 3, 4, 4)[:, :, ::2]  # strided, neither layout: F.gelu as is
    assert torch.equal(gelu(y), F.gelu(y))
    assert torch.equal(gelu(x, approximate="tanh"), F.gelu(x, approximate="tanh"))
    assert torch.equal(GELU("tanh")(x), F.gelu(x, approximate="tanh"))


def test_toy_encoder_keeps_the_seeds_parameters_and_state_dict():
    ours, seeds = ToyEncoder(16), seed_reference.ToyEncoder(16)
    assert sum(p.numel() for p in ours.parameters()) == 61_264
    assert list(ours.state_dict()) == list(seeds.state_dict())
    ours.load_state_dict(seeds.state_dict())
    x = torch.rand(4, 1, 16, 16)
    with torch.no_grad():  # NCHW: the same kernels as the seed's model, bit for bit
        assert torch.equal(ours(x), seeds(x))
