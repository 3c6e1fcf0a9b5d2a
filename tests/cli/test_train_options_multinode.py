"""`llmv0 train` options for restarts and many machines: --resume auto, --nnodes, thread split."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from engine.run.log import read_events
from engine.runtime.distributed import from_env
from tui.cli.main import app

runner = CliRunner()
TINY = [
    "seq_length=16", "batch_size=8", "embedding_dim=8", "hidden_dim=16", "eval_interval=4",
    "sample_length=0", "device=cpu", "num_threads=1",
]  # fmt: skip


def test_auto_starts_then_continues_the_named_run(corpus: Path, runs_dir: Path) -> None:
    sets = [a for item in [f"data_file={corpus}", *TINY] for a in ("--set", item)]
    base = ["train", "--run-id", "a", "--resume", "auto", "--runs-dir", str(runs_dir), *sets]
    first = runner.invoke(app, [*base, "--max-steps", "4"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, [*base, "--max-steps", "8"])
    assert second.exit_code == 0, second.output
    starts = [e for e in read_events(runs_dir / "a" / "events.jsonl") if e.type == "RunStarted"]
    assert [(s.resumed, s.start_step) for s in starts] == [(False, 0), (True, 4)]


def test_auto_needs_a_run_id(runs_dir: Path) -> None:
    result = runner.invoke(app, ["train", "--resume", "auto", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2
    assert "--resume auto needs --run-id" in " ".join(result.stderr.split())


def test_threads_split_by_the_ranks_on_this_machine(monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    info = from_env()
    assert (info.world_size, info.local_world_size, info.rank) == (4, 2, 3)


def test_many_machines_need_a_rendezvous_endpoint(corpus: Path, runs_dir: Path) -> None:
    args = ["train", "--nnodes", "2", "--runs-dir", str(runs_dir), "--set", f"data_file={corpus}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and not runs_dir.exists()
    assert "--nnodes > 1 needs --rdzv-endpoint HOST:PORT" in " ".join(result.stderr.split())
