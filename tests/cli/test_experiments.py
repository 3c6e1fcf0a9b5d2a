"""``llmv0 compare / tag / note / runs --sort --filter / delete / archive / prune / export / plot``.

Run folders are written from scripted events (no training), so these tests take milliseconds.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import events as ev
from engine.experiments.records import config_diff, run_record
from engine.run.lock import RunLock
from engine.run.log import RunLog
from engine.run.summary import load_history
from tui.cli.main import app
from tui.shared.overlay_plot import int_ticks

runner = CliRunner()


def write_run(
    runs_dir: Path,
    name: str,
    config: dict,
    losses: list[float],
    *,
    finish: str | None = "completed",
    fail: str = "",
    lr_change_at: int = 0,
) -> Path:
    """A run folder whose events.jsonl holds ``losses`` as steps, an eval every 2 steps."""
    folder = runs_dir / name
    log = RunLog(folder / "events.jsonl")
    base = {"model": "lstm", "learning_rate": 0.01, "hidden_dim": 32, **config}
    (folder / "config.json").write_text(json.dumps(base))
    log(ev.RunStarted(name, base, 100, "cpu", "float32", len(losses), 10, 30, 1000, 100))
    for step, loss in enumerate(losses, start=1):
        log(ev.StepCompleted(step, 0, loss, 0.01, 5000.0 + step, 0.5, step * 0.1, len(losses)))
        if step == lr_change_at:
            log(ev.ConfigChanged(step, "learning_rate", 0.01, 0.005))
        if step % 2 == 0:
            val = loss + 0.1  # a realistic eval: perplexity and bits follow the loss
            log(ev.EvalCompleted(step, 0, loss, val, math.exp(val), val / math.log(2), val, True))
    if fail:
        log(ev.RunFailed(fail, len(losses)))
    elif finish:
        log(ev.RunFinished(finish, len(losses), min(losses) + 0.1, 1.0))
    log.close()
    return folder


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), catch_exceptions=False, input=input)


@pytest.fixture
def two_runs(runs_dir: Path) -> tuple[Path, Path]:
    a = write_run(runs_dir, "run-a", {"hidden_dim": 32}, [3.0, 2.5, 2.0, 1.8])
    b = write_run(
        runs_dir, "run-b", {"hidden_dim": 64}, [3.0, 2.2, 1.7, 1.5, 1.4, 1.3], lr_change_at=3
    )
    return a, b


def test_config_diff_keeps_only_differing_and_live_changed_fields(two_runs) -> None:
    records = [run_record(f, load_history(f)) for f in two_runs]
    rows = dict(config_diff(records))
    assert rows["hidden_dim"] == ["32", "64"]
    assert rows["learning_rate"] == ["0.01", "0.01 → 0.005 @ step 3"]
    assert "model" not in rows  # same in both runs


def test_compare_prints_diff_metrics_and_a_marker_legend_without_escapes(
    two_runs, runs_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    result = invoke(
        "compare", "run-a", "run-b", "--metric", "val_loss", "--runs-dir", str(runs_dir)
    )
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "\x1b" not in text
    assert "hidden_dim" in text and "64" in text and "@ step 3" in text
    assert "model " not in text.split("Metrics")[0]  # equal fields are left out of the diff
    assert "1.4000" in text  # run-b's best val loss (1.3 + 0.1 at step 6)
    assert "o run-a" in text and "x run-b" in text  # legend by marker, not by colour


def test_compare_refuses_one_run_and_bad_metric(two_runs, runs_dir: Path) -> None:
    one = invoke("compare", "run-a", "--runs-dir", str(runs_dir))
    assert one.exit_code == 2 and "at least two" in one.stderr
    bad = invoke("compare", "run-a", "run-b", "--metric", "speed", "--runs-dir", str(runs_dir))
    assert bad.exit_code == 2 and "tokens_per_s" in bad.stderr


def test_tags_and_notes_are_saved_in_the_run_folder(two_runs, runs_dir: Path) -> None:
    assert invoke("tag", "run-a", "baseline", "small", "--runs-dir", str(runs_dir)).exit_code == 0
    assert invoke("untag", "run-a", "small", "--runs-dir", str(runs_dir)).exit_code == 0
    assert invoke("note", "run-a", "[red]first try[/]", "--runs-dir", str(runs_dir)).exit_code == 0
    meta = json.loads((two_runs[0] / "meta.json").read_text())
    assert meta == {"tags": ["baseline"], "note": "[red]first try[/]"}
    shown = invoke("note", "run-a", "--runs-dir", str(runs_dir))
    assert "[red]first try[/]" in shown.stdout  # user text is data, not markup
    bad = invoke("tag", "run-a", "a,b", "--runs-dir", str(runs_dir))
    assert bad.exit_code == 2


def test_runs_sort_and_filter(two_runs, runs_dir: Path) -> None:
    write_run(runs_dir, "run-c", {"model": "gpt"}, [], fail="corpus missing")
    invoke("tag", "run-b", "wide", "--runs-dir", str(runs_dir))
    by_best = invoke("runs", "--sort", "best_val", "--runs-dir", str(runs_dir)).stdout
    assert by_best.index("run-b") < by_best.index("run-a") < by_best.index("run-c")
    tagged = invoke("runs", "--filter", "tag=wide", "--runs-dir", str(runs_dir)).stdout
    assert "run-b" in tagged and "run-a" not in tagged
    failed = invoke("runs", "--filter", "state=failed,model=gpt", "--runs-dir", str(runs_dir))
    assert "run-c" in failed.stdout and "run-a" not in failed.stdout
    bad = invoke("runs", "--filter", "colour=red", "--runs-dir", str(runs_dir))
    assert bad.exit_code == 2 and "state, tag, model" in bad.stderr


def _hold_lock(folder: Path) -> RunLock:
    """Make the run trained by a live process (this one holds its OS lock)."""
    lock = RunLock(folder)
    lock.acquire()
    return lock


def test_delete_asks_refuses_running_and_deletes_with_yes(two_runs, runs_dir: Path) -> None:
    a, b = two_runs
    lock = _hold_lock(b)
    busy = invoke("delete", "run-b", "--yes", "--runs-dir", str(runs_dir))
    lock.release()
    assert busy.exit_code == 2 and "live process" in busy.stderr and b.exists()
    no_tty = invoke("delete", "run-a", "--runs-dir", str(runs_dir))
    assert no_tty.exit_code == 2 and "--yes" in no_tty.stderr and a.exists()
    assert invoke("delete", "run-a", "--yes", "--runs-dir", str(runs_dir)).exit_code == 0
    assert not a.exists()


def test_archive_moves_the_run_out_of_the_list(two_runs, runs_dir: Path) -> None:
    assert invoke("archive", "run-a", "--yes", "--runs-dir", str(runs_dir)).exit_code == 0
    assert (runs_dir / "archive" / "run-a" / "events.jsonl").exists()
    assert "run-a" not in invoke("runs", "--runs-dir", str(runs_dir)).stdout


def test_prune_deletes_only_failed_runs_without_steps(two_runs, runs_dir: Path) -> None:
    empty = write_run(runs_dir, "broken", {}, [], fail="no corpus")
    late = write_run(runs_dir, "late-fail", {}, [3.0, 2.0], fail="diverged")
    result = invoke("prune", "--yes", "--runs-dir", str(runs_dir))
    assert result.exit_code == 0 and "Pruned 1 runs" in result.stdout
    assert not empty.exists() and late.exists() and two_runs[0].exists()


def test_export_csv_and_jsonl(two_runs, runs_dir: Path, tmp_path: Path) -> None:
    result = invoke("export", "run-a", "--format", "csv", "--runs-dir", str(runs_dir))
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert float(rows[1]["val_loss"]) == pytest.approx(2.6) and rows[0]["val_loss"] == ""
    target = tmp_path / "out" / "a.jsonl"
    done = invoke("export", "run-a", "-f", "jsonl", "-o", str(target), "--runs-dir", str(runs_dir))
    assert done.exit_code == 0
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines[3]["train_loss"] == 1.8 and lines[3]["val_loss"] == pytest.approx(1.9)
    bad = invoke("export", "run-a", "--format", "xlsx", "--runs-dir", str(runs_dir))
    assert bad.exit_code == 2


def test_plot_writes_no_escape_codes_when_piped_and_integer_ticks(two_runs, runs_dir: Path) -> None:
    result = invoke("plot", "run-a", "--runs-dir", str(runs_dir))
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout
    lines = result.stdout.splitlines()
    tick_rows = [lines[i - 1] for i, line in enumerate(lines) if line.strip() == "step"]
    assert len(tick_rows) == 2  # the loss chart and the perplexity chart
    for row in tick_rows:
        assert row.split() and all(tick.isdigit() for tick in row.split()), row


def test_int_ticks_are_whole_and_round() -> None:
    assert int_ticks(1, 4) == [1, 2, 3, 4]
    assert int_ticks(0, 1000) == [0, 500, 1000]
    assert all(isinstance(t, int) for t in int_ticks(3, 17))
