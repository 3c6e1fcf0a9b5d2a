"""End to end: the installed ``llmv0-tui`` in a real terminal (tmux), driven by keystrokes.

Starts a short training run, watches the numbers and chart change, generates, quits, and checks
the process exited and the terminal left the alternate screen. A second test hangs up the
terminal mid-run (SIGHUP) and checks a checkpoint was saved before the process ended.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

TEXT = "ROMEO: But soft, what light through yonder window breaks?\nJULIET: Ay me.\n" * 60


def tui_command() -> str:
    exe = Path(sys.executable).with_name("llmv0-tui")
    if exe.exists():
        return str(exe)
    return f"{sys.executable} -c 'from tui.dashboard.command_line import tui_main; tui_main()'"


class Tmux:
    """One detached tmux session running a command in a 120x40 terminal."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str]) -> None:
        self.name = f"llmv0-e2e-{uuid.uuid4().hex[:8]}"
        # Runs land in the work folder, where the tests look (not the suite's runs folder).
        env = {"LLMV0_RUNS_DIR": str(cwd / "checkpoints"), **env}
        exports = " ".join(f"{k}={v!r}" for k, v in env.items())
        script = f"cd {str(cwd)!r} && echo $$ > pid && exec env {exports} {command}"
        shell = f"bash -c {script!r}; echo EXITED:$?; sleep 600"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", "120", "-y", "40", shell],
            check=True,
        )

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        out = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout

    def display(self, fmt: str) -> str:
        out = subprocess.run(
            ["tmux", "display-message", "-p", "-t", self.name, fmt],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip()

    def wait_for(self, what: str | Callable[[str], bool], timeout: float = 60) -> str:
        test = what if callable(what) else (lambda screen: what in screen)
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if test(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what!r}; screen:\n{screen}")

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False, capture_output=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def step_of(screen: str) -> int:
    found = re.search(r"step (\d+)/", screen)
    return int(found.group(1)) if found else -1


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "tiny.txt").write_text(TEXT, encoding="utf-8")
    config = {
        "data_file": str(tmp_path / "tiny.txt"),
        "seq_length": 16,
        "batch_size": 4,
        "embedding_dim": 16,
        "hidden_dim": 32,
        "epochs": 1000,
        "max_steps": 100000,
        "eval_interval": 40,
        "eval_max_windows": 8,
        "sample_length": 20,
        "device": "cpu",
        "num_threads": 1,
    }
    (tmp_path / "tiny.json").write_text(json.dumps(config), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("no_color", [False, True], ids=["color", "no-color"])
def test_train_generate_quit(workdir: Path, no_color: bool) -> None:
    env = {"TERM": "xterm-256color"}
    if no_color:
        env["NO_COLOR"] = "1"
    tmux = Tmux(f"{tui_command()} --config tiny.json", workdir, env)
    try:
        tmux.wait_for("state idle", timeout=60)
        assert tmux.display("#{alternate_on}") == "1"
        tmux.keys("s")
        first = tmux.wait_for(lambda s: step_of(s) > 0, timeout=90)
        later = tmux.wait_for(lambda s: step_of(s) > step_of(first) + 20, timeout=60)
        assert "state running" in later
        tmux.wait_for(lambda s: "train" in s and "best val —" not in s, timeout=90)

        tmux.keys("]", "g")
        tmux.wait_for("temperature 0.9", timeout=20)
        tmux.wait_for(lambda s: re.search(r"done · temperature 0\.9", s) is not None, 60)

        tmux.keys("C-c" if no_color else "q")  # Ctrl-C quits as cleanly as q
        tmux.wait_for("EXITED:0", timeout=60)
        assert tmux.display("#{alternate_on}") == "0", "the terminal left the alternate screen"
        runs = list((workdir / "checkpoints").glob("*/latest.pt"))
        assert runs, "quitting during a run saved a checkpoint first"
    finally:
        tmux.kill()


@pytest.mark.parametrize("paused", [False, True], ids=["running", "paused"])
def test_hangup_saves_checkpoint_then_exits(workdir: Path, paused: bool) -> None:
    tmux = Tmux(f"{tui_command()} --config tiny.json", workdir, {"TERM": "xterm-256color"})
    try:
        tmux.wait_for("state idle", timeout=60)
        tmux.keys("s")
        tmux.wait_for(lambda s: step_of(s) > 10, timeout=90)
        if paused:
            tmux.keys("p")
            tmux.wait_for("state paused", timeout=30)
        pid = int((workdir / "pid").read_text())
        tmux.kill()  # closes the pty: the process gets SIGHUP

        # The run log ends with the stop (its checkpoint saved first), then the process exits.
        deadline = time.monotonic() + 90
        last: dict = {}
        while time.monotonic() < deadline:
            logs = list((workdir / "checkpoints").glob("*/events.jsonl"))
            lines = logs[0].read_text().strip().splitlines() if logs else []
            last = json.loads(lines[-1]) if lines else {}
            if last.get("type") in {"RunFinished", "RunFailed"} and not alive(pid):
                break
            time.sleep(0.2)
        else:
            if alive(pid):
                os.kill(pid, 9)
            raise AssertionError(f"no clean stop after SIGHUP; last event {last}")
        assert last["type"] == "RunFinished" and last["reason"] == "stopped"
        assert list((workdir / "checkpoints").glob("*/latest.pt"))
    finally:
        tmux.kill()


def test_sigterm_saves_checkpoint_exits_and_restores_the_terminal(workdir: Path) -> None:
    """SIGTERM does what q does: checkpoint, stop, exit 0, the terminal as it was."""
    # This checkout's code, even where the installed llmv0-tui points at another one.
    env = {"TERM": "xterm-256color", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    tmux = Tmux(f"{tui_command()} --config tiny.json", workdir, env)
    try:
        tmux.wait_for("state idle", timeout=60)
        tmux.keys("s")
        tmux.wait_for(lambda s: step_of(s) > 10, timeout=90)
        # The dashboard is the pane shell's child (the harness's pid file, written inside
        # double quotes, holds the outer shell's pid).
        pane = int(tmux.display("#{pane_pid}"))
        (pid,) = [
            int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(p) == pane
        ]
        os.kill(pid, 15)
        tmux.wait_for("EXITED:0", timeout=90)
        assert tmux.display("#{alternate_on}") == "0", "the terminal left the alternate screen"
        logs = list((workdir / "checkpoints").glob("*/events.jsonl"))
        last = json.loads(logs[0].read_text().strip().splitlines()[-1])
        assert last["type"] == "RunFinished" and last["reason"] == "stopped", last
        assert list((workdir / "checkpoints").glob("*/latest.pt"))
    finally:
        tmux.kill()


def test_a_hangup_signal_gives_the_terminal_back(workdir: Path) -> None:
    """`kill -HUP` with the terminal still there (hostile round 3): the dashboard left it in
    the alternate screen with mouse tracking on, since a hang-up mutes all output."""
    env = {"TERM": "xterm-256color", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    tmux = Tmux(f"{tui_command()} --config tiny.json", workdir, env)
    try:
        tmux.wait_for("state idle", timeout=60)
        tmux.keys("s")
        tmux.wait_for(lambda s: step_of(s) > 3, timeout=90)
        assert tmux.display("#{alternate_on} #{mouse_any_flag}") == "1 1"
        pane = int(tmux.display("#{pane_pid}"))
        (pid,) = [
            int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(p) == pane
        ]
        os.kill(pid, 1)
        tmux.wait_for("EXITED:0", timeout=90)
        state = tmux.display("#{alternate_on} #{mouse_any_flag} #{mouse_sgr_flag} #{cursor_flag}")
        assert state == "0 0 0 1", f"alternate, mouse, sgr mouse, cursor: {state}"
        assert list((workdir / "checkpoints").glob("*/latest.pt")), "the run was saved"
    finally:
        tmux.kill()


def _ppid(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def test_a_burst_of_keys_edits_the_config_field_as_typed(workdir: Path) -> None:
    """A slow link delivers keys in bursts; one tmux send-keys writes them all at once. The
    field holds exactly what was typed (Textual #6605 reordered them: "25", "7" or empty)."""
    env = {"TERM": "xterm-256color", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    tmux = Tmux(f"{tui_command()} --config tiny.json", workdir, env)
    try:
        tmux.wait_for("state idle", timeout=60)
        # batch_size is 4: filter to it, jump in, clear it, type 256, all in one write.
        tmux.keys("/", *"batch_sx", "BSpace", "Enter", "End", "BSpace", "BSpace", *"256")
        screen = tmux.wait_for(lambda s: re.search(r"batch_size\s+256\b", s) is not None, 30)
        assert re.search(r"batch_s\b", screen), "the filter kept what was typed in it"
        assert "4256" not in screen and "2564" not in screen
    finally:
        tmux.kill()
