"""``llmv0-tui --serve``: checks and settings before the dashboard is served in a browser.

Every browser tab starts its own dashboard process (``python -m tui``), which inherits this
process's environment: that is how ``--runs-dir`` and ``--attach`` reach each tab.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# What `--attach` reads when it is not given: set for the tabs of `--serve --attach RUN`.
ATTACH_ENV = "LLMV0_ATTACH"


def serve_dashboard(
    host: str,
    port: int,
    config: str | None,
    run: str | None,
    attach: str | None,
    runs_dir: Path | None,
) -> int:
    """Serve the dashboard until Ctrl-C; 2 with one line on stderr when it cannot start."""
    from engine.errors import UserError
    from engine.run.folder import require_history
    from engine.run.summary import default_runs_dir
    from tui.shared.extras import require

    tabs_env: dict[str, str] = {}
    try:
        require("textual_serve", "serve", "llmv0-tui --serve")
        if attach:  # refuse a wrong run here, not later in every browser tab
            folder, _ = require_history(attach, runs_dir or default_runs_dir())
            tabs_env[ATTACH_ENV] = str(folder.resolve())
    except UserError as exc:  # this front door's one place for user errors
        print(f"llmv0-tui: {exc}", file=sys.stderr)
        return 2
    if runs_dir is not None:
        tabs_env["LLMV0_RUNS_DIR"] = str(runs_dir.resolve())
    from tui.dashboard.serve import serve

    with environment(tabs_env):
        return serve(host, port, config, run)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in this process's environment (which every tab's process inherits)
    while serving, then put back what was there: nothing outlives the server, not even in a
    process that goes on (a test runner, an embedding program)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in before.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
