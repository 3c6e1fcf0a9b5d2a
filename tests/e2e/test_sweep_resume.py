"""A sweep process killed with SIGKILL in the middle of a trial, then resumed.

The half-done trial is marked interrupted (not counted), its grid point runs again, and the
resumed study ends with every grid point complete exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from engine.events import RunFinished, StepCompleted
from engine.experiments.records import read_meta
from engine.experiments.sweep import default_storage, load_study, results
from engine.run.log import read_events
from engine.run.summary import list_runs
from tui.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def write_space(path: Path, fixed: dict[str, Any], name: str) -> Path:
    space = {
        "name": name,
        "method": "grid",
        "set": fixed,
        "fields": {"learning_rate": [0.01, 0.003], "hidden_dim": [16, 32]},
        "pruner": {"kind": "none"},
    }
    path.write_text(json.dumps(space), encoding="utf-8")
    return path


def mid_trial(folder: Path) -> bool:
    """The trial has trained some steps and has not finished."""
    log = folder / "events.jsonl"
    if not log.exists():
        return False
    events = read_events(log)
    return any(isinstance(e, StepCompleted) for e in events) and not any(
        isinstance(e, RunFinished) for e in events
    )


def test_sigkill_mid_trial_then_resume_completes_each_grid_point_once(
    make_config: Callable[..., Any], runs_dir: Path, tmp_path: Path
) -> None:
    tiny = make_config(max_steps=150, eval_interval=50).model_dump()
    space_file = write_space(tmp_path / "space.json", tiny, "kr")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tui.cli.main", "sweep", str(space_file)]
    proc = subprocess.Popen(
        [*command, "--runs-dir", str(runs_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    victim = runs_dir / "kr-t001"
    deadline = time.monotonic() + 90
    try:
        while not mid_trial(victim):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "trial 1 never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = results(load_study("kr", default_storage(runs_dir)))
    assert [r.state for r in before] == ["complete", "interrupted"]  # its worker is gone

    resumed = CliRunner().invoke(
        app,
        ["sweep", str(space_file), "--runs-dir", str(runs_dir)],
        catch_exceptions=False,
    )
    assert resumed.exit_code == 0, resumed.output
    rows = results(load_study("kr", default_storage(runs_dir)))
    states = [r.state for r in rows]
    assert states.count("complete") == 4 and states.count("interrupted") == 1
    assert len(rows) == 5, "the interrupted trial is not counted and nothing runs twice"
    done = sorted(json.dumps(r.params, sort_keys=True) for r in rows if r.state == "complete")
    assert len(set(done)) == 4  # every grid point once
    interrupted = next(r for r in rows if r.state == "interrupted")
    assert interrupted.run_id == "kr-t001"
    assert json.dumps(interrupted.params, sort_keys=True) in done  # its point ran again
    summaries = {s.run_id: s for s in list_runs(runs_dir)}
    assert summaries["kr-t001"].state == "interrupted"
    assert read_meta(victim)["sweep"]["state"] == "interrupted"
    assert "interrupted" in resumed.stdout and "kr-t004" in resumed.stdout


def test_ctrl_c_stops_the_trial_queues_it_and_exits_130(
    make_config: Callable[..., Any], runs_dir: Path, tmp_path: Path
) -> None:
    tiny = make_config(max_steps=5000, eval_interval=50).model_dump()
    space_file = write_space(tmp_path / "space.json", tiny, "cc")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tui.cli.main", "sweep", str(space_file)]
    proc = subprocess.Popen(
        [*command, "--runs-dir", str(runs_dir)], env=env, stdout=subprocess.PIPE
    )
    deadline = time.monotonic() + 90
    try:
        while not mid_trial(runs_dir / "cc-t000"):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    rows = results(load_study("cc", default_storage(runs_dir)))
    assert [r.state for r in rows] == ["interrupted", "queued"]
    assert rows[1].params == rows[0].params
    assert b"interrupted" in stdout and b"queued" in stdout
    assert read_meta(runs_dir / "cc-t000")["sweep"]["state"] == "interrupted"
