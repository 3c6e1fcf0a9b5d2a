"""SamplesPager: the sample taken at each evaluation, one page per sample, newest by default.

Following the newest sample is the default; paging back pins the view until the user pages
forward to the end again, so a new sample never yanks the page away from the reader.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.events import SampleGenerated


class SamplesPager(VerticalScroll):
    """Shows one :class:`SampleGenerated` at a time with its step."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.samples: list[SampleGenerated] = []
        self.index = -1  # -1: follow the newest

    def compose(self):
        yield Static("No samples yet: one is taken at each evaluation.", id="sample-text")

    @property
    def current(self) -> int:
        """Index of the sample on screen (-1 when there is none)."""
        if not self.samples:
            return -1
        return len(self.samples) - 1 if self.index < 0 else self.index

    def add(self, sample: SampleGenerated) -> None:
        """Keep a new sample; show it unless the user is reading an older one."""
        self.samples.append(sample)
        self._show()

    def clear_samples(self) -> None:
        self.samples.clear()
        self.index = -1
        self._show()

    def page(self, direction: int) -> None:
        """Show the previous (-1) or next (+1) sample."""
        if not self.samples:
            return
        target = min(len(self.samples) - 1, max(0, self.current + direction))
        self.index = -1 if target == len(self.samples) - 1 else target
        self._show()

    def _show(self) -> None:
        widget = self.query_one("#sample-text", Static)
        if not self.samples:
            widget.update("No samples yet: one is taken at each evaluation.")
            return
        sample = self.samples[self.current]
        text = Text.assemble(
            (f"sample {self.current + 1}/{len(self.samples)} · step {sample.step} · ", "dim"),
            (f"temperature {sample.temperature:g}", "dim"),
            ("  (, and . page)\n", "dim italic"),
            (sample.prompt, "bold"),
            sample.text,
        )
        widget.update(text)
