"""Live edits during a run: what is typed into a ● field is what the trainer gets, and the
field says it is applying until the trainer confirms the change."""

from __future__ import annotations

import threading

from conftest import wait_until
from fakes import ScriptedTrainer
from keyburst import burst
from textual.widgets import Input, Label

from engine import events as ev
from engine.config.schema import RunConfig
from tui.dashboard.launch import make_app
from tui.dashboard.messages import EngineEvent


def slow_factory(made: list[ScriptedTrainer]):
    """Trainers that keep running (a step every 50 ms) so keys land mid-run."""

    def factory(config: RunConfig, resume: str | None) -> ScriptedTrainer:
        trainer = ScriptedTrainer(config, resume, step_delay_s=0.05)
        made.append(trainer)
        return trainer

    return factory


def changes(seen: list) -> list[ev.ConfigChanged]:
    return [
        m.event
        for m in seen
        if isinstance(m, EngineEvent) and isinstance(m.event, ev.ConfigChanged)
    ]


async def test_filter_enter_backspaces_digits_in_one_burst_edit_the_live_field(
    tiny_config: RunConfig,
) -> None:
    """/learn, Enter, six BackSpaces, 0.001 as one burst: the keys after Enter went into the
    filter box (the field's focus came later), so the digits were lost until refocused."""
    made: list[ScriptedTrainer] = []
    seen: list = []
    app = make_app(trainer_factory=slow_factory(made))
    app.session.initial_config = tiny_config.model_copy(
        update={"max_steps": 100_000, "learning_rate": 0.005}
    )
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.session.stats.state == "running")
        box = app.query_one("#field-learning_rate", Input)
        burst(app, "/", *"learn", "enter", *["backspace"] * 6, *"0.001")
        await wait_until(pilot, lambda: box.value == "0.001", timeout=5)
        assert app.query_one("#config-filter", Input).value == "learn"
        assert app.focused is box
        burst(app, "enter")
        await wait_until(pilot, lambda: [c.new for c in changes(seen)] == [0.001])
        assert made[0].commands == ["set"]


async def test_a_live_field_says_applying_until_the_trainer_confirms(
    tiny_config: RunConfig,
) -> None:
    """Enter in a ● field: "applying…" until ConfigChanged arrives, then the applied value."""
    made: list[ScriptedTrainer] = []
    seen: list = []
    app = make_app(trainer_factory=slow_factory(made))
    app.session.initial_config = tiny_config.model_copy(update={"max_steps": 100_000})
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.session.stats.state == "running")
        # The trainer reads no command until the gate opens: the change stays unconfirmed.
        control, gate = app.session.control, threading.Event()
        drain = control.drain
        control.drain = lambda: drain() if gate.is_set() else []
        note = app.query_one("#live-eval_interval", Label)
        assert not note.display
        burst(app, "/", *"eval_i", "enter", "end", "backspace", "backspace", *"75", "enter")
        await wait_until(pilot, lambda: note.display)
        assert str(note.render()).startswith("applying…")
        await pilot.pause(0.3)
        assert str(note.render()).startswith("applying…")
        assert changes(seen) == []
        gate.set()
        await wait_until(pilot, lambda: [c.new for c in changes(seen)] == [75])
        step = changes(seen)[0].step
        await wait_until(pilot, lambda: str(note.render()) == f"✓ 75 from step {step}")
        assert app.query_one("#field-eval_interval", Input).value == "75"
