"""InspectPane: one Inspect view's drawing: the text (left, scrolls) and a side panel."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static


class InspectPane(Horizontal):
    """Shows a (main, side) pair of rich Texts; knows nothing about the views."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="inspect-main-scroll"):
            yield Static("", id="inspect-main")
        with VerticalScroll(id="inspect-side-scroll"):
            yield Static("", id="inspect-side")

    def on_mount(self) -> None:
        self.main = self.query_one("#inspect-main", Static)
        self.side = self.query_one("#inspect-side", Static)

    @property
    def text_width(self) -> int:
        """Cells available to the main text (a fallback before the first layout)."""
        width = self.query_one("#inspect-main-scroll").content_size.width
        return width - 1 if width > 10 else 60

    def show(self, main: Text, side: Text) -> None:
        self.main.update(main)
        self.side.update(side)
