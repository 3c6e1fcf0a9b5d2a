"""Long text work in chunks, so that a stop is answered between two of them.

A corpus of tens of megabytes takes seconds to scan, encode or count (docs/LOG.md,
2026-12-07), and a signal handler in Python only runs between bytecodes, never inside one C
call such as ``re.findall`` over the whole text. Each phase therefore works through the text
a chunk at a time and calls a :data:`Check` between chunks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

Check = Callable[[], None]
"""Called between chunks of long work (download, vocabulary, encoding, BPE training): it
raises to abandon the work (the trainer's raises engine.control.Cancelled once a stop was
asked for) and may say what the work is doing once it takes a while."""

CHUNK_CHARS = 1 << 18
"""Characters per chunk: about 0.05 s of encoding on a loaded 2-core machine, so a stop is
answered well within a second, while the per-chunk overhead stays negligible."""


def no_check() -> None:
    """A :data:`Check` that never stops anything."""


def char_chunks(text: str, size: int | None = None) -> Iterator[str]:
    """``text`` in consecutive slices of at most ``size`` characters (CHUNK_CHARS)."""
    size = size or CHUNK_CHARS
    for start in range(0, len(text), size):
        yield text[start : start + size]


def pretoken_bounds(text: str, size: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) bounds that cut ``text`` into pieces of about ``size`` characters,
    each of which a pre-token pattern splits exactly as it splits the whole text.

    A cut goes before a space that follows a non-space character: every alternative of
    engine.text.bpe.PRETOKEN_PATTERN ends a match there (a space can only start a word,
    a number or punctuation, and a run of spaces never begins at a non-space), and none
    looks behind its start. A text without such a space is one piece.
    """
    start, n, size = 0, len(text), size or CHUNK_CHARS
    while start < n:
        end = text.find(" ", start + size)
        while end != -1 and text[end - 1].isspace():
            end = text.find(" ", end + 1)
        end = n if end == -1 else end
        yield start, end
        start = end


def pretokens_in_chunks(
    pattern: re.Pattern[str], text: str, size: int | None = None
) -> Iterator[list[str]]:
    """The pre-tokens ``pattern.findall(text)`` would give, a chunk's worth at a time."""
    for start, end in pretoken_bounds(text, size):
        # endpos, not a slice: no copy, and the pattern sees the piece's end as the text's.
        yield pattern.findall(text, start, end)
