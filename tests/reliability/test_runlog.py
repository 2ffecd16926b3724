"""metrics.jsonl after an interrupted append: readers skip the torn last line, resume drops it."""
from __future__ import annotations

import json
import warnings

import pytest

from softfact.config import TrainConfig
from softfact.training.runlog import RunLog, RunLogError, read_metrics
from softfact.utils.runfiles import RunFiles

ROWS = "".join(json.dumps({"step": s, "loss": 1.0 / s}) + "\n" for s in (1, 2, 3))


@pytest.mark.parametrize("torn", ['{"step": 4, "lo', '{"step": 4, "loss": 0.2', "{", '"st'])
def test_readers_skip_a_torn_last_line(tmp_path, torn):
    RunFiles(tmp_path).log.write_text(ROWS + torn)
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3]


def test_a_complete_last_row_without_its_newline_is_kept(tmp_path):
    RunFiles(tmp_path).log.write_text(ROWS + json.dumps({"step": 4, "loss": 0.25}))
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3, 4]


def test_a_bad_line_inside_the_file_is_one_line_naming_it(tmp_path):
    RunFiles(tmp_path).log.write_text(ROWS.replace('{"step": 2', '{"step": 2,,', 1))
    with pytest.raises(RunLogError, match=r"metrics.jsonl line 2 is not a JSON row"):
        read_metrics(tmp_path)


def test_resume_drops_the_torn_line_and_rows_after_the_checkpoint(tmp_path):
    log = RunFiles(tmp_path).log
    log.write_text(ROWS + '{"step": 4, "lo')
    cfg = TrainConfig(out_dir=str(tmp_path))
    with pytest.warns(UserWarning, match="dropped a torn last line"):
        RunLog(tmp_path, cfg, resume_step=2)
    assert log.read_text() == "".join(ROWS.splitlines(keepends=True)[:2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an intact log: no warning
        RunLog(tmp_path, cfg, resume_step=2)
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]
