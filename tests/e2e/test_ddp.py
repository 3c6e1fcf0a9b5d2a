"""Data-parallel training: 2 processes on CPU (gloo) under torchrun.

Parameters must be identical on both ranks after every step, evaluation must agree, only
rank 0 writes the run log and checkpoints, and the loss curve must match a single process
training on the same global batch.
"""

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


def _config(tmp_path: Path, name: str, batch_size: int, max_steps: int = 12) -> Path:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    fields = {
        **TINY_FIELDS,
        "data_file": str(corpus),
        "batch_size": batch_size,
        "max_steps": max_steps,
        "eval_interval": 6,
        "sample_length": 10,
        "num_threads": 1,
    }
    path = tmp_path / name
    path.write_text(json.dumps(fields), encoding="utf-8")
    return path


def test_two_ranks_stay_identical_and_match_one_process(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    ddp_runs = tmp_path / "ddp_runs"
    subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(WORKER), str(_config(tmp_path, "ddp.json", 4)), str(tmp_path / "ddp"),
         str(ddp_runs)],
        check=True, env=env, cwd=REPO, timeout=240, capture_output=True,
    )  # fmt: skip
    single_runs = tmp_path / "single_runs"
    subprocess.run(
        [sys.executable, str(WORKER), str(_config(tmp_path, "single.json", 8)),
         str(tmp_path / "single"), str(single_runs)],
        check=True, env=env, cwd=REPO, timeout=240, capture_output=True,
    )  # fmt: skip

    rank0 = _records(tmp_path / "ddp.rank0")
    rank1 = _records(tmp_path / "ddp.rank1")
    steps0 = [r for r in rank0 if "params" in r]
    steps1 = [r for r in rank1 if "params" in r]
    assert [r["step"] for r in steps0] == list(range(1, 13))
    for a, b in zip(steps0, steps1, strict=True):
        assert a["params"] == b["params"], f"ranks diverged at step {a['step']}"
        assert a["loss"] == b["loss"], "the reported loss is the global batch's on every rank"
    evals0 = [r for r in rank0 if "eval" in r]
    assert evals0 == [r for r in rank1 if "eval" in r] and len(evals0) == 2

    # One run log and one set of checkpoints, written by rank 0.
    assert sorted(p.name for p in ddp_runs.iterdir()) == ["ddp"]
    files = sorted(p.name for p in (ddp_runs / "ddp").iterdir())
    assert files == ["best.pt", "config.json", "events.jsonl", "latest.pt", "timeline.jsonl"]
    log = (ddp_runs / "ddp" / "events.jsonl").read_text(encoding="utf-8")
    assert log.count('"RunStarted"') == 1 and log.count('"StepCompleted"') == 12

    # Gradient averaging over two halves equals one process on the whole global batch.
    single = [r for r in _records(tmp_path / "single.rank0") if "params" in r]
    for ddp_step, one in zip(steps0, single, strict=True):
        assert ddp_step["loss"] == pytest.approx(one["loss"], rel=1e-4, abs=1e-5)


def test_a_data_parallel_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    runs = tmp_path / "runs"
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone",
              "--nproc_per_node", "2", str(WORKER)]  # fmt: skip
    subprocess.run(
        [*launch, str(_config(tmp_path, "first.json", 4)), str(tmp_path / "first"), str(runs)],
        check=True, env=env, cwd=REPO, timeout=240, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [*launch, str(_config(tmp_path, "more.json", 4, max_steps=18)), str(tmp_path / "more"),
         str(runs), "--resume"],
        check=True, env=env, cwd=REPO, timeout=240, capture_output=True,
    )  # fmt: skip
    resumed0 = [r for r in _records(tmp_path / "more.rank0") if "params" in r]
    resumed1 = [r for r in _records(tmp_path / "more.rank1") if "params" in r]
    assert [r["step"] for r in resumed0] == list(range(13, 19))
    assert [r["params"] for r in resumed0] == [r["params"] for r in resumed1]
    log = (runs / "ddp" / "events.jsonl").read_text(encoding="utf-8")
    assert log.count('"RunStarted"') == 2 and log.count('"StepCompleted"') == 18
