"""What a run does before its first step (download, read, vocabulary, encoding, BPE
training), said once it takes a while, and given up when a stop comes.

A stop normally lands at a step boundary, where the trainer saves; before the first step
there is none, and encoding a 40 MB corpus took 13 s during which SIGTERM went unanswered
(issue 28). Each phase polls :meth:`Phases.check` between chunks of its work
(engine.text.chunks), which raises :class:`~engine.control.Cancelled` once a stop was asked.
Nothing a phase makes is kept before it completes (the download renames its file only when
whole, and the rest lives in memory), so giving up leaves nothing behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from engine.control import Cancelled
from engine.text.chunks import Check

ANNOUNCE_AFTER_S = 0.5
"""A phase that runs this long is named (at its next check): quick phases stay silent, and
anything near a second says what it does."""


class Phases:
    """The current phase's name, its announcement and the stop check.

    Args:
        say: shows a line such as "encoding corpus.txt (52.0 MB)..." (the trainer publishes
            it as a RunNotice).
        stopping: whether a stop was asked for (engine.control.Control.stop_requested).
        clock: seconds, for the announcement's delay.
        announce_after_s: how long a phase runs before it is named.
    """

    def __init__(
        self,
        say: Callable[[str], None] | None = None,
        stopping: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        announce_after_s: float = ANNOUNCE_AFTER_S,
    ) -> None:
        self._say = say or (lambda text: None)
        self._stopping = stopping or (lambda: False)
        self._clock = clock
        self._after_s = announce_after_s
        self.current = "preparing the run"
        self._began = clock()
        self._said = True

    def begin(self, what: str, say_now: bool = False) -> Check:
        """Start the phase ``what`` (a stop asked before it ends it at once); returns its
        check. ``say_now`` names it at once: a single long call, with no chunks to check
        between, could not name it later."""
        self.current, self._began, self._said = what, self._clock(), False
        if say_now:
            self._announce()
        self.check()
        return self.check

    def check(self) -> None:
        """Raise Cancelled when a stop was asked for; name the phase once it took a while.

        Raises:
            Cancelled: a stop was asked for.
        """
        if self._stopping():
            raise Cancelled(self.current)
        if not self._said and self._clock() - self._began >= self._after_s:
            self._announce()

    def _announce(self) -> None:
        self._said = True
        self._say(f"{self.current}...")
