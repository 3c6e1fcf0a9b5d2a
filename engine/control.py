"""Commands to a running trainer: a thread-safe queue drained between optimizer steps.

Because commands apply at step boundaries, a checkpoint is always consistent. The TUI, the
CLI's Ctrl-C handler and other processes (through the run's commands file,
engine.run.commands_file) all speak through :class:`Control`. Before the first step there is
no step boundary: the phases that prepare a run (download, encoding, BPE training) ask
:meth:`Control.stop_requested` between chunks of their work and give up with
:class:`Cancelled`.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Command:
    """One request to the trainer. ``kind`` is one of :data:`COMMAND_KINDS`."""

    kind: str
    name: str = ""
    value: Any = None


COMMAND_KINDS = frozenset({"pause", "resume", "stop", "save", "set", "sample"})


class Cancelled(Exception):
    """A stop came before the run's first step: ``phase`` (what the run was doing, such as
    "encoding corpus.txt (52.0 MB)") was abandoned and nothing of it was kept."""

    def __init__(self, phase: str) -> None:
        self.phase = phase
        super().__init__(f"stopped while {phase}")


class Control:
    """A queue of commands plus helpers that name them; safe to call from any thread."""

    def __init__(self) -> None:
        # SimpleQueue, not Queue: its put() is reentrant, so the CLI's Ctrl-C handler can
        # call stop() even when the signal lands while this thread is inside get() (a Queue
        # would deadlock on its own non-reentrant lock there).
        self._queue: queue.SimpleQueue[Command] = queue.SimpleQueue()
        # A plain flag, not a threading.Event: Event.set takes a non-reentrant lock, and a
        # signal handler may call stop() on the thread that is inside it.
        self._stop_requested = False

    def send(self, command: Command) -> None:
        """Queue a command; it applies after the current optimizer step."""
        if command.kind not in COMMAND_KINDS:
            raise ValueError(f"unknown command {command.kind!r}; expected {sorted(COMMAND_KINDS)}")
        if command.kind == "stop":
            self._stop_requested = True
        self._queue.put(command)

    def pause(self) -> None:
        """Pause after the current step."""
        self.send(Command("pause"))

    def resume(self) -> None:
        """Resume a paused run."""
        self.send(Command("resume"))

    def stop(self) -> None:
        """Save a checkpoint and finish the run with reason 'stopped'."""
        self.send(Command("stop"))

    def save(self) -> None:
        """Save latest.pt now."""
        self.send(Command("save"))

    def sample(self) -> None:
        """Take a sample now with the current sample settings."""
        self.send(Command("sample"))

    def set(self, name: str, value: Any) -> None:
        """Change a live-editable config field (see engine.config.schema.LIVE_FIELDS)."""
        self.send(Command("set", name, value))

    def stop_requested(self) -> bool:
        """Whether a stop was asked for (it stays asked): the phases before the first step,
        which have no step boundary to wait for, poll this between chunks of their work."""
        return self._stop_requested

    def get(self, timeout: float | None = None) -> Command | None:
        """Next command, waiting up to ``timeout`` seconds (None: don't wait)."""
        try:
            if timeout is None:
                return self._queue.get_nowait()
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self) -> list[Command]:
        """Every queued command, oldest first, without waiting."""
        commands: list[Command] = []
        while (cmd := self.get()) is not None:
            commands.append(cmd)
        return commands
