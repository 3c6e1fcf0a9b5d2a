"""DismissOnce: a screen dismisses itself once, and only while it is the active screen.

Textual's ``dismiss`` hands over the result and pops the *top* screen at once, but keys
already queued for the screen still reach it afterwards. Two ways that ended the dashboard
(both found by the key fuzz): Enter then Escape typed quickly in the run browser dismissed
it twice, and the second result raised ``InvalidStateError`` inside Textual (or popped the
dashboard's own screen: ``ScreenStackError``); and a key queued for the browser while
another screen had opened on top of it (help, a prompt, the too-small notice) popped that
other screen, leaving the browser on screen with no way to close it. A dismiss from a
screen that is not the active one is now ignored: it was meant for a screen state that is
gone. Every screen of ours that dismisses itself takes this mixin first.
"""

from __future__ import annotations

from typing import Any

from textual.await_complete import AwaitComplete


class DismissOnce:
    """Mixin for a Textual screen: ``dismiss`` acts only while this screen is on top."""

    def dismiss(self, result: Any = None) -> AwaitComplete:
        if self.app.screen is not self:  # type: ignore[attr-defined]
            return AwaitComplete.nothing()
        return super().dismiss(result)  # type: ignore[misc]
