"""The run browser's experiment keys, as a mixin of
:class:`tui.dashboard.screens.run_browser.RunBrowser`.

C compares the marked runs (CompareScreen), t tags and n annotates the run under the cursor
(saved in its folder's meta.json), D deletes it after a confirmation (never a running run),
s cycles the sort order, f filters (``state=finished,tag=lr,model=gpt``), w lists sweeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import work

from engine.experiments.records import matches, parse_filter, sort_key
from tui.dashboard.screens.compare import CompareScreen
from tui.dashboard.screens.prompt import Confirm, TextPrompt
from tui.dashboard.screens.sweeps import SweepsScreen

if TYPE_CHECKING:
    from tui.dashboard.screens.run_browser import RunBrowser, RunRow

    _Base = RunBrowser
else:
    _Base = object

SORTS = ("-started", "best_val", "state", "model", "run", "-steps")
"""The order s cycles through (names from engine.experiments.records.SORT_FIELDS): newest first,
then best validation loss first, ..."""


def arrange(rows: list[RunRow], sort: str, filt: str) -> list[RunRow]:
    """Rows that pass ``filt``, ordered by ``sort`` (ValueError on a bad filter)."""
    pairs = parse_filter(filt) if filt else []
    key = sort_key(sort)
    kept = [r for r in rows if matches(r.summary, list(r.tags), pairs)]
    return sorted(kept, key=lambda r: key(r.summary), reverse=sort.startswith("-"))


class TidyKeys(_Base):
    """Compare, tag, note, delete, sort, filter and sweeps for the run browser."""

    def action_compare(self) -> None:
        """Open the compare view on the marked runs (two or more)."""
        chosen = [r.summary.path for r in self.all_rows if r.run_id in self.marked]
        if len(chosen) < 2:
            self.notify("Mark two or more runs with space, then C compares them.")
            return
        self.app.push_screen(CompareScreen(chosen))

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
            self.notify(escape(str(exc)), severity="error")
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
            self.notify(escape(str(exc)), severity="error")
            return
        self._read()

    def action_delete(self) -> None:
        """Delete the run under the cursor after a confirmation; never a running run."""
        from engine.run.lock import lock_is_live

        row = self.current()
        if row is None:
            return
        if row.summary.state == "running" or lock_is_live(row.summary.path):
            self.notify(
                f"{escape(row.run_id)} is running: stop it before deleting it.", severity="warning"
            )
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
            self.app.call_from_thread(self.notify, escape(str(exc)), severity="error")
            return
        self.app.call_from_thread(self.notify, escape(f"Deleted {folder.name}."))
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
            self.notify(escape(str(exc)), severity="error", timeout=8)
            return
        self.filter = text.strip()
        self.show_rows()

    def action_sweeps(self) -> None:
        """The sweeps of this runs folder and their trials."""
        self.app.push_screen(SweepsScreen(self.runs_dir))
