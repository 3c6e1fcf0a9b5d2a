"""MetricChart: validation perplexity, or bits per character, against step (a toggle).

Fed by evaluation events only (a few per run), redrawn from the app's refresh timer. It
follows the grid's shared x axis and zoom (not its smoothing: evaluations are already means
over many windows) and shows the value at the last point in its title.
"""

from __future__ import annotations

from textual.app import RenderResult

from tui.dashboard.widgets.charts.base import ChartBase
from tui.dashboard.widgets.charts.loss_chart import CURSOR_COLOR, log_axis, safe_render, thin
from tui.dashboard.widgets.charts.view import (
    ChartView,
    StepClock,
    format_value,
    value_at,
    window,
    x_ticks,
)

PPL_COLOR = (110, 220, 120)
BPC_COLOR = (230, 220, 90)
EPOCH_COLOR = (120, 120, 120)


class MetricChart(ChartBase):
    """Perplexity (exp of val loss) or bits per char (val loss / ln 2) per evaluation."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.steps: list[int] = []
        self.perplexity: list[float] = []
        self.bits_per_char: list[float] = []
        self.epoch_steps: list[int] = []
        self.show_bits = False
        self.log_scale = False
        self.view = ChartView()  # the grid hands every chart the same view and clock
        self.clock = StepClock()
        self._dirty = True

    def mark_dirty(self) -> None:
        """Redraw on the next tick (the shared view changed)."""
        self._dirty = True

    def reset(self) -> None:
        """Forget every point (a new run starts)."""
        for series in (self.steps, self.perplexity, self.bits_per_char, self.epoch_steps):
            series.clear()
        self._dirty = True

    def add_eval(self, step: int, perplexity: float, bits_per_char: float) -> None:
        """Append one evaluation's metrics."""
        self.steps.append(step)
        self.perplexity.append(perplexity)
        self.bits_per_char.append(bits_per_char)
        self._dirty = True

    def add_epoch(self, step: int) -> None:
        """Mark an epoch boundary after ``step``."""
        self.epoch_steps.append(step)
        self._dirty = True

    def set_bits(self, on: bool) -> None:
        """Show bits per char (True) or perplexity (False)."""
        self.show_bits = on
        self._dirty = True

    def set_log_scale(self, on: bool) -> None:
        """Switch the y axis between linear and log."""
        self.log_scale = on
        self._dirty = True

    @property
    def metric_name(self) -> str:
        return "bits/char" if self.show_bits else "perplexity"

    def redraw_if_dirty(self) -> bool:
        """Rebuild the plot when data changed since the last redraw; True when it did."""
        if not self._dirty:
            return False
        self._dirty = False
        axis = self.view.x_axis
        all_values = self.bits_per_char if self.show_bits else self.perplexity
        last = self.steps[-1] if self.steps else 0
        steps, values = window(self.steps, all_values, self.view.last_n, last)
        at = self.view.cursor
        shown = format_value(value_at(steps, values, at))
        where = f"@{at} " if at is not None else ""
        title = f"{where}val {self.metric_name} {shown}" + (" · log" if self.log_scale else "")
        plt = self.begin(title, axis, empty=not (steps or self.epoch_steps or at is not None))
        if plt is None:
            return True
        if steps:
            xs = self.clock.x(steps, axis)
            x_ticks(plt, xs, axis)
            if self.log_scale:
                (values,) = log_axis(plt, values)
            color = BPC_COLOR if self.show_bits else PPL_COLOR
            plt.plot(xs, values, color=color, label=self.metric_name, marker="dot")
        first = steps[0] if steps else 0
        for step in thin([s for s in self.epoch_steps if s >= first]):
            plt.vline(self.clock.x([step], axis)[0], EPOCH_COLOR)
        if at is not None:
            plt.vline(self.clock.x([at], axis)[0], CURSOR_COLOR)
        self.refresh()
        return True

    def render(self) -> RenderResult:
        return safe_render(self)
