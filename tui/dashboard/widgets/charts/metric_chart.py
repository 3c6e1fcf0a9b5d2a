"""MetricChart: validation perplexity, or bits per character, against step (a toggle).

Fed by evaluation events only (a few per run), redrawn from the app's refresh timer. It
follows the grid's shared x axis and zoom (not its smoothing: evaluations are already means
over many windows) and shows the value at the last point in its title.
"""

from __future__ import annotations

from tui.dashboard.widgets.charts.base import EPOCH, ChartBase
from tui.dashboard.widgets.charts.loss_chart import thin
from tui.dashboard.widgets.charts.view import format_value, value_at, window, x_ticks

PPL_COLOR = (110, 220, 120)
BPC_COLOR = (230, 220, 90)


class MetricChart(ChartBase):
    """Perplexity (exp of val loss) or bits per char (val loss / ln 2) per evaluation."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.steps: list[int] = []
        self.perplexity: list[float] = []
        self.bits_per_char: list[float] = []
        self.epoch_steps: list[int] = []
        self.show_bits = False

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

    @property
    def metric_name(self) -> str:
        return "bits/char" if self.show_bits else "perplexity"

    def draw(self, axis: str, at: int | None) -> None:
        """The epoch marks, then the chosen metric per evaluation."""
        all_values = self.bits_per_char if self.show_bits else self.perplexity
        last = self.steps[-1] if self.steps else 0
        steps, values = window(self.steps, all_values, self.view.last_n, last)
        shown = format_value(value_at(steps, values, at))
        title = self.heading(f"val {self.metric_name} {shown}")
        plt = self.begin(title, axis, empty=not (steps or self.epoch_steps or at is not None))
        if plt is None:
            return
        xs = self.clock.x(steps, axis)
        x_ticks(plt, xs, axis)
        (values,) = self.y_axis(plt, values)
        first = steps[0] if steps else 0
        self.mark(plt, axis, thin([s for s in self.epoch_steps if s >= first]), EPOCH)
        if steps:
            color = BPC_COLOR if self.show_bits else PPL_COLOR
            plt.plot(xs, values, color=color, label=self.metric_name, marker="dot")
        self.finish(plt, axis, at)
