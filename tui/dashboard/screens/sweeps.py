"""SweepsScreen: the sweeps of the runs folder's study file and the trials of the chosen one.

Keys: up/down in the sweeps list choose a sweep; tab moves to its trials; x stops the
running trial under the cursor (through its run folder's command file, as ``llmv0 control``
does: the trial saves a checkpoint and is recorded as stopped, not failed); p saves the best
trial's config as the preset ``<sweep>-best``; Esc goes back.
"""

from __future__ import annotations

import math
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from tui.dashboard.screens.dismiss_once import DismissOnce
from tui.shared.formatting import format_duration

CSS_FILE = Path(__file__).parent / "experiments.tcss"
STATE_STYLES = {
    "complete": "green",
    "pruned": "yellow",
    "stopped": "yellow",
    "failed": "bold red",
    "interrupted": "magenta",
    "running": "bold cyan",
}


class SweepsRead(Message):
    """The worker read the storage: sweep names and the chosen sweep's trials."""

    def __init__(self, names: list[str], trials: list, error: str = "") -> None:
        super().__init__()
        self.names = names
        self.trials = trials
        self.error = error


class SweepsScreen(DismissOnce, ModalScreen[None]):
    """Sweeps and their trials (state complete / pruned / stopped / failed / running)."""

    CSS_PATH = CSS_FILE
    BINDINGS = [  # noqa: RUF012 (Textual's own idiom)
        Binding("escape,q", "close", "Back"),
        Binding("x", "stop_trial", "Stop trial"),
        Binding("p", "save_preset", "Best as preset"),
    ]

    def __init__(self, runs_dir: Path, storage: str | None = None) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.storage = storage
        self.names: list[str] = []
        self.trials: list = []
        self.sweep = ""
        self.loaded = False

    def compose(self) -> ComposeResult:
        with Vertical(id="sweeps-box"):
            yield Label("Sweeps (reading…)", id="sweeps-title")
            yield DataTable(id="sweeps-list", cursor_type="row")
            yield DataTable(id="sweeps-trials", cursor_type="row", zebra_stripes=True)
            yield Label(
                "↑↓ sweep · tab trials · x stop trial · p best as preset · Esc",
                classes="experiments-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#sweeps-list", DataTable).add_column("sweep")
        trials = self.query_one("#sweeps-trials", DataTable)
        trials.add_columns("trial", "changed fields", "best val", "time", "state", "run")
        self.query_one("#sweeps-list", DataTable).focus()
        self._read("")
        # Trials of a live sweep change state as they run: read the study again every 2 s.
        self.set_interval(2.0, lambda: self._read(self.sweep))

    def _url(self) -> str:
        from engine.experiments.sweep import default_storage
        from engine.run.folder import SWEEP_DB

        if self.storage:
            return self.storage
        return default_storage(self.runs_dir) if (self.runs_dir / SWEEP_DB).exists() else ""

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _read(self, sweep: str) -> None:
        from tui.shared.extras import available

        if not available("optuna"):
            error = "sweeps need optuna, which is not installed: pip install 'llmv0[sweep]'"
            self.post_message(SweepsRead([], [], error))
            return
        from engine.experiments.sweep import list_sweeps, load_study, results

        try:
            url = self._url()
            names = list_sweeps(url) if url else []
            chosen = sweep or (names[0] if names else "")
            trials = results(load_study(chosen, url)) if chosen else []
            self.post_message(SweepsRead(names, trials))
        except Exception as exc:  # a locked or broken study file: say so, keep the UI
            self.post_message(SweepsRead([], [], f"{type(exc).__name__}: {exc}"))

    def on_sweeps_read(self, message: SweepsRead) -> None:
        self.loaded = True
        title = self.query_one("#sweeps-title", Label)
        if message.error:
            title.update(Text(f"Cannot read the sweeps: {message.error}"))
            return
        listing = self.query_one("#sweeps-list", DataTable)
        if message.names != self.names:
            self.names = message.names
            listing.clear()
            for name in self.names:
                listing.add_row(Text(name), key=name)
        if not self.names:
            title.update("No sweeps yet: start one with `llmv0 sweep SPACE_FILE`.")
        unchanged = message.trials == self.trials and message.trials
        self.trials = message.trials
        if self.trials and not self.sweep:
            self.sweep = self.names[0]
        title.update(Text(f"Sweep {self.sweep}: {len(self.trials)} trials"))
        table = self.query_one("#sweeps-trials", DataTable)
        if unchanged and table.row_count == len(self.trials):
            # The 2 s re-read found nothing new: refilling would flicker the table and, until
            # its columns are measured again, draw them cut (a snapshot caught "compl").
            return
        cursor = table.cursor_row  # a refresh keeps the user's place
        table.clear()
        for row in self.trials:
            value = (
                f"{row.value:.4f}" if row.value is not None and math.isfinite(row.value) else "—"
            )
            table.add_row(
                str(row.number),
                Text(row.changed),  # DataTable reads a str as markup; choices are user data
                value,
                format_duration(row.duration_s),
                Text(row.state, style=STATE_STYLES.get(row.state, "")),
                Text(row.run_id),
                key=str(row.number),
            )
        if self.trials:
            table.move_cursor(row=min(cursor, len(self.trials) - 1))

    @on(DataTable.RowHighlighted, "#sweeps-list")
    def _choose_sweep(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or event.row_key.value is None:
            return  # a key moved the cursor of an empty list (no sweeps yet): nothing chosen
        name = str(event.row_key.value)
        if name != self.sweep:
            self.sweep = name
            self._read(name)

    def current_trial(self):
        table = self.query_one("#sweeps-trials", DataTable)
        if not self.trials or not 0 <= table.cursor_row < len(self.trials):
            return None
        return self.trials[table.cursor_row]

    def action_stop_trial(self) -> None:
        """Stop the running trial under the cursor; the sweep records it as stopped."""
        from engine.run.commands_file import RemoteCommandError, send_command

        trial = self.current_trial()
        if trial is None or trial.state != "running":
            state = trial.state if trial else "no trial"
            self.notify(f"Only a running trial can be stopped ({state}).", severity="warning")
            return
        try:
            send_command(self.runs_dir / trial.run_id, "stop")
        except RemoteCommandError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"Stopping trial {trial.number} ({trial.run_id}) after its current step.")
        self.set_timer(1.5, lambda: self._read(self.sweep))

    def action_save_preset(self) -> None:
        """Save the best complete trial's config as the preset ``<sweep>-best``."""
        if not self.sweep:
            return
        from engine.experiments.sweep import load_study, save_best_preset

        try:
            path = save_best_preset(load_study(self.sweep, self._url()), f"{self.sweep}-best")
        except (ValueError, OSError) as exc:
            self.notify(str(exc), severity="warning")
            return
        self.notify(f"Saved preset {self.sweep}-best ({path}).")

    def action_close(self) -> None:
        self.dismiss(None)
