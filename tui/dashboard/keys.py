"""Every key of the dashboard in one table: the bindings, the help overlay and KEYS.md.

Each action names its owner: the App (quit, help, palette: they work over every screen) or
the main screen (everything else, handed over to the widget that acts). Letters act when no
text box has focus (a focused Input takes printable keys first); Esc leaves a box.
"""

from __future__ import annotations

from textual.binding import Binding

# key(s), action, footer label, help text, shown in the footer (owner: APP_ACTIONS or screen)
KEYS: list[tuple[str, str, str, str, bool]] = [
    ("s", "start", "Start", "Start training with the editor's config", True),
    ("p", "pause", "Pause", "Pause / resume training", True),
    ("x", "stop", "Stop", "Stop training (saves a checkpoint first)", True),
    ("w", "save", "Save", "Save a checkpoint now", True),
    ("g", "generate", "Generate", "Generate / regenerate from the prompt", True),
    (
        "d",
        "detach",
        "Detach",
        "Attached run: stop following it (it trains on) / follow again",
        False,
    ),
    ("escape", "escape", "Stop gen", "Stop the generation and leave the text box", False),
    ("left_square_bracket", "temperature(-1)", "Temp-", "Temperature down 0.1", False),
    ("right_square_bracket", "temperature(1)", "Temp+", "Temperature up 0.1", False),
    ("left_curly_bracket", "top_k(-1)", "Top-k-", "Top-k one notch down (0 = off)", False),
    ("right_curly_bracket", "top_k(1)", "Top-k+", "Top-k one notch up", False),
    ("minus", "top_p(-1)", "Top-p-", "Top-p down 0.05", False),
    ("equals_sign,plus", "top_p(1)", "Top-p+", "Top-p up 0.05 (1 = off)", False),
    ("t", "strategy", "Strategy", "Sampling strategy: sample → greedy → beam", False),
    ("m", "min_p", "Min-p", "Min-p one notch up (wraps to off)", False),
    ("n", "repetition", "Rep", "Repetition penalty one notch up (wraps to off)", False),
    ("less_than_sign", "length(-1)", "Len-", "Generation length one notch down", False),
    ("greater_than_sign", "length(1)", "Len+", "Generation length one notch up", False),
    ("k", "pin_seed", "Pin seed", "Pin / unpin the sampling seed (unpinned: new each g)", False),
    ("c", "candidates", "Next?", "Top 5 next characters after the text, with probabilities", False),
    ("comma", "page(-1)", "Prev sample", "Previous training sample", False),
    ("full_stop", "page(1)", "Next sample", "Next training sample", False),
    ("i", "inspect", "Inspect", "Inspect what the model knows (five views)", False),
    ("r", "runs", "Runs", "Run browser: open, attach, resume, compare runs", True),
    ("o", "clear_overlay", "Clear overlay", "Remove compared runs from the loss chart", False),
    ("l", "log_scale", "Log", "Charts: log / linear y axis", False),
    ("b", "bits", "Bits", "Second chart: perplexity / bits per character", False),
    ("v", "pick_metrics", "Metrics", "Charts: choose the metrics on screen", False),
    ("z", "smoothing", "Smooth", "Charts: smoothing off → 0.6 → … → 0.99", False),
    ("a", "x_axis", "X axis", "Charts: x axis by step → wall time → tokens seen", False),
    ("u", "zoom", "Zoom", "Charts: all steps → last 100 / 500 / 2000 / 10000", False),
    ("shift+left", "cursor(-1)", "Cursor ←", "Charts: value cursor back (titles show it)", False),
    ("shift+right", "cursor(1)", "Cursor →", "Charts: value cursor on; past the end: off", False),
    ("1", "tab('config')", "Config", "Config tab", False),
    ("2", "tab('generate')", "Gen tab", "Generate tab", False),
    ("3", "tab('samples')", "Samples", "Samples tab", False),
    ("e", "edit", "Edit", "Edit the config (first field)", False),
    ("slash", "find_field", "Find field", "Config: filter the fields by name", False),
    (
        "ctrl+p",
        "command_palette",
        "Commands",
        "Command palette: open run, presets, chart and seed toggles",
        False,
    ),
    ("question_mark,f1", "help", "Help", "This help (Esc closes it)", True),
    ("q", "quit", "Quit", "Quit (a run is stopped with a checkpoint first)", True),
    ("ctrl+c", "quit", "Quit", "Quit, like q (twice: quit at once)", False),
]

# Bound on the App, so they work over every screen; every other action is the main screen's.
APP_ACTIONS = frozenset({"command_palette", "help", "quit"})

# Ctrl-C must quit even from a text box (where Input would take it as copy).
PRIORITY_KEYS = frozenset({"ctrl+c"})

FOOTER_KEY_DISPLAY = {
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "question_mark,f1": "?",
}


def owner(action: str) -> str:
    """Who binds ``action``: ``"app"`` or ``"screen"`` (the main screen)."""
    return "app" if action in APP_ACTIONS else "screen"


def bindings(only: str | None = None) -> list[Binding]:
    """Bindings built from :data:`KEYS`: every key, or only those of one owner."""
    return [
        Binding(
            key,
            action,
            label,
            show=show,
            tooltip=help_text,
            key_display=FOOTER_KEY_DISPLAY.get(key),
            priority=key in PRIORITY_KEYS,
        )
        for key, action, label, help_text, show in KEYS
        if only is None or owner(action) == only
    ]
