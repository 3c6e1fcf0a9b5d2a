"""Keys that steer the dashboard's view: chart metrics, smoothing, x axis and zoom; the
editor's field filter and presets.

A mixin of :class:`tui.app.Dashboard`, so the app module stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.screens.metric_picker import MetricPicker
from tui.widgets.metric_grid import METRICS

if TYPE_CHECKING:
    from tui.app import Dashboard

    _Base = Dashboard
else:
    _Base = object


class ViewKeysMixin(_Base):
    """Chart view, config field filter and presets."""

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
