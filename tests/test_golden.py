"""Golden tests: a fixed checkpoint's metrics, printed table and report sections stay put.

The files in tests/golden/ were computed by softfact before its evaluation code was moved into
one place; any change to a number there must be intended (see tests/golden/README.md).
"""
import json
import re
from pathlib import Path

import pytest

from softfact.cli import main
from softfact.run import Run

GOLDEN = Path(__file__).parent / "golden"


def test_metrics_of_the_fixed_checkpoint_are_unchanged(golden_run):
    want = json.loads((GOLDEN / "metrics.json").read_text())
    got = Run.load(golden_run).evaluate().metrics
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key
    assert json.loads((golden_run / "metrics.json").read_text()) == got


def test_the_printed_table_is_unchanged(golden_run, capsys):
    assert main(["evaluate", str(golden_run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:-1] == (GOLDEN / "evaluate.txt").read_text().splitlines()
    assert lines[-1] == f"written: {golden_run / 'metrics.json'}"


def test_the_report_keeps_its_sections_in_order(golden_run):
    from softfact.report import build_report
    page = build_report(golden_run, umap=False, n_svd=4, n_points_images=4).read_text()
    ids = re.findall(r'<section id="([^"]+)"', page)
    titles = re.findall(r"<h2[^>]*>([^<]+)</h2>", page)
    want = json.loads((GOLDEN / "report_sections.json").read_text())
    # later sections may be added, but the seed's sections keep their place and titles
    assert [(i, t) for i, t in zip(ids, titles) if i in dict(want)] == [tuple(w) for w in want]
    # `evaluate` and `report` leave the same keys in metrics.json
    golden = json.loads((GOLDEN / "metrics.json").read_text())
    assert set(json.loads((golden_run / "metrics.json").read_text())) == set(golden)
