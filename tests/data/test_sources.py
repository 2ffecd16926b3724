import torch

from softfact.cli import main
from softfact.config import resolve
from softfact.data.sources import build_image_source
from softfact.run import Run


def _border_is_empty(x: torch.Tensor, m: int) -> bool:
    inner = torch.zeros_like(x)
    inner[..., m:-m, m:-m] = x[..., m:-m, m:-m]
    return torch.equal(x, inner)


def test_blob_margin_reaches_the_source_and_a_trained_runs_evaluation(tmp_path):
    cfg = resolve("seed", None, {"image_size": 24, "blob_margin": 4})
    x = build_image_source(cfg)(64, torch.Generator().manual_seed(0))
    assert x.shape == (64, 1, 24, 24) and x.sum() > 0 and _border_is_empty(x, 4)
    seed = build_image_source(resolve("seed"))(64, torch.Generator().manual_seed(0))
    assert not _border_is_empty(seed, 4)                  # the seed's blobs reach the border
    out = tmp_path / "run"
    assert main(["train", "--quiet", "--steps=2", "--batch-size=8", "--device=cpu", "--metric-images=8",
                 "--eval-blobs=16", "--image-size=24", "--blob-margin=4", f"--out-dir={out}"]) == 0
    run = Run.load(out)
    assert run.config.blob_margin == 4                    # saved with the checkpoint
    val = run.source("val")(32, torch.Generator().manual_seed(1))
    assert val.shape[-1] == 24 and _border_is_empty(val, 4)
