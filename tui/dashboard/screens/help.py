"""HelpScreen: an overlay listing every key of the dashboard, built from the app's bindings."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.dashboard.screens.dismiss_once import DismissOnce

KEY_NAMES = {
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "left_curly_bracket": "{",
    "right_curly_bracket": "}",
    "minus": "-",
    "equals_sign": "=",
    "plus": "+",
    "comma": ",",
    "full_stop": ".",
    "less_than_sign": "<",
    "greater_than_sign": ">",
    "slash": "/",
    "escape": "Esc",
}


TEXT_BOX_KEYS = [
    (
        "Enter / a / r / space / o / c",
        "Run browser: open / attach / resume / mark / overlay the marked runs / clear",
    ),
    ("1-5 / ← → / ↑ ↓", "Inspect: view / cursor (shift: 10) / head or unit"),
    ("n / slash / k", "Inspect: new passage / type a text / cell or hidden state"),
    ("Tab / shift+Tab", "Move between panes, fields and buttons"),
    (
        "Enter",
        "In the prompt: generate. In the field filter: go to the first match. "
        "In a ● config field during a run: apply it",
    ),
    ("space / Enter", "Metric checklist (v): tick a metric / show the ticked ones"),
]


def key_rows(bindings: list[Binding]) -> list[tuple[str, str]]:
    """(keys, description) pairs, keys that share an action merged ('q / ctrl+c')."""
    rows: dict[str, list[str]] = {}
    descriptions: dict[str, str] = {}
    for binding in bindings:
        if not binding.description:
            continue
        for key in binding.key.split(","):
            rows.setdefault(binding.action, []).append(KEY_NAMES.get(key.strip(), key.strip()))
        descriptions.setdefault(binding.action, binding.tooltip or binding.description)
    out = [(" / ".join(dict.fromkeys(keys)), descriptions[action]) for action, keys in rows.items()]
    return out + TEXT_BOX_KEYS


def key_column_width(rows: list[tuple[str, str]]) -> int:
    """The help's key column: as wide as its widest single key ("shift+right"); a longer
    list of alternatives ("Enter / a / r / space / o / c") wraps between its keys."""
    return max(len("Key"), *(len(k) for keys, _ in rows for k in keys.split(" / ")))


def wrap_keys(keys: str, width: int) -> list[str]:
    """``keys`` ("a / b / c") in lines of at most ``width``, broken after a " /"."""
    lines: list[str] = []
    for key in keys.split(" / "):
        if lines and len(lines[-1]) + len(" / ") + len(key) <= width:
            lines[-1] += f" / {key}"
        else:
            if lines:
                lines[-1] += " /"
            lines.append(key)
    return lines


def keys_markdown(rows: list[tuple[str, str]]) -> str:
    """The key table as Markdown (tui/dashboard/KEYS.md, pasted into the README; a test keeps
    it true)."""
    lines = ["| Key | Action |", "| --- | --- |"]
    for keys, description in rows:
        shown = " / ".join(f"`{k.strip()}`" for k in keys.split(" / "))
        escaped = shown.replace("|", "\\|")
        lines.append(f"| {escaped} | {description} |")
    return "\n".join(lines) + "\n"


class HelpScreen(DismissOnce, ModalScreen[None]):
    """Every key and what it does; any of escape, ? or q closes it."""

    BINDINGS = [  # noqa: RUF012 (Textual's own idiom)
        Binding("escape,question_mark,q,f1", "dismiss", "Close help", show=False),
    ]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        # The key column as wide as its widest key (it was 31 wide for one-letter keys: the
        # width of the longest list of alternatives, which now wraps).
        width = key_column_width(self.rows)
        table = Table(title="llmv0-tui keys", expand=True, show_edge=False)
        table.add_column("Key", style="bold cyan", no_wrap=True, width=width)
        table.add_column("Action", ratio=1)
        for keys, description in self.rows:
            table.add_row(Text("\n".join(wrap_keys(keys, width))), Text(description))
        with VerticalScroll(id="help-box"):
            yield Static(table)
            yield Static(
                "Letters act when no text box has focus: Esc leaves a box, Tab moves between "
                "panes. ● marks config fields that can change during a run (Enter applies).",
                id="help-note",
            )
            yield Static("Press Esc or ? to close.", id="help-close")

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(result)
