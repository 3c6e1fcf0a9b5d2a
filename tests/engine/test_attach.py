"""Attach to a run another trainer is writing: full history, live updates, remote control."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from engine.config.schema import RunConfig
from engine.control import Control
from engine.events import Event, RunFailed, RunFinished, RunPaused, RunResumed, StepCompleted
from engine.run.folder import LOCK_FILE
from engine.run.log import read_events
from engine.train.attach import RemoteRun
from engine.train.trainer import Trainer

MakeConfig = Callable[..., RunConfig]


def _wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_attach_replays_history_follows_live_and_steers(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    runs = tmp_path / "runs"
    trainer = Trainer(
        make_config(max_steps=100_000, eval_interval=50), runs_dir=runs, run_id="live"
    )
    training = threading.Thread(target=trainer.run, daemon=True)
    training.start()
    events_file = runs / "live" / "events.jsonl"
    _wait_for(lambda: events_file.exists() and events_file.read_text().count("StepCompleted") > 20)

    seen: list[Event] = []
    control = Control()
    remote = RemoteRun(runs / "live", poll_s=0.02)
    result: list[Event | None] = []
    watcher = threading.Thread(target=lambda: result.append(remote.run(seen.append, control)))
    watcher.start()
    _wait_for(lambda: sum(isinstance(e, StepCompleted) for e in seen) > 40)
    control.pause()
    _wait_for(lambda: any(isinstance(e, RunPaused) for e in seen))
    paused_at = max(e.step for e in seen if isinstance(e, StepCompleted))
    time.sleep(0.3)
    assert max(e.step for e in seen if isinstance(e, StepCompleted)) == paused_at
    control.resume()
    _wait_for(lambda: any(isinstance(e, RunResumed) for e in seen))
    control.stop()
    watcher.join(timeout=30)
    training.join(timeout=30)
    assert isinstance(result[0], RunFinished) and result[0].reason == "stopped"
    # Nothing missed or duplicated: the attached view is exactly the log.
    logged = read_events(events_file)
    assert [e.to_dict() for e in seen] == [e.to_dict() for e in logged]


def test_detach_leaves_the_training_running(tmp_path: Path, make_config: MakeConfig) -> None:
    runs = tmp_path / "runs"
    trainer = Trainer(make_config(max_steps=100_000, eval_interval=1000), runs_dir=runs, run_id="d")
    control = Control()
    training = threading.Thread(target=trainer.run, args=(None, control), daemon=True)
    training.start()
    _wait_for(lambda: (runs / "d" / "events.jsonl").exists())
    remote = RemoteRun(runs / "d", poll_s=0.02)
    seen: list[Event] = []
    watcher = threading.Thread(target=lambda: remote.run(seen.append))
    watcher.start()
    _wait_for(lambda: len(seen) > 5)
    remote.detach()
    watcher.join(timeout=10)
    assert not watcher.is_alive()
    step_then = trainer.step
    time.sleep(0.3)
    assert training.is_alive() and trainer.step > step_then
    # Re-attach: the whole history again, from the start.
    again: list[Event] = []
    remote2 = RemoteRun(runs / "d", poll_s=0.02)
    watcher2 = threading.Thread(target=lambda: remote2.run(again.append))
    watcher2.start()
    _wait_for(lambda: len(again) > len(seen))
    assert [e.to_dict() for e in again[: len(seen)]] == [e.to_dict() for e in seen]
    remote2.detach()
    control.stop()
    training.join(timeout=30)
    watcher2.join(timeout=10)


def test_attach_to_a_finished_run_returns_its_end(tmp_path: Path, make_config: MakeConfig) -> None:
    runs = tmp_path / "runs"
    Trainer(make_config(max_steps=10), runs_dir=runs, run_id="done").run()
    seen: list[Event] = []
    result = RemoteRun(runs / "done", poll_s=0.02).run(seen.append)
    assert isinstance(result, RunFinished) and result.reason == "completed"
    assert sum(isinstance(e, StepCompleted) for e in seen) == 10


def test_attach_to_a_run_whose_process_died_reports_it_interrupted(tmp_path: Path) -> None:
    run_dir = tmp_path / "ghost"
    run_dir.mkdir()
    step = StepCompleted(
        step=1,
        epoch=0,
        loss=2.0,
        lr=0.1,
        tokens_per_s=1.0,
        grad_norm=1.0,
        elapsed_s=0.1,
        total_steps=5,
    )
    (run_dir / "events.jsonl").write_text(json.dumps(step.to_dict()) + "\n", encoding="utf-8")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run_dir / LOCK_FILE).write_text(
        json.dumps({"pid": dead.pid, "host": os.uname().nodename}), encoding="utf-8"
    )
    seen: list[Event] = []
    result = RemoteRun(run_dir, poll_s=0.02).run(seen.append)
    assert isinstance(result, RunFailed) and "interrupted" in result.error
    assert "llmv0 train --resume ghost" in result.error
    assert isinstance(seen[0], StepCompleted)


def test_a_trainer_stopped_by_sigstop_is_shown_paused_then_continues(tmp_path: Path) -> None:
    """Hostile round 3: a trainer stopped with SIGSTOP still showed "running" when attached
    (a stopped process keeps its lock). The holder here is a process that only takes the
    run's lock and sleeps, as a trainer between steps would look."""
    import signal

    from engine.events import RunNotice, RunWarning

    run_dir = tmp_path / "frozen"
    run_dir.mkdir()
    step = StepCompleted(step=1, epoch=0, loss=2.0, lr=0.1, tokens_per_s=1.0, grad_norm=1.0,
                         elapsed_s=0.1, total_steps=5)  # fmt: skip
    (run_dir / "events.jsonl").write_text(json.dumps(step.to_dict()) + "\n", encoding="utf-8")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from engine.run.lock import RunLock; "
         "RunLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(120)",
         str(run_dir)],
        stdout=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    remote = RemoteRun(run_dir, poll_s=0.02)
    seen: list[Event] = []
    follower = threading.Thread(target=remote.run, args=(seen.append,), daemon=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        follower.start()
        time.sleep(0.3)
        os.killpg(holder.pid, signal.SIGSTOP)
        _wait_for(lambda: any(isinstance(e, RunPaused) for e in seen), timeout=10)
        warning = next(e for e in seen if isinstance(e, RunWarning))
        assert f"pid {holder.pid}" in warning.message and "kill -CONT" in warning.message
        os.killpg(holder.pid, signal.SIGCONT)
        _wait_for(lambda: any(isinstance(e, RunResumed) for e in seen), timeout=10)
        assert any(isinstance(e, RunNotice) and e.kind == "continued" for e in seen)
    finally:
        remote.detach()
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
        follower.join(timeout=5)
