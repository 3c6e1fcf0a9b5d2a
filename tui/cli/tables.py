"""Tables that wrap between words, never inside one.

Rich shrinks a table that is too wide for the terminal column by column, below the longest
word of a cell if it must: ``llmv0 config`` at 80 columns printed ``'shakespeare.tx`` over
``t'``. Here each column gets at least its longest word and the rest of the width goes where
the text is longest; when even the longest words do not fit side by side, the caller prints
its rows one under another instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

PADDING = 2  # a Rich table's default: one space each side of every cell


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _longest_line(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def word_safe_widths(
    width: int, header: Sequence[str], rows: Sequence[Sequence[str | Text]]
) -> list[int] | None:
    """Column widths (without padding) that keep every word whole in ``width`` columns.

    Each column gets its longest line when everything fits, else its longest word plus a share
    of the spare width in proportion to how much more its text wants. None when the longest
    words alone are wider than ``width``.
    """
    plain = [[cell.plain if isinstance(cell, Text) else cell for cell in row] for row in rows]
    columns = list(zip(header, *plain, strict=True))
    shortest = [max(_longest_word(cell) for cell in column) for column in columns]
    longest = [max(_longest_line(cell) for cell in column) for column in columns]
    room = width - (len(columns) + 1) - PADDING * len(columns)  # borders and padding
    if sum(longest) <= room:
        return longest
    spare = room - sum(shortest)
    if spare < 0:
        return None
    wants = [high - low for low, high in zip(shortest, longest, strict=True)]
    total = sum(wants) or 1
    return [low + spare * want // total for low, want in zip(shortest, wants, strict=True)]


def word_safe_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str | Text]], width: int
) -> Table | None:
    """A table that wraps only between words, or None when ``width`` is too narrow for that.

    String cells are plain text, never read as markup; pass a Text for a styled cell.
    """
    widths = word_safe_widths(width, header, rows)
    if widths is None:
        return None
    table = Table(title=Text(title))
    for name, column_width in zip(header, widths, strict=True):
        table.add_column(Text(name), width=column_width, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in row))
    return table
