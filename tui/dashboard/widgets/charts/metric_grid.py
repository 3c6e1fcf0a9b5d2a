"""MetricGrid: the dashboard's charts, the metrics the user chose, laid out in a grid.

Metrics: loss (:class:`LossChart`), validation perplexity or bits per char
(:class:`MetricChart`), and per-step series (learning rate, gradient norm, tokens/s, and the
trainer process's CPU and memory, sampled on the UI side at most every ``SYSTEM_SAMPLE_S``
while steps arrive, and off while the dashboard follows another process's run). Every chart
shares one :class:`ChartView` and one :class:`StepClock`; the line under them shows the view.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.widgets import Label

from engine import events as ev
from tui.dashboard.widgets.charts.loss_chart import LossChart
from tui.dashboard.widgets.charts.metric_chart import MetricChart
from tui.dashboard.widgets.charts.series_chart import SeriesChart
from tui.dashboard.widgets.charts.view import ChartView, StepClock, tokens_per_step

if TYPE_CHECKING:
    import psutil

SYSTEM_SAMPLE_S = 2.0  # psutil is cheap, but a step's worth of CPU every step is not

# key -> (label in the picker, chart title, colour) for the per-step series.
SERIES: dict[str, tuple[str, str, tuple[int, int, int]]] = {
    "lr": ("Learning rate", "learning rate", (200, 90, 200)),
    "grad_norm": ("Gradient norm", "grad norm", (240, 120, 90)),
    "tokens_per_s": ("Tokens/s", "tokens/s", (90, 200, 220)),
    "cpu": ("Trainer CPU %", "trainer CPU %", (230, 200, 80)),
    "memory": ("Trainer memory (MB)", "trainer RSS MB", (150, 150, 255)),
}
METRICS: dict[str, str] = {
    "loss": "Loss (train and validation)",
    "perplexity": "Validation perplexity / bits per char (b)",
    **{key: label for key, (label, _, _) in SERIES.items()},
}
DEFAULT_METRICS = ("loss", "perplexity")


class MetricGrid(Vertical):
    """The chosen charts (one column up to two charts, two columns above) and a view line."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = ChartView()
        self.clock = StepClock()
        self.shown: tuple[str, ...] = DEFAULT_METRICS
        self.sample_process = True  # False while the trainer is another process
        self._process: psutil.Process | None = None  # made at the first sample (below)
        self._sampled_at = 0.0

    def compose(self) -> ComposeResult:
        with Container(id="chart-cells"):
            yield LossChart(id="loss-chart")
            yield MetricChart(id="metric-chart")
            for key, (_, title, color) in SERIES.items():
                yield SeriesChart(title, color, id=f"chart-{key}", classes="series-chart")
        yield Label("", id="chart-view")

    def on_mount(self) -> None:
        self.loss_chart = self.query_one(LossChart)
        self.metric_chart = self.query_one(MetricChart)
        self.series = {key: self.query_one(f"#chart-{key}", SeriesChart) for key in SERIES}
        self.charts: dict[str, LossChart | MetricChart | SeriesChart] = {
            "loss": self.loss_chart,
            "perplexity": self.metric_chart,
            **self.series,
        }
        for chart in self.charts.values():
            chart.view, chart.clock = self.view, self.clock
        self._resets_seen = self.loss_chart.resets
        self._sampled_at = time.monotonic()
        self.show_metrics(self.shown)

    # --- what is on screen -------------------------------------------------------------
    def show_metrics(self, keys: Iterable[str]) -> None:
        """Show exactly these metrics (in METRICS order); an empty choice keeps the loss."""
        wanted = set(keys) & set(METRICS) or {"loss"}
        self.shown = tuple(key for key in METRICS if key in wanted)
        for key, chart in self.charts.items():
            chart.display = key in wanted
            chart.mark_dirty()
        cells = self.query_one("#chart-cells")
        cells.set_class(len(self.shown) > 2, "-two-columns")
        self._show_view()

    def toggle_metric(self, key: str) -> None:
        """Add a metric to the screen, or take it off."""
        shown = set(self.shown)
        self.show_metrics(shown - {key} if key in shown else shown | {key})

    def _changed_view(self) -> None:
        for chart in self.charts.values():
            chart.mark_dirty()
        self._show_view()

    def _show_view(self) -> None:
        self.query_one("#chart-view", Label).update(self.view.describe())

    def cycle_smoothing(self) -> None:
        """Next smoothing weight (off, 0.6 ... 0.99) for the per-step series."""
        self.view.cycle_smoothing()
        self._changed_view()

    def cycle_x_axis(self) -> None:
        """x axis: step → wall time → tokens seen."""
        self.view.cycle_x_axis()
        self._changed_view()

    def cycle_zoom(self) -> None:
        """Show the whole run, or only the last 100, 500, 2000, 10000 steps."""
        self.view.cycle_zoom()
        self._changed_view()

    def move_cursor(self, direction: int) -> None:
        """Move the value cursor back (-1) or forward (+1) over the steps on screen."""
        steps = self.loss_chart.train_steps or self.metric_chart.steps
        if not steps:
            return
        last = steps[-1]
        first = max(steps[0], last - self.view.last_n) if self.view.last_n else steps[0]
        self.view.move_cursor(direction, first, last)
        self._changed_view()

    def set_log_scale(self, on: bool) -> None:
        for chart in self.charts.values():
            chart.set_log_scale(on)

    # --- data ------------------------------------------------------------------------
    def _follow_reset(self) -> None:
        """Clear the other series when the loss chart was reset (a new run, or a run opened
        from the browser): one signal for every path, and steps drained before the run's
        RunStarted event are kept."""
        if self._resets_seen != self.loss_chart.resets:
            self._resets_seen = self.loss_chart.resets
            self.clock.reset()
            for chart in self.series.values():
                chart.reset()

    def start_run(self, event: ev.RunStarted) -> None:
        """A run (new, resumed or replayed) starts: learn its tokens per step."""
        self._follow_reset()
        self.clock.tokens_per_step = tokens_per_step(event.config)

    def add_steps(self, steps: list[ev.StepCompleted]) -> None:
        """Feed a drained batch of steps to every chart; sample the process when due."""
        if not steps:
            return
        self._follow_reset()
        for step in steps:
            self.clock.add(step.step, step.elapsed_s)
        self.loss_chart.add_steps([(s.step, s.loss) for s in steps])
        self.series["lr"].add([(s.step, s.lr) for s in steps])
        self.series["grad_norm"].add([(s.step, s.grad_norm) for s in steps])
        # 0 tokens/s means "not measured yet" (a compiling first step), not a real speed.
        speeds = [(s.step, s.tokens_per_s) for s in steps if s.tokens_per_s > 0]
        self.series["tokens_per_s"].add(speeds)
        self.sample_system(steps[-1].step)

    def sample_system(self, step: int) -> bool:
        """Record this process's CPU % and resident memory at ``step``, if due."""
        now = time.monotonic()
        if not self.sample_process or now - self._sampled_at < SYSTEM_SAMPLE_S:
            return False
        self._sampled_at = now
        # psutil takes ~45 ms to import: not before the first frame, and only once steps come.
        import psutil

        try:
            if self._process is None:
                # The first call only starts the measurement: CPU % is over the time since
                # steps began to arrive, not over the idle minutes before Start.
                self._process = psutil.Process()
                self._process.cpu_percent(None)
                cpu = None
            else:
                cpu = self._process.cpu_percent(None)
            rss_mb = self._process.memory_info().rss / 2**20
        except psutil.Error:  # the process table can refuse; the charts just skip a point
            return False
        if cpu is not None:
            self.series["cpu"].add([(step, cpu)])
        self.series["memory"].add([(step, rss_mb)])
        return True

    def redraw_if_dirty(self) -> None:
        """Timer: redraw the charts whose data or view changed."""
        self._follow_reset()
        for chart in self.charts.values():
            chart.redraw_if_dirty()
