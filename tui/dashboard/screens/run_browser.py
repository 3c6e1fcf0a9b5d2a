"""RunBrowser: every run of the runs folder in a table; open, attach, resume or compare runs.

It reads the runs folder in a thread worker and dismisses with a :class:`BrowserChoice` that
the main screen carries out. Enter opens the run under the cursor, a attaches, r resumes,
space marks, o overlays the marked runs on the loss chart, c clears the overlay, Esc closes.
C compares the marked runs, t tags and n annotates (saved in the run's meta.json), D deletes
after a confirmation (never a running run), s sorts, f filters, w lists sweeps.
"""

from __future__ import annotations

import math
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

from engine.experiments.records import parse_filter
from engine.run.folder import RunFolder
from engine.run.state import LIVE, RESUMABLE
from tui.dashboard.run_rows import (
    COLUMNS,
    SORTS,
    STATE_STYLES,
    BrowserChoice,
    RunRow,
    arrange,
    columns_that_fit,
    read_rows,
)
from tui.dashboard.screens.compare import CompareScreen
from tui.dashboard.screens.dismiss_once import DismissOnce
from tui.dashboard.screens.prompt import Confirm, TextPrompt
from tui.dashboard.screens.sweeps import SweepsScreen
from tui.dashboard.widgets.key_hint import KeyHint, hint_entries


class RunsListed(Message):
    """The worker read the runs folder (``error`` is a sentence when it could not)."""

    def __init__(self, rows: list[RunRow], error: str = "") -> None:
        super().__init__()
        self.rows = rows
        self.error = error


class RunBrowser(DismissOnce, ModalScreen[BrowserChoice | None]):
    """A table of runs; the keys choose what the dashboard does with them."""

    # The hint under the table lists these in this order (Enter, the table's own key, first).
    BINDINGS = [  # noqa: RUF012 (Textual's own idiom)
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
        Binding("escape,q", "close", "Close", show=True),
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
        self.shown_columns = 0  # how many of COLUMNS the table has now

    def compose(self) -> ComposeResult:
        with Vertical(id="browser-box"):
            yield Label(Text(f"Runs in {self.runs_dir} (reading…)"), id="browser-title")
            yield DataTable(id="browser-table", cursor_type="row", zebra_stripes=True)
            yield KeyHint([("Enter", "open"), *hint_entries(self.BINDINGS)], id="browser-hint")

    def on_mount(self) -> None:
        try:
            self.table = self.query_one(DataTable)
        except NoMatches:  # dismissed before its children mounted (keys and resizes racing)
            return
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
        self.show_title()
        self.fill_table()

    def show_title(self) -> None:
        """How many runs are shown, from where, in which order."""
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

    def fill_table(self) -> None:
        """The rows in the table, with as many columns (by priority) as its width holds."""
        table = self.table
        cells = [self._cells(row) for row in self.rows]
        widths = [
            max([len(label), *(Text(str(c[i])).cell_len for c in cells)])
            for i, label in enumerate(COLUMNS)
        ]
        room = table.size.width
        if len(self.rows) >= table.size.height:  # a vertical scrollbar takes its columns
            room -= table.styles.scrollbar_size_vertical
        count = columns_that_fit(widths, room) if room > 0 else len(COLUMNS)
        cursor = table.cursor_row
        table.clear(columns=count != self.shown_columns)
        if count != self.shown_columns:
            table.add_columns(*COLUMNS[:count])
            self.shown_columns = count
        for row, row_cells in zip(self.rows, cells, strict=True):
            table.add_row(*row_cells[:count], key=row.run_id)
        if self.rows:
            table.move_cursor(row=min(cursor, len(self.rows) - 1))

    def on_resize(self) -> None:
        # After the layout, so the table's new width is known.
        if self.loaded:
            self.call_after_refresh(self.fill_table)

    def _cells(self, row: RunRow) -> list[str | Text]:
        """The row's cells in the order of COLUMNS (their priority)."""
        s = row.summary
        best = f"{s.best_val_loss:.4f}" if math.isfinite(s.best_val_loss) else "—"
        total = f"/{s.total_steps}" if s.total_steps else ""
        state = "pruned" if s.state == "stopped" and row.sweep_state == "pruned" else s.state
        return [
            "●" if row.run_id in self.marked else " ",
            row.run_id,
            Text(state, style=STATE_STYLES.get(s.state, "")),
            best,
            f"{s.step}{total}",
            s.model,
            row.detail,
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

    # --- tidying: compare, tag, note, delete, sort, filter, sweeps -------------------------
    def action_compare(self) -> None:
        """Open the compare view on the marked runs (two or more)."""
        chosen = [r.summary.path for r in self.all_rows if r.run_id in self.marked]
        if len(chosen) < 2:
            self.notify("Mark two or more runs with space, then C compares them.")
            return
        # Building the compare screen takes a few hundred ms on a loaded machine: say the key
        # was taken now, in the title, and push the screen after that frame is drawn.
        self.query_one("#browser-title", Label).update(Text(f"comparing {len(chosen)} runs…"))
        self.call_after_refresh(
            self.app.push_screen, CompareScreen(chosen), lambda _: self.show_title()
        )

    def action_tag(self) -> None:
        """Add tags to the run under the cursor (a leading '-' removes one)."""
        row = self.current()
        if row is None:
            return
        question = f"Tags for {row.run_id} (space-separated; -tag removes):"
        self.app.push_screen(
            TextPrompt(question, " ".join(row.tags)), lambda text: self._save_tags(row, text)
        )

    def _save_tags(self, row: RunRow, text: str | None) -> None:
        from engine.experiments.records import add_tags, remove_tags

        if text is None:
            return
        words = text.split()
        keep = [w for w in words if not w.startswith("-")]
        drop = [w[1:] for w in words if w.startswith("-")]
        drop += [t for t in row.tags if t not in keep]  # erased from the line: removed
        try:
            remove_tags(row.summary.path, drop)
            add_tags(row.summary.path, keep)
        except (ValueError, OSError) as exc:
            self.notify(str(exc), severity="error")
            return
        self._read()

    def action_note(self) -> None:
        """Write the note of the run under the cursor."""
        row = self.current()
        if row is None:
            return
        self.app.push_screen(
            TextPrompt(f"Note for {row.run_id}:", row.note, "what this run tries"),
            lambda text: self._save_note(row, text),
        )

    def _save_note(self, row: RunRow, text: str | None) -> None:
        from engine.experiments.records import set_note

        if text is None:
            return
        try:
            set_note(row.summary.path, text)
        except OSError as exc:
            self.notify(str(exc), severity="error")
            return
        self._read()

    def action_delete(self) -> None:
        """Delete the run under the cursor after a confirmation; never a running run."""
        from engine.run.lock import lock_is_live

        row = self.current()
        if row is None:
            return
        if row.summary.state == "running" or lock_is_live(row.summary.path):
            self.notify(f"{row.run_id} is running: stop it before deleting it.", severity="warning")
            return
        self.app.push_screen(
            Confirm(f"Delete {row.run_id} and its checkpoints for good?"),
            lambda yes: self._delete(row.summary.path) if yes else None,
        )

    @work(thread=True, exit_on_error=False, group="delete")
    def _delete(self, folder: Path) -> None:
        from engine.experiments.records import RunBusyError, delete_run

        try:
            delete_run(folder)
        except (RunBusyError, OSError) as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self.notify, f"Deleted {folder.name}.")
        self.app.call_from_thread(self._read)

    def action_sort(self) -> None:
        """Cycle the order of the table."""
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.show_rows()

    def action_filter(self) -> None:
        """Ask for a filter such as ``state=finished,tag=lr`` (empty shows every run)."""
        self.app.push_screen(
            TextPrompt("Filter runs:", self.filter, "state=finished,tag=lr,model=gpt"),
            self._set_filter,
        )

    def _set_filter(self, text: str | None) -> None:
        if text is None:
            return
        try:
            parse_filter(text)
        except ValueError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.filter = text.strip()
        self.show_rows()

    def action_sweeps(self) -> None:
        """The sweeps of this runs folder and their trials."""
        self.app.push_screen(SweepsScreen(self.runs_dir))
