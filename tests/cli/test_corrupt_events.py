"""One malformed line in a run's events.jsonl never breaks ``runs``, ``plot``, ``report``, the
dashboard's ``--run`` history or the run browser: the line is skipped, the rest shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.run.folder import require_history
from engine.run.summary import list_runs
from engine.train.trainer import Trainer
from tui.cli.main import app

runner = CliRunner()
pytestmark = pytest.mark.timeout(120)

BAD_EVENT_LINES = [
    "{not json",
    "[1, 2]",
    '"text"',
    "null",
    '{"type": "StepCompleted"}',
    '{"type": "StepCompleted", "step": "abc", "epoch": 0, "loss": 1, "lr": 1, '
    '"tokens_per_s": 1, "grad_norm": 1, "elapsed_s": 1, "total_steps": 2}',
    '{"type": "EvalCompleted", "step": 1, "epoch": 0, "train_loss": [1], "val_loss": 1, '
    '"perplexity": 1, "bits_per_char": 1, "best_val_loss": 1, "is_best": true}',
    '{"type": "RunStarted", "run_id": 5, "config": "x", "n_params": 1, "device": "cpu", '
    '"dtype": "f", "total_steps": 1, "steps_per_epoch": 1, "vocab_size": 1, '
    '"train_tokens": 1, "val_tokens": 1, "notes": [1, 2]}',
    '{"type": "ConfigChanged", "step": 2.5, "name": "lr", "old": 1, "new": 2}',
    '{"type": "Nope"}',
    "\x00\x01\xff binary",
    "[" * 10_000,
    '{"type": "SampleGenerated", "step": 3, "prompt": "[/]", "text": "[bold]", '
    '"temperature": 1.0}',  # valid: markup in text is text
]


@pytest.fixture
def corrupt_run(tmp_path: Path, make_config) -> tuple[Path, str]:
    runs = tmp_path / "runs"
    Trainer(make_config(max_steps=12, eval_interval=6), runs_dir=runs, run_id="r").run()
    log = runs / "r" / "events.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines()
    mixed: list[str] = []
    for i, line in enumerate(lines):  # bad lines between good ones, and a torn last line
        mixed += [line, BAD_EVENT_LINES[i % len(BAD_EVENT_LINES)]]
    mixed += BAD_EVENT_LINES
    log.write_text("\n".join(mixed) + '\n{"type": "RunFin', encoding="utf-8")
    return runs, "r"


def test_cli_commands_survive_malformed_event_lines(corrupt_run, tmp_path: Path) -> None:
    runs, run_id = corrupt_run
    for args in (
        ["runs"],
        ["plot", run_id, "--png", str(tmp_path / "p.png")],
        ["report", run_id],
    ):
        result = runner.invoke(app, [*args, "--runs-dir", str(runs)])
        assert result.exit_code == 0, (args, result.output, result.exception)
    assert (runs / run_id / "report.md").stat().st_size > 0
    assert (tmp_path / "p.png").stat().st_size > 0


def test_history_and_browser_survive_malformed_event_lines(corrupt_run) -> None:
    runs, run_id = corrupt_run
    (summary,) = list_runs(runs)
    assert summary.run_id == run_id and summary.state == "finished"
    _, history = require_history(run_id, runs)
    assert sum(type(e).__name__ == "StepCompleted" for e in history) == 12
    json.dumps([e.to_dict() for e in history], default=str)


async def test_dashboard_opens_a_run_with_malformed_event_lines(corrupt_run) -> None:
    from tui.dashboard.launch import make_app

    runs, run_id = corrupt_run
    app = make_app(run=run_id, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        assert app.is_running
        assert app.session.stats.step == 12
