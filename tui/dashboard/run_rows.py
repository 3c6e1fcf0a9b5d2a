"""The run browser's rows: each run of a runs folder in a few words, sorted and filtered.

Plain data read from run folders (no Textual), so the main screen can name a
:class:`BrowserChoice` without loading the browser's DataTable at first frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.experiments.records import matches, parse_filter, sort_key
from engine.run.folder import RunFolder, apply_live_changes
from engine.run.summary import RunSummary

STATE_STYLES = {
    "running": "bold green",
    "paused": "bold yellow",
    "finished": "blue",
    "stopped": "yellow",
    "interrupted": "bold magenta",
    "failed": "bold red",
    "unknown": "dim",
}
# The browser's columns, most wanted first: a narrow terminal drops them from the end, so at
# 80 columns a run's state and best validation loss still show (the mark column comes first
# whatever the width: space marks runs for the overlay).
COLUMNS = ("", "run", "state", "best val", "steps", "model", "config", "tags")
CELL_PADDING = 2  # a DataTable cell's padding, one column each side


def columns_that_fit(widths: list[int], room: int) -> int:
    """How many of the columns (content ``widths``, in priority order) fit in ``room`` cells;
    always the first two (mark and run id), so a run can be named at any width."""
    used, count = 0, 0
    for width in widths:
        used += width + CELL_PADDING
        if used > room and count >= 2:
            break
        count += 1
    return count


SORTS = ("-started", "best_val", "state", "model", "run", "-steps")
"""The order s cycles through (names from engine.experiments.records.SORT_FIELDS): newest first,
then best validation loss first, ..."""


def arrange(rows: list[RunRow], sort: str, filt: str) -> list[RunRow]:
    """Rows that pass ``filt``, ordered by ``sort`` (ValueError on a bad filter)."""
    pairs = parse_filter(filt) if filt else []
    key = sort_key(sort)
    kept = [r for r in rows if matches(r.summary, list(r.tags), pairs)]
    return sorted(kept, key=lambda r: key(r.summary), reverse=sort.startswith("-"))


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
