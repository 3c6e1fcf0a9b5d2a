"""ctrl+p finds runs, presets and toggles by name and runs them."""

from __future__ import annotations

from conftest import wait_until
from textual.command import CommandPalette

from tui.dashboard.commands import dashboard_commands
from tui.dashboard.launch import make_app
from tui.dashboard.widgets.config_editor import ConfigEditor


async def run_command(pilot, query: str) -> None:
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.press(*query)
    palette = pilot.app.screen
    commands = palette.query_one("CommandList")
    # The best match is highlighted once the search has run; Enter runs it.
    await wait_until(pilot, lambda: commands.option_count > 0 and commands.highlighted == 0)
    await pilot.pause(0.3)  # let a slower provider finish ordering the hits
    assert query.lower() in str(commands.get_option_at_index(0).prompt).lower()
    await pilot.press("enter")
    await wait_until(pilot, lambda: not isinstance(pilot.app.screen, CommandPalette))
    await pilot.pause()


async def test_palette_toggles_and_presets(fake_factory, tmp_path) -> None:
    app = make_app(trainer_factory=fake_factory, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        titles = [title for title, _, _ in dashboard_commands(app.main_screen)]
        assert "Open run…" in titles and "Preset: gpt-cpu" in titles
        assert "Generation: pin / unpin the seed" in titles

        await run_command(pilot, "next smoothing")
        assert app.main_screen.chart_grid.view.smoothing == 0.6

        await run_command(pilot, "pin / unpin the seed")
        assert app.main_screen.generation.seed_pinned

        await run_command(pilot, "Preset: gpt-cpu")
        editor = app.query_one(ConfigEditor)
        assert editor.config is not None and editor.config.model == "gpt"

        await run_command(pilot, "Sweeps")
        assert type(app.screen).__name__ == "SweepsScreen"
        await pilot.press("escape")
        await wait_until(pilot, lambda: type(app.screen).__name__ != "SweepsScreen")

        await run_command(pilot, "Open run")
        assert type(app.screen).__name__ == "RunBrowser"
