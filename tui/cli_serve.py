"""``llmv0-tui --serve``: checks and settings before the dashboard is served in a browser.

Every browser tab starts its own dashboard process (``python -m tui``), which inherits this
process's environment: that is how ``--runs-dir`` and ``--attach`` reach each tab.
"""

from __future__ import annotations

import os
import sys
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
    from engine.run_folder import require_history
    from engine.runs import default_runs_dir
    from tui.extras import require

    try:
        require("textual_serve", "serve", "llmv0-tui --serve")
        if attach:  # refuse a wrong run here, not later in every browser tab
            folder, _ = require_history(attach, runs_dir or default_runs_dir())
            os.environ[ATTACH_ENV] = str(folder.resolve())
    except UserError as exc:  # this front door's one place for user errors
        print(f"llmv0-tui: {exc}", file=sys.stderr)
        return 2
    if runs_dir is not None:
        os.environ["LLMV0_RUNS_DIR"] = str(runs_dir.resolve())
    from tui.serve import serve

    return serve(host, port, config, run)
