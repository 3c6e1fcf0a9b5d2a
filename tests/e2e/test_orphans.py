"""Nothing outlives a killed launcher (issue 28 item 3): ``llmv0 train --nproc 2`` and
``llmv0 sweep --jobs 2`` are SIGKILLed mid-run, and within a bounded time no process they
started is left. torchrun starts its ranks in sessions of their own, so without
``PR_SET_PDEATHSIG`` they trained on with parent 1.

Every process the test starts carries a marker in its environment (inherited by torchrun,
its ranks and sweep workers); /proc is scanned for it, and whatever still carries it at the
end is killed by pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import TINY_FIELDS, TINY_TEXT

from engine.run.log import read_events

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

REPO = Path(__file__).resolve().parents[2]
MARK_ENV = "LLMV0_TEST_ORPHAN_MARK"
GONE_WITHIN_S = 60.0  # torchrun gives its ranks SIGTERM, then up to 30 s before SIGKILL


def _marked(mark: str) -> list[int]:
    """Live processes whose environment carries ``mark``."""
    needle = f"{MARK_ENV}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0") and "zombie" not in (
                (entry / "status").read_text().lower()
            ):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def _start(command: list[str], mark: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", MARK_ENV: mark}
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_for(condition, timeout: float, launcher: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert launcher.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.1)


def _kill_launcher_and_wait(launcher: subprocess.Popen[bytes], mark: str) -> float:
    """SIGKILL the launcher alone; seconds until nothing carrying ``mark`` is left."""
    assert len(_marked(mark)) >= 2, "the launcher started no child"
    launcher.kill()
    launcher.wait(timeout=30)
    began = time.monotonic()
    while _marked(mark) and time.monotonic() - began < GONE_WITHIN_S:
        time.sleep(0.1)
    left = _marked(mark)
    assert not left, f"processes outlived their killed launcher: {left}"
    return time.monotonic() - began


def _cleanup(launcher: subprocess.Popen[bytes], mark: str) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(launcher.pid, signal.SIGKILL)
    for pid in _marked(mark):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        launcher.wait(timeout=30)


def _steps(events: Path) -> int:
    if not events.exists():
        return 0
    return events.read_text(encoding="utf-8", errors="replace").count('"StepCompleted"')


def test_a_killed_data_parallel_launcher_leaves_no_rank(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    runs = tmp_path / "runs"
    sets = [f"data_file={corpus}", "seq_length=16", "batch_size=4", "embedding_dim=8",
            "hidden_dim=16", "eval_interval=100000", "device=cpu", "num_threads=1"]  # fmt: skip
    command = [
        sys.executable, "-m", "tui.cli.main", "train", "--nproc", "2", "--run-id", "k",
        "--max-steps", "1000000", "--runs-dir", str(runs), "--no-samples",
        *[arg for item in sets for arg in ("--set", item)],
    ]  # fmt: skip
    mark, log = uuid.uuid4().hex, tmp_path / "launcher.log"
    launcher = _start(command, mark, log)
    try:
        events = runs / "k" / "events.jsonl"
        _wait_for(lambda: _steps(events) > 0, 180, launcher, log)
        assert len(_marked(mark)) == 4  # the launcher, torchrun, two ranks
        _kill_launcher_and_wait(launcher, mark)
    finally:
        _cleanup(launcher, mark)
    # torchrun, told by the kernel, stopped its ranks politely: the run ended with its save.
    finished = read_events(events)[-1]
    assert finished.type == "RunFinished" and finished.reason == "stopped"


def test_a_killed_sweep_leaves_no_worker(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    fixed = {**TINY_FIELDS, "data_file": str(corpus), "max_steps": 1_000_000,
             "eval_interval": 100_000, "sample_length": 0}  # fmt: skip
    space = tmp_path / "space.json"
    space.write_text(
        json.dumps({"name": "orphans", "method": "grid", "set": fixed,
                    "fields": {"learning_rate": [0.01, 0.001, 0.0001]}}),
        encoding="utf-8",
    )  # fmt: skip
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "tui.cli.main", "sweep", str(space), "--jobs", "2",
               "--runs-dir", str(runs)]  # fmt: skip
    mark, log = uuid.uuid4().hex, tmp_path / "sweep.log"
    launcher = _start(command, mark, log)
    try:
        # Both workers are training a trial (each writes its own run folder).
        _wait_for(
            lambda: sum(_steps(p) > 0 for p in runs.glob("*/events.jsonl")) >= 2,
            180,
            launcher,
            log,
        )
        assert len(_marked(mark)) == 2  # the sweep and its helper worker
        _kill_launcher_and_wait(launcher, mark)
    finally:
        _cleanup(launcher, mark)
