"""``llmv0-tui``'s entry point (and ``python -m tui``'s).

With no arguments, the common case, the dashboard starts without the command-line parser:
typer and click take ~50 ms to import, out of a first frame that aims to be under 0.8 s.
Any argument (``--help`` included) and shell completion go through the parser in
:mod:`tui.dashboard.command_line`, which defines every option; with none given, each option has its
default, and ``--attach`` its environment variable (how ``--serve --attach`` reaches a tab).
"""

from __future__ import annotations

import os
import sys

COMPLETE_ENV = "_LLMV0_TUI_COMPLETE"  # click's shell-completion switch for this program


def tui_main() -> None:
    """Entry point of ``llmv0-tui``."""
    if len(sys.argv) > 1 or COMPLETE_ENV in os.environ:
        from tui.dashboard.command_line import tui_app

        tui_app(prog_name="llmv0-tui")
        return
    from tui.dashboard.serve import ATTACH_ENV

    try:
        from tui.dashboard.launch import run_dashboard

        code = run_dashboard(config=None, run=None, attach=os.environ.get(ATTACH_ENV) or None)
    except KeyboardInterrupt:  # Ctrl-C before the dashboard took the terminal
        code = 130
    sys.exit(code)
