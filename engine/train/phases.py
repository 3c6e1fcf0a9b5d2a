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

import threading
from collections.abc import Callable

from engine.control import Cancelled
from engine.text.chunks import Check

ANNOUNCE_AFTER_S = 0.5
"""A phase that runs this long is named: quick phases stay silent, and anything near a
second says what it does."""


class Phases:
    """The current phase's name, its announcement and the stop check.

    A timer names a phase that is still running after ``announce_after_s``, so a phase that
    is one long call (reading a file, a first import inside the model build) is named too;
    the line comes from the timer's thread.

    Args:
        say: shows a line such as "encoding corpus.txt (52.0 MB)..." (the trainer publishes
            it as a RunNotice).
        stopping: whether a stop was asked for (engine.control.Control.stop_requested).
        announce_after_s: how long a phase runs before it is named.
    """

    def __init__(
        self,
        say: Callable[[str], None] | None = None,
        stopping: Callable[[], bool] | None = None,
        announce_after_s: float = ANNOUNCE_AFTER_S,
    ) -> None:
        self._say = say or (lambda text: None)
        self._stopping = stopping or (lambda: False)
        self._after_s = announce_after_s
        self.current = "preparing the run"
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._serial = 0  # which phase a timer was armed for

    def begin(self, what: str) -> Check:
        """Start the phase ``what`` (a stop asked before it ends it at once); returns its
        check, to call between chunks of the work."""
        self.end()
        with self._lock:
            self.current = what
            self._serial += 1
            if self._after_s >= 0:
                self._timer = threading.Timer(self._after_s, self._announce, (self._serial,))
                self._timer.daemon = True
                self._timer.start()
        self.check()
        return self.check

    def end(self) -> None:
        """The phase under way is over: it is not named from now on."""
        with self._lock:
            self._serial += 1
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def check(self) -> None:
        """Raise Cancelled when a stop was asked for.

        Raises:
            Cancelled: a stop was asked for.
        """
        if self._stopping():
            raise Cancelled(self.current)

    def _announce(self, serial: int) -> None:
        with self._lock:  # held while saying it: end() waits, so no stale line follows
            if serial == self._serial:
                self._say(f"{self.current}...")
