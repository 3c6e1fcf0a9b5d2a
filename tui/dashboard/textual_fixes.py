"""Work-arounds for Textual bugs llmv0 has met; applied once, when tui.dashboard.app is imported.

A toast's timeout is never below ``MIN_TOAST_S``: a toast built just after its notification
expired got a negative timer delay, and Textual's timer then never ends (the UI thread spins
at 100% CPU). The story: docs/LOG.md, 2026-12-07.
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
