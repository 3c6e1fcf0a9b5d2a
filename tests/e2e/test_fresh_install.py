"""The default install in a fresh venv: what a new user gets from ``pip install .``.

A venv of its own (never ``--system-site-packages``: that would lend it this venv's
packages), torch 2.13.0 installed first as ``.ci/run`` does, then ``pip install .`` without
extras. Checks that ``llmv0 --version`` answers, ``llmv0 train`` trains a tiny config, the
dashboard starts in a real terminal (a pty) and quits, and that ``plot --png`` and
``llmv0-tui --serve`` name the extra to install, since matplotlib and textual-serve are not
part of the default set.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from conftest import TINY_TEXT

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "seq_length=16", "batch_size=8", "embedding_dim=8", "hidden_dim=16", "eval_interval=5",
    "sample_length=5", "device=cpu", "num_threads=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with torch 2.13.0 and the default package set; its bin folder."""
    root = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=120)
    pip = [str(root / "bin" / "python"), "-m", "pip", "install", "-q"]
    torch = subprocess.run([*pip, "torch==2.13.0"], capture_output=True, text=True, timeout=600)
    if torch.returncode != 0:
        pytest.skip(f"torch 2.13.0 cannot be installed here: {torch.stderr[-500:]}")
    subprocess.run([*pip, str(REPO)], check=True, timeout=600, env=_clean_env())
    return root / "bin"


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without the test venv's PYTHONPATH (the fresh venv must stand alone)."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return {**env, "NO_COLOR": "1", **extra}


def _run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=_clean_env(COLUMNS="200"),
    )  # fmt: skip


def test_default_install_has_no_optional_packages(venv: Path) -> None:
    probe = "import importlib.util as u; print([m for m in ('matplotlib', 'textual_serve') "
    probe += "if u.find_spec(m)])"
    result = subprocess.run(
        [str(venv / "python"), "-c", probe], capture_output=True, text=True, env=_clean_env()
    )
    assert result.stdout.strip() == "[]", "the default install must not bring the extras"


def test_version_train_and_plot(venv: Path, tmp_path: Path) -> None:
    version = _run(venv, "llmv0", "--version", cwd=tmp_path)
    assert version.returncode == 0 and re.fullmatch(r"llmv0 \d+\.\d+\.\d+\S*\n", version.stdout)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    sets = [a for item in [f"data_file={corpus}", *TINY] for a in ("--set", item)]
    sets += ["--runs-dir", str(tmp_path / "runs")]
    train = _run(venv, "llmv0", "train", "--max-steps", "5", "--run-id", "r", *sets, cwd=tmp_path)
    assert train.returncode == 0, train.stdout + train.stderr
    assert (tmp_path / "runs" / "r" / "latest.pt").exists()

    png = ["--png", str(tmp_path / "c.png"), "--runs-dir", str(tmp_path / "runs")]
    plot = _run(venv, "llmv0", "plot", "r", *png, cwd=tmp_path)
    assert plot.returncode == 2 and "pip install 'llmv0[png]'" in " ".join(plot.stderr.split())
    assert "Traceback" not in plot.stderr and not (tmp_path / "c.png").exists()

    serve = _run(venv, "llmv0-tui", "--serve", cwd=tmp_path)
    assert serve.returncode == 2 and "pip install 'llmv0[serve]'" in serve.stderr
    assert "Traceback" not in serve.stderr


def test_dashboard_starts_and_quits_in_a_terminal(venv: Path, tmp_path: Path) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: the dashboard in a 100x30 terminal
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        os.chdir(tmp_path)
        env = _clean_env(TERM="xterm-256color", COLUMNS="100", LINES="30")
        os.execve(str(venv / "llmv0-tui"), [str(venv / "llmv0-tui")], env)
    screen = _read_until(fd, b"Quit", timeout=90)
    assert b"Quit" in screen, f"the dashboard never drew its footer: {screen[-400:]!r}"
    os.write(fd, b"q")
    _read_until(fd, b"\x00never", timeout=20)  # drain until the process closes the terminal
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    """Read the terminal until ``marker`` appears, it closes, or ``timeout`` passes."""
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        data += chunk
    return data
