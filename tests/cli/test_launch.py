"""The one launcher: each child process's command line and environment, detaching, signals."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.run.folder import TRAIN_LOG, RunRef, folder_for_id
from engine.train.setup import RunExistsError
from tui.cli import launch
from tui.cli.main import app

runner = CliRunner()


def test_one_process_or_torchrun() -> None:
    one = launch.train_command(["--run-id", "x"])
    assert one == [sys.executable, "-m", "tui.cli.main", "train", "--run-id", "x"]
    many = launch.train_command(["--run-id", "x"], nproc=2)
    assert many[1:3] == ["-m", "torch.distributed.run"] and "--standalone" in many
    assert many[-4:] == ["tui.cli.main", "train", "--run-id", "x"]
    assert launch.train_command([], nnodes=2, rdzv_endpoint="h:1")[1:3] == [
        "-m",
        "torch.distributed.run",
    ]


def test_only_torchrun_gets_a_fresh_rendezvous_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(launch.FRESH_STORE_ENV, raising=False)
    torchrun = launch.train_command([], nproc=2)
    assert launch.child_env(torchrun)[launch.FRESH_STORE_ENV] == "1"
    assert launch.FRESH_STORE_ENV not in launch.child_env(launch.train_command([]))
    monkeypatch.setenv(launch.FRESH_STORE_ENV, "0")  # the user's choice wins
    assert launch.child_env(torchrun)[launch.FRESH_STORE_ENV] == "0"


def test_train_args_carry_the_resolved_run(tmp_path: Path) -> None:
    new = launch.train_args("gpt-cpu", ["lr=1"], None, 5, "r", tmp_path)
    assert new == [
        "--runs-dir", str(tmp_path), "--no-samples", "--run-id", "r", "--config", "gpt-cpu",
        "--set", "lr=1", "--max-steps", "5",
    ]  # fmt: skip
    resumed = launch.train_args(None, [], "/elsewhere/r/latest.pt", None, "r", tmp_path)
    assert resumed[3:] == ["--resume", "/elsewhere/r/latest.pt"]
    auto = launch.train_args(None, [], launch.AUTO, None, "r", tmp_path)
    assert auto[3:] == ["--resume", "auto", "--run-id", "r"]


def test_the_run_id_is_fixed_before_any_child_starts(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "old"
    resumed = RunRef(folder_for_id("old", elsewhere.parent))
    assert launch.resolve_run_id(None, resumed, None, tmp_path) == "old"
    used = folder_for_id("used", tmp_path)
    used.path.mkdir()
    used.events_path.write_text("")
    with pytest.raises(RunExistsError):
        launch.resolve_run_id(None, None, "used", tmp_path)


def test_sweep_workers_are_quiet_llmv0_sweeps(tmp_path: Path) -> None:
    command = launch.sweep_worker_command(Path("space.toml"), "sqlite:///x.db", tmp_path)
    assert command[:4] == [sys.executable, "-m", "tui.cli.main", "sweep"]
    assert command[-1] == "--quiet" and "sqlite:///x.db" in command


def test_a_detached_child_writes_its_log(tmp_path: Path) -> None:
    log = tmp_path / "run" / TRAIN_LOG
    process = launch.start_detached([sys.executable, "-c", "print('hello')"], log)
    assert process.wait(timeout=60) == 0
    assert log.read_text().strip() == "hello"


def test_train_detach_starts_the_launcher_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []

    class Started:
        pid = 4321

    def fake_start(command: list[str], log_path: Path) -> Started:
        started.append((command, log_path))
        return Started()

    monkeypatch.setattr(launch, "start_detached", fake_start)
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["train", "--detach", "--run-id", "bg", "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    command, log_path = started[0]
    assert command[:4] == [sys.executable, "-m", "tui.cli.main", "train"]
    assert command[command.index("--run-id") + 1] == "bg"
    assert log_path == folder_for_id("bg", runs).train_log_path
    assert "pid 4321" in result.output and "llmv0-tui --attach bg" in result.output


def test_handlers_come_back_after_the_block() -> None:
    before = signal.getsignal(signal.SIGUSR1)
    seen: list[int] = []
    with launch.handling_signals({signal.SIGUSR1: lambda signum, frame: seen.append(signum)}):
        signal.raise_signal(signal.SIGUSR1)
    assert seen == [signal.SIGUSR1]
    assert signal.getsignal(signal.SIGUSR1) == before
