"""SeriesChart: one per-step metric (learning rate, gradient norm, tokens/s, CPU, memory).

Points arrive by step and only mark the chart dirty; the app's refresh timer redraws it. It
follows the grid's shared view: smoothing (an EMA), x axis (step, wall time, tokens seen)
and the last-N-steps zoom; the title shows the value at the last point.
"""

from __future__ import annotations

from textual.app import RenderResult

from tui.dashboard.widgets.charts.base import ChartBase
from tui.dashboard.widgets.charts.loss_chart import (
    CURSOR_COLOR,
    bucket_means,
    log_axis,
    safe_render,
)
from tui.dashboard.widgets.charts.view import (
    ChartView,
    Smoothed,
    StepClock,
    format_value,
    value_at,
    window,
    x_ticks,
    y_ticks,
)


class SeriesChart(ChartBase):
    """A titled line of (step, value) points in one colour."""

    def __init__(
        self,
        title: str,
        color: tuple[int, int, int],
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.color = color
        self.steps: list[int] = []
        self.values: list[float] = []
        self.view = ChartView()  # the grid hands every chart the same view and clock
        self.clock = StepClock()
        self.log_scale = False
        self.redraws = 0
        self.smoothed = Smoothed()
        self._dirty = True

    def reset(self) -> None:
        """Forget every point (a new run starts)."""
        self.steps.clear()
        self.values.clear()
        self.smoothed.clear()
        self._dirty = True

    def add(self, points: list[tuple[int, float]]) -> None:
        """Append (step, value) points; non-finite values cannot be drawn and are skipped."""
        for step, value in points:
            if value == value and abs(value) != float("inf"):
                self.steps.append(step)
                self.values.append(value)
        self._dirty = self._dirty or bool(points)

    def mark_dirty(self) -> None:
        """Redraw on the next tick (the shared view changed)."""
        self._dirty = True

    def set_log_scale(self, on: bool) -> None:
        """Switch the y axis between linear and log."""
        self.log_scale = on
        self._dirty = True

    @property
    def last_value(self) -> float | None:
        """The value at the last point as drawn (smoothed when smoothing is on)."""
        if not self.values:
            return None
        return self.smoothed.of(self.values, self.view.smoothing)[-1]

    def redraw_if_dirty(self) -> bool:
        """Rebuild the plot when data or view changed since the last redraw."""
        if not self._dirty or not self.display:  # hidden charts redraw when shown
            return False
        self._dirty = False
        self.redraws += 1
        view, axis = self.view, self.view.x_axis
        smoothed = self.smoothed.of(self.values, view.smoothing)
        last = self.steps[-1] if self.steps else 0
        steps, values = window(self.steps, smoothed, view.last_n, last)
        at = view.cursor
        shown = format_value(value_at(steps, values, at))
        where = f"@{at} " if at is not None else ""
        # Short: plotext drops a title wider than the chart (the view line says the rest).
        title = f"{where}{self.title} {shown}" + (" · log" if self.log_scale else "")
        plt = self.begin(title, axis, empty=not (steps or at is not None))
        if plt is None:
            return True
        steps, values = bucket_means(steps, values)
        if steps:
            xs = self.clock.x(steps, axis)
            x_ticks(plt, xs, axis)
            if self.log_scale:
                (values,) = log_axis(plt, values)
            else:
                y_ticks(plt, values)
            plt.plot(xs, values, color=self.color, marker="braille")
        if at is not None:
            plt.vline(self.clock.x([at], axis)[0], CURSOR_COLOR)
        self.refresh()
        return True

    def render(self) -> RenderResult:
        return safe_render(self)
