"""KeyHint: a screen's keys as ``key what · key what`` lines that wrap between entries.

A one-row hint was cut at the terminal's edge (at 120 columns the run browser's stopped after
"D delete ·": sort, filter and sweeps never showed). This one wraps to as many rows as its
width needs, and never inside an entry, so every key stays readable at 80 columns. The
entries come from the screen's bindings, so the hint cannot drift from what the keys do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.widget import Widget

SEPARATOR = " · "
KEY_NAMES = {"escape": "Esc", "enter": "Enter", "tab": "tab", "up": "↑", "down": "↓"}

Entry = tuple[str, str]  # (key as shown, what it does)


def hint_entries(bindings: Iterable[BindingType]) -> list[Entry]:
    """(key, action) for each binding with a description: its first key, as a user types it
    (``escape,q`` -> ``Esc``), and its description in lower case (``Attach`` -> ``attach``)."""
    entries: list[Entry] = []
    for binding in bindings:
        if not isinstance(binding, Binding) or not binding.description:
            continue
        first = binding.key.split(",")[0].strip()
        key = binding.key_display or KEY_NAMES.get(first, first)
        entries.append((key, binding.description[0].lower() + binding.description[1:]))
    return entries


def wrap_entries(entries: Sequence[Entry], width: int) -> list[Text]:
    """The entries as lines of at most ``width`` cells, broken only between entries (an entry
    wider than ``width`` gets a line of its own, cut by the terminal)."""
    lines: list[Text] = []
    line = Text()
    for key, action in entries:
        entry = Text.assemble((key, "bold"), " ", action)
        if line.cell_len and line.cell_len + len(SEPARATOR) + entry.cell_len > width:
            lines.append(line)
            line = Text()
        if line.cell_len:
            line.append(SEPARATOR)
        line.append_text(entry)
    if line.cell_len or not lines:
        lines.append(line)
    return lines


class KeyHint(Widget):
    """A screen's keys, wrapped to the width it is given (its height follows)."""

    DEFAULT_CSS = """
    KeyHint {
        width: 1fr;
        height: auto;
        color: $text-muted;
    }
    """

    def __init__(self, entries: Sequence[Entry], *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.entries = list(entries)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(wrap_entries(self.entries, width))

    def render(self) -> Text:
        return Text("\n").join(wrap_entries(self.entries, self.content_size.width))

    @property
    def text(self) -> str:
        """Every entry on one line (what a test or a screen reader reads)."""
        return SEPARATOR.join(f"{key} {action}" for key, action in self.entries)
