"""A run killed before its first evaluation still resumes: latest.pt is saved by wall time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_FIELDS, TINY_TEXT

from engine.events import EvalCompleted, RunFinished, RunStarted
from engine.run.checkpoint import config_of, load_checkpoint
from engine.run.log import read_events
from engine.train.trainer import Trainer

pytestmark = pytest.mark.slow


def _saved_steps(run_dir: Path) -> list[int]:
    path = run_dir / "events.jsonl"
    if not path.exists():
        return []
    return [e.step for e in read_events(path) if e.type == "CheckpointSaved"]


def test_sigkill_before_the_first_evaluation_leaves_a_resumable_run(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    config = tmp_path / "config.json"
    fields = {
        **TINY_FIELDS, "data_file": str(corpus), "max_steps": 1_000_000,
        "eval_interval": 1_000_000, "checkpoint_interval_s": 0.5, "sample_length": 0,
    }  # fmt: skip
    config.write_text(json.dumps(fields), encoding="utf-8")
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli.main", "train", "--runs-dir", str(runs), "--config",
         str(config), "--run-id", "victim", "--no-samples"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "100"},
    )  # fmt: skip
    run_dir = runs / "victim"
    deadline = time.monotonic() + 90
    try:
        while not _saved_steps(run_dir):
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no checkpoint by time within 90 s"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    events = read_events(run_dir / "events.jsonl")
    assert not [e for e in events if e.type == "EvalCompleted"]  # killed before any evaluation

    payload = load_checkpoint(run_dir / "latest.pt")
    saved_step = int(payload["step"])
    assert saved_step > 0
    cfg = config_of(payload).model_copy(update={"max_steps": saved_step + 5})
    seen: list = []
    result = Trainer(cfg, runs_dir=runs, resume="victim").run(seen.append)
    assert isinstance(result, RunFinished) and result.step == saved_step + 5
    started = next(e for e in seen if isinstance(e, RunStarted))
    assert started.resumed and started.start_step == saved_step
    assert any(isinstance(e, EvalCompleted) for e in seen)
