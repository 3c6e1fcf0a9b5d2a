"""SeriesChart: one per-step metric (learning rate, gradient norm, tokens/s, CPU, memory).

Points arrive by step and only mark the chart dirty; the app's refresh timer redraws it. It
follows the grid's shared view: smoothing (an EMA), x axis (step, wall time, tokens seen)
and the last-N-steps zoom; the title shows the value at the last point.
"""

from __future__ import annotations

from tui.dashboard.widgets.charts.base import ChartBase, log_axis
from tui.dashboard.widgets.charts.loss_chart import bucket_means
from tui.dashboard.widgets.charts.view import (
    Smoothed,
    format_value,
    value_at,
    window,
    x_ticks,
    y_ticks,
)


class SeriesChart(ChartBase):
    """A titled line of (step, value) points in one colour."""

    REDRAW_HIDDEN = False

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
        self.smoothed = Smoothed()

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

    @property
    def last_value(self) -> float | None:
        """The value at the last point as drawn (smoothed when smoothing is on)."""
        if not self.values:
            return None
        return self.smoothed.of(self.values, self.view.smoothing)[-1]

    def draw(self, axis: str, at: int | None) -> None:
        """The series (smoothed, bucketed) in its colour."""
        view = self.view
        smoothed = self.smoothed.of(self.values, view.smoothing)
        last = self.steps[-1] if self.steps else 0
        steps, values = window(self.steps, smoothed, view.last_n, last)
        shown = format_value(value_at(steps, values, at))
        title = self.heading(f"{self.title} {shown}")
        plt = self.begin(title, axis, empty=not (steps or at is not None))
        if plt is None:
            return
        steps, values = bucket_means(steps, values)
        if steps:
            xs = self.clock.x(steps, axis)
            x_ticks(plt, xs, axis)
            if self.log_scale:
                (values,) = log_axis(plt, values)
            else:
                y_ticks(plt, values)
            plt.plot(xs, values, color=self.color, marker="braille")
        self.finish(plt, axis, at)
