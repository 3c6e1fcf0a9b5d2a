"""The one launcher: each child process's command line and environment, detaching, signals."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
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


@pytest.mark.parametrize("endpoint", ["127.0.0.1:99999", "h:0", ":29400", "h:port", "h:"])
def test_a_bad_rendezvous_endpoint_is_refused_before_torchrun(endpoint: str) -> None:
    with pytest.raises(launch.LaunchError, match="1 to 65535"):
        launch.train_command([], nnodes=2, rdzv_endpoint=endpoint)
    assert "--rdzv_endpoint=[::1]:29400" in launch.train_command(
        [], nnodes=2, rdzv_endpoint="[::1]:29400"
    )


def test_rdzv_endpoint_out_of_range_is_exit_2_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(launch, "run_foreground", lambda command: started.append(command) or 0)
    args = ["train", "--nnodes", "2", "--rdzv-endpoint", "127.0.0.1:99999"]
    result = runner.invoke(app, [*args, "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2 and not started, result.output
    assert "Traceback" not in result.output
    assert "--rdzv-endpoint '127.0.0.1:99999' is not HOST:PORT" in " ".join(result.stderr.split())


def test_nproc_above_the_cores_needs_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(launch, "run_foreground", lambda command: started.append(command) or 0)
    monkeypatch.setattr(launch.os, "sched_getaffinity", lambda pid: {0, 1})
    base = ["train", "--set", "device=cpu", "--runs-dir", str(tmp_path)]
    refused = runner.invoke(app, [*base, "--nproc", "100000"])
    assert refused.exit_code == 2 and not started, refused.output
    message = " ".join(refused.stderr.split())
    assert "--nproc 100000 is more than the 2 CPU cores of this machine" in message
    assert "--nproc 2 or fewer, or add --force" in message
    assert runner.invoke(app, [*base, "--nproc", "2", "--run-id", "a"]).exit_code == 0
    forced = runner.invoke(app, [*base, "--nproc", "3", "--force", "--run-id", "b"])
    assert forced.exit_code == 0, forced.output
    assert [c for c in started if "--nproc_per_node=3" in c] and len(started) == 2


def test_torchrun_learns_how_its_ranks_meet() -> None:
    standalone = launch.child_env(launch.train_command([], nproc=2))
    assert standalone[launch.RENDEZVOUS_ENV] == "standalone (this machine)"
    static = launch.train_command([], nnodes=2, node_rank=1, rdzv_endpoint="10.0.0.1:29400")
    assert launch.child_env(static)[launch.RENDEZVOUS_ENV] == "static at 10.0.0.1:29400"
    c10d = launch.train_command([], nnodes=2, rdzv_endpoint="h:29400")
    assert launch.child_env(c10d)[launch.RENDEZVOUS_ENV] == "c10d at h:29400"
    assert launch.RENDEZVOUS_ENV not in launch.child_env(launch.train_command([]))


ORPHAN_PARENT = """
import sys, time
from tui.cli import launch
child = launch.start_child([sys.executable, "-c", "import time; time.sleep(120)"])
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_dies_with_its_killed_launcher() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_PARENT],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        child = int(parent.stdout.readline())  # type: ignore[union-attr]
        parent.kill()  # SIGKILL: the launcher can pass nothing on
        parent.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(child), "the child outlived its launcher"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)  # the child shares the test's new group


def _running(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False
