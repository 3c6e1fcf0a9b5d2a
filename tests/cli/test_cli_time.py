"""``llmv0 train --time``: a real (short) time-budgeted run, and bad durations."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from engine.run.log import read_events
from tui.cli.main import app

runner = CliRunner()

TINY = [
    "seq_length=16", "batch_size=8", "embedding_dim=16", "hidden_dim=32", "max_steps=0",
    "eval_interval=100000", "sample_length=10", "device=cpu", "num_threads=1",
    "lr_schedule=cosine",
]  # fmt: skip


def test_train_for_a_time_budget_ends_at_the_deadline(corpus: Path, runs_dir: Path) -> None:
    args = ["train", "--time", "2s", "--run-id", "t", "--runs-dir", str(runs_dir)]
    for item in [f"data_file={corpus}", *TINY]:
        args += ["--set", item]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "time budget 2s" in result.output
    events = read_events(runs_dir / "t" / "events.jsonl")
    assert events[0].config["time_budget_s"] == 2.0
    finished = events[-1]
    assert finished.type == "RunFinished" and finished.reason == "completed"
    assert finished.step > 10  # a tiny model takes milliseconds a step
    # the final evaluation ran, after the last step and inside the budget (plus slack for a
    # loaded test machine; the clock started when the run did)
    evals = [e for e in events if e.type == "EvalCompleted"]
    assert evals and evals[-1].step == finished.step
    assert 1.5 < finished.elapsed_s < 4.0
    last_step = [e for e in events if e.type == "StepCompleted"][-1]
    assert last_step.progress > 0.9 and last_step.lr < 0.2 * 0.001 + 1e-4


def test_bad_time_is_a_clear_error(corpus: Path, runs_dir: Path) -> None:
    result = runner.invoke(app, ["train", "--time", "5 minutes", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "--time: cannot read '5 minutes' as a duration" in text and "1h30m" in text
    assert "Traceback" not in result.output
