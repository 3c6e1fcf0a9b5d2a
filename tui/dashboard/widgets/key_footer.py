"""KeyFooter: Textual's key footer, with its keys in the first frame.

Textual's ``Footer`` composes empty, waits for the screen's first bindings update, then
rebuilds itself after a refresh (~0.1 s here); on the dashboard that rebuild queued behind
the editor's rows, so the keys were the last thing of the first frame to appear (0.4-0.8 s
after the rest). This footer composes its keys at once from the screen's bindings, and
rebuilds only when the keys it would show change (a focus change that leaves the shown keys
as they are no longer rebuilds a dozen widgets).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer

Shown = tuple[tuple[str, str, bool, str], ...]


class KeyFooter(Footer):
    """The footer of every llmv0 screen."""

    # Footer's own flag (False until the first bindings update); the screen's bindings can
    # be read as soon as the footer is composed.
    _bindings_ready = reactive(True, repaint=False)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._shown: Shown | None = None

    def shown_keys(self) -> Shown:
        """What the footer shows for the screen's bindings now."""
        return tuple(
            (binding.key, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )

    def compose(self) -> ComposeResult:
        self._shown = self.shown_keys()
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen and self.shown_keys() == self._shown:
            return
        super().bindings_changed(screen)
