"""The README's Python examples name only what softfact exports."""
import ast
import importlib
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def softfact_imports(code: str) -> list[tuple[str, str]]:
    """(module, name) for every ``from softfact... import name`` and ``import softfact...``."""
    out = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "softfact":
            out += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name, "") for a in node.names if a.name.split(".")[0] == "softfact"]
    return out


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_example_imports_resolve(i):
    for module, name in softfact_imports(BLOCKS[i]):
        mod = importlib.import_module(module)
        assert not name or hasattr(mod, name), f"README example {i}: {module} has no {name!r}"


def test_the_check_sees_a_missing_name():
    assert softfact_imports("from softfact import Nope\nimport softfact.run") == [
        ("softfact", "Nope"), ("softfact.run", "")]
    assert not hasattr(importlib.import_module("softfact"), "Nope")


def test_the_losses_example_runs_and_gives_a_finite_differentiable_loss():
    """"The losses on your own encoder": self-contained, so it must run as written."""
    import torch
    (code,) = [b for b in BLOCKS if "sample_triplets(BlobSource()" in b]
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    loss = ns["loss"]
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in ns["my_encoder"].parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
