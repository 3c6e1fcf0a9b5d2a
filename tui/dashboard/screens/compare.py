"""CompareScreen: marked runs side by side, as ``llmv0 compare`` shows them.

A table of only the config fields that differ (live changes with their steps), a table of
best/final metrics, and an overlay of one metric where each run has its own marker, named
in the legend, so the chart reads without colour. m cycles the metric; Esc goes back.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from engine.experiments.records import (
    METRICS,
    RunRecord,
    config_diff,
    metric_series,
    metric_summary,
)
from tui.dashboard.screens.dismiss_once import DismissOnce
from tui.shared.overlay_plot import Series, marker_of, overlay_plot

CSS_FILE = Path(__file__).parent / "experiments.tcss"


class RecordsLoaded(Message):
    """The worker read the runs' histories (``error`` is a sentence when it could not)."""

    def __init__(self, records: list[RunRecord], error: str = "") -> None:
        super().__init__()
        self.records = records
        self.error = error


class ChartDrawn(Message):
    """The plot worker drew ``metric``'s overlay (``text``) for the chart."""

    def __init__(self, metric: str, text: Text | str) -> None:
        super().__init__()
        self.metric = metric
        self.text = text


class CompareScreen(DismissOnce, ModalScreen[None]):
    """Runs compared: differing config fields, metrics, and one metric overlaid."""

    CSS_PATH = CSS_FILE
    BINDINGS = [  # noqa: RUF012 (Textual's own idiom)
        Binding("escape,q", "close", "Back"),
        Binding("m", "next_metric", "Metric"),
    ]

    def __init__(self, folders: list[Path], metric: str = "val_loss") -> None:
        super().__init__()
        self.folders = folders
        self.metric = metric
        self.records: list[RunRecord] = []
        self.loaded = False  # the tables and the first chart are shown (or why they cannot be)

    def compose(self) -> ComposeResult:
        with Vertical(id="compare-box"):
            yield Label(f"Comparing {len(self.folders)} runs (reading…)", id="compare-title")
            yield DataTable(id="compare-diff", cursor_type="none", zebra_stripes=True)
            yield DataTable(id="compare-metrics", cursor_type="none")
            yield Static(id="compare-chart")
            yield Label("m next metric · Esc back", classes="experiments-hint")

    def on_mount(self) -> None:
        self._read()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _read(self) -> None:
        from engine.experiments.records import run_record
        from engine.run.summary import load_history

        try:
            records = [run_record(f, load_history(f)) for f in self.folders]
            self.post_message(RecordsLoaded(records))
        except Exception as exc:  # an unreadable run: say so instead of a traceback
            self.post_message(RecordsLoaded([], f"{type(exc).__name__}: {exc}"))

    def on_records_loaded(self, message: RecordsLoaded) -> None:
        self.records = message.records
        title = self.query_one("#compare-title", Label)
        if message.error:
            title.update(Text(f"Cannot read these runs: {message.error}"))
            self.loaded = True
            return
        names = ", ".join(f"{marker_of(i)} {r.name}" for i, r in enumerate(self.records))
        title.update(Text(f"Comparing {names}"))
        heads = [Text(f"{marker_of(i)} {r.name}") for i, r in enumerate(self.records)]
        diff = self.query_one("#compare-diff", DataTable)
        diff.clear(columns=True)
        diff.add_columns("field", *heads)
        rows = config_diff(self.records)
        for name, cells in rows:
            # Text, not str: DataTable reads a str as markup, and values are user data.
            diff.add_row(name, *(Text(c) for c in cells))
        if not rows:
            diff.add_row("(none)", *("same config" for _ in self.records))
        metrics = self.query_one("#compare-metrics", DataTable)
        metrics.clear(columns=True)
        metrics.add_columns("metric", *heads)
        for label, cells in metric_summary(self.records):
            metrics.add_row(label, *cells)
        self.call_after_refresh(self.draw)  # after layout, so the chart fills its width

    def diff_rows(self) -> list[tuple[str, list[str]]]:
        """The diff table's content (what a test reads)."""
        return config_diff(self.records)

    def draw(self) -> None:
        """Redraw the overlay for the current metric at the chart's size, in a worker: the
        series and the plot of long histories took seconds, and keys waited for them."""
        if not self.records:
            self.loaded = True
            return
        chart = self.query_one("#compare-chart", Static)
        width = max(40, chart.size.width or 100)
        height = max(8, chart.size.height or 16)
        self._plot(self.records, self.metric, width, height)

    @work(thread=True, exclusive=True, exit_on_error=False, group="plot")
    def _plot(self, records: list[RunRecord], metric: str, width: int, height: int) -> None:
        series = [Series(r.name, *metric_series(r.history, metric)) for r in records]
        if not any(s.steps for s in series):
            text: Text | str = f"No {metric} values in these runs: m shows another metric."
        else:
            text = Text(overlay_plot(series, f"{metric} by step (m: next metric)", width, height))
        self.post_message(ChartDrawn(metric, text))

    def on_chart_drawn(self, message: ChartDrawn) -> None:
        if message.metric == self.metric:  # else a newer metric's plot is coming
            self.query_one("#compare-chart", Static).update(message.text)
            self.loaded = True

    def on_resize(self) -> None:
        self.draw()

    def action_next_metric(self) -> None:
        names = list(METRICS)
        self.metric = names[(names.index(self.metric) + 1) % len(names)]
        self.draw()

    def action_close(self) -> None:
        self.dismiss(None)
