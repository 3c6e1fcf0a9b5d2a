"""Every mark on the charts is named in a legend, and told apart by its symbol, not only by
its colour: epoch boundaries ┊, live config changes ┃, the value cursor │. Before, the vertical
lines had no legend in the dashboard (only ``plot --png`` explained them), and with NO_COLOR an
epoch line and a live change were the same grey-less │."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual.app import App, ComposeResult

from tui.dashboard.widgets.charts.base import CHANGE, CURSOR, EPOCH, legend_text
from tui.dashboard.widgets.charts.loss_chart import LossChart
from tui.dashboard.widgets.charts.metric_chart import MetricChart


class Charts(App[None]):
    def compose(self) -> ComposeResult:
        yield LossChart(id="loss")
        yield MetricChart(id="metric")


def plain(text) -> str:
    console = Console(width=200, file=io.StringIO(), color_system=None, record=True)
    console.print(text)
    return console.export_text()


def body_rows(text: str) -> list[str]:
    """The rows inside the chart's frame (between ┌ and └)."""
    rows = text.splitlines()
    top = next(i for i, r in enumerate(rows) if "┌" in r)
    bottom = next(i for i, r in enumerate(rows) if "└" in r)
    left, right = rows[top].index("┌"), rows[top].index("┐")
    return [r[left + 1 : right] for r in rows[top + 1 : bottom]]


async def draw_marked(app: Charts, cursor: int | None = None) -> tuple[LossChart, MetricChart]:
    loss, metric = app.query_one(LossChart), app.query_one(MetricChart)
    loss.add_steps([(s, 4.0 - s / 100) for s in range(1, 301)])
    for step in (100, 200, 300):
        loss.add_eval(step, 4.1 - step / 100)
        metric.add_eval(step, 50.0 - step / 10, 5.0 - step / 100)
    loss.add_epoch(150)
    metric.add_epoch(150)
    loss.add_change(220)
    loss.view.cursor = metric.view.cursor = cursor
    loss.redraw_if_dirty()
    metric.redraw_if_dirty()
    return loss, metric


@pytest.mark.parametrize("no_color", [False, True])
async def test_marks_are_named_in_a_legend_with_their_symbols(monkeypatch, no_color) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    app = Charts()
    async with app.run_test(size=(100, 40)) as pilot:
        loss, metric = await draw_marked(app)
        await pilot.pause()
        assert app.no_color == no_color
        loss_text, metric_text = plain(loss.render()), plain(metric.render())
        last = loss_text.rstrip("\n").splitlines()[-1]
        assert "┊ epochs" in last and "┃ live changes" in last and "step" in last
        assert "┊ epochs" in metric_text.rstrip("\n").splitlines()[-1]
        assert "live changes" not in metric_text  # the metric chart draws no live changes
        # On the chart itself each mark is a column of its own symbol: no colour needed.
        rows = body_rows(loss_text)
        epoch_cols = {r.index("┊") for r in rows if "┊" in r}
        change_cols = {r.index("┃") for r in rows if "┃" in r}
        assert len(epoch_cols) == 1 and len(change_cols) == 1 and epoch_cols != change_cols
        # A whole column, bar where a curve crosses it (the curves are drawn over the marks).
        assert sum("┊" in r for r in rows) >= len(rows) - 3
        # What the terminal shows: the legend is on screen in both modes.
        screen = plain(app.screen._compositor.render_update(full=True))
        assert "┃ live changes" in screen and "┊ epochs" in screen


async def test_legend_symbols_take_their_mark_colour() -> None:
    app = Charts()
    async with app.run_test(size=(100, 40)) as pilot:
        loss, _ = await draw_marked(app, cursor=120)
        await pilot.pause()
        rendered = loss.render()
        last_row = rendered.plain.rstrip("\n").rfind("\n") + 1
        for mark in (EPOCH, CHANGE, CURSOR):
            at = rendered.plain.index(f"{mark.symbol} {mark.name}", last_row)
            colours = {
                span.style.color.triplet
                for span in rendered.spans
                if span.start <= at < span.end and span.style.color  # type: ignore[union-attr]
            }
            assert tuple(mark.color) in {tuple(c) for c in colours if c}, mark


async def test_no_marks_no_legend() -> None:
    app = Charts()
    async with app.run_test(size=(100, 40)) as pilot:
        loss = app.query_one(LossChart)
        loss.add_steps([(s, 4.0 - s / 100) for s in range(1, 50)])
        loss.redraw_if_dirty()
        await pilot.pause()
        text = plain(loss.render())
        assert "epochs" not in text and "live changes" not in text
        assert text.rstrip("\n").splitlines()[-1].strip() == "step"


def test_legend_fits_a_narrow_chart() -> None:
    marks = [EPOCH, CHANGE, CURSOR]
    assert legend_text(marks, "step", 80) == "step · ┊ epochs · ┃ live changes · │ cursor"
    assert legend_text(marks, "step", 40) == "┊ epochs · ┃ live changes · │ cursor"
    assert legend_text(marks, None, 33) == "┊ epochs · ┃ changes · │ cursor"
    assert legend_text(marks, None, 24) == "┊ epochs · ┃ changes"
    assert legend_text([], "step", 10) == "step"
    assert legend_text(marks, None, 4) is None
