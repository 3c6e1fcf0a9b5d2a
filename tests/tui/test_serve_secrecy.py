"""``--serve`` keeps its token in the URL the user opens (issue 28 item 7, issue 25 part 8):
never in a logged line, never in a Referer, in a cookie named for its port, not in the
dashboards' environment; and a busy port is one paragraph, exit 2.

The first test runs the real server (``python -m tui --serve``) on a free port of 127.0.0.1
with a real dashboard behind its websocket, and SIGKILLs the server at the end: the
dashboard must not outlive it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tui.dashboard.serve_guard import (
    COOKIE,
    TOKEN_ENV,
    GuardedServer,
    RedactToken,
    cookie_name,
)

TOKEN = "secrecy-test-token-0123456789abcdef"
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server ended before listening"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


async def _browse(port: int, server: int) -> tuple[dict[str, Any], int]:
    """What a browser does, with each response's headers: the page, an asset, refusals,
    a page load carrying a token-bearing Referer, and the websocket. Returns the headers by
    request and the dashboard process the websocket started."""
    base = f"http://127.0.0.1:{port}"
    seen: dict[str, Any] = {}
    # unsafe: the jar keeps cookies from an IP address (127.0.0.1), as browsers do
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for name, url, status in [
            ("page", f"{base}/?token={TOKEN}", 200),
            ("asset", f"{base}/static/css/xterm.css", 200),
            ("wrong token", f"{base}/?token=wrong-token-wrong-token", 403),
            ("missing", f"{base}/nowhere?token={TOKEN}", 404),
        ]:
            async with http.get(url) as response:
                assert response.status == status, name
                seen[name] = response.headers
        # An old browser that ignored the policy: the Referer holds the token.
        async with http.get(f"{base}/", headers={"Referer": f"{base}/?token={TOKEN}"}) as again:
            assert again.status == 200  # the cookie set by the page
        ws = await http.ws_connect(f"{base}/ws", headers={"Origin": base})
        seen["websocket"] = ws._response.headers
        deadline = time.monotonic() + 60
        dashboards: list[int] = []
        while not dashboards and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            dashboards = _children(server)
        assert len(dashboards) == 1, "the websocket started no dashboard process"
    return seen, dashboards[0]


@pytest.mark.slow
def test_the_real_server_keeps_its_token_out_of_logs_referers_and_children(
    tmp_path: Path,
) -> None:
    port = _free_port()
    env = {**os.environ, TOKEN_ENV: TOKEN, "LLMV0_RUNS_DIR": str(tmp_path / "runs")}
    server = subprocess.Popen(
        [sys.executable, "-m", "tui", "--serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    dashboard = 0
    try:
        _wait_for_port(port, server, 60)
        headers, dashboard = asyncio.run(_browse(port, server.pid))
        environ = Path(f"/proc/{dashboard}/environ").read_bytes()
        # Killed outright, the server cannot stop its dashboard: the kernel must.
        os.killpg(server.pid, signal.SIGKILL)
        output = server.communicate(timeout=30)[0].decode()
        deadline = time.monotonic() + 30
        while _alive(dashboard) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(dashboard), "the dashboard outlived its killed server"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        if dashboard and _alive(dashboard):
            os.killpg(dashboard, signal.SIGKILL)  # its own group: what it started goes too

    # The environment of the dashboard process carries neither the variable nor its value.
    assert f"{TOKEN_ENV}=".encode() not in environ and TOKEN.encode() not in environ
    for name, got in headers.items():
        assert got.get("Referrer-Policy") == "no-referrer", name
    cookie = headers["page"]["Set-Cookie"]
    assert cookie.startswith(f"llmv0_token_{port}={TOKEN};"), cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    # The token is printed once, in the URL to open; every request line is redacted.
    assert output.count(TOKEN) == 1, output
    assert f"http://127.0.0.1:{port}/?token={TOKEN}" in output
    requests = [line for line in output.splitlines() if '"GET /' in line]
    assert len(requests) >= 5, output
    assert any("GET /?token=<redacted>" in line for line in requests), output
    referred = [line for line in requests if '"GET / HTTP/1.1"' in line]
    assert referred and f'"http://127.0.0.1:{port}/?token=<redacted>"' in referred[0], output


async def test_a_cookie_opens_only_its_own_port() -> None:
    guarded = GuardedServer([sys.executable, "-c", "pass"], TOKEN, host="127.0.0.1", port=0)
    test_server = TestServer(await guarded._make_app(), host="127.0.0.1")
    await test_server.start_server()
    page = str(test_server.make_url("/"))
    other = test_server.port + 1 if test_server.port < 65535 else test_server.port - 1
    try:
        for name, status in [
            (cookie_name(test_server.port), 200),
            (cookie_name(other), 403),  # another dashboard's cookie, same host
            (COOKIE, 403),  # the old unscoped name
        ]:
            async with (
                aiohttp.ClientSession(cookies={name: TOKEN}) as http,
                http.get(page) as response,
            ):
                assert response.status == status, name
    finally:
        await test_server.close()


def test_the_redaction_covers_request_lines_referers_and_the_bare_token() -> None:
    line = (
        f'127.0.0.1 [07/Dec/2026:10:00:00 +0000] "GET /?token={TOKEN}&x=1 HTTP/1.1" 200 512 '
        f'"http://127.0.0.1:8000/?TOKEN={TOKEN}" "Mozilla/5.0" /download/{TOKEN}'
    )
    record = logging.LogRecord("aiohttp.access", logging.INFO, __file__, 1, "%s", (line,), None)
    assert RedactToken(TOKEN).filter(record)
    message = record.getMessage()
    assert TOKEN not in message
    assert '"GET /?token=<redacted>&x=1 HTTP/1.1"' in message
    assert '"http://127.0.0.1:8000/?TOKEN=<redacted>"' in message
    assert message.endswith("/download/<redacted>")


def test_a_busy_port_is_one_paragraph_and_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "tui", "--serve", "--port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "token=" not in result.stdout
    assert f"Cannot serve on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr and len(result.stderr.strip().splitlines()) == 1
