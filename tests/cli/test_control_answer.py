"""``llmv0 control RUN set NAME=VALUE`` refuses a bad value before sending it, and reports
whether the live trainer applied or rejected the change."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import events as ev
from engine.run.folder import COMMANDS_FILE
from engine.run.log import RunLog
from engine.train.trainer import Trainer
from tui.cli.control import wait_for_answer
from tui.cli.main import app

runner = CliRunner()
pytestmark = pytest.mark.timeout(120)


def test_a_bad_value_is_refused_before_sending(tmp_path: Path) -> None:
    folder = tmp_path / "runs" / "r"
    folder.mkdir(parents=True)
    for assignment in ("learning_rate=abc", "learning_rate=-1", "batch_size=4", "nonsense"):
        result = runner.invoke(
            app, ["control", "r", "set", assignment, "--runs-dir", str(tmp_path / "runs")]
        )
        assert result.exit_code == 2, (assignment, result.output)
        assert "Traceback" not in result.output
    assert not (folder / COMMANDS_FILE).exists(), "nothing was sent"


def test_the_trainer_answer_is_reported(tmp_path: Path, make_config) -> None:
    runs = tmp_path / "runs"
    trainer = Trainer(make_config(max_steps=100_000, eval_interval=10_000), runs_dir=runs,
                      run_id="live")  # fmt: skip
    started = threading.Event()

    def sink(event: ev.Event) -> None:
        if isinstance(event, ev.StepCompleted):
            started.set()

    thread = threading.Thread(target=lambda: trainer.run(sink), daemon=True)
    thread.start()
    try:
        assert started.wait(60)
        result = runner.invoke(
            app, ["control", "live", "set", "learning_rate=0.002", "--runs-dir", str(runs)]
        )
        assert result.exit_code == 0, result.output
        assert "Applied: learning_rate" in result.output and "0.002" in result.output
    finally:
        runner.invoke(app, ["control", "live", "stop", "--runs-dir", str(runs)])
        thread.join(60)
    assert not thread.is_alive()


def test_a_rejection_and_silence_are_reported(tmp_path: Path) -> None:
    log = RunLog(tmp_path / "events.jsonl")
    log(ev.RunWarning(message="The live change has 1 invalid field: sample_top_k: no", step=4))
    log.close()
    verdict, text = wait_for_answer(tmp_path, 0, "sample_top_k", timeout_s=1)
    assert verdict == "rejected" and "sample_top_k: no" in text
    verdict, _ = wait_for_answer(tmp_path, 0, "learning_rate", timeout_s=0.3)
    assert verdict == "silent"


def test_a_folder_that_is_not_a_run_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """Hostile round 3: `llmv0 control /any/dir pause` exited 0 and wrote commands.jsonl."""
    folder = tmp_path / "any"
    folder.mkdir()
    result = runner.invoke(app, ["control", str(folder), "pause"])
    assert result.exit_code == 2, result.output
    assert "is not a run folder" in " ".join(result.output.split())
    assert list(folder.iterdir()) == []


def test_a_command_for_a_run_nobody_trains_is_not_written(tmp_path: Path) -> None:
    """Nobody reads it now, and a later resume must not act on a stale pause."""
    folder = tmp_path / "runs" / "r"
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text('{"type": "RunStarted"}\n', encoding="utf-8")
    result = runner.invoke(app, ["control", "r", "pause", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "No live trainer" in result.output
    assert not (folder / COMMANDS_FILE).exists()
