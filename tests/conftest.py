import os

import pytest
import torch

# Small tensors: one thread avoids oversubscription on shared 2-core machines.
torch.set_num_threads(int(os.environ.get("SOFTFACT_TEST_THREADS", "1")))


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)
