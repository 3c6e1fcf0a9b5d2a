"""The charts' empty state is drawn without plotext, and exactly as plotext draws it: the
dashboard's first frame does not wait for plotext, and nothing moves when plotext loads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plotext._dict import themes
from textual_plotext.plot import Plot, _rgbify_theme, _sequence

from tui.dashboard.widgets.charts.base import empty_chart

# What the charts' titles are made of: "@120 loss 1.234 · val 1.5 · log", "trainer CPU % —".
TITLE_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789 .,:/%()@—·-+eE"
LABELS = [None, "step", "wall time (s)", "tokens seen"]
rgb = st.tuples(*[st.integers(0, 255)] * 3)


def plotext_empty(
    width: int, height: int, title: str, x_label: str | None, canvas: tuple, ink: tuple
) -> str:
    name = "test-{}-{}-{}-{}-{}-{}".format(*canvas, *ink)
    themes[name] = _rgbify_theme(canvas, canvas, ink, "default", _sequence)
    plot = Plot()
    plot.clear_data()
    plot.clear_figure()
    plot.title(title)
    if x_label:
        plot.xlabel(x_label)
    plot.plotsize(width, height)
    plot._set_size(width, height)
    plot.theme(name)
    return plot.build()


@settings(max_examples=300, deadline=None)
@given(
    width=st.integers(1, 240),
    height=st.integers(1, 70),
    title=st.text(TITLE_CHARS, min_size=0, max_size=60),
    x_label=st.sampled_from(LABELS),
    canvas=rgb,
    ink=rgb,
)
def test_the_copy_is_plotext_or_declines(width, height, title, x_label, canvas, ink) -> None:
    copy = empty_chart(width, height, title, x_label, canvas, ink)
    if copy is not None:
        assert copy == plotext_empty(width, height, title, x_label, canvas, ink)


@pytest.mark.parametrize(
    ("width", "height", "title", "x_label"),
    [
        (72, 17, "loss —", "step"),  # the dashboard at 120x40
        (72, 17, "val perplexity —", "step"),
        (37, 9, "trainer CPU % —", None),  # short charts spend no row on the axis name
        (21, 5, "abcd", None),  # an odd width centres to the left, as plotext
        (8, 5, "abcdef", "step"),  # the widest title that fits
    ],
)
def test_the_dashboards_sizes_are_copied(width, height, title, x_label) -> None:
    canvas, ink = (30, 30, 30), (224, 224, 224)
    copy = empty_chart(width, height, title, x_label, canvas, ink)
    assert copy is not None
    assert copy == plotext_empty(width, height, title, x_label, canvas, ink)


async def test_a_size_the_copy_declines_is_drawn_by_plotext() -> None:
    from textual.app import App, ComposeResult

    from tui.dashboard.widgets.charts.series_chart import SeriesChart

    class Tiny(App[None]):
        CSS = "SeriesChart { width: 12; height: 3; }"  # no room for title, frame and a row

        def compose(self) -> ComposeResult:
            yield SeriesChart("lr", (200, 90, 200))

    app = Tiny()
    async with app.run_test() as pilot:
        chart = app.query_one(SeriesChart)
        chart.redraw_if_dirty()
        await pilot.pause()
        assert empty_chart(12, 3, "lr —", None, (0, 0, 0), (1, 1, 1)) is None
        text = chart.render()
        assert "lr —" in text.plain and chart._plot is not None  # plotext drew it


@pytest.mark.parametrize("points", [[], [(1, 2.0), (2, 1.5), (3, 1.2)]], ids=["empty", "data"])
async def test_the_axis_name_follows_the_height_the_chart_is_drawn_at(points) -> None:
    """The x axis's name costs a row, so only a tall chart shows it; a chart that grows (the
    terminal, or a neighbour's layout, changed) shows it at once, before its next redraw."""
    from textual.app import App, ComposeResult

    from tui.dashboard.widgets.charts.series_chart import SeriesChart
    from tui.dashboard.widgets.charts.view import LABEL_MIN_HEIGHT

    class Growing(App[None]):
        CSS = f"SeriesChart {{ width: 40; height: {LABEL_MIN_HEIGHT - 1}; }}"

        def compose(self) -> ComposeResult:
            yield SeriesChart("lr", (200, 90, 200))

    def last_row(chart: SeriesChart) -> str:
        return chart.render().plain.rstrip("\n").split("\n")[-1].strip()

    app = Growing()
    async with app.run_test() as pilot:
        chart = app.query_one(SeriesChart)
        chart.add(points)
        chart.redraw_if_dirty()
        await pilot.pause()
        assert last_row(chart) != "step"
        chart.styles.height = LABEL_MIN_HEIGHT + 4
        await pilot.pause()
        assert chart.size.height == LABEL_MIN_HEIGHT + 4
        assert last_row(chart) == "step"  # no redraw in between
        chart.styles.height = LABEL_MIN_HEIGHT - 2
        await pilot.pause()
        assert last_row(chart) != "step"
