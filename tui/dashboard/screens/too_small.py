"""TooSmallScreen: shown instead of a broken layout when the terminal is under 80x24."""

from __future__ import annotations

import contextlib

from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Static

MIN_WIDTH = 80
MIN_HEIGHT = 24


class TooSmallScreen(Screen[None]):
    """A centred notice with the current and needed size; the app pops it on resize."""

    BINDINGS = [Binding("q,ctrl+c", "app.quit", "Quit", priority=True)]  # noqa: RUF012

    def compose(self) -> ComposeResult:
        # The text is there from the start: rapid resizes can pop this screen before it has
        # mounted, and a query in on_mount then found nothing and crashed the app.
        yield Static(_notice(self.app.size.width, self.app.size.height), id="too-small")

    def show_size(self, width: int, height: int) -> None:
        """Say how big the terminal is and how big it must be."""
        # Popped (or not yet composed) during a burst of resizes: nothing to update.
        with contextlib.suppress(NoMatches):
            self.query_one("#too-small", Static).update(_notice(width, height))


def _notice(width: int, height: int) -> str:
    return (
        f"Terminal too small: {width}x{height}.\n"
        f"llmv0-tui needs at least {MIN_WIDTH}x{MIN_HEIGHT}.\n"
        "Enlarge the window (training keeps running), or press q to quit."
    )
