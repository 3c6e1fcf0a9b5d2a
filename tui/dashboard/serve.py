"""``llmv0-tui --serve``: the same dashboard as a web page, through textual-serve.

Each browser tab starts its own ``python -m tui`` process behind a websocket, so there is no
second UI to maintain. The server binds to 127.0.0.1 unless the user asks for another host,
and asks for a secret token (see :mod:`tui.dashboard.serve_guard`) whatever the host.
"""

from __future__ import annotations

import sys

from tui.dashboard.serve_guard import ServeTokenError, is_loopback, python_argv, server_token

NETWORK_WARNING = """\
WARNING: --host {host} makes this dashboard reachable from other machines, over plain HTTP.
Anyone who sees the URL below (on the network, in a proxy log, over your shoulder) can run
training, stop your runs and write files anywhere your user can. Prefer the default
127.0.0.1 and an SSH tunnel:  ssh -L {port}:127.0.0.1:{port} HOST
"""


def dashboard_argv(config: str | None, run: str | None) -> list[str]:
    """The command textual-serve runs for each browser session (no shell in between)."""
    argv = python_argv()
    if config:
        argv += ["--config", config]
    if run:
        argv += ["--run", run]
    return argv


def serve(host: str, port: int, config: str | None, run: str | None) -> int:
    """Serve the dashboard until Ctrl-C or SIGTERM; returns the exit code."""
    from tui.dashboard.serve_guard import GuardedServer

    try:
        token = server_token()
    except ServeTokenError as exc:
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
    server = GuardedServer(dashboard_argv(config, run), token, host=host, port=port, title="llmv0")
    server.serve()
    return 0
