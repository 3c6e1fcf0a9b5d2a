"""Rich text for the Inspect views (surprise, timeline), shared by the dashboard and the CLI.

Every builder returns :class:`rich.text.Text` built with ``append`` (user text is data, never
markup). ``color=True`` paints each character's background by its value; ``color=False`` is
for NO_COLOR terminals and pipes: each line of text is followed by a line of marks under it
(`` .:-=#`` by bits, ``^`` under the hardest tenth), which reads the same in any terminal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text

from engine.analysis.surprise import Ranked, Surprise, easiest_words, hardest_characters

# Low bits (expected) green through yellow to red (a surprise); 8 bits and more is the top.
BITS_COLOURS = (
    "#1a9850", "#66bd63", "#a6d96a", "#d9ef8b", "#fee08b", "#fdae61", "#f46d43", "#d73027",
)  # fmt: skip
BITS_MAX = 8.0
MARKS = " .:-=#"  # plain rendering: 0-1, 1-2, 2-4, 4-6, 6-8, 8+ bits
SHOWN = {"\n": "↵", "\t": "→", " ": " "}


def visible(piece: str) -> str:
    """A token as one cell per character: newline and tab as arrows, controls as a dot."""
    return "".join(SHOWN.get(ch, ch if ch.isprintable() else "·") for ch in piece)


def label(piece: str) -> str:
    """A token standing alone (a guess, a ranked character): a space shown as ␣."""
    return visible(piece).replace(" ", "␣") or "?"


def percent(p: float) -> str:
    """A probability as a percentage that never reads 0% or 100% for one strictly between:
    0.04% for an 11.4-bit character, not 0.0%."""
    if 0 < p < 0.0001:
        return "< 0.01%"
    if 0.999 < p < 1:
        return "> 99.9%"
    return f"{p:.2%}" if p < 0.01 else f"{p:.1%}"


def bits_style(bits: float) -> str:
    """The background (and a readable foreground) for a token that cost ``bits``."""
    if math.isnan(bits):
        return "dim"
    level = min(len(BITS_COLOURS) - 1, int(max(bits, 0.0) / BITS_MAX * len(BITS_COLOURS)))
    fg = "white" if level in (0, len(BITS_COLOURS) - 1) else "black"
    return f"{fg} on {BITS_COLOURS[level]}"


def bits_mark(bits: float, hardest: float = math.inf) -> str:
    if math.isnan(bits):
        return " "
    if bits >= hardest:
        return "^"
    return MARKS[min(len(MARKS) - 1, sum(bits >= edge for edge in (1, 2, 4, 6, 8)))]


def bits_legend(color: bool, hardest: bool = True) -> Text:
    """The scale: coloured cells in colour, the marks in plain text (``hardest``: with the
    mark of the hardest tenth)."""
    out = Text("bits ")
    if not color:
        out.append("' '<1 '.'<2 ':'<4 '-'<6 '='<8 '#'8+")
        out.append(" '^' hardest tenth" if hardest else "")
        return out
    out.append("0 ")
    step = BITS_MAX / len(BITS_COLOURS)
    for level in range(len(BITS_COLOURS)):
        out.append("  ", style=bits_style(level * step + 0.01))
    out.append(f" {BITS_MAX:g}+")
    return out


def _lines(pieces: Sequence[str], width: int) -> list[list[int]]:
    """Token indices per display line: a newline token ends its line; long lines wrap."""
    lines: list[list[int]] = [[]]
    used = 0
    for i, piece in enumerate(pieces):
        cells = len(visible(piece))
        if used + cells > width and lines[-1]:
            line = lines[-1]
            # Break after the line's last space when there is one, so words stay whole.
            spaces = [n for n, j in enumerate(line) if pieces[j] == " "]
            cut = spaces[-1] + 1 if spaces and spaces[-1] + 1 < len(line) else len(line)
            lines[-1], carried = line[:cut], line[cut:]
            lines.append(carried)
            used = sum(len(visible(pieces[j])) for j in carried)
        lines[-1].append(i)
        used += cells
        if "\n" in piece:
            lines.append([])
            used = 0
    return [line for line in lines if line] or [[]]


def shaded_text(
    pieces: Sequence[str],
    styles: Sequence[str],
    marks: Sequence[str],
    *,
    color: bool,
    width: int,
    cursor: int | None = None,
) -> Text:
    """Tokens wrapped to ``width``: with ``styles`` in colour, else with ``marks`` under them.
    The cursor is drawn reversed (colour) or as a ``|`` mark (plain)."""
    out = Text()
    for n, line in enumerate(_lines(pieces, width)):
        if n:
            out.append("\n")
        marks_line = Text()
        for i in line:
            shown = visible(pieces[i])
            style = styles[i] if color else ""
            if i == cursor:
                style = f"{style} reverse".strip() if color else "reverse"
            out.append(shown, style=style)
            mark = "|" if i == cursor and not color else marks[i]
            marks_line.append(mark * len(shown))
        if not color:
            out.append("\n")
            out.append_text(marks_line)
    return out


def surprise_text(result: Surprise, *, color: bool, width: int, cursor: int | None = None) -> Text:
    """The text, each token shaded by its bits."""
    hardest = result.hardest_threshold()  # inf when the bits are flat: nothing marked
    styles = [bits_style(b) for b in result.bits]
    if color:  # the hardest tenth also bold and underlined: visible when colour is stripped
        styles = [
            f"{s} bold underline" if not math.isnan(b) and b >= hardest else s
            for s, b in zip(styles, result.bits, strict=True)
        ]
    marks = [bits_mark(b, hardest) for b in result.bits]
    return shaded_text(result.pieces, styles, marks, color=color, width=width, cursor=cursor)


def guesses_text(result: Surprise, cursor: int, *, color: bool, bar: int = 20) -> Text:
    """At ``cursor``: the token, the bits spent on it and the model's top guesses."""
    out = Text()
    cursor = max(0, min(cursor, len(result.pieces) - 1))
    piece, bits = result.pieces[cursor], result.bits[cursor]
    out.append(f"at {cursor}: ")
    out.append(label(piece), style="bold")
    if math.isnan(bits):
        out.append("  (the first token: nothing predicts it)")
        return out
    out.append(f"  {bits:.2f} bits  (p = {percent(2**-bits)})")
    for guess, prob in result.top[cursor]:
        out.append("\n")
        hit = guess == piece
        out.append(f"{'>' if hit else ' '} {label(guess):<3}", style="bold" if hit else "")
        filled = round(prob * bar)
        out.append("█" * filled, style="green" if color else "")
        out.append("·" * (bar - filled), style="dim" if color else "")
        out.append(f" {percent(prob):>7}")
    return out


def _ranked(title: str, rows: list[Ranked]) -> Text:
    out = Text(title, style="bold")
    for row in rows:
        out.append(f"\n {label(row.text):<12.12} {row.bits:5.2f} bits  x{row.count}")
    return out


def rankings_text(result: Surprise, limit: int = 6) -> Text:
    """The hardest characters and the easiest words of the text."""
    out = _ranked("hardest characters", hardest_characters(result, limit))
    out.append("\n")
    out.append_text(_ranked("easiest words", easiest_words(result, limit)))
    return out


def summary_line(result: Surprise) -> Text:
    scored = result.scored
    head = f"{len(scored)} tokens scored, mean {result.mean_bits:.2f} bits, "
    hardest = result.hardest_threshold()
    if math.isinf(hardest):
        return Text(
            head + f"no hardest tenth: the bits are flat (median {result.median_bits():.2f}, "
            f"hardest tenth {result.hardest_tenth_mean():.2f})"
        )
    return Text(head + f"hardest tenth >= {hardest:.2f} bits")


def timeline_text(
    pieces: Sequence[str],
    steps: Sequence[int],
    rows: Sequence[Sequence[float]],
    *,
    color: bool,
    width: int,
    offset: int = 0,
    max_rows: int = 0,
) -> Text:
    """Evaluations (rows, newest last) by the passage's tokens (columns from ``offset``).

    Each cell is the token itself, coloured by its bits at that step (plain: its mark), so
    spaces and common words turning green early, and names late, can be read off.
    """
    label = max(len(f"{s:,}") for s in steps) + 1 if steps else 6
    columns = max(1, width - label)
    targets = list(pieces[1:])[offset : offset + columns]
    shown = [visible(p)[:1] or " " for p in targets]
    out = Text(" " * label)
    out.append("".join(shown), style="bold")
    picked = list(zip(steps, rows, strict=True))
    if max_rows and len(picked) > max_rows:  # keep the first and the newest
        picked = picked[:1] + picked[-(max_rows - 1) :]
    for step, bits in picked:
        out.append(f"\n{step:>{label - 1},} ")
        for j, ch in enumerate(shown):
            b = bits[offset + j] if offset + j < len(bits) else math.nan
            if color:
                out.append(ch, style=bits_style(b))
            else:
                out.append(bits_mark(b))
    return out
