"""RunStatus: the run's state and numbers (step, epoch, lr, tokens/s, ETA, best val...).

The session owns a :class:`~tui.dashboard.session.RunStats` and updates it from engine events;
the widget only renders it, on the main screen's refresh timer (elapsed time ticks between
events).
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tui.dashboard.session import RunStats
from tui.shared.formatting import format_duration

STATE_STYLES = {
    "idle": "bold",
    "starting": "bold cyan",
    "running": "bold green",
    "paused": "bold yellow",
    "stopping": "bold yellow",
    "finished": "bold blue",
    "stopped": "bold yellow",
    "interrupted": "bold magenta",
    "opened": "bold",
    "detached": "bold",
    "failed": "bold red",
}


def format_count(n: int) -> str:
    """``812``, ``12.3k``, ``4.56M``."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.2f}M"
    if n >= 10_000:
        return f"{n / 1000:.1f}k"
    return str(n)


class RunStatus(Widget):
    """A three-row grid of labelled numbers; re-rendered by :meth:`show`.

    Its size never changes, so a redraw is a plain ``refresh()`` (no screen-wide layout), and
    it renders plain padded Text: a Rich Table cost ~20 ms a redraw, stolen from training.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.stats = RunStats()

    def show(self, stats: RunStats) -> None:
        """Render ``stats`` on the next frame."""
        self.stats = stats
        self.refresh()

    def render(self) -> Text:
        return render_stats(self.stats, self.content_size.width or 120)


def _cells(stats: RunStats) -> list[list[tuple[str, str, str]]]:
    """(label, value, style) for each cell, row by row."""
    total = f"/{stats.total_steps}" if stats.total_steps else ""
    lr = f"{stats.lr:.3g}" if stats.lr is not None else "—"
    tps = f"{stats.tokens_per_s:,.0f}" if stats.tokens_per_s is not None else "—"
    if stats.compiling:
        tps = "compiling…"
    best = f"{stats.best_val_loss:.4f}" if stats.best_val_loss is not None else "—"
    params = format_count(stats.n_params) if stats.n_params is not None else "—"
    return [
        [
            # A key's unconfirmed request ("pausing…") in place of the state it will change.
            ("state", stats.pending or stats.state, STATE_STYLES.get(stats.state, "bold")),
            ("step", f"{stats.step}{total}", "bold"),
            ("epoch", str(stats.epoch), "bold"),
            ("lr", lr, "bold"),
        ],
        [
            ("tok/s", tps, "bold"),
            ("elapsed", format_duration(stats.live_elapsed()), "bold"),
            ("ETA", format_duration(stats.eta_s()), "bold"),
            ("best val", best, "bold"),
        ],
        [
            ("params", params, "bold"),
            ("device", stats.device or "—", "bold"),
            ("ckpt", stats.last_checkpoint or "—", "bold"),
            ("run", stats.run_id or "—", "bold"),
        ],
    ]


def render_stats(stats: RunStats, width: int = 120) -> Text:
    """The status as three lines of four fixed-width cells (cut with … when too long)."""
    cell_width = max(12, width // 4)
    out = Text(no_wrap=True, overflow="ellipsis")
    for row_index, row in enumerate(_cells(stats)):
        if row_index:
            out.append("\n")
        for label, value, style in row:
            text = f"{label} {value}"
            if len(text) > cell_width - 1:
                value = value[: max(1, cell_width - len(label) - 3)] + "…"
            out.append(f"{label} ", "dim")
            out.append(value, style)
            out.append(" " * max(1, cell_width - len(label) - 1 - len(value)))
    return out
