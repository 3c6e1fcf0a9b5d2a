"""The dashboard's user story with a scripted trainer: edit, validate, train, control, generate."""

from __future__ import annotations

from conftest import wait_until
from textual.widgets import Input, Label

from engine import events as ev
from engine.config.schema import RunConfig
from tui.dashboard.launch import make_app
from tui.dashboard.messages import EngineEvent, GenerationEnded, StepsReady
from tui.dashboard.widgets.charts.loss_chart import LossChart
from tui.dashboard.widgets.generation_pane import GenerationPane
from tui.dashboard.widgets.samples_pager import SamplesPager


async def type_into(pilot, selector: str, text: str) -> None:
    """Focus a box, clear it and type ``text`` key by key, like a user."""
    box = pilot.app.query_one(selector, Input)
    box.focus()
    await pilot.press("end", *["backspace"] * len(box.value), *list(text))


async def test_full_user_story(tiny_config: RunConfig, fake_factory, tmp_path) -> None:
    seen: list = []
    app = make_app(trainer_factory=fake_factory)
    app.session.initial_config = tiny_config.model_copy(update={"max_steps": 100_000})
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        # A bad value is flagged beside its field, as typed, and start is refused.
        await type_into(pilot, "#field-batch_size", "0")
        error = app.query_one("#error-batch_size", Label)
        assert "must be an integer in [1, 4096]" in str(error.render())
        await pilot.press("escape", "s")
        assert app.session.stats.state == "idle"
        assert not fake_factory.made

        # Fixed, the error clears and start works.
        await type_into(pilot, "#field-batch_size", "8")
        assert str(error.render()) == ""
        await pilot.press("escape", "s")
        await wait_until(pilot, lambda: app.session.stats.state == "running")
        assert fake_factory.made[0].config.batch_size == 8

        # The chart gains points; step messages are coalesced, not one per step.
        chart = app.query_one(LossChart)
        await wait_until(pilot, lambda: len(chart.train_steps) >= 60)
        await wait_until(pilot, lambda: chart.redraws >= 2)
        steps_ready = [m for m in seen if isinstance(m, StepsReady)]
        assert 0 < len(steps_ready) <= app.session.stats.step

        # Pause: the step counter holds. (Keys are pressed while paused from here: Pilot's
        # press waits for the process to go idle, which a training thread never lets it.)
        await wait_until(pilot, lambda: len(app.main_screen.pager.samples) >= 2)
        await pilot.press("p")
        await wait_until(pilot, lambda: app.session.stats.state == "paused")
        paused_at = app.session.stats.step
        await pilot.pause(0.3)
        assert app.session.stats.step == paused_at
        assert "Resume" in [k.description for k in app.main_screen.query("FooterKey")]

        # Non-live fields are locked during the run; a live one applies via the control queue
        # and shows on the chart as a marker at the step where it took effect.
        assert app.query_one("#field-batch_size", Input).disabled
        await type_into(pilot, "#field-learning_rate", "0.002")
        await pilot.press("enter", "escape")
        await wait_until(pilot, lambda: chart.change_steps == [paused_at])
        changed = [m.event for m in seen if isinstance(m, EngineEvent)]
        assert any(isinstance(e, ev.ConfigChanged) and e.new == 0.002 for e in changed)

        # Samples from evaluations page back and forth.
        pager = app.query_one(SamplesPager)
        assert len(pager.samples) >= 2
        await pilot.press("comma")
        assert pager.current == len(pager.samples) - 2
        assert app.query_one("#side").active == "samples"
        await pilot.press("full_stop")
        assert pager.current == len(pager.samples) - 1

        # Generation streams from a copy of the live weights; temperature keys show the value.
        pane = app.query_one(GenerationPane)
        pane.length = 40  # CPU time is shared in CI; 40 characters prove the stream
        await pilot.press("right_square_bracket", "right_square_bracket", "left_square_bracket")
        assert pane.temperature == 0.9
        assert "temperature 0.9" in str(app.query_one("#gen-settings", Label).render())
        await pilot.press("g")
        await wait_until(pilot, lambda: pane.state == "done")
        assert len(pane.output) == pane.length
        assert pane.settings().temperature == 0.9
        assert "live weights" in pane.source_name
        assert any(isinstance(m, GenerationEnded) and m.reason == "done" for m in seen)

        # Resume: steps advance again, with the new learning rate.
        await pilot.press("p")
        await wait_until(pilot, lambda: app.session.stats.step > paused_at + 5)
        assert app.session.stats.lr == 0.002

        # Save now, then stop: a checkpoint is written and the run ends as 'stopped'.
        await pilot.press("w")
        await wait_until(pilot, lambda: app.session.stats.last_checkpoint != "")
        await pilot.press("x")
        await wait_until(pilot, lambda: app.session.stats.state == "stopped")
        assert isinstance(app.session.terminal_event, ev.RunFinished)
        assert app.session.terminal_event.reason == "stopped"
        assert fake_factory.made[0].commands.count("stop") == 1
        assert not app.query_one("#field-batch_size", Input).disabled


async def test_failed_run_is_shown_not_raised(tiny_config: RunConfig) -> None:
    from fakes import ScriptedTrainer

    app = make_app(
        trainer_factory=lambda cfg, resume: ScriptedTrainer(cfg, fail_with="Corpus is empty.")
    )
    app.session.initial_config = tiny_config
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.session.stats.state == "failed")
        assert any("Corpus is empty." in n.message for n in app._notifications)


async def test_generation_without_model_explains(tiny_config: RunConfig, fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        pane = app.query_one(GenerationPane)
        await wait_until(pilot, lambda: pane.state == "failed")
        assert "No model yet" in "".join(app.query_one("#gen-output").lines)


async def test_stop_generation_with_escape(tiny_config: RunConfig, fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    app.session.initial_config = tiny_config.model_copy(update={"max_steps": 100_000})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.session.stats.state == "running")
        pane = app.query_one(GenerationPane)
        pane.length = 100_000
        await pilot.press("g")
        await wait_until(pilot, lambda: len(pane.output) > 0)
        app.query_one("#config-filter").focus()  # a text box has focus as well
        await pilot.pause()
        await pilot.press("escape")
        await wait_until(pilot, lambda: pane.state == "stopped")
        assert len(pane.output) < 100_000
        # One Escape does both: the next letter is a key again, not text in the box.
        assert app.focused is None
        await pilot.press("x")
        await wait_until(pilot, lambda: app.session.stats.state == "stopped")


async def test_quit_during_run_stops_with_checkpoint_first(tiny_config, fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    app.session.initial_config = tiny_config.model_copy(update={"max_steps": 100_000})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.session.stats.state == "running")
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: app.session.terminal_event is not None)
    assert app.return_code == 0
    assert fake_factory.made[0].commands == ["stop"]
    assert app.session.stats.last_checkpoint.startswith("latest")


async def test_too_small_notice(fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(70, 20)) as pilot:
        await pilot.pause()
        assert "Terminal too small: 70x20" in str(app.screen.query_one("#too-small").render())
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert type(app.screen).__name__ != "TooSmallScreen"


async def test_help_lists_every_key(fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        rows = dict((desc, keys) for keys, desc in app.screen.rows)
        assert rows["Temperature up 0.1"] == "]"
        assert len(app.screen.rows) >= 20
        await pilot.press("escape")
        assert type(app.screen).__name__ != "HelpScreen"


async def test_hangup_stops_with_checkpoint_then_exits(tiny_config, fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    app.session.initial_config = tiny_config.model_copy(update={"max_steps": 100_000})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.session.stats.state == "running")
        app.action_hangup()  # what the SIGHUP handler schedules on the UI thread
        await pilot.pause()
    # The app leaves at once (nothing to draw on); the trainer was told to stop and saves.
    assert app.return_code == 0
    assert app.session.train_done.wait(timeout=20)
    assert fake_factory.made[0].commands == ["stop"]
