"""Regenerating on fixed weights: a new sample each time, the same one with the seed pinned."""

from __future__ import annotations

from conftest import wait_until
from textual.widgets import Label

from engine.config.schema import RunConfig
from tui.dashboard.launch import make_app
from tui.dashboard.widgets.generation_pane import GenerationPane


async def _generate(pilot, pane: GenerationPane) -> str:
    before = pane._generation_id
    await pilot.press("g")
    await wait_until(pilot, lambda: pane._generation_id > before and pane.state == "done")
    return pane.output


async def test_regenerate_new_text_unless_seed_pinned(tiny_config: RunConfig, fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    app.session.initial_config = tiny_config.model_copy(update={"max_steps": 100_000})
    async with app.run_test(size=(120, 40)) as pilot:
        # Fixed weights: a paused run's snapshot does not change between generations.
        await pilot.press("s")
        await wait_until(pilot, lambda: app.session.stats.state == "running")
        await pilot.press("p")
        await wait_until(pilot, lambda: app.session.stats.state == "paused")
        pane = app.query_one(GenerationPane)
        await pilot.press("less_than_sign", "less_than_sign", "less_than_sign")
        assert pane.length == 50
        settings = app.query_one("#gen-settings", Label)
        assert "length 50" in str(settings.render())

        first = await _generate(pilot, pane)
        second = await _generate(pilot, pane)
        assert len(first) == len(second) == 50
        assert first != second, "unpinned: each g draws a new sample"

        # The top-5 line follows the text it describes, without pressing c.
        await wait_until(pilot, lambda: bool(pane.candidates))
        assert str(app.query_one("#gen-candidates", Label).render()).startswith("next: ")

        await pilot.press("k")
        assert pane.seed_pinned
        assert f"seed {pane.seed} (pinned)" in str(settings.render())
        pinned = await _generate(pilot, pane)
        assert pinned == second, "pinned: the seed of the last sample is reused"
        assert await _generate(pilot, pane) == pinned

        await pilot.press("k")
        assert await _generate(pilot, pane) != pinned
        await pilot.press("x")
        await wait_until(pilot, lambda: app.session.stats.state == "stopped")
