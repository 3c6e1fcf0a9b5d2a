"""Work-arounds for Textual bugs llmv0 has met; applied once, when tui.dashboard.app is imported.

A toast's timeout is never below ``MIN_TOAST_S``: a toast built just after its notification
expired got a negative timer delay, and Textual's timer then never ends (the UI thread spins
at 100% CPU). The story: docs/LOG.md, 2026-12-07.

Keystrokes act in the order they were typed, however fast they come (a slow SSH link delivers
them in bursts). Textual routes each key to the widget focused when the App reads it, and the
widget, its ancestors and the App handle it later, each from its own queue:

- Textual issue #6605 (fixed upstream by pull request #6631, not in 8.2.8): an ``Input``
  inserts a printable key in its own ``_on_key``, but its bound keys (backspace, arrows,
  home/end, Enter) bubbled up to the App before their action ran, so a character typed after
  them could be inserted first ("0.005" retyped quickly became "000.0"). Here, as in the pull
  request, the box's own non-priority bindings run inline in ``_on_key``. Priority bindings
  were checked before the key reached the box, and the box is the first namespace of the
  binding chain, so what runs is unchanged; only when it runs.
- A key that moves the focus (``/``, Enter in the field filter) acts only after the keys
  behind it were routed to the old focus: "/learn" typed at once ran l, e, a, r, n as
  dashboard keys, and digits typed after Enter went into the filter. A key that reaches a box,
  or comes back to the App, after the focus moved on is passed to the widget focused now, as
  if it had been read then; and the dashboard moves the focus with :func:`focus_now`.

Keys bound only on an ancestor (Tab, Escape) still run when they reach the App, so a
character typed right after them can still land first. tests/tui/test_key_order.py fails
once bare Textual no longer reorders keys: then remove the Input work-around.
"""

from __future__ import annotations

from textual import events
from textual.app import App
from textual.widget import Widget
from textual.widgets import Input
from textual.widgets._toast import Toast

MIN_TOAST_S = 0.05  # an expired notification's toast: shown for a blink, then removed

_original_on_mount = Toast._on_mount
_original_input_on_key = Input._on_key
_original_app_on_event = App.on_event
_original_app_on_key = App._on_key

_NOT_ROUTED = object()
ROUTED_TO = "_llmv0_routed_to"  # set on a Key: the widget it was routed to (None: the screen)


def _on_mount(self: Toast, event: object) -> None:
    self._timeout = max(self._timeout, MIN_TOAST_S)
    _original_on_mount(self, event)  # type: ignore[arg-type]


def focus_now(widget: Widget) -> None:
    """Focus ``widget`` before the next key is routed (``Widget.focus`` waits its turn in
    the App's queue, behind the keys already read)."""
    if widget.focusable:
        widget.screen.set_focus(widget)
    else:  # not on screen yet (a tab about to show it): Textual's own deferred focus
        widget.focus()


def _pass_on(app: App, event: events.Key) -> None:
    """Send a key that went to a widget that has lost the focus to the one focused now."""
    event.stop()
    target = app.focused or app.screen
    key = events.Key(event.key, event.character)
    setattr(key, ROUTED_TO, app.focused)
    target._forward_event(key)


async def run_own_bindings(widget: Input, event: events.Key) -> bool:
    """Run ``widget``'s own non-priority binding for ``event`` now; True when one acted."""
    for binding in widget._bindings.key_to_bindings.get(event.key, ()):
        if not binding.priority and await widget.app.run_action(binding.action, widget):
            event.stop()
            event.prevent_default()
            return True
    return False


async def _input_on_key(self: Input, event: events.Key) -> None:
    if self.app.focused is not self and getattr(event, ROUTED_TO, _NOT_ROUTED) is self:
        _pass_on(self.app, event)
        return
    if not event.is_printable and await run_own_bindings(self, event):
        self._restart_blink()
        return
    await _original_input_on_key(self, event)


async def _app_on_event(self: App, event: events.Event) -> None:
    if isinstance(event, events.Key) and not event.is_forwarded:
        setattr(event, ROUTED_TO, self.focused)  # where App.on_event sends it, just below
    await _original_app_on_event(self, event)


async def _app_on_key(self: App, event: events.Key) -> None:
    routed = getattr(event, ROUTED_TO, _NOT_ROUTED)
    if routed is not _NOT_ROUTED and self.focused is not None and self.focused is not routed:
        _pass_on(self, event)
        return
    await _original_app_on_key(self, event)


def apply() -> None:
    """Install the work-arounds (idempotent)."""
    Toast._on_mount = _on_mount  # type: ignore[method-assign]
    Input._on_key = _input_on_key  # type: ignore[method-assign]
    App.on_event = _app_on_event  # type: ignore[method-assign]
    App._on_key = _app_on_key  # type: ignore[method-assign]


def remove() -> None:
    """Textual as released (tests use it to show each bug is still there)."""
    Toast._on_mount = _original_on_mount  # type: ignore[method-assign]
    Input._on_key = _original_input_on_key  # type: ignore[method-assign]
    App.on_event = _original_app_on_event  # type: ignore[method-assign]
    App._on_key = _original_app_on_key  # type: ignore[method-assign]


apply()
