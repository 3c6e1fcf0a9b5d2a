"""ProbLog: a Log whose characters can carry styles (each generated character's probability).

Textual's ``Log`` appends text without a screen-wide layout per write but renders plain
strings; this keeps its line store and adds, per line, the styled spans written with
:meth:`ProbLog.write_styled`. Colours go through Textual's renderer, so NO_COLOR still shows
the plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widgets import Log

Span = tuple[int, int, Style]  # start, end (character offsets in the line), style


class ProbLog(Log):
    """A Log with per-character styles; plain :meth:`write` still works."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, highlight=False, auto_scroll=True)
        self.line_spans: dict[int, list[Span]] = {}

    def clear(self) -> Self:
        self.line_spans.clear()
        return super().clear()

    def write_styled(self, text: str, styles: Sequence[Style | None]) -> Self:
        """Append ``text``; character i gets ``styles[i]`` (None: the widget's own style)."""
        line = max(0, len(self._lines) - 1)
        column = len(self._lines[-1]) if self._lines else 0
        for char, style in zip(text, styles, strict=True):
            if char == "\n":
                line, column = line + 1, 0
                continue
            if style is not None:
                spans = self.line_spans.setdefault(line, [])
                if spans and spans[-1][1] == column and spans[-1][2] == style:
                    spans[-1] = (spans[-1][0], column + 1, style)  # extend a run of one colour
                else:
                    spans.append((column, column + 1, style))
            column += 1
        return self.write(text)

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        spans = self.line_spans.get(y)
        if not spans or "\t" in self._lines[y]:  # tabs expand: offsets would not match
            return super()._render_line_strip(y, rich_style)
        selection = self.text_selection
        if selection is None and y in self._render_line_cache:
            return self._render_line_cache[y]
        line = self._process_line(self._lines[y])
        text = Text(line, no_wrap=True)
        text.stylize(rich_style)
        for start, end, style in spans:
            text.stylize(style, start, end)
        if selection is not None and (span := selection.get_span(y - self._clear_y)):
            start, end = span
            style = self.screen.get_component_rich_style("screen--selection")
            text.stylize(style, start, len(text) if end == -1 else end)
        strip = Strip(text.render(self.app.console), cell_len(line))
        if selection is None:
            self._render_line_cache[y] = strip
        return strip
