"""Several machines: two torchrun "nodes" on 127.0.0.1 meeting through c10d rendezvous.

One process per node (gloo). The ranks agree on rank 0's run id and hold identical
parameters after every step; a node whose training process is killed is restarted by
torchrun (``--max-restarts``) and, with ``--resume auto``, both nodes continue from the
latest checkpoint to the end of the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import TINY_FIELDS, TINY_TEXT

from engine.run.checkpoint import load_checkpoint
from engine.run.log import read_events
from tui.cli.launch import torchrun_command

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("ddp_worker.py")
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_two_nodes_agree_on_one_run_and_stay_identical(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    config = tmp_path / "config.json"
    fields = {**TINY_FIELDS, "data_file": str(corpus), "batch_size": 4, "max_steps": 10,
              "eval_interval": 5, "sample_length": 10, "num_threads": 0}  # fmt: skip
    config.write_text(json.dumps(fields), encoding="utf-8")
    endpoint = f"127.0.0.1:{_free_port()}"
    runs = tmp_path / "runs"
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes=2",
                "--nproc_per_node=1",
                "--rdzv_backend=c10d",
                f"--rdzv_endpoint={endpoint}",
                str(WORKER),
                str(config),
                str(tmp_path / "out"),
                str(runs),
                "--run-id-per-rank",
            ],
            env=_env(),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = [node.communicate(timeout=240)[0].decode() for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(outputs)[-3000:]

    rank0, rank1 = _records(tmp_path / "out.rank0"), _records(tmp_path / "out.rank1")
    steps0 = [r for r in rank0 if "params" in r]
    steps1 = [r for r in rank1 if "params" in r]
    assert [r["step"] for r in steps0] == list(range(1, 11))
    assert [r["params"] for r in steps0] == [r["params"] for r in steps1]
    # Rank 1 proposed "rank1" but trained (silently) under rank 0's run id.
    assert rank0[-1]["run_id"] == rank1[-1]["run_id"] == "rank0"
    assert sorted(p.name for p in runs.iterdir()) == ["rank0"]
    # Each node runs one process, so it may use all of its machine's cores (not half).
    started = read_events(runs / "rank0" / "events.jsonl")[0]
    assert f"cpu threads: {os.cpu_count()}" in started.notes


def test_static_rendezvous_puts_rank_0_on_node_0(tmp_path: Path) -> None:
    """``--node-rank`` (torchrun's static rendezvous): the same command on each machine with
    its own rank; machine 0 hosts global rank 0, which alone reports and writes the run."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    runs = tmp_path / "runs"
    endpoint = f"127.0.0.1:{_free_port()}"
    sets = [f"data_file={corpus}", "seq_length=16", "batch_size=4", "embedding_dim=8",
            "hidden_dim=16", "eval_interval=5", "eval_max_windows=2", "device=cpu",
            "num_threads=1"]  # fmt: skip
    base = [
        sys.executable, "-m", "tui.cli.main", "train", "--nnodes", "2", "--rdzv-endpoint", endpoint,
        "--run-id", "st", "--max-steps", "10", "--runs-dir", str(runs), "--no-samples",
        *[arg for item in sets for arg in ("--set", item)],
    ]  # fmt: skip
    nodes = [
        subprocess.Popen(
            [*base, "--node-rank", str(rank)],
            env=_env(),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for rank in (0, 1)
    ]
    try:
        outputs = [node.communicate(timeout=240)[0].decode() for node in nodes]
    finally:
        for node in nodes:
            _kill_tree(node.pid)
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(outputs)[-3000:]
    assert "Finished (completed) at step 10" in outputs[0]  # rank 0 is on machine 0
    assert "Finished" not in outputs[1]
    # Each machine says which rank it joined as, and how it left (issue 25: node 1 was mute).
    for rank, output in enumerate(outputs):
        place = rf"llmv0: rank {rank} of 2 on node {rank} of 2 \(.+, local rank 0 of 1\)"
        joined = rf"{place} joined, rendezvous static at {re.escape(endpoint)}, backend gloo\n"
        assert re.search(joined, output), output[-3000:]
        assert re.search(rf"{place} left: finished \(completed\)\n", output), output[-3000:]
    events = read_events(runs / "st" / "events.jsonl")
    assert "data parallel: 2 processes, global batch 8" in events[0].notes
    assert events[-1].type == "RunFinished" and events[-1].step == 10
    assert load_checkpoint(runs / "st" / "latest.pt")["step"] == 10


def test_torchrun_command_for_one_and_many_machines() -> None:
    one = torchrun_command(["--run-id", "x"], nproc=2)
    assert "--standalone" in one and "--nproc_per_node=2" in one
    assert one[-4:] == ["tui.cli.main", "train", "--run-id", "x"]
    many = torchrun_command([], 1, nnodes=2, rdzv_endpoint="10.0.0.1:29400", max_restarts=3)
    assert "--standalone" not in many
    assert {"--nnodes=2", "--rdzv_endpoint=10.0.0.1:29400", "--rdzv_backend=c10d"} <= set(many)
    assert "--max_restarts=3" in many
    static = torchrun_command([], 1, nnodes=2, node_rank=1, rdzv_endpoint="h:1")
    assert {"--rdzv_backend=static", "--node_rank=1"} <= set(static)
    with pytest.raises(ValueError, match="--rdzv-endpoint"):
        torchrun_command([], 1, nnodes=2)
    with pytest.raises(ValueError, match="--node-rank"):
        torchrun_command([], 1, nnodes=2, node_rank=2, rdzv_endpoint="h:1")


def _kill_tree(pid: int) -> None:
    """The launcher, its torchrun agent and their workers: nothing outlives the test."""
    try:
        proc = psutil.Process(pid)
        family = [*proc.children(recursive=True), proc]
    except psutil.NoSuchProcess:
        return
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()


def _killed_node_attempt(tmp_path: Path) -> tuple[list[int | None], str, Path]:
    """Two c10d nodes; node 1's training process is SIGKILLed after the first checkpoint."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT * 4, encoding="utf-8")
    runs = tmp_path / "runs"
    endpoint = f"127.0.0.1:{_free_port()}"
    sets = [f"data_file={corpus}", "seq_length=32", "batch_size=8", "embedding_dim=16",
            "hidden_dim=64", "eval_interval=40", "eval_max_windows=4", "sample_length=0",
            "device=cpu", "num_threads=1", "seed=3"]  # fmt: skip
    command = [
        sys.executable, "-m", "tui.cli.main", "train", "--nnodes", "2", "--rdzv-endpoint", endpoint,
        "--max-restarts", "2", "--run-id", "mn", "--resume", "auto", "--max-steps", "400",
        "--runs-dir", str(runs), "--no-samples",
        *[arg for item in sets for arg in ("--set", item)],
    ]  # fmt: skip
    nodes = [
        subprocess.Popen(
            command, env=_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(2)
    ]
    outputs: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not (runs / "mn" / "latest.pt").exists():
            assert time.monotonic() < deadline, "no checkpoint was saved"
            assert all(node.poll() is None for node in nodes), "a node ended early"
            time.sleep(0.02)
        # Kill node 1's training process, as a crash would (its torchrun agent survives).
        workers = [
            child
            for child in psutil.Process(nodes[1].pid).children(recursive=True)
            if "tui.cli.main" in " ".join(child.cmdline())
            and "torch.distributed.run" not in " ".join(child.cmdline())
        ]
        assert len(workers) == 1
        workers[0].send_signal(signal.SIGKILL)
        outputs = [node.communicate(timeout=240)[0].decode() for node in nodes]
    except subprocess.TimeoutExpired:
        outputs = ["(timed out after 240 s)"]
    finally:
        for node in nodes:
            _kill_tree(node.pid)
            node.wait(timeout=30)
    return [node.returncode for node in nodes], "\n".join(outputs), runs


def test_a_killed_node_restarts_and_resumes_from_the_checkpoint(tmp_path: Path) -> None:
    # Without a fresh rendezvous store per round (tui.cli.launch.child_env) this failed
    # about one run in two: the restarted group's gloo read the killed worker's address.
    codes, output, runs = _killed_node_attempt(tmp_path)
    assert codes == [0, 0], output[-3000:]

    events = read_events(runs / "mn" / "events.jsonl")
    starts = [e for e in events if e.type == "RunStarted"]
    assert len(starts) >= 2 and not starts[0].resumed
    resumed = starts[-1]
    assert resumed.resumed and 40 <= resumed.start_step < 400  # from the checkpoint, not 0
    assert events[-1].type == "RunFinished" and events[-1].reason == "completed"
    assert events[-1].step == 400 and load_checkpoint(runs / "mn" / "latest.pt")["step"] == 400
    after = [e.step for e in events[events.index(resumed) :] if e.type == "StepCompleted"]
    assert after == list(range(resumed.start_step + 1, 401))


def test_ctrl_c_stops_a_data_parallel_run_with_a_checkpoint_and_130(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    runs = tmp_path / "runs"
    sets = [f"data_file={corpus}", "seq_length=16", "batch_size=4", "embedding_dim=8",
            "hidden_dim=16", "eval_interval=100000", "device=cpu", "num_threads=1"]  # fmt: skip
    command = [
        sys.executable, "-m", "tui.cli.main", "train", "--nproc", "2", "--run-id", "c",
        "--max-steps", "1000000", "--runs-dir", str(runs), "--no-samples",
        *[arg for item in sets for arg in ("--set", item)],
    ]  # fmt: skip
    # Its own session, so the test can send Ctrl-C to the whole group as a terminal does;
    # started with SIGINT ignored, as a script's background job starts it (POSIX): the
    # launcher must still see the Ctrl-C (it reported torchrun's 1 in CI run that way).
    launcher = subprocess.Popen(
        command, env=_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    log = runs / "c" / "events.jsonl"
    try:
        deadline = time.monotonic() + 120
        while not (log.exists() and '"StepCompleted"' in log.read_text(encoding="utf-8")):
            assert time.monotonic() < deadline and launcher.poll() is None, "no training step"
            time.sleep(0.05)
        family = psutil.Process(launcher.pid).children(recursive=True)
        os.killpg(launcher.pid, signal.SIGINT)
        output = launcher.communicate(timeout=120)[0].decode()
        # The launcher waited for torchrun and its ranks instead of killing them mid-save.
        alive = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"processes outlived the launcher: {alive}"
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    assert launcher.returncode == 130, output[-3000:]
    finished = read_events(log)[-1]
    assert finished.type == "RunFinished" and finished.reason == "stopped"
    assert load_checkpoint(runs / "c" / "latest.pt")["step"] == finished.step
