"""Watch and steer a run that another process is training, through its run folder.

:class:`RemoteRun` looks like a trainer to its consumer (``run(sink, control)``,
``snapshot()``), so the dashboard shows an attached run exactly as one it trains itself:
``run`` replays the whole ``events.jsonl``, then follows it live; commands put on ``control``
are appended to the run's ``commands.jsonl`` for its trainer to apply between steps.
``detach()`` stops watching without touching the training.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine.control import Control
from engine.events import (
    Event,
    RunFailed,
    RunFinished,
    RunNotice,
    RunPaused,
    RunResumed,
    RunStarted,
    RunWarning,
    Sink,
)
from engine.run.commands_file import send_command
from engine.run.folder import RunFolder
from engine.run.lock import lock_is_live, read_lock
from engine.run.log import follow_events

if TYPE_CHECKING:  # torch loads only when a checkpoint is read
    from engine.models import LanguageModel
    from engine.text.tokenizer import Tokenizer

# After this long with no new event and no live trainer, the run is reported interrupted.
GONE_AFTER_S = 3.0
# After this long with no new event, ask the OS whether the trainer is stopped (SIGSTOP,
# Ctrl-Z): a stopped process keeps its lock, so without asking it looked "running" forever.
SUSPEND_CHECK_AFTER_S = 1.0


def process_stopped(pid: int) -> bool | None:
    """Whether process ``pid`` on this host is stopped by a signal (state T or t in
    /proc/PID/stat); None when that cannot be told (no such process, no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read(4096)
    except OSError:
        return None
    # The name (field 2) is in parentheses and may hold spaces: the state follows the last ')'.
    after = stat.rpartition(b")")[2].split()
    return bool(after) and after[0] in (b"T", b"t")


class RemoteRun:
    """A run trained by another process, seen through its run folder."""

    def __init__(self, run_dir: Path, poll_s: float = 0.1) -> None:
        self.run_dir = run_dir
        self.folder = RunFolder(run_dir)
        self.run_id = run_dir.name
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._gone = False  # set by the watchdog: no live trainer and no new events
        self._last_event = time.monotonic()
        self._sink_lock = threading.Lock()  # the follower and the watchdog both publish
        self._paused = False  # the trainer said it paused (a command), per the log
        self._suspended_pid: int | None = None  # the trainer's process, stopped by a signal

    def detach(self) -> None:
        """Stop following; the training process carries on."""
        self._stop.set()

    def snapshot(self) -> tuple[LanguageModel, Tokenizer] | None:
        """The newest checkpoint's model and tokenizer (another process holds the live
        weights), or None before the first checkpoint."""
        from engine.run.checkpoint import CheckpointError
        from engine.run.folder import load_for_inference

        try:
            model, tokenizer, _ = load_for_inference(self.folder.latest_path)
        except CheckpointError:
            return None
        return model, tokenizer

    def run(self, sink: Sink, control: Control | None = None) -> Event | None:
        """Replay then follow the run's events into ``sink`` until a terminal event, the
        trainer's process is gone, or :meth:`detach`. Returns the terminal event, or None
        when detached first."""
        control = control or Control()
        self._sink = sink
        events = follow_events(self.folder.events_path, self._stop, poll_s=self.poll_s)
        forwarder = threading.Thread(target=self._forward, args=(control,), daemon=True)
        forwarder.start()
        watchdog = threading.Thread(target=self._watch_liveness, daemon=True)
        self._last_event = time.monotonic()
        watchdog.start()
        terminal: Event | None = None
        try:
            for event in events:
                self._last_event = time.monotonic()
                if isinstance(event, RunPaused | RunResumed):
                    self._paused = isinstance(event, RunPaused)
                with self._sink_lock:
                    sink(event)
                if isinstance(event, RunStarted):
                    terminal = None  # a resume continues a run that had ended
                elif isinstance(event, RunFinished | RunFailed):
                    terminal = event
                    if not lock_is_live(self.run_dir):
                        break
        finally:
            self._stop.set()
        if terminal is None and self._gone:
            terminal = RunFailed(
                error=f"The process training {self.run_id} is gone: the run was interrupted "
                f"after its last logged step. Resume it with `llmv0 train --resume "
                f"{self.run_id}`; it continues from its last checkpoint.",
                step=0,
            )
            with self._sink_lock:
                sink(terminal)
        return terminal

    def _watch_liveness(self) -> None:
        while not self._stop.wait(0.5):
            quiet = time.monotonic() - self._last_event
            if quiet > GONE_AFTER_S and not lock_is_live(self.run_dir):
                self._gone = True
                self._stop.set()
            elif quiet > SUSPEND_CHECK_AFTER_S or self._suspended_pid is not None:
                self._check_suspended()

    def _check_suspended(self) -> None:
        """Say when the trainer's process is stopped by a signal, and when it goes on.

        Only for a trainer on this host (the lock names its pid and host). The state shows
        "paused" meanwhile, with a warning naming the cause and the cure, since a resume
        command would wait unread; a run the user had paused stays paused after SIGCONT.
        """
        info = read_lock(self.run_dir) or {}
        pid = info.get("pid")
        if not isinstance(pid, int) or info.get("host") != socket.gethostname():
            return
        stopped = process_stopped(pid)
        if stopped and self._suspended_pid is None:
            self._suspended_pid = pid
            self._publish(
                RunWarning(
                    message=f"The process training {self.run_id} (pid {pid}) is stopped by a "
                    f"signal (SIGSTOP or Ctrl-Z): no step until it continues. `kill -CONT "
                    f"{pid}` (or `fg` in its terminal) lets it go on."
                )
            )
            if not self._paused:
                self._publish(RunPaused(step=0))
        elif stopped is False and self._suspended_pid == pid:
            self._suspended_pid = None
            self._publish(RunNotice(kind="continued", message=f"{self.run_id} continues."))
            if not self._paused:
                self._publish(RunResumed(step=0))

    def _publish(self, event: Event) -> None:
        with self._sink_lock:
            if not self._stop.is_set():
                self._sink(event)

    def _forward(self, control: Control) -> None:
        while not self._stop.is_set():
            command = control.get(timeout=0.1)
            if command is not None:
                send_command(self.run_dir, command.kind, command.name, command.value)
