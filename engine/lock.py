"""One trainer per run folder: a lock file holding the owner's pid, host and start time.

A lock whose process is gone (same host, pid not alive) is stale and is taken over, so a
crashed or killed run can be resumed without manual cleanup.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from engine.errors import UserError

LOCK_FILE = "run.lock"


class RunLockedError(UserError, RuntimeError):
    """Another live process is training this run folder."""


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def read_lock(run_dir: Path) -> dict | None:
    """The lock's contents, or None when there is no readable lock."""
    try:
        return json.loads((run_dir / LOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def lock_is_live(run_dir: Path) -> bool:
    """Whether a live process on this host holds the run folder's lock."""
    info = read_lock(run_dir)
    if info is None:
        return False
    if info.get("host") != socket.gethostname():
        return True  # cannot check another host's processes: assume it is alive
    return pid_alive(int(info.get("pid", -1)))


class RunLock:
    """Exclusive lock on a run folder, created atomically with O_EXCL."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_FILE
        self.held = False

    def acquire(self) -> None:
        """Take the lock, replacing a stale one. Raises RunLockedError if it is live."""
        payload = json.dumps(
            {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        )
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                if lock_is_live(self.path.parent):
                    info = read_lock(self.path.parent) or {}
                    raise RunLockedError(
                        f"The run folder {self.path.parent} is being trained by process "
                        f"{info.get('pid')} on {info.get('host')}. Watch it with "
                        f"`llmv0-tui --attach {self.path.parent.name}`, or stop that process "
                        "first; two trainers must never write one run folder."
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload)
            self.held = True
            return
        raise RunLockedError(f"Could not take the lock {self.path}; try again.")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
