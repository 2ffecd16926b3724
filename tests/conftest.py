import os

import pytest
import torch

from tests.oracles import D, OracleEncoder

# Small tensors: one thread avoids oversubscription on shared 2-core machines.
torch.set_num_threads(int(os.environ.get("SOFTFACT_TEST_THREADS", "1")))


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def oracle():
    return OracleEncoder()


@pytest.fixture
def constant_encoder():
    return lambda x: torch.ones(x.shape[0], D)
