"""Control from another process: an append-only ``commands.jsonl`` in the run folder.

``send_command`` appends one JSON line; the trainer's :class:`CommandFile` reads new lines
between optimizer steps and forwards them to its :class:`~engine.control.Control`. The file is
created mode 0600 and the trainer ignores it unless it belongs to the trainer's own user, so
only the owner of a run can steer it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from engine.control import COMMAND_KINDS, Command, Control
from engine.errors import UserError

log = logging.getLogger(__name__)

COMMANDS_FILE = "commands.jsonl"


class RemoteCommandError(UserError, ValueError):
    """A command could not be sent to a run."""


def send_command(run_dir: Path, kind: str, name: str = "", value: Any = None) -> None:
    """Append a command for the trainer of ``run_dir`` (applied after its current step)."""
    if kind not in COMMAND_KINDS:
        raise RemoteCommandError(
            f"Unknown command {kind!r}; expected one of {', '.join(sorted(COMMAND_KINDS))}."
        )
    if not run_dir.is_dir():
        raise RemoteCommandError(f"No run folder {run_dir}; `llmv0 runs` lists the runs.")
    path = run_dir / COMMANDS_FILE
    line = json.dumps({"kind": kind, "name": name, "value": value}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


class CommandFile:
    """Reads commands appended to a run folder's commands file since the trainer started."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / COMMANDS_FILE
        # Commands written before this trainer started were meant for an earlier process.
        self.offset = self.path.stat().st_size if self.path.exists() else 0
        self.pending = b""

    def poll(self, control: Control) -> int:
        """Forward new commands to ``control``; returns how many were forwarded."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return 0
        if stat.st_size <= self.offset:
            return 0
        if stat.st_uid != os.getuid():
            log.warning("ignoring %s: owned by uid %s, not this user", self.path, stat.st_uid)
            self.offset = stat.st_size
            return 0
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = self.pending + fh.read()
        self.offset = stat.st_size
        *lines, self.pending = data.split(b"\n")
        count = 0
        for raw in lines:
            try:
                item = json.loads(raw)
                control.send(Command(item["kind"], item.get("name", ""), item.get("value")))
                count += 1
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("skipping bad command line %r: %s", raw[:80], exc)
        return count
