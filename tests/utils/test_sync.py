"""forbid_host_sync: every operation a CUDA graph cannot hold is named; graph-safe code passes."""
import re

import pytest
import torch

from softfact.utils.sync import HostSyncError, forbid_host_sync


x = torch.randn(6, requires_grad=True)
m = torch.tensor([True, False, True, True, False, False])


@pytest.mark.parametrize("name, fn, op", [
    ("item", lambda: x.sum().item(), "_local_scalar_dense"),
    ("if on a tensor", lambda: 1 if (x > 0).any() else 0, "_local_scalar_dense"),
    ("int()", lambda: int(x.argmax()), "_local_scalar_dense"),
    ("nonzero", lambda: m.nonzero(), "nonzero"),
    ("boolean index", lambda: x[m], "index"),
    ("boolean assignment", lambda: x.detach().clone().__setitem__(m, 0.0), "index_put_"),
    ("masked_select", lambda: x.masked_select(m), "masked_select"),
    ("torch.tensor of a list", lambda: torch.tensor([1.0, 2.0]), "lift_fresh"),
    ("unique", lambda: torch.unique(m.long()), "_unique2"),
    ("repeat by counts", lambda: x.repeat_interleave(torch.tensor(2).expand(6).contiguous()), "repeat_interleave"),
])
def test_names_each_host_sync(name, fn, op):
    with pytest.raises(HostSyncError, match=rf"aten\.{re.escape(op)} .*a CUDA graph cannot capture it"):
        with forbid_host_sync():
            fn()


def test_graph_safe_code_passes_forward_and_backward():
    with forbid_host_sync():
        w = m.to(x.dtype)
        loss = (torch.where(m, x, 0.0) * w).sum() / w.sum().clamp_min(1e-12)
        loss = loss + x[torch.arange(3)].sum() + x.repeat_interleave(2).mean()
        loss = loss + torch.randint(0, 3, (4,)).float().mean() + torch.full((2,), 3.0).sum()
        loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_the_guard_ends_with_its_block():
    with pytest.raises(HostSyncError, match="the sampler: aten"):
        with forbid_host_sync("the sampler"):
            m.nonzero()
    assert m.nonzero().shape == (3, 1)  # outside the block, as usual
