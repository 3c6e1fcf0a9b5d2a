"""The dashboard's command palette (ctrl+p): open or compare runs, sweeps, presets, toggles.

Every entry calls an action the keys also reach (on the main screen, named by
:class:`PaletteActions`), so the palette is a way to find them, not a second implementation.
Textual's own commands (theme, keys, quit) stay beside these.

:func:`open_palette` opens :class:`DashboardPalette`, Textual's palette made safe against keys
and resizes that come faster than it opens and closes (the every-key fuzz crashed it three
ways, and a fourth on closing; tests/tui/test_palette_findings.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial
from typing import Protocol

from textual import work
from textual.app import App
from textual.await_complete import AwaitComplete
from textual.command import CommandList, CommandPalette, DiscoveryHit, Hit, Hits, Provider

from engine.config.files import list_presets
from tui.dashboard.screens.too_small import TooSmallScreen
from tui.dashboard.widgets.charts.metric_grid import METRICS

Command = tuple[str, Callable[[], object], str]  # title, callback, help line


class PaletteActions(Protocol):
    """What the palette calls: the main screen's actions."""

    def action_runs(self) -> None: ...
    def action_sweeps(self) -> None: ...
    def action_inspect(self) -> None: ...
    def action_preset(self, name: str) -> None: ...
    def action_toggle_metric(self, key: str) -> None: ...
    def action_pick_metrics(self) -> None: ...
    def action_smoothing(self) -> None: ...
    def action_x_axis(self) -> None: ...
    def action_zoom(self) -> None: ...
    def action_log_scale(self) -> None: ...
    def action_bits(self) -> None: ...
    def action_pin_seed(self) -> None: ...
    def action_find_field(self) -> None: ...


def dashboard_commands(actions: PaletteActions) -> list[Command]:
    """Every palette entry: (title, what it runs, one line of help)."""
    commands: list[Command] = [
        ("Open run…", actions.action_runs, "Run browser: open, attach, resume or compare runs (r)"),
        (
            "Compare runs…",
            actions.action_runs,
            "Run browser: mark runs with space; C compares them, o overlays their loss",
        ),
        (
            "Sweeps…",
            actions.action_sweeps,
            "The runs folder's sweeps and their trials (stop a trial, best as preset)",
        ),
    ]
    commands.append(
        ("Inspect…", actions.action_inspect, "What the model knows: surprise, attention, cells (i)")
    )
    commands += [
        (f"Preset: {name}", partial(actions.action_preset, name), "Load it into the config editor")
        for name in list_presets()
    ]
    commands += [
        (f"Chart: show / hide {label}", partial(actions.action_toggle_metric, key), "Metric grid")
        for key, label in METRICS.items()
    ]
    commands += [
        ("Charts: choose metrics…", actions.action_pick_metrics, "A checklist of the metrics (v)"),
        ("Charts: next smoothing", actions.action_smoothing, "off → 0.6 → … → 0.99 (z)"),
        ("Charts: next x axis", actions.action_x_axis, "step → wall time → tokens seen (a)"),
        ("Charts: next zoom", actions.action_zoom, "all steps → last 100 … 10000 steps (u)"),
        ("Charts: log / linear y axis", actions.action_log_scale, "(l)"),
        ("Charts: perplexity / bits per char", actions.action_bits, "(b)"),
        ("Generation: pin / unpin the seed", actions.action_pin_seed, "Compare settings (k)"),
        ("Config: find a field…", actions.action_find_field, "Filter the editor's fields (/)"),
    ]
    return commands


class DashboardCommands(Provider):
    """Runs, presets and toggles of the dashboard's main screen for Textual's palette."""

    def _commands(self) -> list[Command]:
        # The main screen is the bottom of the stack, whichever screen opened the palette.
        main: PaletteActions = self.app.screen_stack[0]  # type: ignore[assignment]
        return dashboard_commands(main)

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)


class DashboardPalette(CommandPalette):
    """Textual's command palette, closed only while it is the top screen, and with page keys
    that cannot crash it."""

    def dismiss(self, result: object = None) -> AwaitComplete:
        # Textual's dismiss pops the top screen, whichever it is. A key read before a resize
        # brought the size notice over the palette acts after it: it closed the notice, and
        # the palette's own close then popped the main screen (ScreenStackError). The notice
        # goes first; the palette's Escape then closes it.
        if not self.is_active:
            return AwaitComplete.nothing()
        return super().dismiss(result)

    def _select_or_command(self, event: object = None) -> None:
        if self.is_active:  # as dismiss: a command runs only from the palette the user sees
            super()._select_or_command(event)  # type: ignore[arg-type]

    @work(exclusive=True, group=CommandPalette._GATHER_COMMANDS_GROUP)
    async def _gather_commands(self, search_value: str) -> None:
        # ctrl+p typed right after q: the app is closing and removed the palette's list
        # before this search began, which crashed on it (NoMatches). Nothing to show then.
        if not self.query(CommandList):
            return
        await CommandPalette._gather_commands.__wrapped__(self, search_value)  # type: ignore[attr-defined]

    def _action_command_list(self, action: str) -> None:
        # Textual 8.2.8: OptionList._move_page reads its line map before the list has been
        # laid out (Page Up typed right after ctrl+p): KeyError 0. The key then does nothing.
        with contextlib.suppress(KeyError):
            super()._action_command_list(action)


def open_palette(app: App[object]) -> None:
    """ctrl+p: the palette, unless one is open already or the terminal is too small.

    Textual checks only the top screen for an open palette: one under the size notice got a
    second palette with the same id, which crashed the app (DuplicateIds). Over the notice,
    nothing can be used, and a palette there kept the notice under it after a resize.
    """
    if isinstance(app.screen, TooSmallScreen) or not app.use_command_palette:
        return
    if any(isinstance(screen, CommandPalette) for screen in app.screen_stack):
        return
    app.push_screen(DashboardPalette(id="--command-palette"))
