"""What keeps ``llmv0-tui --serve`` safe: a secret token, a same-origin websocket, and no
dashboard process that outlives its browser tab or the server.

Whoever can open the dashboard can train, stop runs, and save config files anywhere the user
can write, so the page and its websocket are the user's shell in all but name. The server
therefore asks, as notebook servers do, for a secret token it prints in its URL; the page sets
it as a same-site cookie that the websocket must present; and a websocket whose ``Origin`` is
not the page the server itself served (another web page open in the same browser, say) is
refused even with the token.

The token stays in the URL the user opens (as Jupyter keeps its own): logged requests show
``token=<redacted>``, every response says ``Referrer-Policy: no-referrer``, the cookie is
named for the port the browser used (two dashboards on two ports keep their own, and one
port's cookie opens nothing on another), and no dashboard process inherits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import re
import secrets
import signal
import socket
import stat
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from engine.errors import UserError
from tui.shared.child_processes import dies_with_this_process

log = logging.getLogger(__name__)

TOKEN_ENV = "LLMV0_SERVE_TOKEN"
TOKEN_FILE_ENV = "LLMV0_SERVE_TOKEN_FILE"
COOKIE = "llmv0_token"
"""The cookie's name before the port: ``llmv0_token_8000`` (see :func:`cookie_name`)."""
MIN_TOKEN_CHARS = 16
QUIT_GRACE_S = 30.0
"""How long a dashboard may take to stop its run with a checkpoint after its tab went away."""
TERM_GRACE_S = 10.0


class ServeTokenError(UserError, ValueError):
    """The token given by environment or file is unusable."""


class ServeBindError(UserError):
    """The server cannot listen where it was asked to (a busy port, a foreign address)."""


def cookie_name(port: int | None) -> str:
    """The token cookie for the port the browser used. Browsers keep one cookie jar per
    host, whatever the port, so a fixed name let two dashboards overwrite each other's
    cookie and sent it to any other service on the host; Jupyter names its cookies the same
    way."""
    return f"{COOKIE}_{port or 80}"


TOKEN_QUERY = re.compile(r"(token=)[^&\s\"']*", re.IGNORECASE)


class RedactToken(logging.Filter):
    """Rewrites every record it sees so that neither ``token=...`` (a request line, a
    Referer) nor the token itself is ever written: logs are copied, shared and kept."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = TOKEN_QUERY.sub(r"\1<redacted>", message).replace(self.token, "<redacted>")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, before the URL is printed, so a busy port is one
    clear message rather than aiohttp's traceback after the URL.

    Raises:
        ServeBindError: the address cannot be resolved or bound.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ServeBindError(f"Cannot serve on {host}:{port}: {exc.strerror or exc}.") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ServeBindError(
            f"Cannot serve on {host}:{port}: {exc.strerror or exc}. Another program (perhaps "
            "another dashboard) may be listening there: choose a free port with --port N, or "
            "stop that program."
        ) from None
    return sock


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
            preexec_fn=dies_with_this_process(),  # and it ends even if the server is killed
        )
        self._stdin = process.stdin
        return process

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        # The dashboard needs no token (the server checked it), so it never sees one: not
        # in its environment, nor in anything it starts, nor in a crash report listing it.
        environment = super()._build_environment(width=width, height=height)
        for name in (TOKEN_ENV, TOKEN_FILE_ENV):
            environment.pop(name, None)
        return environment

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

    def __init__(
        self, argv: list[str], token: str, sock: socket.socket | None = None, **kwargs: Any
    ) -> None:
        super().__init__(" ".join(argv), **kwargs)
        self.argv = argv
        self.token = token
        self.sock = sock  # already bound (listening_socket); else host and port are bound
        self.services: set[GuardedAppService] = set()

    def _token_ok(self, request: web.Request) -> bool:
        given = request.query.get("token") or request.cookies.get(cookie_name(request.url.port))
        return hmac.compare_digest((given or "").encode(), self.token.encode())

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        app.on_response_prepare.append(self._headers)  # every response: errors, assets, ws
        return app

    def initialize_logging(self) -> None:
        # Plain lines on stderr, every one redacted; textual-serve's own handler printed
        # each request line with its ?token=, and its tracebacks listed local variables.
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(RedactToken(self.token))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.DEBUG if self.debug else logging.INFO)
        for name in ("aiohttp.access", "aiohttp.server", "aiohttp.web"):
            logging.getLogger(name).addFilter(RedactToken(self.token))  # other handlers too

    def serve(self, debug: bool = False) -> None:
        """Serve until SIGINT or SIGTERM (textual-serve's loop, on our bound socket)."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGINT, self.request_exit)
            loop.add_signal_handler(signal.SIGTERM, self.request_exit)
        where: dict[str, Any] = (
            {"sock": self.sock} if self.sock is not None else {"host": self.host, "port": self.port}
        )
        web.run_app(
            self._make_app(), handle_signals=False, loop=loop, print=lambda *args: None, **where
        )

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Referrer-Policy"] = "no-referrer"  # keep the token out of Referer
        response.headers["X-Frame-Options"] = "DENY"  # no clickjacking through a frame

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
            response.set_cookie(
                cookie_name(request.url.port),
                self.token,
                httponly=True,
                samesite="Strict",
                path="/",
            )
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
