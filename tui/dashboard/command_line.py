"""``llmv0-tui``: the dashboard's command line, apart from ``llmv0``'s.

Kept light on purpose: with arguments, the dashboard's first frame waits for every import
made here, so this module loads typer and the shared CLI options only, not the ``llmv0``
commands' modules (tui/cli/main.py), and Textual and the engine only once the command runs.
Without arguments the entry point (:mod:`tui.dashboard.entry`) does not load it at all.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tui.dashboard.serve import ATTACH_ENV
from tui.shared.cli_options import CONTEXT_SETTINGS, FlagCommand, RunsDir, VersionOption

tui_app = typer.Typer(context_settings=CONTEXT_SETTINGS, pretty_exceptions_enable=False)


@tui_app.command(cls=FlagCommand)
def dashboard(
    config: Annotated[
        str | None, typer.Option("--config", "-c", help="Config file or preset to load.")
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", "-r", help="Open a finished run's checkpoint.")
    ] = None,
    attach: Annotated[
        str | None,
        typer.Option(
            "--attach",
            "-a",
            help="Follow and steer a run another process trains (its whole history, then live).",
            envvar=ATTACH_ENV,  # how `--serve --attach` reaches each browser tab
            show_envvar=False,
        ),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Serve the dashboard as a web page (textual-serve).")
    ] = False,
    host: Annotated[
        str, typer.Option("--host", help="With --serve: address to bind (local only by default).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="With --serve: port.", min=1, max=65535)
    ] = 8000,
    runs_dir: RunsDir = None,
    version: VersionOption = False,
) -> None:
    """Open the llmv0 dashboard: edit, train, watch and sample, all in one terminal."""
    if serve:
        from tui.dashboard.serve import serve_dashboard

        raise typer.Exit(serve_dashboard(host, port, config, run, attach, runs_dir))
    from tui.dashboard.launch import run_dashboard

    raise typer.Exit(run_dashboard(config=config, run=run, attach=attach, runs_dir=runs_dir))


def tui_main() -> None:
    """``llmv0-tui`` through the parser, whatever the arguments (the installed entry point is
    :func:`tui.dashboard.entry.tui_main`, which skips it when there are none)."""
    tui_app(prog_name="llmv0-tui")
