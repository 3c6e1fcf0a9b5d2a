"""SVG snapshots of the dashboard on scripted events: main screen, editor error, help overlay.

Update after an intended layout change with ``pytest tests/tui/test_snapshots.py
--snapshot-update`` and review the SVGs in the report it writes.
"""

from __future__ import annotations

import math

from fakes import ScriptedTrainer
from textual.widgets import Input

from engine import events as ev
from engine.config.schema import RunConfig
from tui.dashboard.app import Dashboard
from tui.dashboard.launch import make_app

SIZE = (120, 40)


def scripted_events() -> list[ev.Event]:
    """A run paused at step 300 of 1000: falling loss, three evaluations, one epoch."""
    out: list[ev.Event] = [
        ev.RunStarted(
            run_id="20260101-120000-lstm",
            config={},
            n_params=56_321,
            device="cpu",
            dtype="float32",
            total_steps=1000,
            steps_per_epoch=250,
            vocab_size=65,
            train_tokens=1_003_854,
            val_tokens=111_540,
            time=0.0,
        )
    ]
    for step in range(1, 301):
        loss = 1.4 + 2.8 * math.exp(-step / 60) + 0.05 * math.sin(step)
        out.append(
            ev.StepCompleted(
                step=step,
                epoch=step // 250,
                loss=loss,
                lr=0.002,
                tokens_per_s=41_250.0,
                grad_norm=0.8,
                elapsed_s=step * 0.05,
                total_steps=1000,
                time=0.0,
            )
        )
        if step % 100 == 0:
            val = loss + 0.08
            out.append(
                ev.EvalCompleted(
                    step=step,
                    epoch=step // 250,
                    train_loss=loss,
                    val_loss=val,
                    perplexity=math.exp(val),
                    bits_per_char=val / math.log(2),
                    best_val_loss=val,
                    is_best=True,
                    time=0.0,
                )
            )
            out.append(
                ev.SampleGenerated(
                    step=step,
                    prompt="ROMEO:",
                    text=f"\nWhat light is this, at step {step}?",
                    temperature=0.8,
                    time=0.0,
                )
            )
            out.append(ev.CheckpointSaved(step=step, path="best.pt", kind="best", time=0.0))
        if step == 250:
            out.append(ev.EpochCompleted(epoch=1, step=250, mean_loss=loss, time=0.0))
    out.append(ev.RunPaused(step=300, time=0.0))
    return out


def scripted_app() -> Dashboard:
    app = make_app(trainer_factory=lambda cfg, resume: ScriptedTrainer(cfg))
    app.session.initial_config = RunConfig(max_steps=1000, eval_interval=100)
    return app


async def play_events(pilot) -> None:
    app: Dashboard = pilot.app
    for event in scripted_events():
        app.main_screen.apply_event(event)
    app.session.stats.elapsed_s, app.session.stats.elapsed_at = 15.0, None
    app.main_screen.tick()
    for box in app.query(Input):
        box.cursor_blink = False
    await pilot.pause()


def test_main_screen(snap_compare) -> None:
    # The samples tab, not the editor, so adding a config field does not change this one.
    async def show_samples(pilot) -> None:
        await play_events(pilot)
        await pilot.press("3")

    assert snap_compare(scripted_app(), terminal_size=SIZE, run_before=show_samples)


def test_editor_with_error(snap_compare) -> None:
    async def type_bad_value(pilot) -> None:
        await play_events(pilot)
        pilot.app.session.stats.state = "idle"
        box = pilot.app.query_one("#field-batch_size", Input)
        box.cursor_blink = False
        box.focus()
        await pilot.press("end", "backspace", "backspace", "0")
        pilot.app.main_screen.tick()
        await pilot.pause()

    assert snap_compare(scripted_app(), terminal_size=SIZE, run_before=type_bad_value)


def test_help_overlay(snap_compare) -> None:
    async def open_help(pilot) -> None:
        await play_events(pilot)
        await pilot.press("question_mark")

    assert snap_compare(scripted_app(), terminal_size=SIZE, run_before=open_help)


def test_small_terminal_layout(snap_compare) -> None:
    async def show_generate(pilot) -> None:
        await play_events(pilot)
        await pilot.press("2")

    assert snap_compare(scripted_app(), terminal_size=(80, 24), run_before=show_generate)
