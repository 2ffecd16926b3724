import os
import shutil
from pathlib import Path

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


@pytest.fixture
def golden_run(tmp_path):
    """A run folder holding the fixed checkpoint of tests/golden/ (a 30-step toy run)."""
    run = tmp_path / "golden-run"
    run.mkdir()
    shutil.copy(Path(__file__).parent / "golden" / "checkpoint.pt", run / "checkpoint.pt")
    return run
