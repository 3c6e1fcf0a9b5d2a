"""Work-arounds for Textual bugs that llmv0 has met; applied once, when tui.dashboard.app is
imported.

**A toast mounted just after its notification expired froze the dashboard.** Textual's
``ToastRack.show`` keeps the notifications that have not expired, then builds each ``Toast``
later, which reads ``notification.time_left`` again: by then it can be slightly negative
(-2.3 ms was seen). The toast's one-shot timer then gets a negative delay, and Textual's
``Timer._run`` never ends for one (its step count runs backwards): the UI thread spun at
100% CPU, training crawled, and the process outlived its terminal. Found by the key fuzz,
whose notices come and go while screens open and close. Here a toast's delay is never below
``MIN_TOAST_S``: an expired toast goes at once instead.
"""

from __future__ import annotations

from textual.widgets._toast import Toast

MIN_TOAST_S = 0.05  # an expired notification's toast: shown for a blink, then removed

_original_on_mount = Toast._on_mount


def _on_mount(self: Toast, event: object) -> None:
    self._timeout = max(self._timeout, MIN_TOAST_S)
    _original_on_mount(self, event)  # type: ignore[arg-type]


def apply() -> None:
    """Install the work-arounds (idempotent)."""
    Toast._on_mount = _on_mount  # type: ignore[method-assign]


apply()
