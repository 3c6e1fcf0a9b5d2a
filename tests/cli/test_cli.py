"""The ``llmv0`` command line through Typer's CliRunner: train, generate, eval, plot, runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.run.checkpoint import load_checkpoint
from engine.run.log import read_events
from tui.cli.main import app

runner = CliRunner()

TINY_SETS = [
    "seq_length=16", "batch_size=8", "embedding_dim=16", "hidden_dim=32", "eval_interval=5",
    "learning_rate=0.01", "sample_length=10", "device=cpu", "num_threads=1",
]  # fmt: skip


def sets(*items: str) -> list[str]:
    args: list[str] = []
    for item in items:
        args += ["--set", item]
    return args


def flat(text: str) -> str:
    """Text with rich's line wrapping undone, for substring checks."""
    return " ".join(text.split())


def invoke(args: list[str]):
    return runner.invoke(app, args, catch_exceptions=False)


@pytest.fixture
def trained(corpus: Path, runs_dir: Path) -> Path:
    """A run 'r1' trained through the CLI for 12 steps."""
    result = invoke(
        [
            *["train", "--max-steps", "12", "--run-id", "r1", "--runs-dir", str(runs_dir)],
            *sets(f"data_file={corpus}", *TINY_SETS),
        ]
    )
    assert result.exit_code == 0, result.output
    return runs_dir / "r1"


def test_train_with_set_and_max_steps(trained: Path) -> None:
    events = read_events(trained / "events.jsonl")
    assert events[0].type == "RunStarted" and events[-1].type == "RunFinished"
    assert events[0].config["hidden_dim"] == 32 and events[0].total_steps == 12
    assert events[-1].reason == "completed" and events[-1].step == 12
    assert load_checkpoint(trained / "latest.pt")["step"] == 12
    saved = json.loads((trained / "config.json").read_text())
    assert saved["max_steps"] == 12 and saved["seq_length"] == 16


def test_train_prints_progress_and_next_steps(corpus: Path, runs_dir: Path) -> None:
    result = invoke(
        [
            *["train", "--max-steps", "6", "--run-id", "p", "--runs-dir", str(runs_dir)],
            *sets(f"data_file={corpus}", *TINY_SETS),
        ]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Training run p" in out
    assert "val " in out and "ppl" in out  # the evaluation line
    assert "Finished (completed) at step 6" in out
    assert "llmv0 train --resume p" in out and "llmv0 generate --run p" in out


def test_train_resume_continues(trained: Path, runs_dir: Path) -> None:
    result = invoke(["train", "--resume", "r1", "--max-steps", "16", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    assert "Resuming run r1" in result.stdout
    events = read_events(trained / "events.jsonl")
    resumed = [e for e in events if e.type == "RunStarted"][-1]
    assert resumed.resumed and resumed.start_step == 12
    assert events[-1].type == "RunFinished" and events[-1].step == 16


@pytest.mark.parametrize("how", ["run", "checkpoint"])
def test_generate(trained: Path, runs_dir: Path, how: str) -> None:
    target = ["--run", "r1"] if how == "run" else ["--checkpoint", str(trained / "latest.pt")]
    args = ["generate", *target, "-p", "ROMEO:", "--length", "50", "--runs-dir", str(runs_dir)]
    result = invoke(args)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("ROMEO:")
    assert text.endswith("\n")
    assert len(text) == len("ROMEO:") + 50 + 1
    again = invoke(args)
    assert again.stdout == text  # default sample seed: reproducible
    greedy = invoke([*args, "--temperature", "0"])
    assert greedy.exit_code == 0 and greedy.stdout.startswith("ROMEO:")


def test_generate_with_unknown_characters_exits_2(trained: Path, runs_dir: Path) -> None:
    result = runner.invoke(
        app, ["generate", "--run", "r1", "--prompt", "Zebra#", "--runs-dir", str(runs_dir)]
    )
    assert result.exit_code == 2
    assert result.stdout == ""  # nothing printed before the refusal
    assert "'Z'" in flat(result.stderr) and "'#'" in flat(result.stderr)
    assert "Traceback" not in result.output


def test_generate_needs_exactly_one_target(trained: Path, runs_dir: Path) -> None:
    result = runner.invoke(app, ["generate", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2 and "exactly one of --run" in flat(result.stderr)
    result = runner.invoke(app, ["generate", "--run", "nope", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2 and "llmv0 runs" in flat(result.stderr)
    assert "Traceback" not in result.output


def test_eval(trained: Path, runs_dir: Path) -> None:
    result = invoke(["eval", "r1", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for label in ("loss (nats/char)", "perplexity", "bits per character"):
        assert label in out
    best = min(
        e.val_loss for e in read_events(trained / "events.jsonl") if e.type == "EvalCompleted"
    )
    assert f"{best:.4f}" in out  # eval of best.pt reproduces the best validation loss


def test_plot_terminal_and_png(trained: Path, runs_dir: Path, tmp_path: Path) -> None:
    result = invoke(["plot", "r1", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    assert "r1: loss" in result.stdout and "validation perplexity" in result.stdout
    png = tmp_path / "out" / "curves.png"
    result = invoke(["plot", "r1", "--png", str(png), "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    missing = runner.invoke(app, ["plot", "nope", "--runs-dir", str(runs_dir)])
    assert missing.exit_code == 2 and "llmv0 runs" in flat(missing.stderr)


def test_runs_lists_the_run(trained: Path, runs_dir: Path) -> None:
    result = invoke(["runs", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    best = min(
        e.val_loss for e in read_events(trained / "events.jsonl") if e.type == "EvalCompleted"
    )
    assert "r1" in result.stdout and "finished" in result.stdout
    assert f"{best:.4f}" in result.stdout and "12/12" in result.stdout
    # A long timestamped run id is shown whole, so it can be copied into other commands.
    shutil.copytree(trained, runs_dir / "20250101-120000-lstm-2")
    assert "20250101-120000-lstm-2" in invoke(["runs", "--runs-dir", str(runs_dir)]).stdout
    empty = invoke(["runs", "--runs-dir", str(runs_dir / "none")])
    assert "No runs" in empty.stdout


def test_runs_defaults_to_llmv0_runs_dir(trained: Path, monkeypatch) -> None:
    monkeypatch.setenv("LLMV0_RUNS_DIR", str(trained.parent))
    assert "r1" in invoke(["runs"]).stdout


def test_config_lists_fields_and_saves(tmp_path: Path) -> None:
    result = invoke(["config"])
    assert result.exit_code == 0, result.output
    for name in ("seq_length", "learning_rate", "early_stopping_patience", "sample_top_p"):
        assert name in result.stdout
    path = tmp_path / "mine.json"
    result = invoke(["config", "--set", "seq_length=32", "--save", str(path)])
    assert result.exit_code == 0
    assert json.loads(path.read_text())["seq_length"] == 32
    result = invoke(["config", "--config", str(path)])
    assert result.exit_code == 0


@pytest.mark.parametrize("command", ["train", "config"])
def test_bad_set_exits_2_with_one_message(command: str, runs_dir: Path) -> None:
    args = [command, *sets("seq_length=1", "optimizer=sgd", "batchsize=4", "oops")]
    if command == "train":
        args += ["--runs-dir", str(runs_dir)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    message = flat(result.stderr)
    assert "\n\n" not in result.stderr.strip()  # one paragraph
    assert "Traceback" not in result.output
    assert message.startswith("Error:")
    assert "oops" in message and "expected key=value" in message
    assert not runs_dir.exists()  # nothing started


def test_bad_set_values_are_all_reported(runs_dir: Path) -> None:
    args = ["train", *sets("seq_length=1", "optimizer=sgd", "batchsize=4", "dropout=abc")]
    result = runner.invoke(app, [*args, "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2
    for name in ("seq_length", "optimizer", "batchsize", "dropout"):
        assert name in flat(result.stderr)
    assert "'adamw'" in flat(result.stderr)  # the allowed values
    assert "Traceback" not in result.output


def test_bad_config_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{nope", encoding="utf-8")
    result = runner.invoke(app, ["train", "--config", str(path)])
    assert result.exit_code == 2 and "not valid JSON" in flat(result.stderr)
    result = runner.invoke(app, ["train", "--config", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "file not found" in flat(result.stderr)


def test_train_on_a_missing_corpus_fails_cleanly(runs_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            *["train", "--max-steps", "3", "--runs-dir", str(runs_dir)],
            *sets(f"data_file={tmp_path / 'nope.txt'}", *TINY_SETS),
        ],
    )
    assert result.exit_code == 2, "a missing corpus is the user's input: exit 2"
    assert "does not exist" in flat(result.output)
    assert "Traceback" not in result.output
    assert not runs_dir.exists() or not list(runs_dir.iterdir()), "no failed 0/0 run folder"


def test_train_with_the_id_of_a_finished_run_refuses(
    trained: Path, runs_dir: Path, corpus: Path
) -> None:
    before = (trained / "best.pt").stat().st_mtime_ns, (trained / "latest.pt").stat().st_mtime_ns
    result = runner.invoke(
        app,
        ["train", "--max-steps", "3", "--runs-dir", str(runs_dir), "--run-id", trained.name,
         *sets(f"data_file={corpus}", *TINY_SETS)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--resume" in flat(result.stderr) and "already holds a run" in flat(result.stderr)
    after = (trained / "best.pt").stat().st_mtime_ns, (trained / "latest.pt").stat().st_mtime_ns
    assert after == before, "the finished run's checkpoints are untouched"


def test_resume_of_unknown_run_exits_2(runs_dir: Path) -> None:
    result = runner.invoke(app, ["train", "--resume", "ghost", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2 and "ghost" in flat(result.stderr)


def test_help_lists_every_command() -> None:
    result = invoke(["--help"])
    for name in ("train", "generate", "eval", "plot", "runs", "config"):
        assert name in result.stdout
