"""ChartBase: a plotext chart whose empty state is drawn without plotext.

plotext (with textual-plotext) takes 70-100 ms to import here, about a tenth of the
dashboard's time to its first frame, and every chart of that frame is empty. An empty
plotext chart is a centred title, a frame and a centred axis name; :func:`empty_chart`
writes exactly the text plotext would (tests compare the two over generated sizes and
titles), so the first frame needs no plotext and nothing changes on screen when it loads.
plotext is imported at a chart's first point, or earlier by the dashboard's background
preload; a size the copy does not cover (a tiny chart) is drawn by plotext itself.

Otherwise this is textual-plotext's ``PlotextPlot``: :attr:`plt` is the plotext figure,
coloured from the app's theme ("auto": the theme's surface and foreground).
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import RenderResult
from textual.color import Color
from textual.widget import Widget

from tui.dashboard.widgets.charts.view import x_label_text

if TYPE_CHECKING:
    from textual_plotext.plot import Plot

RGB = tuple[int, int, int]
NARROW = frozenset({"N", "Na", "H", "A"})  # east-asian widths of one column ("A": — and ·)


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


class ChartBase(Widget):
    """A plotext chart (see the module docstring): subclasses draw with :attr:`plt`, or
    with :meth:`draw_empty` when they have nothing to plot."""

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

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

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
        plot.xlabel(x_label_text(self._axis, height))  # None takes a shorter chart's row back
        name = f"textual-auto-{self.app.theme}"
        if name not in themes:
            canvas, ink = self._colors()
            themes[name] = _rgbify_theme(canvas, canvas, ink, "default", _sequence)
        plot.theme(name)
        return Text.from_ansi(plot.build())
