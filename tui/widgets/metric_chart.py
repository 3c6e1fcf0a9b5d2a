"""MetricChart: validation perplexity, or bits per character, against step (a toggle).

Fed by evaluation events only (a few per run), redrawn from the app's refresh timer.
"""

from __future__ import annotations

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from tui.widgets.loss_chart import log_axis, safe_render, step_ticks, thin

PPL_COLOR = (110, 220, 120)
BPC_COLOR = (230, 220, 90)
EPOCH_COLOR = (120, 120, 120)


class MetricChart(PlotextPlot):
    """Perplexity (exp of val loss) or bits per char (val loss / ln 2) per evaluation."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.steps: list[int] = []
        self.perplexity: list[float] = []
        self.bits_per_char: list[float] = []
        self.epoch_steps: list[int] = []
        self.show_bits = False
        self.log_scale = False
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
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"val {self.metric_name}" + (" · log" if self.log_scale else ""))
        plt.xlabel("step")
        if self.steps:
            ticks = step_ticks(self.steps[0], self.steps[-1])
            plt.xticks(ticks, [str(t) for t in ticks])
            values = self.bits_per_char if self.show_bits else self.perplexity
            if self.log_scale:
                (values,) = log_axis(plt, values)
            color = BPC_COLOR if self.show_bits else PPL_COLOR
            plt.plot(self.steps, values, color=color, label=self.metric_name, marker="dot")
        for step in thin(self.epoch_steps):
            plt.vline(step, EPOCH_COLOR)
        self.refresh()
        return True

    def render(self) -> RenderResult:
        return safe_render(self)
