"""SIGKILL a real trainer process at 20 random moments; every resume must continue exactly.

The run checkpoints after every step, so many kills land during a checkpoint write. After
each kill the run is resumed with ``llmv0 train --resume`` (or restarted, if it died before
its first checkpoint); the stitched loss sequence must equal an uninterrupted run's.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_FIELDS, TINY_TEXT

from engine.events import StepCompleted
from engine.run.summary import load_history

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

MAX_STEPS = 500


def _config(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    fields = {
        **TINY_FIELDS,
        "data_file": str(corpus),
        "max_steps": MAX_STEPS,
        "eval_interval": 50,
        "checkpoint_interval": 1,
        "sample_length": 0,
        "dropout": 0.1,
        "num_layers": 2,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(fields), encoding="utf-8")
    return path


def _train(runs: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli.main",
            "train",
            "--runs-dir",
            str(runs),
            "--no-samples",
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "100"},
    )


def _losses(run_dir: Path) -> list[tuple[int, float]]:
    return [(e.step, e.loss) for e in load_history(run_dir) if isinstance(e, StepCompleted)]


def _steps_logged(run_dir: Path) -> int:
    path = run_dir / "events.jsonl"
    return path.read_bytes().count(b'"StepCompleted"') if path.exists() else 0


def test_twenty_sigkills_then_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    config = _config(tmp_path)
    reference = _train(tmp_path / "ref", "--config", str(config), "--run-id", "ref")
    assert reference.wait(timeout=240) == 0, reference.stderr.read().decode()  # type: ignore[union-attr]

    runs = tmp_path / "runs"
    run_dir = runs / "victim"
    rng = random.Random(20261125)
    kills = 0
    # Each restart pays a process start (torch import, ~2 s idle, 10 s and more on a loaded
    # 2-core machine). The loop stops at 20 kills or when its share of the test's time is
    # spent, whichever is first: 5-10 kills already cross every phase of a step many times, and
    # a loaded machine then still finishes inside pytest's timeout instead of hitting it.
    kill_deadline = time.monotonic() + 120
    while kills < 20 and time.monotonic() < kill_deadline:
        args = (
            ["--resume", str(run_dir)]
            if (run_dir / "latest.pt").exists()
            else ["--config", str(config), "--run-id", "victim"]
        )
        before = _steps_logged(run_dir)
        proc = _train(runs, *args)
        deadline = time.monotonic() + 60
        # Kill only once this process has made progress, then after a random short delay.
        while _steps_logged(run_dir) <= before and proc.poll() is None:
            assert time.monotonic() < deadline, "trainer made no progress"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.15))
        if proc.poll() is not None:
            break  # it finished before we could kill it
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
    assert kills >= 5, f"only {kills} kills landed before the run finished or the deadline"

    final = _train(runs, "--resume", str(run_dir))
    assert final.wait(timeout=240) == 0, final.stderr.read().decode()  # type: ignore[union-attr]

    expected = _losses(tmp_path / "ref" / "ref")
    got = _losses(run_dir)
    assert [s for s, _ in expected] == list(range(1, MAX_STEPS + 1))
    assert got == expected
    assert not list(run_dir.glob(".*.tmp")), "a killed save left a temp file behind"
