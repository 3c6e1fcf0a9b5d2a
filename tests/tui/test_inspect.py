"""The Inspect screen with Pilot: views, cursor, selection, typed text, live training."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import wait_until
from inspect_fixtures import inspect_app
from textual.widgets import Input

from engine.config.schema import RunConfig
from tui.dashboard.launch import make_app
from tui.dashboard.screens.inspect import InspectScreen


async def settle(pilot) -> None:
    """Wait for the Inspect worker (not the training one, which runs on)."""
    await pilot.pause()
    workers = [w for w in pilot.app.workers if w.group == "inspect"]
    if workers:  # (an empty list would mean every worker, training's too)
        await pilot.app.workers.wait_for_complete(workers)
    await pilot.pause()


def main_text(app) -> str:
    return str(app.screen.pane.main.render())


def side_text(app) -> str:
    return str(app.screen.pane.side.render())


async def test_i_opens_surprise_and_the_cursor_moves_the_guesses(tmp_path: Path, fake_factory):
    app = inspect_app(tmp_path, "gpt", fake_factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, InspectScreen)
        assert "tokens scored" in main_text(app) and "at 1:" in side_text(app)
        assert "hardest characters" in side_text(app)
        await pilot.press("right", "right", "shift+right")
        assert "at 13:" in side_text(app)
        await pilot.press("left")
        assert "at 12:" in side_text(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectScreen)


async def test_attention_heads_are_selected_with_up_and_down(tmp_path: Path, fake_factory):
    app = inspect_app(tmp_path, "gpt", fake_factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("i", "2")
        await settle(pilot)
        assert main_text(app).startswith("L0H0") and ">L0H0" in side_text(app)
        await pilot.press("down", "down")
        assert main_text(app).startswith("L1H0") and ">L1H0" in side_text(app)
        await pilot.press("left")
        assert "at 62 looks" in main_text(app)
        await pilot.press("3")  # cells on a GPT: a clear sentence instead
        await settle(pilot)
        assert "LSTM view" in main_text(app)


async def test_cells_rank_units_and_toggle_state(tmp_path: Path, fake_factory):
    app = inspect_app(tmp_path, "lstm", fake_factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("i", "3")
        await settle(pilot)
        assert "tracks" in main_text(app) and "(cell c)" in main_text(app)
        first = main_text(app).splitlines()[0]
        await pilot.press("down")
        assert main_text(app).splitlines()[0] != first
        await pilot.press("k")
        assert "(hidden h)" in main_text(app)
        await pilot.press("2")
        await settle(pilot)
        assert "GPT view" in main_text(app)


async def test_embeddings_timeline_and_typed_text(tmp_path: Path, fake_factory):
    app = inspect_app(tmp_path, "lstm", fake_factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("i", "4")
        await settle(pilot)
        assert "PC1" in side_text(app) and "R" in main_text(app)
        await pilot.press("5")
        await settle(pilot)
        assert "4 evaluations" in side_text(app) and "400" in main_text(app)
        await pilot.press("1")
        await settle(pilot)
        await pilot.press("slash")
        box = app.screen.query_one("#inspect-text-box", Input)
        assert box.has_focus and box.value == "ROMEO:"  # starts from the Generate prompt
        box.value = ""
        await pilot.press(*"O Romeo", "enter")
        await settle(pilot)
        assert "6 tokens scored" in main_text(app)
        await pilot.press("n")  # a new (random) validation passage
        await settle(pilot)
        assert "6 tokens scored" not in main_text(app)


async def test_no_model_yet_says_so(fake_factory):
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("i")
        await settle(pilot)
        assert "No model yet" in main_text(app)


@pytest.mark.parametrize("no_color", [False, True])
async def test_live_weights_refresh_while_training(fake_factory, no_color: bool, monkeypatch):
    monkeypatch.setattr("tui.dashboard.screens.inspect.REFRESH_S", 0.2)
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(trainer_factory=fake_factory)
    app.session.initial_config = RunConfig(max_steps=100000)
    async with app.run_test(size=(80, 24)) as pilot:
        # Keys go in while paused: Pilot waits for an idle app after each key press.
        await pilot.press("s")
        await wait_until(pilot, lambda: app.session.stats.step > 5)
        await pilot.press("p")
        await wait_until(pilot, lambda: app.session.stats.state == "paused")
        await pilot.press("i")
        await settle(pilot)
        title = lambda: str(app.screen.title_bar.render())  # noqa: E731
        assert f"live weights (step {app.session.stats.step})" in title()
        text = main_text(app)
        assert "tokens scored" in text
        assert ("'^' hardest tenth" in text) == no_color  # plain marks instead of colour
        first = title()
        app.session.control.resume()  # training goes on under the open screen; the view follows
        await wait_until(pilot, lambda: title() != first and "live weights" in title())
        app.session.control.pause()
        await wait_until(pilot, lambda: app.session.stats.state == "paused")
        await pilot.press("escape", "x")
