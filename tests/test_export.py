"""``softfact export RUN``: portable weights that load in a fresh process, identically."""
import json
import subprocess
import sys

import torch

from softfact import Run
from softfact.cli import main

FRESH = """
import sys, torch
from softfact import Run
run = Run.load(sys.argv[1])
x = torch.load(sys.argv[2])
with torch.no_grad():
    torch.save(run.encoder(x), sys.argv[3])
print(run.step, run.config.encoder)
"""


def test_export_loads_in_a_fresh_process_with_identical_embeddings(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--quiet", "--steps=3", "--batch-size=8", "--device=cpu", "--metric-images=8",
                 f"--out-dir={out}"]) == 0
    assert main(["evaluate", str(out), "--n", "16"]) == 0
    assert main(["export", str(out)]) == 0
    exp = out / "export"
    assert f"exported: {exp}" in capsys.readouterr().out
    assert {p.name for p in exp.iterdir()} == {"model.safetensors", "config.json", "README.md"}
    info = json.loads((exp / "config.json").read_text())
    assert info["step"] == 3 and info["config"]["encoder"] == "toy"
    assert info["metrics"] == Run.load(out).metrics()          # metrics.json at export time
    card = (exp / "README.md").read_text()
    assert "61,264 parameters" in card and "random binary blobs (three rectangles each), 16 x 16 (the seed's toy data)" in card
    assert f"| cross_abs_cos | {info['metrics']['cross_abs_cos']:.4g} |" in card
    # the weights alone: a plain safetensors file of the encoder's state dict
    from safetensors.torch import load_file
    own = Run.load(out).encoder.state_dict()
    weights = load_file(str(exp / "model.safetensors"))
    assert weights.keys() == own.keys() and all(torch.equal(weights[k], own[k]) for k in own)

    x = torch.randn(5, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    torch.save(x, tmp_path / "x.pt")
    done = subprocess.run([sys.executable, "-c", FRESH, str(exp), str(tmp_path / "x.pt"),
                           str(tmp_path / "z.pt")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "toy"]
    with torch.no_grad():
        want = Run.load(out).encoder(x)
    assert torch.equal(torch.load(tmp_path / "z.pt"), want)
    # an exported folder is a Run: its metrics travel with it
    assert Run.load(exp).metrics() == info["metrics"]


def test_export_to_another_folder_and_bad_inputs(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--quiet", "--steps=1", "--batch-size=4", "--device=cpu",
                 f"--out-dir={out}"]) == 0
    assert main(["export", str(out), "--out", str(tmp_path / "portable")]) == 0
    assert "Not evaluated before export" in (tmp_path / "portable" / "README.md").read_text()
    assert Run.load(tmp_path / "portable").step == 1
    capsys.readouterr()
    # a corrupt weights file: one line naming it
    (tmp_path / "portable" / "model.safetensors").write_bytes(b"not safetensors")
    assert main(["evaluate", str(tmp_path / "portable")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("softfact: error: cannot read") and "model.safetensors" in err and "\n" not in err
    assert main(["export", str(tmp_path / "missing")]) == 2
