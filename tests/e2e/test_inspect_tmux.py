"""End to end: the Inspect screen in a real 80x24 terminal (tmux), in colour and NO_COLOR.

Opens a trained run with ``llmv0-tui --run``, presses i, moves the cursor, visits the
attention and timeline views, closes the screen and quits.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from engine.config.schema import RunConfig
from engine.train.trainer import Trainer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

ROOT = Path(__file__).resolve().parents[2]
TEXT = "ROMEO: But soft, what light through yonder window breaks?\nJULIET: Ay me.\n" * 60


class Terminal:
    """A detached 80x24 tmux session running the dashboard from this checkout."""

    def __init__(self, args: str, cwd: Path, env: dict[str, str]) -> None:
        self.name = f"llmv0-inspect-{uuid.uuid4().hex[:8]}"
        env = {"PYTHONPATH": str(ROOT), "TERM": "xterm-256color", **env}
        exports = " ".join(f"{k}={v!r}" for k, v in env.items())
        entry = "from tui.dashboard.command_line import tui_main; tui_main()"
        command = f"{sys.executable} -c '{entry}' {args}"
        script = f"cd {str(cwd)!r} && exec env {exports} {command}"
        shell = f"bash -c {script!r}; echo EXITED:$?; sleep 60"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", "80", "-y", "24", shell],
            check=True,
        )

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip

    def wait_for(self, what: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if what in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what!r}; screen:\n{screen}")

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False, capture_output=True)


@pytest.fixture
def trained_run(tmp_path: Path) -> Path:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    cfg = RunConfig(
        model="gpt", data_file=str(corpus), seq_length=32, batch_size=8, n_layer=1, n_head=2,
        n_embd=16, max_steps=40, eval_interval=20, sample_length=0, device="cpu", num_threads=1,
    )  # fmt: skip
    Trainer(cfg, runs_dir=tmp_path / "runs", run_id="tiny").run()
    return tmp_path / "runs" / "tiny"


@pytest.mark.parametrize("no_color", [False, True], ids=["color", "no-color"])
def test_inspect_at_80x24(trained_run: Path, no_color: bool) -> None:
    env = {"NO_COLOR": "1"} if no_color else {}
    term = Terminal(f"--run {trained_run}", trained_run.parent.parent, env)
    try:
        term.wait_for("state", timeout=60)
        term.keys("i")
        # Each part is waited for: a capture can land between frames, or inside one that
        # the terminal is still drawing (CI saw the summary without the side panel).
        for part in ("tokens scored", "at 1:", "hardest characters"):
            screen = term.wait_for(part, timeout=60)
        if no_color:
            term.wait_for("'^' hardest tenth", timeout=10)
        else:
            assert "'^' hardest tenth" not in screen
        term.keys("Right", "Right")
        term.wait_for("at 3:", timeout=10)
        term.keys("2")
        term.wait_for("heads (", timeout=30)
        term.keys("5")
        term.wait_for("2 evaluations", timeout=30)
        term.keys("Escape")
        term.wait_for("state", timeout=10)
        term.keys("q")
        term.wait_for("EXITED:0", timeout=60)
    finally:
        term.kill()
