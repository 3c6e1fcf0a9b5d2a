"""``--serve`` security with a raw HTTP and websocket client: the token, the Origin check, and
no dashboard process outliving its client or the server.

The server runs in-process (aiohttp's test server) and serves a stand-in "dashboard": a tiny
Python process that speaks textual-serve's start line and then ignores SIGTERM and its stdin,
the worst case seen in the wild. The real dashboard in a real browser is tests/e2e/test_browser.py.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tui.dashboard import serve_guard
from tui.dashboard.serve_guard import GuardedServer, ServeTokenError, cookie_name, server_token

TOKEN = "s3cret-token-for-tests-0123456789"

STUBBORN = (
    "import signal, sys, time, os\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "sys.stdout.write('__GANGLION__\\n'); sys.stdout.flush()\n"
    "payload = b'hello'\n"
    "sys.stdout.buffer.write(b'D' + len(payload).to_bytes(4, 'big') + payload)\n"
    "sys.stdout.flush()\n"
    "while True: time.sleep(0.05)\n"
)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "zombie" not in status.lower()


@pytest.fixture
def quick_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve_guard, "QUIT_GRACE_S", 0.5)
    monkeypatch.setattr(serve_guard, "TERM_GRACE_S", 1.0)


async def _server() -> tuple[GuardedServer, TestServer]:
    guarded = GuardedServer([sys.executable, "-c", STUBBORN], TOKEN, host="127.0.0.1", port=0)
    test_server = TestServer(await guarded._make_app(), host="127.0.0.1")
    await test_server.start_server()
    return guarded, test_server


async def test_page_needs_the_token() -> None:
    _, test_server = await _server()
    base = str(test_server.make_url("/"))
    try:
        async with aiohttp.ClientSession() as http:
            for url in (base, f"{base}?token=wrong-token-wrong-token", f"{base}download/x"):
                async with http.get(url) as response:
                    assert response.status == 403, url
            async with http.get(f"{base}?token={TOKEN}") as response:
                assert response.status == 200
                page = await response.text()
                assert response.cookies[cookie_name(test_server.port)].value == TOKEN
                assert response.headers["Referrer-Policy"] == "no-referrer"
            assert f"ws://{test_server.host}:{test_server.port}/ws" in page
    finally:
        await test_server.close()


async def test_websocket_refused_without_token_or_from_another_origin() -> None:
    guarded, test_server = await _server()
    own = f"http://{test_server.host}:{test_server.port}"
    ws_url = str(test_server.make_url("/ws"))
    refused = [
        ({}, {"Origin": own}),  # no token
        ({"token": "wrong-token-wrong-token"}, {"Origin": own}),
        ({"token": TOKEN}, {"Origin": "http://evil.example"}),  # foreign page, right token
        ({"token": TOKEN}, {"Origin": f"http://localhost.evil.example:{test_server.port}"}),
        ({"token": TOKEN}, {}),  # no Origin at all
    ]
    try:
        async with aiohttp.ClientSession() as http:
            for params, headers in refused:
                with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                    await http.ws_connect(ws_url, params=params, headers=headers)
                assert info.value.status == 403, (params, headers)
        assert not guarded.services, "a refused websocket must not start a dashboard"
    finally:
        await test_server.close()


async def test_right_token_and_origin_reach_the_dashboard_and_an_abrupt_close_ends_it(
    quick_grace: None,
) -> None:
    guarded, test_server = await _server()
    own = f"http://{test_server.host}:{test_server.port}"
    try:
        async with aiohttp.ClientSession(cookies={cookie_name(test_server.port): TOKEN}) as http:
            ws = await http.ws_connect(str(test_server.make_url("/ws")), headers={"Origin": own})
            message = await asyncio.wait_for(ws.receive(), 30)
            assert message.data == b"hello"
            (service,) = guarded.services
            pid = service._process.pid
            assert _alive(pid)
            # Abrupt: the TCP connection drops, no websocket close frame.
            ws._response.connection.transport.abort()
        deadline = asyncio.get_running_loop().time() + 20
        while _alive(pid) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        assert not _alive(pid), "the dashboard outlived its client"
    finally:
        await test_server.close()


async def test_stopping_the_server_ends_every_dashboard(quick_grace: None) -> None:
    guarded, test_server = await _server()
    own = f"http://{test_server.host}:{test_server.port}"
    pids = []
    async with aiohttp.ClientSession(cookies={cookie_name(test_server.port): TOKEN}) as http:
        sockets = []
        for _ in range(2):
            ws = await http.ws_connect(str(test_server.make_url("/ws")), headers={"Origin": own})
            await asyncio.wait_for(ws.receive(), 30)
            sockets.append(ws)
        pids = [s._process.pid for s in guarded.services]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        await test_server.close()  # runs the app's shutdown: every dashboard is stopped
    assert not any(_alive(p) for p in pids), "a dashboard outlived the server"


def test_token_from_environment_and_file(tmp_path: Path) -> None:
    assert server_token({}) != server_token({})  # random per server
    assert len(server_token({})) >= 32
    assert server_token({"LLMV0_SERVE_TOKEN": TOKEN}) == TOKEN
    path = tmp_path / "token"
    path.write_text(f"{TOKEN}\nignored\n", encoding="utf-8")
    assert server_token({"LLMV0_SERVE_TOKEN_FILE": str(path)}) == TOKEN
    with pytest.raises(ServeTokenError, match="at least"):
        server_token({"LLMV0_SERVE_TOKEN": "short"})
    with pytest.raises(ServeTokenError, match="not a regular file"):
        server_token({"LLMV0_SERVE_TOKEN_FILE": str(tmp_path)})
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ServeTokenError, match="not a regular file"):
        server_token({"LLMV0_SERVE_TOKEN_FILE": str(fifo)})  # refused, never a hang
