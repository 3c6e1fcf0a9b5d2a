"""Over a real SSH session: attach the dashboard to a detached run, drop the connection,
reconnect, attach again; the whole history is there and training never stopped.

Starts Debian's sshd on 127.0.0.1 with key login (.ci/run installs openssh-server), runs
``ssh -t ... llmv0-tui --attach RUN`` inside tmux, and kills the ssh client mid-session.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TINY_FIELDS, TINY_TEXT

pytestmark = pytest.mark.slow

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
TMUX = shutil.which("tmux")
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An sshd on 127.0.0.1 accepting one generated key; yields (port, client key)."""
    if SSHD is None or TMUX is None or shutil.which("ssh") is None:
        pytest.skip("sshd, ssh or tmux missing (.ci/run installs them)")
    if os.geteuid() != 0:
        pytest.skip("starting sshd with its own config needs root here")
    keys = tmp_path / "ssh"
    keys.mkdir(mode=0o700)
    for name in ("host", "client"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True
        )
    authorized = keys / "authorized_keys"
    authorized.write_text((keys / "client.pub").read_text(), encoding="utf-8")
    authorized.chmod(0o600)
    port = _free_port()
    config = keys / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {keys / 'host'}\n"
        f"AuthorizedKeysFile {authorized}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
        f"PidFile {keys / 'sshd.pid'}\nAcceptEnv LANG LC_*\n",
        encoding="utf-8",
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "sshd did not start"
        time.sleep(0.1)
    try:
        yield port, keys / "client"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def _screen(session: str) -> str:
    return _tmux("capture-pane", "-p", "-t", session)


def _shown_step(screen: str) -> int:
    match = re.search(r"step\s+(\d[\d,]*)\s*/", screen)
    return int(match.group(1).replace(",", "")) if match else -1


def _wait_screen(session: str, predicate, timeout: float = 90.0) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _screen(session)
        if predicate(screen):
            return screen
        time.sleep(0.5)
    raise AssertionError(f"screen never matched; last screen:\n{screen}")


def _dashboards_of(runs: Path) -> list[int]:
    """Pids of dashboards attached to a run under ``runs`` (any session, any parent)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            cmdline = proc.info["cmdline"] or []
            alive = proc.info["status"] != psutil.STATUS_ZOMBIE
            if (
                "--attach" in cmdline
                and alive
                and proc.environ().get("LLMV0_RUNS_DIR") == str(runs)
            ):
                found.append(proc.pid)
        except (psutil.Error, OSError):
            continue
    return found


def test_attach_over_ssh_survives_a_dropped_connection(
    tmp_path: Path, sshd: tuple[int, Path]
) -> None:
    port, key = sshd
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({**TINY_FIELDS, "data_file": str(corpus),
                                  "max_steps": 2_000_000, "eval_interval": 200}),
                      encoding="utf-8")  # fmt: skip
    runs = tmp_path / "runs"
    trainer = subprocess.Popen(
        [sys.executable, "-m", "tui.cli.main", "train", "--runs-dir", str(runs), "--run-id", "far",
         "--config", str(config), "--no-samples"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    events = runs / "far" / "events.jsonl"
    session = f"llmv0-ssh-{os.getpid()}"
    remote = shlex.join([sys.executable, "-m", "tui", "--attach", "far"])
    ssh = shlex.join([
        "ssh", "-t", "-i", str(key), "-p", str(port), "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "root@127.0.0.1",
        f"cd {shlex.quote(str(REPO))} && TERM=xterm-256color "
        f"LLMV0_RUNS_DIR={shlex.quote(str(runs))} {remote}",
    ])  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (events.exists() and events.read_text().count("StepCompleted") > 50):
            assert trainer.poll() is None, "the trainer died"
            assert time.monotonic() < deadline
            time.sleep(0.2)
        _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", ssh)
        first = _wait_screen(session, lambda s: "running" in s and _shown_step(s) > 0)
        step_one = _shown_step(first)
        later = _wait_screen(session, lambda s: _shown_step(s) > step_one)
        assert "running" in later

        # Drop the connection: kill the ssh client as a network failure would.
        ssh_pid = int(_tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
        os.kill(ssh_pid, signal.SIGKILL)
        time.sleep(2)
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
        logged_then = events.read_text().count("StepCompleted")
        time.sleep(1)
        assert trainer.poll() is None, "dropping the SSH session stopped training"
        # The dashboard on the far side ends with its session (it once spun at 100% CPU for
        # ever, its input thread polling the dead terminal).
        deadline = time.monotonic() + 30
        while _dashboards_of(runs) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _dashboards_of(runs), "the dropped session's dashboard outlived it"
        assert events.read_text().count("StepCompleted") > logged_then

        # Reconnect and attach again: the whole history, then live steps.
        _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", ssh)
        again = _wait_screen(session, lambda s: "running" in s and _shown_step(s) > logged_then)
        assert _shown_step(again) >= logged_then
        _tmux("send-keys", "-t", session, "q")
        time.sleep(1)
        assert trainer.poll() is None, "quitting an attached dashboard stopped training"
        history = events.read_text()
        assert '"RunPaused"' not in history and '"RunFinished"' not in history
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False,
                       capture_output=True)  # fmt: skip
        trainer.send_signal(signal.SIGTERM)
        trainer.wait(timeout=60)
    # Nor does the second one, quit with q and its session then closed.
    deadline = time.monotonic() + 30
    while _dashboards_of(runs) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _dashboards_of(runs), "a dashboard outlived its SSH session"
