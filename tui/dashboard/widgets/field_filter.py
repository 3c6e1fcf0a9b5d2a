"""FieldFilter: the config editor's filter box, whose Enter jumps to a field at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import Input


class FieldFilter(Input):
    """The filter box: Enter jumps to the first matching field at once.

    At once, not through a Submitted message: that message waits in the box's queue behind
    the keys typed after Enter, which would go into the filter instead of the field.
    """

    def __init__(self, jump: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._jump = jump

    async def action_submit(self) -> None:
        self._jump()
