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
import stat
from pathlib import Path
from typing import Any, BinaryIO

from engine.control import COMMAND_KINDS, Command, Control
from engine.errors import UserError
from engine.run.folder import RunFolder

log = logging.getLogger(__name__)


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
    path = RunFolder(run_dir).commands_path
    line = json.dumps({"kind": kind, "name": name, "value": value}) + "\n"
    try:
        # No following a planted symlink, no blocking on a FIFO put in its place.
        fd = os.open(
            path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600
        )
    except OSError as exc:
        raise RemoteCommandError(f"Cannot write {path}: {exc.strerror or exc}.") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RemoteCommandError(f"{path} is not a regular file; remove it and retry.")
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


MAX_LINE_BYTES = 64 * 1024
"""A command is a short JSON line; anything longer is skipped unread."""
MAX_READ_BYTES = 1024 * 1024
"""Read at most this much per poll, so a flood of lines cannot stall a training step."""
MAX_TEXT_CHARS = 10_000
"""The longest text value a command may carry (a sample prompt, say)."""


def parse_command(raw: bytes) -> Command:
    """One line of the commands file as a :class:`Command`.

    Raises:
        ValueError: the line is not a JSON object with a known ``kind``, a text ``name`` and a
            plain JSON scalar ``value`` (why, in words, for the log).
    """
    try:
        item = json.loads(raw)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as exc:  # bad JSON or bad UTF-8
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(item, dict):
        raise ValueError(f"a JSON {type(item).__name__}, not an object")
    kind, name, value = item.get("kind"), item.get("name", ""), item.get("value")
    if not isinstance(kind, str) or kind not in COMMAND_KINDS:
        raise ValueError(f"unknown kind {str(kind)[:40]!r}")
    if not isinstance(name, str) or len(name) > 100:
        raise ValueError("name is not a short text")
    if value is not None and not isinstance(value, bool | int | float | str):
        raise ValueError(f"value is a JSON {type(value).__name__}, not a number or text")
    if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
        raise ValueError(f"value is longer than {MAX_TEXT_CHARS} characters")
    return Command(kind, name, value)


class CommandFile:
    """Reads commands appended to a run folder's commands file since the trainer started.

    Any line whatever (bad JSON, wrong types, binary, huge, torn) is skipped with a logged
    reason. A file deleted and created again, or replaced, is read from its start, so
    commands sent after that still arrive. The file being read is held open: its inode
    cannot be reused by a new file while we compare identities.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = RunFolder(run_dir).commands_path
        self._fh: BinaryIO | None = None
        self.offset = 0
        self.pending = b""
        self.discarding = False  # inside an over-long line: skip up to its newline
        self.refused: str | None = None
        # Commands written before this trainer started were meant for an earlier process.
        if self._open():
            self.offset = os.fstat(self._fh.fileno()).st_size  # type: ignore[union-attr]

    def _open(self) -> bool:
        """Open the file at ``path`` (a regular file only, no symlink); False if not."""
        self.close()
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except FileNotFoundError:
            return False
        except OSError as exc:
            self._refuse(exc.strerror or str(exc))
            return False
        self._fh = os.fdopen(fd, "rb", buffering=0)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            self._refuse("it is not a regular file")
            self.close()
            return False
        self.offset, self.pending, self.discarding = 0, b"", False
        return True

    def close(self) -> None:
        """Let go of the file (the trainer calls this when the run ends; GC does too)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def poll(self, control: Control) -> int:
        """Forward new commands to ``control``; returns how many were forwarded."""
        try:
            info = self.path.stat()
        except OSError:
            return 0
        if not stat.S_ISREG(info.st_mode):
            self._refuse("it is not a regular file")
            return 0
        held = os.fstat(self._fh.fileno()) if self._fh is not None else None
        if held is None or (held.st_dev, held.st_ino) != (info.st_dev, info.st_ino):
            if held is not None:
                log.info("%s was replaced; reading the new file from its start", self.path)
            if not self._open():
                return 0
            held = os.fstat(self._fh.fileno())  # type: ignore[union-attr]
        if held.st_size < self.offset:  # truncated in place: a new start
            self.offset, self.pending, self.discarding = 0, b"", False
        if held.st_size <= self.offset:
            return 0
        if held.st_uid != os.getuid():
            self._refuse(f"it is owned by uid {held.st_uid}, not this user")
            self.offset = held.st_size
            return 0
        assert self._fh is not None
        self._fh.seek(self.offset)
        data = self._fh.read(MAX_READ_BYTES) or b""
        # Advance by what was read, not by the size seen before: lines appended in between
        # are read next time, exactly once.
        self.offset += len(data)
        return self._forward(data, control)

    def _forward(self, data: bytes, control: Control) -> int:
        *lines, rest = (self.pending + data).split(b"\n")
        if self.discarding and lines:
            lines, self.discarding = lines[1:], False  # the tail of an over-long line
        self.pending = rest
        if len(self.pending) > MAX_LINE_BYTES:
            log.warning("skipping a command line longer than %d bytes", MAX_LINE_BYTES)
            self.pending, self.discarding = b"", True
        count = 0
        for raw in lines:
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                log.warning("skipping a command line longer than %d bytes", MAX_LINE_BYTES)
                continue
            try:
                control.send(parse_command(raw))
                count += 1
            except ValueError as exc:
                log.warning("skipping bad command line %r: %s", raw[:80], exc)
        return count

    def _refuse(self, why: str) -> None:
        if self.refused != why:  # say it once, not at every step
            log.warning("ignoring %s: %s", self.path, why)
            self.refused = why
