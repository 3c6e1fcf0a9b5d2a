"""Text charts that read without colour: one metric of several runs, told apart by markers.

Shared by ``llmv0 compare`` and the dashboard's compare view. Colour is a bonus: each run
also gets its own marker character, named in the legend, so the chart works with
``NO_COLOR``, in a pipe and on a monochrome terminal.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

MARKERS = ("o", "x", "+", "*", "#", "@", "%", "&")
COLOURS = ("cyan", "orange", "green", "magenta", "red", "blue", "yellow", "white")


@dataclass(frozen=True)
class Series:
    """One run's values of a metric, by step."""

    label: str
    steps: Sequence[int]
    values: Sequence[float]


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal and only when ``NO_COLOR`` is unset (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def int_ticks(low: float, high: float, count: int = 5) -> list[int]:
    """Up to ``count`` whole-number ticks from ``low`` to ``high`` on a 1, 2 or 5 x 10^k step."""
    low_i, high_i = math.floor(low), math.ceil(high)
    if high_i <= low_i:
        return [low_i]
    raw = (high_i - low_i) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    start = math.ceil(low_i / step) * step
    return list(range(int(start), high_i + 1, int(step)))


def marker_of(index: int) -> str:
    """The marker of the ``index``-th run (cycling after eight runs)."""
    return MARKERS[index % len(MARKERS)]


def overlay_plot(
    series: Sequence[Series],
    title: str,
    width: int = 100,
    height: int = 24,
    colour: bool = False,
) -> str:
    """A plotext chart of every series with its own marker; escape-free unless ``colour``."""
    import plotext as plt

    plt.main()  # the whole figure: clear_figure alone clears only the active subplot
    plt.clear_figure()
    plt.theme("clear")
    plt.limit_size(False, False)  # the caller knows the room (a widget, --width in a pipe)
    plt.plot_size(width, height)
    plt.title(title)
    drawn = [s for s in series if s.steps]
    for index, s in enumerate(series):
        if s.steps:
            plt.plot(
                list(s.steps),
                list(s.values),
                marker=marker_of(index),
                color=COLOURS[index % len(COLOURS)],
                label=f"{marker_of(index)} {s.label}",
            )
    if drawn:
        low = min(min(s.steps) for s in drawn)
        high = max(max(s.steps) for s in drawn)
        ticks = int_ticks(low, high)
        plt.xticks(ticks, [str(t) for t in ticks])
    plt.xlabel("step")
    text = plt.build()
    plt.clear_figure()  # plotext's state is global: leave none behind for the next caller
    return text if colour else plt.uncolorize(text)
