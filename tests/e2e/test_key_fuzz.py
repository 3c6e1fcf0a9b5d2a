"""Key fuzz: 2,000+ random keys into the real dashboard in tmux while it trains, with resizes.

Every printable character (``[ ] { } /`` included), Enter, Tab, Escape, arrows, function keys
and a few editing keys, in a fixed pseudo-random order, typed into whatever has focus: the
config editor, the generation prompt, dialogs. Only the two keys that mean "end the run" (q
and x) are left out of the random part. At the end the dashboard is alive, the run has not
failed, and q still stops it with a checkpoint and exits cleanly.
"""

from __future__ import annotations

import json
import random
import string
import subprocess
import time
from pathlib import Path

import pytest
from test_tui_tmux import Tmux, step_of, tui_command, workdir  # noqa: F401 (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SPECIAL = ["Enter", "Tab", "BTab", "Up", "Down", "Left", "Right", "BSpace", "Home",
           "End", "PPage", "NPage", *(f"F{n}" for n in range(1, 13))]  # fmt: skip
PRINTABLE = [c for c in string.printable if c not in "qx\r\x0b\x0c"]
SNIPPETS = ["[/]", "[x=", "[bold]", "[/x]", "{}", "[@click=app.quit]"]
KEYS = 2400
SIZES = [(40, 10), (200, 60), (80, 24), (120, 40), (60, 15), (160, 50)]


def _key(rng: random.Random) -> tuple[bool, str]:
    """(literal?, key): mostly single characters, some special keys, and now and then a
    bracket sequence that used to crash the dashboard when it reached a label as markup."""
    roll = rng.random()
    if roll < 0.25:
        return False, rng.choice(SPECIAL)
    if roll < 0.30:
        return True, rng.choice(SNIPPETS)
    return True, rng.choice(PRINTABLE)


def _send(tmux: Tmux, batch: list[tuple[bool, str]]) -> None:
    for literal, key in batch:
        args = ["tmux", "send-keys", "-t", tmux.name]
        args += ["-l", key] if literal else [key]
        subprocess.run(args, check=True, capture_output=True)


def _events(work: Path) -> list[dict]:
    logs = list((work / "checkpoints").glob("*/events.jsonl"))
    if not logs:
        return []
    return [json.loads(x) for x in logs[0].read_text(encoding="utf-8").splitlines() if x]


def test_random_keys_and_resizes_never_break_the_dashboard(workdir: Path) -> None:  # noqa: F811
    env = {"TERM": "xterm-256color", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    tmux = Tmux(f"{tui_command()} --config tiny.json", workdir, env)
    rng = random.Random(12)
    try:
        tmux.wait_for("state idle", timeout=90)
        tmux.keys("s")
        tmux.wait_for(lambda s: step_of(s) > 10, timeout=90)
        sent = 0
        while sent < KEYS:
            batch = [_key(rng) for _ in range(39)]
            _send(tmux, batch)
            # Escape only closes a batch, with a pause after it: an Escape followed at once by
            # a character is that character with Alt, which the fuzz does not mean to type.
            time.sleep(0.1)
            _send(tmux, [(False, "Escape")])
            batch.append((False, "Escape"))
            sent += len(batch)
            if sent % 400 == 0:  # a burst of rapid resizes
                for width, height in rng.sample(SIZES, 4):
                    subprocess.run(
                        ["tmux", "resize-window", "-t", tmux.name, "-x", str(width),
                         "-y", str(height)],
                        check=False, capture_output=True,
                    )  # fmt: skip
            time.sleep(0.05)
        subprocess.run(
            ["tmux", "resize-window", "-t", tmux.name, "-x", "120", "-y", "40"], check=False
        )
        # Alive and responsive: Escape leaves any box or dialog, then the screen answers.
        tmux.keys("Escape", "Escape", "Escape")
        assert "EXITED" not in tmux.screen(), tmux.screen()
        events = _events(workdir)
        assert not any(e["type"] == "RunFailed" for e in events), events[-3:]
        if any(e["type"] == "RunPaused" for e in events):
            tmux.keys("p")  # the fuzz may have paused it; q must work either way
        before = max(e.get("step", 0) for e in events)
        tmux.keys("q")
        tmux.wait_for("EXITED:0", timeout=120)
        events = _events(workdir)
        assert events[-1]["type"] == "RunFinished", events[-3:]
        assert events[-1]["reason"] == "stopped" and events[-1]["step"] >= before
        assert list((workdir / "checkpoints").glob("*/latest.pt")), "q saved a checkpoint"
        assert tmux.display("#{alternate_on}") == "0"
    finally:
        tmux.kill()
