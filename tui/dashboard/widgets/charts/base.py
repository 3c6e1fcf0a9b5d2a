"""ChartBase: a plotext chart that owns the drawing its charts share.

It draws an empty chart without plotext (:func:`empty_chart` writes exactly plotext's text),
so the first frame does not wait for plotext's import (docs/LOG.md, 2026-11-30); a size the
copy does not cover is drawn by plotext. It holds the grid's shared view, the dirty mark
and the log scale, and draws the title, the marks and the cursor; subclasses plot their data
in :meth:`ChartBase.draw`. Colours follow the app theme, as textual-plotext's ``PlotextPlot``.

Every mark has its own symbol, named in a legend on the chart's bottom row (with the x axis's
name when there is room): epoch boundaries ``┊``, live config changes ``┃``, the value cursor
``│``. The symbols tell them apart without colour (``NO_COLOR``, a monochrome terminal); the
colours match ``llmv0 plot --png``'s grey epochs and red live changes in spirit.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.color import Color
from textual.widget import Widget

from tui.dashboard.widgets.charts.view import ChartView, StepClock, x_label_text

if TYPE_CHECKING:
    from textual_plotext.plot import Plot

RGB = tuple[int, int, int]
NARROW = frozenset({"N", "Na", "H", "A"})  # east-asian widths of one column ("A": — and ·)
EPOCH_COLOR = (120, 120, 120)
CHANGE_COLOR = (200, 90, 200)
CURSOR_COLOR = (250, 250, 250)


@dataclass(frozen=True)
class Mark:
    """A kind of vertical mark: its symbol on the chart, and its name in the legend (long,
    then short for a narrow chart; the wording of ``llmv0 plot --png``)."""

    symbol: str
    name: str
    short: str
    color: RGB


EPOCH = Mark("┊", "epochs", "epochs", EPOCH_COLOR)
CHANGE = Mark("┃", "live changes", "changes", CHANGE_COLOR)
CURSOR = Mark("│", "cursor", "cursor", CURSOR_COLOR)
SEPARATOR = " · "


def legend_text(marks: list[Mark], x_label: str | None, width: int) -> str | None:
    """The bottom row: the x axis's name and each mark's symbol and name, as much as fits in
    ``width`` (plotext drops a label wider than the chart): the axis name goes first, then
    long names shorten, then the last marks go."""
    if not marks:
        return x_label
    room = width - 2
    entries = [f"{m.symbol} {m.name}" for m in marks]
    candidates = [[x_label, *entries]] if x_label else []
    candidates.append(entries)
    candidates += [
        [f"{m.symbol} {m.short}" for m in marks[:count]] for count in range(len(marks), 0, -1)
    ]
    for parts in candidates:
        text = SEPARATOR.join(parts)
        if len(text) <= room:
            return text
    return x_label if x_label and len(x_label) <= room else None


def empty_chart(
    width: int, height: int, title: str, x_label: str | None, canvas: RGB, ink: RGB
) -> str | None:
    """plotext's output for a figure with no data, a title and maybe an x label, as ANSI
    text; None for a size this copy does not cover (plotext then draws it)."""
    labels = [title, *([x_label] if x_label else [])]
    inner = height - len(labels) - 2  # rows inside the frame
    if not title or width < 4 or inner < 1 or any(len(text) > width - 2 for text in labels):
        return None
    if not all(_plain(text) for text in labels):
        return None
    background = "\x1b[48;2;{};{};{}m".format(*canvas)
    foreground = "\x1b[38;2;{};{};{}m".format(*ink)

    def blank(n: int) -> str:
        return f"{background}{' ' * n}\x1b[0m"

    def ink_(text: str) -> str:
        return f"{background}{foreground}{text}\x1b[0m"

    def centred(text: str) -> str:
        left = width // 2 - len(text) // 2
        right = width - left - len(text)
        return blank(left) + ink_(text) + blank(right)

    rows = [centred(title), ink_("┌" + "─" * (width - 2) + "┐")]
    rows += [ink_("│") + blank(width - 2) + ink_("│")] * inner
    rows.append(ink_("└" + "─" * (width - 2) + "┘"))
    if x_label:
        rows.append(centred(x_label))
    return "\n".join(rows) + "\n"


def _plain(text: str) -> bool:
    """Text whose width is its length, as plotext measures it: printable, one column per
    character, no spaces at either end (plotext may trim them)."""
    return (
        text.isprintable()
        and text == text.strip()
        and all(
            unicodedata.east_asian_width(c) in NARROW and not unicodedata.combining(c) for c in text
        )
    )


def log_axis(plt: Plot, *series: list[float]) -> list[list[float]]:
    """Plot log10 of the values on a linear axis, labelled with the real values.

    plotext's own log scale raises on values below 1 and on empty plots; this cannot.
    Non-positive values (impossible for a loss) are clamped to a tiny positive number.
    """
    logged = [[math.log10(max(v, 1e-12)) for v in values] for values in series]
    flat = [v for values in logged for v in values]
    if flat:
        low, high = min(flat), max(flat)
        if high - low < 1e-9:
            low, high = low - 0.5, high + 0.5
        ticks = [low + (high - low) * i / 4 for i in range(5)]
        plt.yticks(ticks, [f"{10**t:.3g}" for t in ticks])
    return logged


class ChartBase(Widget):
    """A plotext chart (see the module docstring): subclasses implement :meth:`draw`, which
    starts with :meth:`begin` and ends with :meth:`finish`."""

    REDRAW_HIDDEN: ClassVar[bool] = True
    """False: a hidden chart keeps its dirty mark and redraws when shown."""

    DEFAULT_CSS = """
    ChartBase {
        width: 1fr;
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._plot: Plot | None = None
        self._empty: str | None = None  # the title of an empty chart to copy, or None
        # The x axis whose name the chart shows when tall enough: decided when the chart is
        # rendered, at its size then (a redraw can run before a layout change reaches it).
        self._axis = "step"
        self.view = ChartView()  # the grid hands every chart the same view and clock
        self.clock = StepClock()
        self.log_scale = False
        self.redraws = 0
        self._dirty = True
        self._marks: list[Mark] = []  # drawn in the last redraw, for the legend
        self._y_range = (0.0, 1.0)  # of the values plotted in the last redraw

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def mark_dirty(self) -> None:
        """Redraw on the next tick (the shared view changed)."""
        self._dirty = True

    def set_log_scale(self, on: bool) -> None:
        """Switch the y axis between linear and log."""
        self.log_scale = on
        self._dirty = True

    def redraw_if_dirty(self) -> bool:
        """Rebuild the plot when data or the view changed since the last redraw; True when
        it did."""
        if not self._dirty or not (self.REDRAW_HIDDEN or self.display):
            return False
        self._dirty = False
        self.redraws += 1
        self.draw(self.view.x_axis, self.view.cursor)
        return True

    def draw(self, axis: str, at: int | None) -> None:
        """Draw the chart on the x ``axis``, with the value cursor at step ``at`` (or none)."""
        raise NotImplementedError

    def heading(self, text: str) -> str:
        """A title: the cursor's step, ``text``, and a mark when the y axis is log. Keep it
        short: plotext drops a title wider than the chart (the view line says the rest)."""
        at = self.view.cursor
        where = f"@{at} " if at is not None else ""
        return where + text + (" · log" if self.log_scale else "")

    def y_axis(self, plt: Plot, *series: list[float]) -> list[list[float]]:
        """The series as plotted: log10 of each on a log axis (see :func:`log_axis`). Their
        range is where :meth:`mark` draws its columns."""
        plotted = log_axis(plt, *series) if self.log_scale else list(series)
        flat = [v for values in plotted for v in values]
        if flat:
            self._y_range = (min(flat), max(flat))
        return plotted

    def mark(self, plt: Plot, axis: str, steps: list[int], kind: Mark) -> None:
        """A column of ``kind``'s symbol at each of ``steps``, named in the legend. Call it
        before plotting the curves, so a curve crossing a mark stays whole."""
        if not steps:
            return
        self._marks.append(kind)
        xs = self.clock.x(steps, axis)
        if kind is CURSOR:  # plotext's own vertical line, drawn under the curves
            for x in xs:
                plt.vline(x, kind.color)
            return
        # A point per row (the widget's rows outnumber the plot's), from the lowest value
        # plotted to the highest: the column spans the curves' range without widening it.
        low, high = self._y_range
        count = max(self.size.height, 10)
        ys = [low + (high - low) * i / (count - 1) for i in range(count)]
        plt.scatter([x for x in xs for _ in ys], ys * len(xs), marker=kind.symbol, color=kind.color)

    def finish(self, plt: Plot, axis: str, at: int | None) -> None:
        """Draw the value cursor's line (when there is one) and show the new plot."""
        if at is not None:
            self.mark(plt, axis, [at], CURSOR)
        self.refresh()

    @property
    def legend(self) -> list[Mark]:
        """The kinds of mark on the chart now, in the order drawn (what the legend names)."""
        return list(dict.fromkeys(self._marks))

    @property
    def plt(self) -> Plot:
        """The plotext figure (imports plotext the first time); drawing on it replaces an
        empty chart drawn by :meth:`draw_empty`."""
        if self._plot is None:
            from textual_plotext.plot import Plot

            self._plot = Plot()
        self._empty = None
        return self._plot

    def begin(self, title: str, axis: str, *, empty: bool) -> Plot | None:
        """Start a redraw: None when there is nothing to plot (``empty``) and the empty chart
        was drawn without plotext; else the plotext figure, cleared, with its title. The x
        axis's name is added at render time, when the chart is tall enough then."""
        self._axis = axis
        self._marks = []
        self._y_range = (0.0, 1.0)
        if empty and self.draw_empty(title):
            return None
        return self._figure(title)

    def _figure(self, title: str) -> Plot:
        """The plotext figure, cleared, with a title."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        return plt

    def draw_empty(self, title: str) -> bool:
        """Show an empty chart without plotext, when this chart has never needed plotext;
        False when it has (then draw on :attr:`plt` as usual)."""
        if self._plot is not None:
            return False
        self._empty = title
        self.refresh()
        return True

    def _colors(self) -> tuple[RGB, RGB]:
        """The "auto" plotext theme's canvas and ink: the app theme's surface, foreground."""
        variables = self.app.theme_variables
        return (
            Color.parse(variables.get("surface")).rgb,
            Color.parse(variables.get("foreground")).rgb,
        )

    def render(self) -> RenderResult:
        """The chart; a plotext edge case becomes a line of text, not a crash."""
        try:
            return self._render_chart()
        except Exception as exc:  # plotext raises bare TypeErrors/ValueErrors on odd data
            return Text(f"(chart unavailable: {type(exc).__name__}: {exc})", style="dim")

    def _render_chart(self) -> Text:
        if self._empty is not None:
            width, height = self.size
            x_label = x_label_text(self._axis, height)
            copy = empty_chart(width, height, self._empty, x_label, *self._colors())
            if copy is not None:
                return Text.from_ansi(copy)
            self._figure(self._empty)  # a size the copy does not cover: plotext draws it
        return self.render_plot()

    def render_plot(self) -> Text:
        """The plotext figure at this widget's size, in the app theme's colours (what
        textual-plotext's ``PlotextPlot.render`` does)."""
        from plotext._dict import themes
        from textual_plotext.plot import _rgbify_theme, _sequence

        plot = self.plt
        width, height = self.size
        plot.plotsize(width, height)
        plot._set_size(width, height)  # as PlotextPlot: resizing is unreliable without it
        # The bottom row: the axis name (None takes a shorter chart's row back) and the legend.
        legend = self.legend
        plot.xlabel(legend_text(legend, x_label_text(self._axis, height), width))
        name = f"textual-auto-{self.app.theme}"
        if name not in themes:
            canvas, ink = self._colors()
            themes[name] = _rgbify_theme(canvas, canvas, ink, "default", _sequence)
        plot.theme(name)
        text = Text.from_ansi(plot.build())
        # Each symbol of the legend in its mark's colour (the bottom row holds the legend).
        last_row = text.plain.rstrip("\n").rfind("\n") + 1
        for mark in legend:
            at = text.plain.find(f"{mark.symbol} ", last_row)
            if at >= 0:
                text.stylize(Style(color=f"rgb{mark.color}", bold=True), at, at + 1)
        return text
