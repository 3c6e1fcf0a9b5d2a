"""EventOutlet: a run's events to its event log and extra sinks, then to the caller's sink.

A broken consumer (the caller's sink raising) is logged and never kills training; the event
log and extra sinks (TensorBoard) are the run's own and are closed with :meth:`close`.
"""

from __future__ import annotations

import logging

from engine.events import Event, Sink
from engine.run.log import RunLog

log = logging.getLogger(__name__)


class EventOutlet:
    """A sink that fans one run's events out; the trainer publishes everything through it.

    Attributes:
        runlog: the run folder's event log (main rank only; None until the folder is open).
        extra: the run's own extra sinks, such as TensorBoard.
        sink: the caller's sink (None: nobody outside listens).
    """

    def __init__(self) -> None:
        self.runlog: RunLog | None = None
        self.extra: list[Sink] = []
        self.sink: Sink | None = None

    def __call__(self, event: Event) -> None:
        """To the run log and extra sinks (main rank only), then to the caller's sink."""
        if self.runlog is not None:
            self.runlog(event)
        for extra in self.extra:
            extra(event)
        if self.sink is not None:
            try:
                self.sink(event)
            except Exception:  # a broken consumer must not kill training
                log.exception("event sink raised on %s", event.type)

    def close(self) -> None:
        """Close the extra sinks that can be closed, then the event log."""
        for extra in self.extra:
            close = getattr(extra, "close", None)
            if close is not None:
                close()
        if self.runlog is not None:
            self.runlog.close()
