"""The dashboard in a browser: ``llmv0-tui --serve`` driven by headless Chromium (Playwright).

Starts the server on 127.0.0.1 with a known token; checks that Chromium cannot open the page
without it or with a wrong one, nor the websocket from another origin with it; opens the page,
clicks into the terminal, starts a tiny training run with the dashboard's own key, sees the
run's events appear and the page change, takes a screenshot, then stops the server and every
process it started.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_FIELDS, TINY_TEXT

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


def _descendants(pid: int) -> set[int]:
    children: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            child = int(entry.name)
            children |= {child} | _descendants(child)
    return children


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_dashboard_in_headless_chromium(tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    config = tmp_path / "tiny.json"
    fields = {**TINY_FIELDS, "data_file": str(corpus), "max_steps": 3000, "eval_interval": 50}
    config.write_text(json.dumps(fields), encoding="utf-8")
    runs = tmp_path / "runs"
    port = _free_port()
    token = "browser-test-token-0123456789abcdef"
    server = subprocess.Popen(
        [sys.executable, "-m", "tui", "--serve", "--port", str(port), "--config", str(config)],
        cwd=tmp_path,
        env={**os.environ, "LLMV0_RUNS_DIR": str(runs), "LLMV0_SERVE_TOKEN": token},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    children: set[int] = set()
    try:
        _wait_for_port(port, 60)
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            for url in (f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/?token=wrong"):
                response = page.goto(url)
                assert response is not None and response.status == 403, url
            # A page of another origin (here about:blank, origin "null") that knows the token
            # still cannot open the dashboard's websocket.
            page.goto("about:blank")
            opened = page.evaluate(
                """(url) => new Promise((done) => {
                    const ws = new WebSocket(url);
                    ws.onopen = () => { ws.close(); done(true); };
                    ws.onerror = () => done(false);
                    setTimeout(() => done(false), 10000);
                })""",
                f"ws://127.0.0.1:{port}/ws?token={token}",
            )
            assert opened is False, "a foreign origin opened the websocket"
            page.goto(f"http://127.0.0.1:{port}/?token={token}", wait_until="load")
            # textual-serve opens the terminal when the page starts the websocket session.
            page.wait_for_selector("canvas, .xterm", timeout=60_000)
            # The dashboard process starts (torch import) and paints: a blank page is a
            # small PNG, a painted dashboard a large one.
            deadline = time.monotonic() + 90
            before = page.screenshot()
            while len(before) < 40_000 and time.monotonic() < deadline:
                time.sleep(1)
                before = page.screenshot()
            assert len(before) >= 40_000, "the dashboard never painted in the browser"
            time.sleep(2)
            before = page.screenshot(path=str(tmp_path / "before.png"))
            page.mouse.click(400, 250)  # into the terminal, on the loss chart
            page.keyboard.press("s")  # the dashboard's start key
            deadline = time.monotonic() + 90
            events: list[dict] = []
            while time.monotonic() < deadline:
                logs = [*runs.glob("*/events.jsonl"), *tmp_path.glob("checkpoints/*/events.jsonl")]
                if logs:
                    lines = logs[0].read_text(encoding="utf-8").splitlines()
                    events = [json.loads(line) for line in lines if line.strip()]
                    if sum(e["type"] == "StepCompleted" for e in events) >= 100:
                        break
                time.sleep(0.5)
            assert any(e["type"] == "RunStarted" for e in events), "the key did not start a run"
            time.sleep(2)  # at least one chart refresh
            after = page.screenshot(path=str(tmp_path / "dashboard.png"))
            assert after != before, "the page did not change while training"
            children = _descendants(server.pid)
            page.keyboard.press("x")  # stop (saves a checkpoint)
            time.sleep(2)
            browser.close()
    finally:
        children |= _descendants(server.pid)
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in children):
        time.sleep(0.2)
    alive = [
        p
        for p in children
        if Path(f"/proc/{p}").exists()
        and "zombie" not in Path(f"/proc/{p}/status").read_text(errors="ignore").lower()
    ]
    assert not alive, f"processes left running after the server stopped: {alive}"
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
