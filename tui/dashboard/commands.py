"""The dashboard's command palette (ctrl+p): open or compare runs, sweeps, presets, toggles.

Every entry calls an action the keys also reach, so the palette is a way to find them, not
a second implementation. Textual's own commands (theme, keys, quit) stay beside these.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from engine.config.files import list_presets
from tui.dashboard.widgets.charts.metric_grid import METRICS

if TYPE_CHECKING:
    from tui.dashboard.app import Dashboard

Command = tuple[str, Callable[[], object], str]  # title, callback, help line


def _open_sweeps(app: Dashboard) -> None:
    from tui.dashboard.screens.sweeps import SweepsScreen  # here: its DataTable would slow start-up

    app.push_screen(SweepsScreen(app.runs_dir))


def dashboard_commands(app: Dashboard) -> list[Command]:
    """Every palette entry: (title, what it runs, one line of help)."""
    commands: list[Command] = [
        ("Open run…", app.action_runs, "Run browser: open, attach, resume or compare runs (r)"),
        (
            "Compare runs…",
            app.action_runs,
            "Run browser: mark runs with space; C compares them, o overlays their loss",
        ),
        (
            "Sweeps…",
            partial(_open_sweeps, app),
            "The runs folder's sweeps and their trials (stop a trial, best as preset)",
        ),
    ]
    commands.append(
        ("Inspect…", app.action_inspect, "What the model knows: surprise, attention, cells (i)")
    )
    commands += [
        (f"Preset: {name}", partial(app.action_preset, name), "Load it into the config editor")
        for name in list_presets()
    ]
    commands += [
        (f"Chart: show / hide {label}", partial(app.action_toggle_metric, key), "Metric grid")
        for key, label in METRICS.items()
    ]
    commands += [
        ("Charts: choose metrics…", app.action_pick_metrics, "A checklist of the metrics (v)"),
        ("Charts: next smoothing", app.action_smoothing, "off → 0.6 → … → 0.99 (z)"),
        ("Charts: next x axis", app.action_x_axis, "step → wall time → tokens seen (a)"),
        ("Charts: next zoom", app.action_zoom, "all steps → last 100 … 10000 steps (u)"),
        ("Charts: log / linear y axis", app.action_log_scale, "(l)"),
        ("Charts: perplexity / bits per char", app.action_bits, "(b)"),
        ("Generation: pin / unpin the seed", app.action_pin_seed, "Compare settings (k)"),
        ("Config: find a field…", app.action_find_field, "Filter the editor's fields (/)"),
    ]
    return commands


class DashboardCommands(Provider):
    """Runs, presets and toggles of :class:`tui.dashboard.app.Dashboard` for Textual's palette."""

    def _commands(self) -> list[Command]:
        return dashboard_commands(self.app)  # type: ignore[arg-type]

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
