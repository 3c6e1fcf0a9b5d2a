"""``llmv0 train`` on a large corpus answers SIGTERM and Ctrl-C while it prepares the run
(issue 28, item 5): it names the phase, stops within a second instead of after the encoding
(SIGTERM waited 13.6 s for a 40 MB corpus and then saved a step-0 checkpoint), exits with
128 + the signal and one line, and leaves no run folder and no partial file."""

from __future__ import annotations

import contextlib
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

CORPUS_MB = 24  # encoding takes 2-3 s on a loaded 2-core machine: the signal lands inside it
ANSWER_S = 2.0  # the stop line after the signal (measured: 0.05 s)
EXIT_S = 6.0  # the process gone after the signal: mostly the interpreter's teardown (1.5 s)
STOP_LINE = "before the first step: nothing was saved"


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CORPUS_MB of random words: a 1 MB block, repeated."""
    rng = random.Random(28)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(5000)]
    lines, size = [], 0
    while size < 1_000_000:
        line = " ".join(rng.choices(words, k=12)) + "\n"
        lines.append(line)
        size += len(line)
    path = tmp_path_factory.mktemp("big") / "big.txt"
    path.write_text("".join(lines) * CORPUS_MB, encoding="utf-8")
    return path


def read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put((time.monotonic(), line))
    lines.put((time.monotonic(), None))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "tokenizer", "phase"),
    [
        (signal.SIGTERM, "char", "encoding big.txt"),
        (signal.SIGINT, "char", "encoding big.txt"),
        (signal.SIGTERM, "bpe", "training the BPE tokenizer on big.txt"),
    ],
    ids=["sigterm-encoding", "sigint-encoding", "sigterm-bpe"],
)
def test_a_signal_while_preparing_stops_within_a_second(
    big_corpus: Path, tmp_path: Path, sig: int, tokenizer: str, phase: str
) -> None:
    runs, data = tmp_path / "runs", tmp_path / "data"
    env = {
        **os.environ, "LLMV0_RUNS_DIR": str(runs), "LLMV0_DATA_DIR": str(data),
        "PYTHONUNBUFFERED": "1", "COLUMNS": "200",
    }  # fmt: skip
    args = [
        sys.executable, "-m", "tui.cli.main", "train", "--max-steps", "1", "--run-id", "big",
        "--set", f"data_file={big_corpus}", "--set", f"tokenizer={tokenizer}",
        "--set", "device=cpu", "--set", "num_threads=1",
    ]  # fmt: skip
    proc = subprocess.Popen(
        args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,  # its own group: killed whole in the finally
    )  # fmt: skip
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=read_lines, args=(proc.stdout, lines), daemon=True).start()
    output, sent, answered = [], None, None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                at, line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            output.append(line)
            if sent is None and phase in line:
                proc.send_signal(sig)
                sent = time.monotonic()
            if STOP_LINE in line:
                answered = at
        proc.wait(timeout=30)
        gone = time.monotonic()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    text = "".join(output)
    assert sent is not None, f"no line named the phase {phase!r}:\n{text}"
    assert proc.returncode == 128 + sig, text
    assert "Traceback" not in text and "Training run" not in text, text
    [stop] = [line for line in output if STOP_LINE in line]
    assert f"stopped while {phase}" in stop
    assert answered is not None and answered - sent < ANSWER_S, text
    assert gone - sent < EXIT_S, text
    assert "Resume with" not in text
    assert not runs.exists() or list(runs.iterdir()) == []  # no run folder
    assert not data.exists() or list(data.iterdir()) == []  # nothing in the corpus cache
    assert list(big_corpus.parent.iterdir()) == [big_corpus]  # no partial file beside it
