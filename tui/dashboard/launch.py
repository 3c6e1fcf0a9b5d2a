"""Building and running the dashboard: :func:`make_app` for the CLI and for tests (tests pass
a scripted trainer factory), :func:`run_dashboard` for ``llmv0-tui`` (exit codes, SIGHUP, a
clean stop however the UI ends). ``--run`` is resolved once, then its folder is passed along.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from engine import events as ev
from engine.errors import UserError
from engine.run.folder import existing_run
from engine.run.state import shown_state
from engine.run.summary import default_runs_dir
from tui.dashboard.app import STOP_TIMEOUT_S, Dashboard
from tui.dashboard.model_source import GenerationModel
from tui.dashboard.trainer_factory import TrainerFactory, default_trainer_factory, remote_factory


def make_app(
    config: str | None = None,
    run: str | None = None,
    trainer_factory: TrainerFactory | None = None,
    runs_dir: str | Path | None = None,
    attach: str | None = None,
) -> Dashboard:
    """The dashboard, for the CLI and for tests.

    ``attach`` follows (and steers) a run that another process trains.

    Raises:
        ConfigError: the config file is missing or invalid.
        CheckpointError: ``run`` cannot be loaded.
        RunNotFoundError: ``attach`` names no run with events.
    """
    runs_dir = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    if attach:
        return _attached_app(attach, runs_dir)
    loaded: GenerationModel | None = None
    history: list[ev.Event] = []
    cfg = None  # RunConfig's defaults: the editor shows them before pydantic loads
    if config:
        from engine.config.schema import load_config

        cfg = load_config(config)
    folder: Path | None = None
    if run:  # resolved once: the folder it names is loaded, replayed and shown
        ref = existing_run(run, runs_dir)
        model, tokenizer, run_config = ref.load_for_inference()
        loaded = GenerationModel(model, tokenizer, f"checkpoint {run}")
        cfg = cfg or run_config
        folder = ref.folder.path
        history = ref.folder.history()
    app = Dashboard(
        cfg,
        trainer_factory or default_trainer_factory(runs_dir),
        config_path=config or "",
        run=str(folder) if folder is not None else None,
        loaded=loaded,
        history=history,
        runs_dir=runs_dir,
    )
    if folder is not None and history:  # a finished run opened with --run says "finished"
        from engine.run.summary import summarise

        app.session.stats.state = shown_state(summarise(history, folder).state)
    return app


def _attached_app(attach: str, runs_dir: Path) -> Dashboard:
    """A dashboard following a run folder through :class:`engine.train.attach.RemoteRun`."""
    from engine.run.folder import RunFolder, require_history

    folder, history = require_history(attach, runs_dir)
    run = RunFolder(folder)
    cfg = run.effective_config(history)
    return Dashboard(
        cfg,
        remote_factory(folder),
        config_path=str(run.config_path),
        attached=folder,
        runs_dir=runs_dir,
    )


# What Textual's driver writes when it leaves application mode: mouse reporting off (four
# modes), bracketed paste off, line wrap on, in-band resize off, the Kitty keyboard protocol
# popped, the alternate screen left, the cursor shown, focus reporting off.
LEAVE_TERMINAL = (
    "\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?7h\x1b[?2048l"
    "\x1b[<u\x1b[?1049l\x1b[?25h\x1b[?1004l"
)


def leave_terminal_now(driver: object) -> None:
    """Give the terminal back before output is muted on a hang-up, best effort.

    A SIGHUP does not always mean the terminal is gone (``kill -HUP``, a closed tmux client):
    muted without this, the app left the terminal in the alternate screen with mouse tracking
    on. One non-blocking write: a dead terminal refuses it at once (EIO), a stalled one is
    not waited for.
    """
    fd = getattr(driver, "fileno", None)
    if not isinstance(fd, int):
        return
    attrs = getattr(driver, "attrs_before", None)
    with contextlib.suppress(Exception):
        if attrs is not None:
            import termios

            termios.tcsetattr(fd, termios.TCSANOW, attrs)
    with contextlib.suppress(OSError):
        blocking = os.get_blocking(fd)
        os.set_blocking(fd, False)
        try:
            os.write(fd, LEAVE_TERMINAL.encode())
        finally:
            os.set_blocking(fd, blocking)


def _exit_when_orphaned(on_hangup: Callable[[int, object], None]) -> None:
    """Under ``--serve``: if the server dies without stopping us (SIGKILL), stdin stays open
    nowhere and nobody would ever stop this dashboard; hang up when the parent is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        on_hangup(signal.SIGHUP, None)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def run_dashboard(
    config: str | None,
    run: str | None,
    attach: str | None = None,
    runs_dir: Path | None = None,
) -> int:
    """Entry point of ``llmv0-tui``: 0 on a clean exit, 2 when the inputs cannot be opened."""
    try:
        app = make_app(config, run, attach=attach, runs_dir=runs_dir)
    except UserError as exc:  # the dashboard's one place for user errors
        print(f"llmv0-tui: {exc}", file=sys.stderr)
        return 2

    # A hang-up (SSH dropped, terminal closed) must stop the run with a checkpoint, never kill
    # the process mid-step. A process-level handler, not the event loop's: the loop's handler
    # goes when the loop closes, and a second SIGHUP (the session leader dying) can follow.
    session = app.session

    def on_hangup(signum: int, frame: object) -> None:
        if session.attached is not None:
            session.detach()  # another process trains it: leave it running
        elif session.control is not None:
            session.control.stop()  # Control is safe to call from a signal handler
        leave_terminal_now(getattr(app, "_driver", None))
        app.mute_terminal()  # now, before the next frame is written to a dead terminal
        loop = getattr(app, "_loop", None)
        if app.is_running and loop is not None:
            loop.call_soon_threadsafe(app.action_hangup)

    # A polite kill (SIGTERM) does what q does: the run stops with its checkpoint (saved
    # before the process exits, below), the app exits and restores the terminal.
    def on_terminate(signum: int, frame: object) -> None:
        if session.attached is None and session.control is not None:
            session.control.stop()
        loop = getattr(app, "_loop", None)
        if app.is_running and loop is not None:
            loop.call_soon_threadsafe(app.exit, 0)

    with contextlib.suppress(ValueError, AttributeError):  # no SIGHUP (Windows), not main
        signal.signal(signal.SIGHUP, on_hangup)
        signal.signal(signal.SIGTERM, on_terminate)
    if os.environ.get("TEXTUAL_DRIVER", "").endswith("WebDriver"):
        _exit_when_orphaned(on_hangup)
    code = None
    try:
        code = app.run()
    finally:
        # However the UI ended (even by an exception), a run still going is stopped and its
        # checkpoint saved before the process exits.
        if session.attached is not None:
            session.detach()
        elif not session.train_done.is_set() and session.control is not None:
            session.control.stop()
            session.train_done.wait(timeout=STOP_TIMEOUT_S)
    # run() gives the value passed to exit(); a crash leaves it None and sets return_code 1,
    # which must not read as a clean exit.
    return code if code is not None else (app.return_code or 0)
