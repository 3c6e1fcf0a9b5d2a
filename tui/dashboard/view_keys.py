"""Keys that steer the dashboard's view: chart metrics, smoothing, x axis, zoom, log scale
and bits; tabs, sample pages and the Inspect screen; the editor's field filter and presets.

A mixin of :class:`tui.dashboard.app.Dashboard`, so the app module stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.dashboard.screens.metric_picker import MetricPicker
from tui.dashboard.widgets.charts.metric_grid import METRICS

if TYPE_CHECKING:
    from tui.dashboard.app import Dashboard

    _Base = Dashboard
else:
    _Base = object


class ViewKeysMixin(_Base):
    """Chart view, tabs and pages, Inspect, config field filter and presets."""

    def action_pick_metrics(self) -> None:
        """Open the checklist of metrics; Enter shows the chosen ones."""

        def chosen(keys: tuple[str, ...] | None) -> None:
            if keys is not None:
                self.chart_grid.show_metrics(keys)

        if not isinstance(self.screen, MetricPicker):
            self.push_screen(MetricPicker(METRICS, self.chart_grid.shown), chosen)

    def action_toggle_metric(self, key: str) -> None:
        """Show or hide one metric's chart (the command palette offers each)."""
        self.chart_grid.toggle_metric(key)

    def action_smoothing(self) -> None:
        self.chart_grid.cycle_smoothing()

    def action_x_axis(self) -> None:
        self.chart_grid.cycle_x_axis()

    def action_zoom(self) -> None:
        self.chart_grid.cycle_zoom()

    def action_cursor(self, direction: int) -> None:
        self.chart_grid.move_cursor(direction)

    def action_find_field(self) -> None:
        """Bring the Config tab forward with the cursor in its filter box."""
        self.tabs.active = "config"
        self.editor.focus_filter()

    def action_preset(self, name: str) -> None:
        """Load preset ``name`` into the editor (the command palette offers each)."""
        self.tabs.active = "config"
        self.editor.load_preset(name)

    def action_page(self, direction: int) -> None:
        self.tabs.active = "samples"
        self.pager.page(direction)

    def action_log_scale(self) -> None:
        self.chart_grid.set_log_scale(not self.loss_chart.log_scale)

    def action_bits(self) -> None:
        metric = self.metric_chart
        metric.set_bits(not metric.show_bits)

    def action_tab(self, name: str) -> None:
        self.tabs.active = name

    def action_edit(self) -> None:
        self.tabs.active = "config"
        self.editor.focus_first_field()

    def action_inspect(self) -> None:
        """The Inspect screen over the live weights, else the opened run."""
        from tui.dashboard.screens.inspect import open_inspect

        open_inspect(self)
