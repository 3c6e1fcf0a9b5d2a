"""RunBrowser: every run of the runs folder in a table; open, attach, resume or compare runs.

The screen only lists and chooses: it reads the runs folder in a thread worker and dismisses
with a :class:`BrowserChoice` that the app carries out (tui/dashboard/run_opener.py). Keys:
Enter opens the run under the cursor, a attaches to it, r resumes it, space marks runs, o
overlays the marked runs on the loss chart, c clears the overlay, Esc closes. The experiment
keys (C compare, t tag, n note, D delete, s sort, f filter, w sweeps) live in
tui/dashboard/screens/run_browser_tidy.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from engine.run.folder import RunFolder, apply_live_changes
from engine.run.state import LIVE, RESUMABLE
from engine.run.summary import RunSummary
from tui.dashboard.screens.dismiss_once import DismissOnce
from tui.dashboard.screens.run_browser_tidy import SORTS, TidyKeys, arrange

STATE_STYLES = {
    "running": "bold green",
    "paused": "bold yellow",
    "finished": "blue",
    "stopped": "yellow",
    "interrupted": "bold magenta",
    "failed": "bold red",
    "unknown": "dim",
}
HINT = (
    "Enter open · a attach · r resume · space mark · o overlay · c clear · C compare · "
    "t tag · n note · D delete · s sort · f filter · w sweeps · Esc"
)


@dataclass(frozen=True)
class RunRow:
    """One run as the browser shows it."""

    summary: RunSummary
    detail: str  # the config in a few words: model shape, learning rate
    tags: tuple[str, ...] = ()
    note: str = ""
    sweep_state: str = ""  # a sweep trial's verdict: pruned reads better than stopped

    @property
    def run_id(self) -> str:
        return self.summary.run_id


@dataclass(frozen=True)
class BrowserChoice:
    """What the user asked for: open, attach, resume, overlay or clear, and on which runs."""

    action: str
    runs: tuple[RunRow, ...] = ()


def config_detail(config: dict) -> str:
    """A few words on a run's config: its shape and learning rate."""
    if not config:
        return "?"
    if config.get("model") == "gpt":
        shape = f"{config.get('n_layer')}L {config.get('n_head')}H {config.get('n_embd')}d"
    else:
        shape = (
            f"{config.get('num_layers')}x{config.get('hidden_dim')} "
            f"emb {config.get('embedding_dim')}"
        )
    lr = config.get("learning_rate")
    return f"{shape} · lr {lr:g}" if isinstance(lr, int | float) else shape


def read_rows(runs_dir: Path) -> list[RunRow]:
    """Every run under ``runs_dir``, newest first, with its config (live changes included)
    in a few words."""
    from engine.experiments.records import read_meta
    from engine.run.summary import list_runs

    rows = []
    for summary in reversed(list_runs(runs_dir)):
        try:
            # The summary already holds the live changes: no second read of the log.
            config = RunFolder(summary.path).saved_config()
            if config is not None:
                config = apply_live_changes(config, list(summary.changes))
        except OSError:
            config = None
        meta = read_meta(summary.path)
        tags = tuple(str(t) for t in meta.get("tags", []) if isinstance(t, str))
        detail = config_detail(config.model_dump() if config else {})
        sweep = meta.get("sweep") if isinstance(meta.get("sweep"), dict) else {}
        note = str(meta.get("note", ""))
        rows.append(RunRow(summary, detail, tags, note, str(sweep.get("state", ""))))
    return rows


class RunsListed(Message):
    """The worker read the runs folder (``error`` is a sentence when it could not)."""

    def __init__(self, rows: list[RunRow], error: str = "") -> None:
        super().__init__()
        self.rows = rows
        self.error = error


class RunBrowser(DismissOnce, TidyKeys, ModalScreen[BrowserChoice | None]):
    """A table of runs; the keys choose what the dashboard does with them."""

    BINDINGS = [  # noqa: RUF012 (Textual's own idiom)
        Binding("escape,q", "close", "Close", show=True),
        Binding("a", "choose('attach')", "Attach", show=True),
        Binding("r", "choose('resume')", "Resume", show=True),
        Binding("space", "mark", "Mark", show=True),
        Binding("o", "overlay", "Overlay", show=True),
        Binding("c", "choose('clear')", "Clear overlay", show=True),
        Binding("C", "compare", "Compare", show=True),
        Binding("t", "tag", "Tag", show=False),
        Binding("n", "note", "Note", show=False),
        Binding("D", "delete", "Delete", show=False),
        Binding("s", "sort", "Sort", show=False),
        Binding("f", "filter", "Filter", show=False),
        Binding("w", "sweeps", "Sweeps", show=False),
    ]

    def __init__(self, runs_dir: Path) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.rows: list[RunRow] = []  # shown: filtered and sorted
        self.all_rows: list[RunRow] = []
        self.sort = SORTS[0]
        self.filter = ""
        self.error = ""
        self.marked: set[str] = set()
        self.loaded = False

    def compose(self) -> ComposeResult:
        with Vertical(id="browser-box"):
            yield Label(Text(f"Runs in {self.runs_dir} (reading…)"), id="browser-title")
            yield DataTable(id="browser-table", cursor_type="row", zebra_stripes=True)
            yield Label(HINT, id="browser-hint")

    def on_mount(self) -> None:
        try:
            self.table = self.query_one(DataTable)
        except NoMatches:  # dismissed before its children mounted (keys and resizes racing)
            return
        self.table.add_columns("", "run", "model", "config", "steps", "best val", "state", "tags")
        self.table.focus()
        self._read()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _read(self) -> None:
        try:
            self.post_message(RunsListed(read_rows(self.runs_dir)))
        except Exception as exc:  # an unreadable folder: say so in the title
            self.post_message(RunsListed([], f"{type(exc).__name__}: {exc}"))

    def on_runs_listed(self, message: RunsListed) -> None:
        self.all_rows = message.rows
        self.error = message.error
        self.loaded = True
        self.show_rows()

    def show_rows(self) -> None:
        """Fill the table with the runs that pass the filter, in the chosen order."""
        self.rows = arrange(self.all_rows, self.sort, self.filter)
        title = self.query_one("#browser-title", Label)
        order = f"sorted by {self.sort.lstrip('-')}" + (" (desc)" if self.sort[0] == "-" else "")
        shown = f"{len(self.rows)} of {len(self.all_rows)}" if self.filter else len(self.rows)
        if self.error:
            title.update(Text(f"Cannot read {self.runs_dir}: {self.error}"))
        elif not self.all_rows:
            title.update(Text(f"No runs in {self.runs_dir} yet: press Esc, then s to train one."))
        else:
            where = f", filter {self.filter}" if self.filter else ""
            title.update(Text(f"{shown} runs in {self.runs_dir}, {order}{where}"))
        self.table.clear()
        for row in self.rows:
            self.table.add_row(*self._cells(row), key=row.run_id)

    def _cells(self, row: RunRow) -> list[str | Text]:
        s = row.summary
        best = f"{s.best_val_loss:.4f}" if math.isfinite(s.best_val_loss) else "—"
        total = f"/{s.total_steps}" if s.total_steps else ""
        state = "pruned" if s.state == "stopped" and row.sweep_state == "pruned" else s.state
        return [
            "●" if row.run_id in self.marked else " ",
            row.run_id,
            s.model,
            row.detail,
            f"{s.step}{total}",
            best,
            Text(state, style=STATE_STYLES.get(s.state, "")),
            Text(" ".join(row.tags)),  # user text: Text, never markup
        ]

    def current(self) -> RunRow | None:
        """The run under the cursor, or None in an empty table."""
        if not self.rows or not 0 <= self.table.cursor_row < len(self.rows):
            return None
        return self.rows[self.table.cursor_row]

    # --- choosing ----------------------------------------------------------------------
    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose("open")

    def action_choose(self, action: str) -> None:
        """Dismiss with ``action`` on the run under the cursor (clear needs no run)."""
        if action == "clear":
            self.dismiss(BrowserChoice("clear"))
            return
        row = self.current()
        if row is None:
            self.notify("No run here yet.", severity="warning")
            return
        state = row.summary.state
        if action == "attach" and state not in LIVE:
            self.notify(f"{row.run_id} is {state}, not running: Enter opens it.")
            return
        if action == "resume" and state not in RESUMABLE:
            hint = "a attaches to it" if state in LIVE else "Enter opens it"
            self.notify(f"{row.run_id} is {state}: nothing to resume ({hint}).")
            return
        if action == "resume" and not RunFolder(row.summary.path).latest_path.is_file():
            self.notify(f"{row.run_id} has no checkpoint to resume from.", severity="warning")
            return
        self.dismiss(BrowserChoice(action, (row,)))

    def action_mark(self) -> None:
        """Mark / unmark the run under the cursor for the overlay."""
        row = self.current()
        if row is None:
            return
        self.marked ^= {row.run_id}
        self.table.update_cell_at(Coordinate(self.table.cursor_row, 0), self._cells(row)[0])
        self.table.move_cursor(row=min(self.table.cursor_row + 1, len(self.rows) - 1))

    def action_overlay(self) -> None:
        """Overlay the marked runs (or the one under the cursor) on the loss chart."""
        chosen = tuple(r for r in self.rows if r.run_id in self.marked)
        if not chosen and (row := self.current()) is not None:
            chosen = (row,)
        if chosen:
            self.dismiss(BrowserChoice("overlay", chosen))

    def action_close(self) -> None:
        self.dismiss(None)
