"""NoticeLine: one line of run notices (precision, threads, compile, resume) under the body.

Startup notes used to be toasts that piled up over the lower chart; here they stay readable
for the whole run in one row, cut with … when long (the tooltip has them all). Hidden while
there is nothing to say.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class NoticeLine(Static):
    """The current run's notices, newest last, on one row."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.notices: list[tuple[str, str]] = []  # (text, severity)

    def on_mount(self) -> None:
        self.display = False

    def start(self, notes: tuple[str, ...] | list[str]) -> None:
        """A run starts: its notes replace the previous run's notices."""
        self.notices = [(note, "information") for note in notes]
        self._show()

    def add(self, text: str, severity: str = "warning") -> None:
        """Append one notice (a warning published during the run)."""
        self.notices.append((text, severity))
        self._show()

    def _show(self) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        for index, (text, severity) in enumerate(self.notices):
            if index:
                line.append(" · ", "dim")
            warning = severity != "information"
            line.append(("⚠ " if warning else "") + text, "bold yellow" if warning else "")
        self.update(line)
        self.tooltip = "\n".join(text for text, _ in self.notices) or None
        self.display = bool(self.notices)

    @property
    def text(self) -> str:
        """Every notice as plain text (what the line shows before any cut)."""
        return " · ".join(text for text, _ in self.notices)
