"""The dashboard driving the real Trainer on a tiny config, then reopening the run."""

from __future__ import annotations

from pathlib import Path

from conftest import wait_until
from textual.widgets import Input, Label

from engine import events as ev
from engine.config.schema import RunConfig
from tui.dashboard.launch import make_app


async def test_real_training_story(tiny_config: RunConfig, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    app = make_app(runs_dir=runs)
    app.session.initial_config = tiny_config.model_copy(
        update={"max_steps": 20_000, "eval_interval": 25}
    )
    async with app.run_test(size=(120, 40)) as pilot:
        # A typo is caught as typed and blocks start; fixing it unblocks it.
        box = app.query_one("#field-seq_length", Input)
        box.focus()
        await pilot.press("end", "backspace", "backspace", "1")
        assert "must be an integer in [2, 4096]" in str(
            app.main_screen.editor.errors["seq_length"].render()
        )
        await pilot.press("escape", "s")
        assert app.session.stats.state == "idle"
        box.focus()
        await pilot.press("6", "escape", "s")

        await wait_until(pilot, lambda: app.session.stats.state == "running", timeout=60)
        await wait_until(pilot, lambda: len(app.main_screen.loss_chart.val_steps) >= 2, timeout=60)
        assert app.session.stats.n_params and app.session.stats.device == "cpu"
        assert app.main_screen.pager.samples, "a sample is taken at each evaluation"
        assert app.main_screen.loss_chart.train_loss[-1] < app.main_screen.loss_chart.train_loss[0]

        # Generate from a copy of the live weights while training keeps going.
        pane = app.main_screen.generation
        pane.length = 30
        await pilot.press("left_square_bracket", "g")
        assert pane.temperature == 0.7
        step_at_generate = app.session.stats.step
        await wait_until(pilot, lambda: pane.state == "done", timeout=30)
        assert len(pane.output) == 30
        assert "temperature 0.7" in str(app.query_one("#gen-settings", Label).render())
        await wait_until(pilot, lambda: app.session.stats.step > step_at_generate, timeout=30)
        assert app.session.stats.state == "running"

        await pilot.press("p")
        await wait_until(pilot, lambda: app.session.stats.state == "paused", timeout=30)
        await pilot.press("p")
        await wait_until(pilot, lambda: app.session.stats.state == "running", timeout=30)
        await pilot.press("x")
        await wait_until(pilot, lambda: app.session.stats.state == "stopped", timeout=60)
        assert isinstance(app.session.terminal_event, ev.RunFinished)
        assert app.session.terminal_event.reason == "stopped"
        run_dir = runs / app.session.stats.run_id
        assert (run_dir / "latest.pt").is_file()
        assert (run_dir / "events.jsonl").is_file()

    # Reopen the run: history is replayed into the charts, generation uses the checkpoint.
    reopened = make_app(run=str(run_dir), runs_dir=runs)
    async with reopened.run_test(size=(120, 40)) as pilot:
        assert reopened.main_screen.loss_chart.val_steps == app.main_screen.loss_chart.val_steps
        assert reopened.main_screen.tabs.active == "generate"
        reopened.main_screen.generation.length = 20
        await pilot.press("g")
        await wait_until(pilot, lambda: reopened.main_screen.generation.state == "done", timeout=30)
        assert reopened.main_screen.generation.source_name.startswith("checkpoint")


async def test_bad_corpus_is_shown_in_app(tiny_config: RunConfig, tmp_path: Path) -> None:
    app = make_app(runs_dir=tmp_path / "runs")
    app.session.initial_config = tiny_config.model_copy(
        update={"data_file": str(tmp_path / "nope.txt")}
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.session.stats.state == "failed", timeout=60)
        assert isinstance(app.session.terminal_event, ev.RunFailed)
        assert any(n.severity == "error" for n in app._notifications)
