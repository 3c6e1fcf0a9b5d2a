"""The llmv0 dashboard App: quit, hang-up, help and the command palette, over a MainScreen.

:func:`tui.dashboard.launch.make_app` builds it for the CLI and for tests (tests pass a scripted
trainer factory). The App makes the :class:`~tui.dashboard.session.RunSession` and hands it to
its :class:`~tui.dashboard.screens.main.MainScreen`, which owns the layout and every other key.
However the App ends, a run trained here is stopped with its checkpoint; an attached run (its
trainer is another process) is only let go.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App

from engine import events as ev
from engine.run.summary import default_runs_dir
from tui.dashboard import textual_fixes  # noqa: F401  (Textual bugs worked around; see the module)
from tui.dashboard.commands import DashboardCommands, open_palette
from tui.dashboard.keys import bindings
from tui.dashboard.model_source import GenerationModel
from tui.dashboard.screens.help import HelpScreen, key_rows
from tui.dashboard.screens.main import MainScreen
from tui.dashboard.screens.too_small import MIN_HEIGHT, MIN_WIDTH, TooSmallScreen
from tui.dashboard.session import RunSession
from tui.dashboard.trainer_factory import TrainerFactory

if TYPE_CHECKING:
    from engine.config.schema import RunConfig  # pydantic: loaded after the first frame

STOP_TIMEOUT_S = 300  # a stop waits for the current step and a checkpoint save
SHORT_HEIGHT = 30  # below this the control buttons hide: the footer has the same keys


class Dashboard(App[int]):
    """The dashboard: a :class:`MainScreen` under every overlay, and the keys of every screen.

    ``runs_dir`` is the runs folder the run browser lists (and real trainers write).
    """

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "llmv0"
    AUTO_FOCUS = None  # letter keys act at once; Tab or a click enters a text box
    # ctrl+p finds runs, presets and toggles by name (tui/dashboard/commands.py); not in the footer.
    COMMANDS = App.COMMANDS | {DashboardCommands}
    BINDINGS = bindings("app")

    def __init__(
        self,
        config: RunConfig | None,
        trainer_factory: TrainerFactory,
        *,
        config_path: str = "",
        run: str | None = None,
        loaded: GenerationModel | None = None,
        history: list[ev.Event] | None = None,
        attached: Path | None = None,
        runs_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.session = RunSession(
            trainer_factory,
            runs_dir=runs_dir if runs_dir is not None else default_runs_dir(),
            initial_config=config,
            config_path=config_path,
            opened=run,
            loaded=loaded,
            attached=attached,
        )
        self.main_screen = MainScreen(self.session, history)

    def get_default_screen(self) -> MainScreen:
        return self.main_screen

    async def on_mount(self) -> None:
        # The main screen composes in its own task: the App is ready (keys are taken, a test's
        # pilot starts) only once the screen has set itself up. Not AwaitMount on the screen:
        # that also waits for what its widgets defer past the first frame (0.17 s of it).
        await self.main_screen.set_up.wait()

    def notify(self, message: str, *, markup: bool = False, **kwargs: Any) -> None:
        """Every notification is plain text: they quote paths, values and errors the user
        typed or a run sent, and ``[/]`` in those is text. ``markup`` is not taken from the
        caller: Widget.notify and Screen.notify pass ``markup=True`` by default, and a Save
        to a path typed as ``[@click=app.bell]`` crashed the toast (the tmux key fuzz)."""
        super().notify(message, markup=False, **kwargs)

    def on_resize(self, event: events.Resize) -> None:
        width, height = event.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        on_notice = isinstance(self.screen, TooSmallScreen)
        self.set_class(height < SHORT_HEIGHT, "-short")  # app.tcss: charts get the rows
        if small and not on_notice:
            self.push_screen(TooSmallScreen())
        elif small and on_notice:
            self.screen.show_size(width, height)
        elif not small and on_notice:
            self.pop_screen()

    def action_command_palette(self) -> None:
        open_palette(self)  # one palette at a time, never over the size notice (commands.py)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_rows(bindings())))

    # --- leaving -----------------------------------------------------------------------
    def run(self, *args: Any, **kwargs: Any) -> int | None:
        """The dashboard in this terminal; the process ends soon after it returns.

        Its objects are frozen out of the garbage collector then: Python's last collection
        at exit walked every object torch and Textual made, 1-3 s on a loaded machine
        (docs/LOG.md, 2026-12-07), which q on an attached run, with nothing to save, waited
        for. Tests use run_test, never this, so their apps are still collected.
        """
        try:
            return super().run(*args, **kwargs)
        finally:
            gc.freeze()

    def on_unmount(self) -> None:
        # However the app ends, never leave a trainer thread running (it saves on stop).
        self.session.let_go()

    async def action_quit(self) -> None:
        """Quit; a run in progress is stopped (with its checkpoint) first. Twice: at once.

        An attached run is left training: quitting only detaches.
        """
        if self.session.quit_needs_wait():
            self.notify("Stopping: saving a checkpoint, then quitting (q again: quit now).")
            self.main_screen.show_status()  # "stopping" now, not at the next status tick
            return
        self.main_screen.generation.stop()
        self.exit(0)

    def action_hangup(self) -> None:
        """SIGHUP (the terminal went away): stop the run and leave at once.

        The trainer saves its checkpoint as it stops; :func:`run_dashboard` waits for that
        after the app has gone. Nothing is left to draw on, so the app does not wait.
        """
        self.session.hang_up()
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
