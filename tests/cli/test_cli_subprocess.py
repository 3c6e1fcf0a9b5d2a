"""The installed ``llmv0`` entry point as a real process: Ctrl-C saves and exits cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.run.checkpoint import load_checkpoint
from engine.run.log import read_events

LLMV0 = Path(sys.executable).with_name("llmv0")


def wait_for_step(events: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if events.exists() and '"StepCompleted"' in events.read_text(encoding="utf-8"):
            return
        time.sleep(0.05)
    pytest.fail("training never reported a step")


@pytest.mark.slow
def test_sigint_saves_latest_and_exits_130(corpus: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    env = {**os.environ, "LLMV0_RUNS_DIR": str(runs), "LLMV0_DATA_DIR": str(tmp_path / "data")}
    sets = [
        f"data_file={corpus}", "seq_length=16", "batch_size=8", "embedding_dim=16",
        "hidden_dim=32", "eval_interval=100000", "device=cpu", "num_threads=1",
    ]  # fmt: skip
    args = [str(LLMV0), "train", "--max-steps", "1000000", "--run-id", "sig"]
    for item in sets:
        args += ["--set", item]
    proc = subprocess.Popen(
        args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_step(runs / "sig" / "events.jsonl", proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err  # interrupted: saved, not done
    assert "Traceback" not in out + err
    assert "Stopping: saving a checkpoint" in out
    assert "llmv0 train --resume sig" in out
    events = read_events(runs / "sig" / "events.jsonl")
    finished = events[-1]
    assert finished.type == "RunFinished" and finished.reason == "stopped"
    assert 0 < finished.step < 1_000_000
    assert load_checkpoint(runs / "sig" / "latest.pt")["step"] == finished.step
    saved = [e for e in events if e.type == "CheckpointSaved"]
    assert saved[-1].step == finished.step
    assert json.loads((runs / "sig" / "config.json").read_text())["max_steps"] == 1_000_000


def test_entry_point_help_is_quick_and_needs_no_torch() -> None:
    code = (
        "import sys; sys.argv = ['llmv0', '--help']\n"
        "from tui.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('torch loaded' if 'torch' in sys.modules else 'torch not loaded')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "train" in proc.stdout
    assert proc.stdout.strip().endswith("torch not loaded")
