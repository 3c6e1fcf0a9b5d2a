"""Leaving the dashboard: quit (twice: at once), hang-up, and what unmounting stops.

A mixin of :class:`tui.dashboard.app.Dashboard`, so the app module stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.dashboard.app import Dashboard

    _Base = Dashboard
else:
    _Base = object


class LeavingMixin(_Base):
    """Quit, hang-up and unmount: a run trained here is always stopped with its checkpoint."""

    def on_unmount(self) -> None:
        # However the app ends, never leave a trainer thread running (it saves on stop);
        # an attached run belongs to another process: only stop following it.
        if self.attached is not None:
            self.detach()
        elif self.control is not None and self.running:
            self.control.stop()

    async def action_quit(self) -> None:
        """Quit; a run in progress is stopped (with its checkpoint) first. Twice: at once.

        An attached run is left training: quitting only detaches.
        """
        if self.attached is not None:
            self.detach()
        elif self.running and not self.quitting and self.control is not None:
            self.quitting = True
            self.control.stop()
            self.stats.state = "stopping"
            self.notify("Stopping: saving a checkpoint, then quitting (q again: quit now).")
            return
        self.generation.stop()
        self.exit(0)

    def action_hangup(self) -> None:
        """SIGHUP (the terminal went away): stop the run and leave at once.

        The trainer saves its checkpoint as it stops; :func:`run_dashboard` waits for that
        after the app has gone. Nothing is left to draw on, so the app does not wait.
        """
        self.quitting = True
        if self.attached is not None:
            self.detach()
        elif self.running and self.control is not None:
            self.control.stop()
        self.mute_terminal()
        self.exit(0)

    def mute_terminal(self) -> None:
        """Drop all further output: the terminal has hung up.

        Textual's writer thread dies on its first write to a hung-up terminal (EIO); its
        bounded queue then fills and the next frame would block the UI thread for ever.
        """
        writer = getattr(self._driver, "_writer_thread", None)
        if writer is not None:
            writer.write = lambda text: None
            writer.stop = lambda: None
        # Its input thread polls the dead terminal, which reads as end-of-file at once, for
        # ever: 100% CPU, and a process that never exits (it is not a daemon thread).
        exit_event = getattr(self._driver, "exit_event", None)
        if exit_event is not None:
            exit_event.set()
