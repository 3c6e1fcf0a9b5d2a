"""What keeps ``llmv0-tui --serve`` safe: a secret token, a same-origin websocket, and no
dashboard process that outlives its browser tab or the server.

Whoever can open the dashboard can train, stop runs, and save config files anywhere the user
can write, so the page and its websocket are the user's shell in all but name. The server
therefore asks, as notebook servers do, for a secret token it prints in its URL; the page sets
it as a same-site cookie that the websocket must present; and a websocket whose ``Origin`` is
not the page the server itself served (another web page open in the same browser, say) is
refused even with the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import secrets
import signal
import stat
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from engine.errors import UserError

log = logging.getLogger(__name__)

TOKEN_ENV = "LLMV0_SERVE_TOKEN"
TOKEN_FILE_ENV = "LLMV0_SERVE_TOKEN_FILE"
COOKIE = "llmv0_token"
MIN_TOKEN_CHARS = 16
QUIT_GRACE_S = 30.0
"""How long a dashboard may take to stop its run with a checkpoint after its tab went away."""
TERM_GRACE_S = 10.0


class ServeTokenError(UserError, ValueError):
    """The token given by environment or file is unusable."""


def server_token(environ: dict[str, str] | None = None) -> str:
    """The secret the server asks for: ``$LLMV0_SERVE_TOKEN``, else the first line of the file
    ``$LLMV0_SERVE_TOKEN_FILE``, else a new random one.

    Raises:
        ServeTokenError: the given token is too short or its file cannot be read as text.
    """
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "").strip()
    if not token and (name := env.get(TOKEN_FILE_ENV)):
        token = _token_from_file(Path(name))
    if not token:
        return secrets.token_urlsafe(32)
    if len(token) < MIN_TOKEN_CHARS or not token.isprintable() or " " in token:
        raise ServeTokenError(
            f"The --serve token must be at least {MIN_TOKEN_CHARS} printable characters "
            "without spaces; unset LLMV0_SERVE_TOKEN and LLMV0_SERVE_TOKEN_FILE to get a "
            "random one."
        )
    return token


def _token_from_file(path: Path) -> str:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ServeTokenError(f"The token file {path} is not a regular file.")
        with path.open("rb") as fh:
            head = fh.read(4096)  # a token is one short line; never read a huge file whole
        return head.decode("utf-8").splitlines()[0].strip() if head.strip() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ServeTokenError(f"Cannot read the token file {path}: {exc}.") from None


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    return host in {"localhost", "::1"} or host.startswith("127.")


def same_origin(request: web.Request) -> bool:
    """True when the request's ``Origin`` is the page this server served (scheme, host, port).

    A browser always sends ``Origin`` on a websocket upgrade; a page from any other site (or a
    rebound DNS name, which the token stops as well) cannot forge it. A missing Origin is
    refused too: only browsers talk to this websocket.
    """
    origin = request.headers.get("Origin", "")
    expected = f"{request.scheme}://{request.host}"
    return bool(origin) and hmac.compare_digest(origin.lower(), expected.lower())


class GuardedAppService(AppService):
    """A dashboard process in its own session, stopped for sure: quit, then SIGTERM, then
    SIGKILL, each after a grace period, so a dashboard whose tab vanished cannot spin on."""

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Any:
        argv = self.command if isinstance(self.command, list) else [self.command]
        self._process = process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True,  # its own group: we can signal it and all it started
        )
        self._stdin = process.stdin
        return process

    async def stop(self) -> None:
        process = self._process
        if process is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(super().stop(), QUIT_GRACE_S)
        for sig, grace in ((signal.SIGTERM, TERM_GRACE_S), (signal.SIGKILL, TERM_GRACE_S)):
            if process.returncode is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), grace)
        if process.returncode is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), TERM_GRACE_S)
        if self._task is not None:
            self._task.cancel()
            self._task = None


class GuardedServer(Server):
    """textual-serve's server behind a token and an Origin check, reaping every dashboard."""

    def __init__(self, argv: list[str], token: str, **kwargs: Any) -> None:
        super().__init__(" ".join(argv), **kwargs)
        self.argv = argv
        self.token = token
        self.services: set[GuardedAppService] = set()

    def _token_ok(self, request: web.Request) -> bool:
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/static/"):
            return await handler(request)  # textual-serve's own JS, CSS and fonts: public
        if not self._token_ok(request):
            log.warning("refused %s %s: no or wrong token", request.method, request.path)
            raise web.HTTPForbidden(text="llmv0: this dashboard needs its token (?token=...).\n")
        if request.path == "/ws" and not same_origin(request):
            log.warning("refused a websocket from origin %r", request.headers.get("Origin"))
            raise web.HTTPForbidden(text="llmv0: websocket from another origin refused.\n")
        response = await handler(request)
        if request.path == "/" and request.query.get("token"):
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", path="/")
        response.headers["Referrer-Policy"] = "no-referrer"  # keep the token out of Referer
        response.headers["X-Frame-Options"] = "DENY"  # no clickjacking through a frame
        return response

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        # The page's websocket URL names the host the browser used (not 0.0.0.0), so the
        # websocket is same-origin and carries the token cookie. Nothing awaits before the
        # template context is built, so concurrent requests cannot mix their hosts.
        self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15)
        width = _bounded(request.query.get("width"), 80)
        height = _bounded(request.query.get("height"), 24)
        service: GuardedAppService | None = None
        try:
            await websocket.prepare(request)
            service = GuardedAppService(
                self.argv,  # type: ignore[arg-type]  # an argv list: no shell in between
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            self.services.add(service)
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a malformed message ends this session, not the server
            log.warning("websocket session ended: %s", exc)
        finally:
            if service is not None:
                await asyncio.shield(service.stop())
                self.services.discard(service)
            with contextlib.suppress(Exception):
                await websocket.close()
        return websocket

    async def on_shutdown(self, app: web.Application) -> None:
        # Every dashboard ends with the server; each stops its run with a checkpoint first.
        services = list(self.services)
        await asyncio.gather(*(s.stop() for s in services), return_exceptions=True)
        # Then close their websockets, so aiohttp need not wait for the browsers to hang up.
        await asyncio.gather(*(s.remote_close() for s in services), return_exceptions=True)

    async def on_startup(self, app: web.Application) -> None:
        """Quiet: :func:`tui.dashboard.serve.serve` prints the URL with its token."""


def _bounded(value: str | None, default: int) -> int:
    try:
        return min(max(int(value or default), 10), 1000)
    except ValueError:
        return default


def python_argv() -> list[str]:
    """The interpreter running this server (so the dashboard runs the same install)."""
    return [sys.executable, "-m", "tui"]
