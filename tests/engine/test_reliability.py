"""Runs you can trust: one trainer per folder, stale locks, full disks, torn logs, commands."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from engine.config.schema import RunConfig
from engine.control import Control
from engine.events import (
    CheckpointSaved,
    ConfigChanged,
    Event,
    RunFailed,
    RunFinished,
    RunPaused,
    RunStarted,
    StepCompleted,
)
from engine.run import checkpoint as ckpt
from engine.run.commands_file import CommandFile, send_command
from engine.run.folder import LOCK_FILE
from engine.run.lock import RunLock, RunLockedError
from engine.run.log import RunLog, read_events
from engine.run.summary import list_runs
from engine.train.trainer import Trainer

MakeConfig = Callable[..., RunConfig]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_second_trainer_on_a_live_run_folder_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = RunLock(run_dir)
    holder.acquire()
    with pytest.raises(RunLockedError, match="being trained by process"):
        RunLock(run_dir).acquire()
    holder.release()
    assert not (run_dir / LOCK_FILE).exists()


def test_trainer_refuses_a_locked_folder_without_touching_its_log(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    runs = tmp_path / "runs"
    (runs / "busy").mkdir(parents=True)
    (runs / "busy" / "events.jsonl").write_text("", encoding="utf-8")
    lock = RunLock(runs / "busy")
    lock.acquire()
    seen: list[Event] = []
    result = Trainer(make_config(), runs_dir=runs, run_id="busy").run(seen.append)
    lock.release()
    assert isinstance(result, RunFailed)
    assert "being trained by process" in result.error
    assert (runs / "busy" / "events.jsonl").read_text(encoding="utf-8") == ""


def test_stale_lock_from_a_dead_process_is_taken_over(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    runs = tmp_path / "runs"
    (runs / "stale").mkdir(parents=True)
    (runs / "stale" / LOCK_FILE).write_text(
        json.dumps({"pid": _dead_pid(), "host": os.uname().nodename, "started": 0}),
        encoding="utf-8",
    )
    result = Trainer(make_config(max_steps=5), runs_dir=runs, run_id="stale").run()
    assert isinstance(result, RunFinished)
    assert not (runs / "stale" / LOCK_FILE).exists(), "the lock is released at the end"


def test_run_whose_process_died_is_listed_as_interrupted(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "ghost"
    run_dir.mkdir(parents=True)
    log = RunLog(run_dir / "events.jsonl")
    log(
        RunStarted(
            run_id="ghost",
            config=RunConfig().model_dump(),
            n_params=1,
            device="cpu",
            dtype="float32",
            total_steps=10,
            steps_per_epoch=5,
            vocab_size=3,
            train_tokens=9,
            val_tokens=1,
        )
    )
    log(
        StepCompleted(
            step=1,
            epoch=0,
            loss=1.0,
            lr=0.1,
            tokens_per_s=1.0,
            grad_norm=1.0,
            elapsed_s=0.1,
            total_steps=10,
        )
    )
    log.close()
    (run_dir / LOCK_FILE).write_text(
        json.dumps({"pid": _dead_pid(), "host": os.uname().nodename}), encoding="utf-8"
    )
    [summary] = list_runs(tmp_path / "runs")
    assert summary.state == "interrupted"
    assert summary.step == 1


def test_full_disk_during_a_save_stops_the_run_and_keeps_the_last_checkpoint(
    tmp_path: Path, make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    saves = {"n": 0}
    real_save = torch.save

    def save_until_disk_fills(obj: object, f: object, *args: object, **kwargs: object) -> None:
        saves["n"] += 1
        if saves["n"] > 2:  # latest.pt and best.pt at step 10 fit; nothing after
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(obj, f, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch, "save", save_until_disk_fills)
    seen: list[Event] = []
    result = Trainer(make_config(max_steps=30), runs_dir=runs, run_id="full").run(seen.append)
    assert isinstance(result, RunFailed)
    assert "disk is full" in result.error.lower() and "free some space" in result.error.lower()
    payload = ckpt.load_checkpoint(runs / "full" / "latest.pt")
    assert payload["step"] == 10, "the last good checkpoint survives the failed save"
    assert not list((runs / "full").glob(".*.tmp"))


def test_a_torn_last_line_stays_one_skipped_line_after_more_appends(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = RunLog(path)
    log(RunPaused(step=1))
    log.close()
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"type": "RunPaused", "st')  # a writer killed mid-line
    log = RunLog(path)
    log(RunPaused(step=3))
    log.close()
    bad: list[int] = []
    events = read_events(path, on_bad_line=lambda number, reason: bad.append(number))
    assert [e.step for e in events] == [1, 3]  # type: ignore[attr-defined]
    assert bad == [2]


def test_remote_commands_from_the_owner_steer_the_run(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    runs = tmp_path / "runs"
    trainer = Trainer(
        make_config(max_steps=400, eval_interval=1000), runs_dir=runs, run_id="remote"
    )
    sent = {"done": False}

    def sink(event: Event) -> None:
        if isinstance(event, StepCompleted) and event.step == 3 and not sent["done"]:
            sent["done"] = True
            send_command(runs / "remote", "set", "learning_rate", 0.0005)
            send_command(runs / "remote", "save")
            send_command(runs / "remote", "stop")
        seen.append(event)

    seen: list[Event] = []
    result = trainer.run(sink)
    assert isinstance(result, RunFinished) and result.reason == "stopped"
    assert result.step == 3, "commands apply at the step boundary right after they arrive"
    changed = [e for e in seen if isinstance(e, ConfigChanged)]
    assert changed and changed[0].new == 0.0005
    assert any(isinstance(e, CheckpointSaved) and e.step == 3 for e in seen)


def test_commands_written_before_the_trainer_started_are_ignored(tmp_path: Path) -> None:
    send_command(tmp_path, "stop")
    control = Control()
    reader = CommandFile(tmp_path)
    assert reader.poll(control) == 0
    send_command(tmp_path, "pause")
    assert reader.poll(control) == 1
    assert control.get().kind == "pause"  # type: ignore[union-attr]
    assert (tmp_path / "commands.jsonl").stat().st_mode & 0o077 == 0, "owner-only file"


def test_a_commands_file_owned_by_another_user_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = CommandFile(tmp_path)
    send_command(tmp_path, "stop")
    monkeypatch.setattr(os, "getuid", lambda: os.stat(tmp_path).st_uid + 1)
    control = Control()
    assert reader.poll(control) == 0
    assert control.get() is None


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_save_then_stop(tmp_path: Path, sig: signal.Signals) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("All the world's a stage.\n" * 400, encoding="utf-8")
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli.main",
            "train",
            "--runs-dir",
            str(runs),
            "--run-id",
            "sig",
            "--set",
            f"data_file={corpus}",
            "--set",
            "max_steps=100000",
            "--set",
            "eval_interval=100000",
            "--no-samples",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    events = runs / "sig" / "events.jsonl"
    deadline = time.monotonic() + 60
    while not (events.exists() and b"StepCompleted" in events.read_bytes()):
        assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 128 + sig  # saved, but stopped by a signal: 143 / 129
    history = read_events(events)
    assert isinstance(history[-1], RunFinished) and history[-1].reason == "stopped"
    assert ckpt.load_checkpoint(runs / "sig" / "latest.pt")["step"] == history[-1].step
