"""A time-budgeted data-parallel run: ranks' clocks differ, yet they stop at the same step,
evaluate by time together and keep identical weights (rank 0's clock decides for all)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY_FIELDS, TINY_TEXT

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("ddp_worker.py")
REPO = Path(__file__).resolve().parents[2]


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_budgeted_ranks_agree_on_schedule_evaluations_and_end(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    fields = {
        **TINY_FIELDS, "data_file": str(corpus), "batch_size": 4, "max_steps": 0,
        "time_budget_s": 6.0, "eval_interval": 1_000_000, "eval_interval_s": 0.25,
        "lr_schedule": "cosine", "sample_length": 10, "num_threads": 1,
    }  # fmt: skip
    config = tmp_path / "budget.json"
    config.write_text(json.dumps(fields), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(WORKER), str(config), str(tmp_path / "b"), str(tmp_path / "runs")],
        check=True, env=env, cwd=REPO, timeout=120, capture_output=True,
    )  # fmt: skip
    rank0, rank1 = _records(tmp_path / "b.rank0"), _records(tmp_path / "b.rank1")
    steps0 = [r for r in rank0 if "params" in r]
    assert len(steps0) > 5
    assert steps0 == [r for r in rank1 if "params" in r]  # same steps, losses and weights
    evals = [r for r in rank0 if "eval" in r]
    # By time + final. The interval is a small fraction of the budget so that a machine
    # loaded several-fold (one step taking seconds) still reaches a time-based evaluation: on
    # a loaded 2-core machine a 1 s interval saw only the final one.
    assert evals == [r for r in rank1 if "eval" in r] and len(evals) >= 2
    assert rank0[-1]["finished"] == rank1[-1]["finished"] == "completed"
