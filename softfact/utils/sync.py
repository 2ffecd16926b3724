"""Find host synchronisations: the operations a CUDA graph cannot hold, caught on any device.

A captured CUDA graph replays a fixed list of kernels: nothing in it may wait for the GPU to
hand a value to Python (``.item()``, ``if t.any():``, ``int(t)``), size a tensor by its data
(``nonzero``, a boolean mask as an index, ``unique``) or copy Python data to the device
(``torch.tensor([...])``, baked in at capture). ``forbid_host_sync`` sees every ATen operation
a block of code runs (forward, backward and all) through a ``TorchDispatchMode`` and raises
``HostSyncError`` naming the first such one, so a step's graph safety is tested on a CPU.
"""
from __future__ import annotations

import contextlib

import torch
from torch.utils._python_dispatch import TorchDispatchMode


class HostSyncError(RuntimeError):
    """An operation that waits for the device, sizes a tensor by its data, or copies host data."""


# operations whose result the host must read (or whose output size depends on the data)
_SYNC_OPS = ("_local_scalar_dense", "is_nonzero", "equal", "allclose", "nonzero", "masked_select",
             "unique", "_unique", "_unique2", "unique_consecutive", "unique_dim", "bincount")


def _name(func) -> str:
    return func.overloadpacket.__name__ if hasattr(func, "overloadpacket") else str(func)


def _bool_index(indices) -> bool:
    return any(torch.is_tensor(i) and i.dtype == torch.bool for i in indices or ())


class _Guard(TorchDispatchMode):
    def __init__(self, where: str):
        super().__init__()
        self.where = where

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = _name(func)
        why = None
        if name in _SYNC_OPS:
            why = "reads a tensor's value on the host" if name in (
                "_local_scalar_dense", "is_nonzero", "equal", "allclose") else "sizes its output by the data"
        elif name in ("index", "index_put", "index_put_", "_index_put_impl_") and _bool_index(args[1]):
            why = "indexes with a boolean mask (a nonzero inside)"
        elif func == torch.ops.aten.repeat_interleave.Tensor and kwargs.get("output_size") is None:
            why = "repeats by counts read on the host"
        elif name == "lift_fresh" and args[0].numel() > 1:
            why = "copies Python data into a tensor (torch.tensor of a list)"
        if why is not None:
            raise HostSyncError(f"{self.where}: aten.{name} {why}; a CUDA graph cannot capture it")
        return func(*args, **kwargs)


@contextlib.contextmanager
def forbid_host_sync(where: str = "this step"):
    """Raise ``HostSyncError`` at the first host synchronisation inside the block.

    >>> x = torch.randn(4)
    >>> with forbid_host_sync():
    ...     y = torch.where(x > 0, x, 0.0).sum()      # fine: no value leaves the device
    >>> with forbid_host_sync():
    ...     if (x > 0).any(): pass
    Traceback (most recent call last):
    ...
    softfact.utils.sync.HostSyncError: this step: aten._local_scalar_dense reads a tensor's value on the host; a CUDA graph cannot capture it
    """
    with _Guard(where):
        yield
