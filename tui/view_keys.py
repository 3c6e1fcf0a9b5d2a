"""Keys that steer the dashboard's view: the editor's field filter and presets.

A mixin of :class:`tui.app.Dashboard`, so the app module stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.app import Dashboard

    _Base = Dashboard
else:
    _Base = object


class ViewKeysMixin(_Base):
    """Config field filter and presets."""

    def action_find_field(self) -> None:
        """Bring the Config tab forward with the cursor in its filter box."""
        self.tabs.active = "config"
        self.editor.focus_filter()

    def action_preset(self, name: str) -> None:
        """Load preset ``name`` into the editor (the command palette offers each)."""
        self.tabs.active = "config"
        self.editor.load_preset(name)
