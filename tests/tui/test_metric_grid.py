"""The metric grid: choosing metrics, smoothing, x axis and zoom change what is on screen."""

from __future__ import annotations

from conftest import wait_until
from test_snapshots import play_events, scripted_app

from engine.config.schema import RunConfig
from tui.dashboard.launch import make_app
from tui.dashboard.widgets.charts import metric_grid
from tui.dashboard.widgets.charts.metric_grid import MetricGrid
from tui.dashboard.widgets.charts.view import ChartView, StepClock, ema, tokens_per_step


def shown_text(chart) -> str:
    chart.redraw_if_dirty()
    return chart.render().plain


def test_ema_smooths_and_starts_unbiased() -> None:
    assert ema([1.0, 2.0], 0.0) == [1.0, 2.0]
    out = ema([4.0, 0.0, 4.0, 0.0], 0.9)
    assert out[0] == 4.0  # debiased: not pulled towards zero at the start
    assert max(out[1:]) - min(out[1:]) < 4.0 * 0.5


def test_clock_maps_steps_to_time_and_tokens() -> None:
    clock = StepClock()
    clock.tokens_per_step = tokens_per_step(
        {"batch_size": 4, "seq_length": 8, "grad_accum_steps": 2}
    )
    for step in range(1, 11):
        clock.add(step, step * 0.5)
    assert clock.x([2, 10], "time") == [1.0, 5.0]
    assert clock.x([2, 10], "tokens") == [128.0, 640.0]
    assert tokens_per_step({}) == RunConfig().batch_size * RunConfig().seq_length
    view = ChartView()
    view.cycle_x_axis()
    view.cycle_zoom()
    assert (view.x_axis, view.last_n) == ("time", 100)


async def test_choose_metrics_changes_the_screen() -> None:
    app = scripted_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await play_events(pilot)
        grid = app.query_one(MetricGrid)
        lr_chart = grid.series["lr"]
        assert grid.shown == ("loss", "perplexity") and not lr_chart.display

        # v opens the checklist; tick the learning rate (third row) and apply.
        await pilot.press("v")
        assert type(app.screen).__name__ == "MetricPicker"
        await pilot.press("down", "down", "space", "enter")
        await pilot.pause()
        assert grid.shown == ("loss", "perplexity", "lr")
        assert lr_chart.display and lr_chart.region.height > 5
        assert grid.query_one("#chart-cells").has_class("-two-columns")
        assert "learning rate 0.002" in shown_text(lr_chart)

        # Untick the perplexity: its chart leaves the screen.
        await pilot.press("v", "down", "space", "enter")
        await pilot.pause()
        assert grid.shown == ("loss", "lr") and not app.main_screen.metric_chart.display


async def test_smoothing_axis_and_zoom_change_the_charts() -> None:
    app = scripted_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await play_events(pilot)
        chart = app.main_screen.loss_chart
        raw = shown_text(chart)
        last = f"loss {chart.train_loss[-1]:.4g}"
        assert last in raw  # the last point's value, as a number

        await pilot.press("z", "z", "z")  # off -> 0.6 -> 0.8 -> 0.9
        view_line = str(app.query_one("#chart-view").render())
        assert "smooth 0.9" in view_line
        smoothed = shown_text(chart)
        assert smoothed != raw and last not in smoothed

        await pilot.press("a")
        assert "wall time (s)" in shown_text(chart) and "x time" in str(
            app.query_one("#chart-view").render()
        )
        await pilot.press("a")
        assert "tokens seen" in shown_text(chart)
        await pilot.press("a")  # back to steps

        before = shown_text(chart)
        assert " 1 " in before.splitlines()[-2] + " "  # the x axis starts at step 1
        await pilot.press("u")  # last 100 steps
        zoomed = shown_text(chart)
        assert "last 100 steps" in str(app.query_one("#chart-view").render())
        ticks = zoomed.splitlines()[-2].split()
        assert ticks[0] == "200" and ticks[-1] == "300"


async def test_trainer_cpu_and_memory_are_sampled(tiny_config, fake_factory, monkeypatch) -> None:
    monkeypatch.setattr(metric_grid, "SYSTEM_SAMPLE_S", 0.05)
    app = make_app(trainer_factory=fake_factory)
    app.session.initial_config = tiny_config.model_copy(update={"max_steps": 100_000})
    async with app.run_test(size=(120, 40)) as pilot:
        grid = app.query_one(MetricGrid)
        grid.show_metrics(["loss", "cpu", "memory"])
        await pilot.press("s")
        await wait_until(pilot, lambda: len(grid.series["memory"].values) >= 3)
        await pilot.press("p")
        await wait_until(pilot, lambda: app.session.stats.state == "paused")
        assert min(grid.series["memory"].values) > 10  # MB: a Python process with torch
        assert all(v >= 0 for v in grid.series["cpu"].values)
        assert "trainer RSS MB" in shown_text(grid.series["memory"])
        await pilot.press("x")
        await wait_until(pilot, lambda: app.session.stats.state == "stopped")


async def test_cursor_shows_the_values_at_a_step() -> None:
    app = scripted_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await play_events(pilot)
        chart = app.main_screen.loss_chart
        await pilot.press("shift+left")
        at = app.main_screen.chart_grid.view.cursor
        assert at is not None and at < 300
        expected = chart.train_loss[chart.train_steps.index(at)]
        assert f"@{at} loss {expected:.4g}" in shown_text(chart)
        assert f"cursor step {at}" in str(app.query_one("#chart-view").render())
        await pilot.press("shift+right")  # past the end: back to the last point
        assert app.main_screen.chart_grid.view.cursor is None
        assert f"loss {chart.train_loss[-1]:.4g}" in shown_text(chart)


async def test_a_new_run_clears_the_series_but_keeps_its_early_steps() -> None:
    from test_snapshots import scripted_events

    from engine import events as ev

    app = scripted_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await play_events(pilot)
        grid = app.query_one(MetricGrid)
        assert len(grid.series["lr"].values) == 300
        started, *_ = scripted_events()
        first = next(e for e in scripted_events() if isinstance(e, ev.StepCompleted))
        app.main_screen.loss_chart.reset()  # what starting or opening a run does
        # The trainer's first step can be drained before its RunStarted is applied.
        app.main_screen.apply_event(first)
        app.main_screen.apply_event(started)
        assert grid.series["lr"].steps == [1]
        assert grid.clock.steps == [1]


def test_incremental_smoothing_equals_the_full_ema() -> None:
    from tui.dashboard.widgets.charts.view import Smoothed

    values = [float((i * 7919) % 13) for i in range(500)]
    smoothed = Smoothed()
    assert smoothed.of(values[:100], 0.9) == ema(values[:100], 0.9)
    assert smoothed.of(values, 0.9) == ema(values, 0.9)  # extended, not recomputed
    assert smoothed.of(values, 0.6) == ema(values, 0.6)  # a new weight starts over
    assert smoothed.of(values, 0.0) is values


async def test_an_attached_run_is_not_sampled_as_the_trainer(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(metric_grid, "SYSTEM_SAMPLE_S", 0.0)
    app = scripted_app()
    async with app.run_test(size=(120, 40)) as pilot:
        grid = app.query_one(MetricGrid)
        app.session.attached = tmp_path  # another process trains: this process is not the trainer
        await play_events(pilot)
        assert grid.series["memory"].values == [] and grid.series["cpu"].values == []
        app.session.attached = None
        await play_events(pilot)
        assert grid.series["memory"].values
