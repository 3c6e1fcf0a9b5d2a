"""Key fuzz: 2,000+ random keys into the real dashboard in tmux while it trains, with resizes.

Every printable character (``[ ] { } /`` included), Enter, Tab, Escape, arrows, function keys
and a few editing keys, in a fixed pseudo-random order, typed into whatever has focus: the
config editor, the generation prompt, the Inspect screen, the run browser, dialogs. At the end
the dashboard is alive (it answers ?), the run neither failed nor stopped, and q still stops
it with a checkpoint and exits cleanly.

Why an earlier version "quit cleanly" after about 1,000-1,700 keys: a config field's error
line quoted the typed value as markup, so ``[b=`` typed into a number field raised
MarkupError, and ``run_dashboard`` turned that crash into exit status 0 (the run was stopped
with a checkpoint by the crash-path cleanup, which is why it looked like a quit). Both are
fixed (error labels are markup=False; a crash exits 1); tests/tui/test_fuzz_findings.py pins
them.

Two letters are never typed, because they are the user's own order to end the run, not an
accident: ``q`` (quit: stop with a checkpoint, then exit 0) and ``x`` (stop). With no text box
focused they act at once, as KEYS.md says. The earlier version left them out of the single
characters but not out of its markup snippets (``[@click=app.quit]`` types a ``q``, ``[/x]``
an ``x``); the snippets here carry neither letter.

Ctrl chords are typed, except ctrl+c and ctrl+q (they quit), ctrl+p (the command palette,
whose Enter runs the best match for random text: that can be Quit) and ctrl+z; the
in-process fuzz below types those too, and starts the dashboard again after a quit.

The run browser's ``D`` (delete) may fire: it asks first and refuses a running run, so the
training run's folder stays, which the final assertions check.

The second test types every key the dashboard can receive, ctrl chords and the command
palette included, into the dashboard in-process (Textual's headless driver, a scripted
trainer): 2,000 keys in every CI run, 10,000 with ``LLMV0_NIGHTLY=1``. The quit keys (q,
ctrl+c, ctrl+q, the palette's Quit) are typed too, rarely, and answered by starting the
dashboard again. Keys come in bursts with resizes among them, as a terminal delivers them,
so keys reach screens that are opening or closing. Seeded (``LLMV0_FUZZ_SEED``); a failure
names the seed, the key count and the last keys. What it found is pinned as fast tests in
tests/tui/test_palette_findings.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import string
import subprocess
import sys
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pytest
from test_tui_tmux import Tmux, step_of, tui_command, workdir  # noqa: F401 (fixture)
from textual import events
from textual.geometry import Size
from textual.keys import REPLACED_KEYS, Keys, _character_to_key, _get_unicode_name_from_key

from tui.dashboard.launch import make_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tui"))
from fakes import ScriptedTrainer  # tests/tui is not a package

SPECIAL = ["Enter", "Tab", "BTab", "Up", "Down", "Left", "Right", "BSpace", "Home",
           "End", "PPage", "NPage", *(f"F{n}" for n in range(1, 13))]  # fmt: skip
# tmux names; not c, q (quit), p (the palette, see the docstring) or z.
CTRL_CHORDS = [f"C-{c}" for c in "abdefghijklmnorstuvwxy"]
ENDS_THE_RUN = "qx"  # the quit and stop keys: deliberate, never fuzzed (see the docstring)
PRINTABLE = [c for c in string.printable if c not in ENDS_THE_RUN + "\r\x0b\x0c"]
# Bracket sequences that crashed the dashboard when user text reached a label as markup.
SNIPPETS = ["[/]", "[b=", "[bold]", "[/b]", "{}", "[@click=app.bell]"]
assert not any(c in s for c in ENDS_THE_RUN for s in SNIPPETS)
KEYS = 2400
BATCH = 39  # then an Escape
SIZES = [(40, 10), (200, 60), (80, 24), (120, 40), (60, 15), (160, 50)]


def _key(rng: random.Random) -> tuple[bool, str]:
    """(literal?, key): mostly single characters, some special keys and ctrl chords, some
    markup snippets."""
    roll = rng.random()
    if roll < 0.25:
        return False, rng.choice(SPECIAL)
    if roll < 0.30:
        return False, rng.choice(CTRL_CHORDS)
    if roll < 0.35:
        return True, rng.choice(SNIPPETS)
    return True, rng.choice(PRINTABLE)


def _send(tmux: Tmux, batch: list[tuple[bool, str]]) -> None:
    """Type the keys in order, one tmux call per run of literal text or of named keys (a
    call per key cost a process start each: about 20 s of the test)."""
    for literal, run in itertools.groupby(batch, key=lambda item: item[0]):
        keys = [key for _, key in run]
        args = ["tmux", "send-keys", "-t", tmux.name]
        args += ["-l", "--", "".join(keys)] if literal else ["--", *keys]  # text may start "-"
        subprocess.run(args, check=True, capture_output=True)


def _press_until(
    tmux: Tmux,
    key: str,
    shown: str | Callable[[str], bool],
    *,
    attempts: int,
    wait: float,
    last_wait: float,
) -> None:
    """Press ``key`` until ``shown`` is on screen. The fuzz may leave a text box or a menu
    focused, where a letter is a character: then Escape (on its own, with pauses) leaves it,
    and the key is pressed again. An Escape is retried alone: on a starved machine it can
    be read with the bytes before or after it as one sequence."""
    for attempt in range(1, attempts + 1):
        tmux.keys(key)
        try:
            tmux.wait_for(shown, timeout=last_wait if attempt == attempts else wait)
            return
        except AssertionError:
            if attempt == attempts:
                raise
            for _ in range(2 if key != "Escape" else 0):
                tmux.keys("Escape")
                time.sleep(0.5)


def _events(work: Path) -> list[dict]:
    """The training run's events (the fuzz cannot start a second run: s is refused while
    one trains, and nothing it types stops this one)."""
    logs = sorted((work / "checkpoints").glob("*/events.jsonl"))
    assert len(logs) == 1, logs
    return [json.loads(x) for x in logs[0].read_text(encoding="utf-8").splitlines() if x]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_random_keys_and_resizes_never_break_the_dashboard(workdir: Path) -> None:  # noqa: F811
    env = {"TERM": "xterm-256color", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    tmux = Tmux(f"{tui_command()} --config tiny.json", workdir, env)
    rng = random.Random(12)
    recent: deque[tuple[bool, str]] = deque(maxlen=3 * (BATCH + 1))  # for a failure message
    try:
        tmux.wait_for("state idle", timeout=90)
        tmux.keys("s")
        tmux.wait_for(lambda s: step_of(s) > 10, timeout=90)
        sent = 0
        while sent < KEYS:
            batch = [_key(rng) for _ in range(BATCH)]
            _send(tmux, batch)
            # Escape only closes a batch, with a pause after it: an Escape followed at once by
            # a character is that character with Alt, which the fuzz does not mean to type.
            time.sleep(0.1)
            _send(tmux, [(False, "Escape")])
            batch.append((False, "Escape"))
            recent.extend(batch)
            sent += len(batch)
            screen = tmux.screen()
            assert "EXITED" not in screen, f"exited after {sent} keys; last: {list(recent)}"
            if sent % 400 == 0:  # a burst of rapid resizes
                for width, height in rng.sample(SIZES, 4):
                    subprocess.run(
                        ["tmux", "resize-window", "-t", tmux.name, "-x", str(width),
                         "-y", str(height)],
                        check=False, capture_output=True,
                    )  # fmt: skip
            # Then a pause longer than Textual's escape delay (ESCDELAY, 100 ms) before the next
            # key: read together with the Escape, a "[" starts an escape sequence, and random
            # bytes after it can parse as a mouse click anywhere (the footer's Quit included)
            # or a bracketed paste that swallows the keys after it.
            time.sleep(0.3)
        subprocess.run(
            ["tmux", "resize-window", "-t", tmux.name, "-x", "120", "-y", "40"], check=False
        )
        # Escape leaves any box or dialog. One at a time, with pauses: Escapes in a burst, or
        # an Escape right before a letter, read as Alt chords.
        for _ in range(3):
            tmux.keys("Escape")
            time.sleep(0.5)
        # Alive and responsive once it has read every key sent (they may queue while it
        # trains): ? opens the help, Escape closes it. Pressed again if need be: a busy
        # process can read the last Escape and the ? in one go, which is Alt+?.
        _press_until(tmux, "?", "llmv0-tui keys", attempts=3, wait=20, last_wait=120)
        closed = lambda screen: "llmv0-tui keys" not in screen  # noqa: E731
        _press_until(tmux, "Escape", closed, attempts=3, wait=20, last_wait=120)
        time.sleep(0.5)
        assert "EXITED" not in tmux.screen(), tmux.screen()
        events = _events(workdir)
        assert not any(e["type"] in {"RunFailed", "RunFinished"} for e in events), events[-3:]
        pauses = [e["type"] for e in events if e["type"] in {"RunPaused", "RunResumed"}]
        if pauses and pauses[-1] == "RunPaused":
            # The fuzz paused it (p); resume, to see it train on below.
            _press_until(tmux, "p", "state running", attempts=3, wait=15, last_wait=60)
        before = max(e.get("step", 0) for e in events)
        _press_until(tmux, "q", "EXITED", attempts=4, wait=20, last_wait=120)
        tmux.wait_for("EXITED:0", timeout=5)
        events = _events(workdir)
        assert events[-1]["type"] == "RunFinished", events[-3:]
        assert events[-1]["reason"] == "stopped" and events[-1]["step"] >= before
        assert list((workdir / "checkpoints").glob("*/latest.pt")), "q saved a checkpoint"
        assert tmux.display("#{alternate_on}") == "0"
    finally:
        tmux.kill()


# --- every key, in-process -------------------------------------------------------------------
NIGHTLY = os.environ.get("LLMV0_NIGHTLY") == "1"
FUZZ_KEYS = 10_000 if NIGHTLY else 2_000
FUZZ_SEED = int(os.environ.get("LLMV0_FUZZ_SEED", "2026"))
# Every key Textual names (ctrl, shift and function chords), less its pseudo-keys.
NAMED = [k.value for k in Keys if not k.value.startswith("<") and k.value != "ctrl-at"]
CTRL = [key for key in NAMED if key.startswith("ctrl+")]
QUIT_KEYS = ["q", "ctrl+q", "ctrl+c", ["ctrl+p", *"quit", "enter"]]  # the last: palette's Quit
QUIT_EVERY = 400  # keys, about: each quit costs a restart (about a second)
FUZZ_SIZES = [(40, 10), (79, 30), (80, 24), (120, 40), (200, 60)]  # 40x10, 79x30: too small


def _any_keys(rng: random.Random) -> list[str]:
    """One key of any kind, or the keys of one markup snippet or one quit. The palette and
    the keys that act in it come more often than chance (the crashes were there)."""
    roll = rng.random()
    if roll < 1 / QUIT_EVERY:
        quit_keys = rng.choice(QUIT_KEYS)
        return quit_keys if isinstance(quit_keys, list) else [quit_keys]
    if roll < 0.02:
        return list(rng.choice(SNIPPETS))
    if roll < 0.09:
        return ["ctrl+p"]
    if roll < 0.14:
        return [rng.choice(["enter", "escape", "down", "pageup", "pagedown"])]
    if roll < 0.34:
        keys = CTRL
    elif roll < 0.54:
        keys = NAMED
    else:
        keys = list(string.printable.strip() + " ")
    while (key := rng.choice(keys)) in QUIT_KEYS:
        pass  # quits come only from the first branch, at their own rate
    return [key]


def _key_event(key: str) -> events.Key:
    """The event a terminal sends for ``key``, made as Textual's Pilot makes it."""
    name = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
    try:
        char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(name, name)))
    except KeyError:
        char = name if len(name) == 1 else None
    return events.Key(name, char)


async def _fuzz(seed: int, total: int, runs_dir: Path) -> dict[str, int]:
    """Type ``total`` keys; returns counts (keys, restarts, resizes). Raises AssertionError
    naming the seed, the key count and the last keys when the dashboard crashes."""
    rng = random.Random(seed)
    recent: deque[str] = deque(maxlen=40)
    counts = {"keys": 0, "restarts": 0, "resizes": 0}
    while counts["keys"] < total:
        app = make_app(trainer_factory=ScriptedTrainer, runs_dir=runs_dir)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                if rng.random() < 0.5:
                    await pilot.press("s")  # train (scripted): events arrive while keys do
                while counts["keys"] < total and app.return_code is None:
                    # A burst of keys sent without waiting, as a terminal delivers them.
                    for _ in range(rng.randint(1, 12)):
                        if rng.random() < 0.02:
                            width, height = rng.choice(FUZZ_SIZES)
                            size = Size(width, height)
                            app._driver.send_message(events.Resize(size, size))
                            recent.append(f"<resize {width}x{height}>")
                            counts["resizes"] += 1
                        for key in _any_keys(rng):
                            recent.append(key)
                            counts["keys"] += 1
                            event = _key_event(key)
                            event.set_sender(app)
                            app._driver.send_message(event)
                    await pilot.pause()
        except Exception as exc:
            raise AssertionError(
                f"The dashboard crashed with {type(exc).__name__}: {exc} (seed {seed}, "
                f"after {counts['keys']} keys; rerun: LLMV0_FUZZ_SEED={seed}). "
                f"Last keys: {list(recent)}"
            ) from exc
        # 0: a quit key, answered by a restart; None: the keys ran out; 1 would be a crash.
        assert app.return_code in (0, None), (
            f"exit {app.return_code} (seed {seed}, after {counts['keys']} keys): {list(recent)}"
        )
        counts["restarts"] += app.return_code == 0
    return counts


@pytest.mark.timeout(3600 if NIGHTLY else 300)
def test_every_key_and_the_palette_never_crash_the_dashboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fuzz can type a path into the config editor and press Save: it writes here.
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    counts = asyncio.run(_fuzz(FUZZ_SEED, FUZZ_KEYS, tmp_path / "runs"))
    took = time.perf_counter() - start
    print(f"key fuzz: {counts} in {took:.1f} s (seed {FUZZ_SEED})")
    assert counts["keys"] >= FUZZ_KEYS and counts["restarts"] >= 1
