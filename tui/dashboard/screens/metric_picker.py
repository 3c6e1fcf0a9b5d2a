"""MetricPicker: choose which metrics the chart grid shows (space toggles, Enter applies)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, SelectionList
from textual.widgets.selection_list import Selection

from tui.dashboard.screens.dismiss_once import DismissOnce


class MetricPicker(DismissOnce, ModalScreen[tuple[str, ...] | None]):
    """A checklist of metrics; dismisses with the chosen keys (Enter) or None (Esc)."""

    BINDINGS = [  # noqa: RUF012 (Textual's own idiom)
        Binding("enter", "apply", "Apply", priority=True),
        Binding("escape,v", "cancel", "Cancel"),
    ]

    def __init__(self, metrics: dict[str, str], shown: tuple[str, ...]) -> None:
        super().__init__()
        self.metrics = metrics
        self.initially_shown = shown

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Label("Metrics on screen", id="picker-title")
            yield SelectionList[str](
                *(
                    Selection(label, key, key in self.initially_shown)
                    for key, label in self.metrics.items()
                ),
                id="picker-list",
            )
            yield Label("space toggles · Enter applies · Esc cancels", id="picker-hint")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_apply(self) -> None:
        chosen = self.query_one(SelectionList).selected
        self.dismiss(tuple(key for key in self.metrics if key in chosen))

    def action_cancel(self) -> None:
        self.dismiss(None)
