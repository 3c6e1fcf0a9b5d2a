"""TooSmallScreen: shown instead of a broken layout when the terminal is under 80x24."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

MIN_WIDTH = 80
MIN_HEIGHT = 24


class TooSmallScreen(Screen[None]):
    """A centred notice with the current and needed size; the app pops it on resize."""

    BINDINGS = [Binding("q,ctrl+c", "app.quit", "Quit", priority=True)]  # noqa: RUF012

    def compose(self) -> ComposeResult:
        yield Static("", id="too-small")

    def on_mount(self) -> None:
        self.show_size(self.app.size.width, self.app.size.height)

    def show_size(self, width: int, height: int) -> None:
        """Say how big the terminal is and how big it must be."""
        self.query_one("#too-small", Static).update(
            f"Terminal too small: {width}x{height}.\n"
            f"llmv0-tui needs at least {MIN_WIDTH}x{MIN_HEIGHT}.\n"
            "Enlarge the window (training keeps running), or press q to quit."
        )
