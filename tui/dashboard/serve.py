"""``llmv0-tui --serve``: the same dashboard as a web page, through textual-serve.

Each browser tab starts its own ``python -m tui`` process behind a websocket, so there is no
second UI to maintain; it inherits this process's environment (less the token), which is how
``--runs-dir`` and ``--attach`` reach each tab. The server binds to 127.0.0.1 unless the user
asks for another host, and asks for a secret token (see :mod:`tui.dashboard.serve_guard`)
whatever the host.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# What `--attach` reads when it is not given: set for the tabs of `--serve --attach RUN`.
# The entry point reads it before the first frame, so this module imports no aiohttp or
# textual-serve at its top (the serve extra may not even be installed).
ATTACH_ENV = "LLMV0_ATTACH"

NETWORK_WARNING = """\
WARNING: --host {host} makes this dashboard reachable from other machines, over plain HTTP.
Anyone who sees the URL below (on the network, in a proxy log, over your shoulder) can run
training, stop your runs and write files anywhere your user can. Prefer the default
127.0.0.1 and an SSH tunnel:  ssh -L {port}:127.0.0.1:{port} HOST
"""


def dashboard_argv(config: str | None, run: str | None) -> list[str]:
    """The command textual-serve runs for each browser session (no shell in between)."""
    from tui.dashboard.serve_guard import python_argv

    argv = python_argv()
    if config:
        argv += ["--config", config]
    if run:
        argv += ["--run", run]
    return argv


def serve(host: str, port: int, config: str | None, run: str | None) -> int:
    """Serve the dashboard until Ctrl-C or SIGTERM; returns the exit code."""
    from tui.dashboard.serve_guard import (
        GuardedServer,
        ServeBindError,
        ServeTokenError,
        is_loopback,
        listening_socket,
        server_token,
    )

    try:
        token = server_token()
        sock = listening_socket(host, port)  # a busy port: one paragraph, before the URL
    except (ServeTokenError, ServeBindError) as exc:
        print(f"llmv0-tui: {exc}", file=sys.stderr)
        return 2
    shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    if not is_loopback(host):
        print(NETWORK_WARNING.format(host=host, port=port), file=sys.stderr, flush=True)
    print(
        "Serving the llmv0 dashboard. Open this URL (it holds the secret token; keep it private):"
    )
    print(f"    http://{shown}:{port}/?token={token}", flush=True)
    if is_loopback(host):
        print(f"Over SSH, forward the port first: ssh -L {port}:127.0.0.1:{port} HOST")
    server = GuardedServer(
        dashboard_argv(config, run), token, sock=sock, host=host, port=port, title="llmv0"
    )
    server.serve()
    return 0


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
