"""A run's events as JSON lines in ``events.jsonl``: appended and flushed as they happen.

:class:`RunLog` is a sink. :func:`read_events` reads a whole log, skipping (and reporting)
lines that are not valid events, so a torn last line or a corrupt entry never hides the rest.
:func:`follow_events` tails a live log for a second process watching the run.
:func:`effective_history` drops events that a resumed run replaced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from engine.events import Event, RunStarted, event_from_dict

log = logging.getLogger(__name__)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


class RunLog:
    """Sink that appends each event as one JSON line and flushes it to the OS."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        torn = path.exists() and path.stat().st_size > 0 and not _ends_with_newline(path)
        self._fh: IO[str] | None = path.open("a", encoding="utf-8")
        if torn:
            # A killed writer left half a line: end it, so it stays one skippable bad line.
            self._fh.write("\n")
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = json.dumps(event.to_dict(), default=str, allow_nan=False)  # strict JSON
        with self._lock:
            if self._fh is None:
                return
            try:
                self._fh.write(line + "\n")
                self._fh.flush()
            except OSError as exc:
                # A full disk must not kill training; the checkpoint path reports it loudly.
                log.warning("could not append to %s: %s", self.path, exc)

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                with contextlib.suppress(OSError):
                    os.fsync(self._fh.fileno())
                self._fh.close()
                self._fh = None


OnBadLine = Callable[[int, str], None]


_SCALARS: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,),
                                         "bool": (bool,), "dict[str, Any]": (dict,)}  # fmt: skip


def _checked(event: Event) -> Event:
    """``event`` when each plain field holds its declared type; ValueError otherwise.

    The dataclasses do not check types, and a hand-edited or corrupt line such as
    ``"step": "abc"`` would otherwise travel on and crash a chart or a report later.
    """
    for spec in dataclasses.fields(event):
        allowed = _SCALARS.get(str(spec.type))
        value = getattr(event, spec.name)
        if allowed is None:
            continue
        if not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool)):
            raise ValueError(f"{spec.name} is {type(value).__name__}, not {spec.type}")
    notes = getattr(event, "notes", ())
    if not isinstance(notes, tuple) or not all(isinstance(n, str) for n in notes):
        raise ValueError("notes is not a list of text")
    return event


def _parse_line(number: int, line: str, on_bad_line: OnBadLine | None) -> Event | None:
    try:
        return _checked(event_from_dict(json.loads(line)))
    except (json.JSONDecodeError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        reason = f"line {number}: {exc}"
        if on_bad_line is not None:
            on_bad_line(number, reason)
        else:
            log.warning("skipping bad event %s", reason)
        return None


def read_events(path: Path, on_bad_line: OnBadLine | None = None) -> list[Event]:
    """Every valid event in ``path``; bad lines are skipped and reported to ``on_bad_line``."""
    events: list[Event] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            event = _parse_line(number, line, on_bad_line)
            if event is not None:
                events.append(event)
    return events


def follow_events(
    path: Path,
    stop: threading.Event | None = None,
    poll_s: float = 0.2,
    on_bad_line: OnBadLine | None = None,
) -> Iterator[Event]:
    """Yield every event already in ``path``, then new ones as they are appended.

    A partial last line (the writer is mid-write) is held back until its newline arrives.
    Ends when ``stop`` is set.
    """
    stop = stop or threading.Event()
    while not path.exists() and not stop.is_set():
        time.sleep(poll_s)
    if stop.is_set():
        return
    number = 0
    pending = ""
    with path.open(encoding="utf-8", errors="replace") as fh:
        while not stop.is_set():
            chunk = fh.readline()
            if not chunk:
                time.sleep(poll_s)
                continue
            pending += chunk
            if not pending.endswith("\n"):
                continue
            number += 1
            line, pending = pending, ""
            if line.strip():
                event = _parse_line(number, line, on_bad_line)
                if event is not None:
                    yield event


def effective_history(events: Iterable[Event]) -> list[Event]:
    """The events of a run as it really went.

    A resume from step N replaces what the log holds after step N (the steps after its
    checkpoint, which it repeats); a fresh start in the same folder replaces everything.
    """
    history: list[Event] = []
    for event in events:
        if isinstance(event, RunStarted):
            if event.resumed:
                history = [e for e in history if getattr(e, "step", 0) <= event.start_step]
            else:
                history = []
        history.append(event)
    return history
