"""``llmv0-tui --serve``: the same dashboard as a web page, through textual-serve.

Each browser tab starts its own ``python -m tui`` process behind a websocket, so there is no
second UI to maintain. The server binds to 127.0.0.1 unless the user asks for another host.
"""

from __future__ import annotations

import shlex
import sys


def dashboard_command(config: str | None, run: str | None) -> str:
    """The shell command textual-serve runs for each browser session."""
    argv = [sys.executable, "-m", "tui"]
    if config:
        argv += ["--config", config]
    if run:
        argv += ["--run", run]
    return shlex.join(argv)


def serve(host: str, port: int, config: str | None, run: str | None) -> int:
    """Serve the dashboard until Ctrl-C; returns the exit code."""
    from textual_serve.server import Server

    where = "this machine only" if host in {"127.0.0.1", "localhost", "::1"} else "the network"
    print(f"Serving the llmv0 dashboard at http://{host}:{port} (reachable from {where}).")
    if where == "this machine only":
        print(
            "Use --host 0.0.0.0 to allow other machines; over SSH, forward the port "
            f"instead: ssh -L {port}:127.0.0.1:{port} HOST"
        )
    server = Server(dashboard_command(config, run), host=host, port=port, title="llmv0")
    server.serve()
    return 0
