"""One trainer per run folder: an OS lock on ``run.lock``, held for the run's whole life.

The operating system holds the lock (``fcntl.flock``) and drops it when its process ends,
however it ends, so a crashed or killed run never leaves a lock that blocks a resume, and
two processes that find a dead run's lock can never both win it. The file's JSON (pid, host,
start time) is only for display: a pid reused by another process cannot make a dead run
look alive, because liveness is asked of the OS lock, never of the pid.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from engine.errors import UserError
from engine.run.folder import RunFolder
from engine.safe_files import special_file_problem

# A reader probing the lock (lock_is_live) holds it for microseconds; a trainer retries this
# many times, this far apart, before it calls a folder busy.
_ACQUIRE_TRIES = 20
_ACQUIRE_PAUSE_S = 0.005


class RunLockedError(UserError, RuntimeError):
    """Another live process is training this run folder."""


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host (a reused pid reads as alive: use
    it only where no OS lock can answer, never for a run folder)."""
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
    """The lock's display contents (pid, host, started), or None when unreadable."""
    try:
        info = json.loads(RunFolder(run_dir).lock_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def lock_is_live(run_dir: Path) -> bool:
    """Whether a live process holds the run folder's lock (asked of the OS, not the pid)."""
    try:
        fd = os.open(RunFolder(run_dir).lock_path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class RunLock:
    """Exclusive OS lock on a run folder's ``run.lock`` until :meth:`release`."""

    def __init__(self, run_dir: Path) -> None:
        self.path = RunFolder(run_dir).lock_path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock. Raises RunLockedError while another live process holds it."""
        for _ in range(_ACQUIRE_TRIES):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                time.sleep(_ACQUIRE_PAUSE_S)
                continue
            if not self._still_linked(fd):
                # The previous holder removed the file between our open and our lock: this
                # lock is on an orphan inode that nobody else will ever see. Try again.
                os.close(fd)
                continue
            info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(info).encode("utf-8"))
            self._fd = fd
            return
        info = read_lock(self.path.parent) or {}
        raise RunLockedError(
            f"The run folder {self.path.parent} is being trained by process "
            f"{info.get('pid', '?')} on {info.get('host', '?')}. Watch it with "
            f"`llmv0-tui --attach {self.path.parent.name}`, or stop that process first; two "
            "trainers must never write one run folder."
        )

    def _open(self) -> int:
        # A folder, FIFO or device at run.lock is someone's doing, not a full disk: say what
        # it is and what to do, before an open that would fail obscurely (or block on a FIFO).
        problem = special_file_problem(self.path)
        if problem is not None:
            raise RunLockedError(
                f"The run folder's lock file {self.path} {problem.split(';')[0]}. llmv0 keeps "
                "its lock there: remove it (or move it away) if no trainer uses this run, "
                "then start again."
            )
        try:
            return os.open(self.path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise RunLockedError(
                f"Could not open the run folder's lock file {self.path} ({exc.strerror or exc}). "
                "Check that the run folder is writable by you."
            ) from None

    def _still_linked(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        """Remove the lock file, then drop the lock (in that order, so a waiter that opened
        the old file sees it unlinked and retries)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)  # closing drops the flock
        self._fd = None
