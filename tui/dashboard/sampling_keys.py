"""The generation pane's keys: sampling settings, strategy and next-character candidates.

A mixin of :class:`tui.dashboard.app.Dashboard`. Each key brings the Generate tab forward, so the
changed value (or the candidates line) is in view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.dashboard.app import Dashboard

    _Base = Dashboard
else:
    _Base = object


class SamplingKeysMixin(_Base):
    """Temperature, top-k, top-p, strategy, min-p, repetition penalty, length, seed pin,
    candidates."""

    def action_temperature(self, direction: int) -> None:
        self.tabs.active = "generate"
        self.generation.change_temperature(0.1 * direction)

    def action_top_k(self, direction: int) -> None:
        self.tabs.active = "generate"
        self.generation.change_top_k(direction)

    def action_top_p(self, direction: int) -> None:
        self.tabs.active = "generate"
        self.generation.change_top_p(0.05 * direction)

    def action_strategy(self) -> None:
        self.tabs.active = "generate"
        self.generation.cycle_strategy()

    def action_min_p(self) -> None:
        self.tabs.active = "generate"
        self.generation.cycle_min_p()

    def action_repetition(self) -> None:
        self.tabs.active = "generate"
        self.generation.cycle_repetition()

    def action_candidates(self) -> None:
        self.tabs.active = "generate"
        self.generation.show_candidates()

    def action_length(self, direction: int) -> None:
        self.tabs.active = "generate"
        self.generation.change_length(direction)

    def action_pin_seed(self) -> None:
        self.tabs.active = "generate"
        self.generation.toggle_seed_pin()
