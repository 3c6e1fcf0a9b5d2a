"""DismissOnce: a screen dismisses itself once, and only while it is the active screen.

Textual's ``dismiss`` pops the *top* screen, and keys already queued for a screen still reach
it afterwards: a second dismiss raised inside Textual, or popped another screen opened on top.
A dismiss from a screen that is not the active one is ignored. Every screen of ours that
dismisses itself takes this base class first (it adds no state and names no App).
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
